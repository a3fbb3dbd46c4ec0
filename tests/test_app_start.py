"""The crawl starts once the first frame is on the terminal, not while it is laid out."""

from __future__ import annotations

from textual import events

from tests.fakes import FakeSource
from workbench.ui.app import WorkbenchApp


class OrderedSource(FakeSource):
    """Notes, as the crawl starts, whether the app had been told its first frame was shown."""

    def __init__(self, seen: list) -> None:
        super().__init__()
        self.seen = seen
        self.ready_before_start: bool | None = None

    async def start(self) -> None:
        self.ready_before_start = any(isinstance(m, events.Ready) for m in self.seen)
        await super().start()


async def test_the_crawl_starts_after_the_first_frame():
    seen: list = []
    source = OrderedSource(seen)
    app = WorkbenchApp(source)
    async with app.run_test(size=(120, 30), message_hook=seen.append) as pilot:
        while not source.started:
            await pilot.pause(0.01)
        assert source.ready_before_start is True
        await pilot.pause()
        assert app.last_snapshot is not None  # the refresh loop runs from then on
        assert app._timer is not None


async def test_without_autostart_the_refresh_loop_still_runs():
    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert not source.started
        assert app.last_snapshot is not None
