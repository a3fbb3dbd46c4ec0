"""The periodic refresh waits for a gap between responses while one is due."""

from __future__ import annotations

import asyncio

from tests.fakes import FakeSource
from workbench.ui import app as app_module
from workbench.ui.app import WorkbenchApp


class DueSource(FakeSource):
    """A response is due for the next ``due`` questions."""

    def __init__(self, due: int) -> None:
        super().__init__()
        self.due = due
        self.asked = 0

    def response_due(self) -> bool:
        self.asked += 1
        return self.asked <= self.due


def _refreshes(app: WorkbenchApp) -> list[float]:
    """Count the refreshes from now on; the app's own periodic one is stopped
    (it would ask the source and refresh between the test's steps)."""
    app._timer.stop()
    calls: list[float] = []
    original = app.refresh_panels

    def counted() -> None:
        calls.append(asyncio.get_running_loop().time())
        original()

    app.refresh_panels = counted  # type: ignore[method-assign]
    return calls


async def test_the_refresh_waits_for_a_gap_between_responses():
    source = DueSource(due=5)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        calls = _refreshes(app)
        source.asked = 0
        began = asyncio.get_running_loop().time()
        app._refresh_due()
        assert calls == []  # a response is due: not now
        while not calls:
            await asyncio.sleep(0.001)
        assert source.asked == 6  # asked every GAP_POLL until the gap
        assert calls[0] - began >= 5 * app_module.GAP_POLL * 0.9


async def test_the_refresh_waits_no_longer_than_gap_wait():
    source = DueSource(due=10**9)  # a response always due: many slots, always one on the wire
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        calls = _refreshes(app)
        began = asyncio.get_running_loop().time()
        app._refresh_due()
        await asyncio.wait_for(_until(lambda: calls), 2)
        assert app_module.GAP_WAIT * 0.9 <= calls[0] - began < app_module.GAP_WAIT + 0.5


async def test_a_key_refresh_does_not_wait_and_cancels_the_wait():
    source = DueSource(due=10**9)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        calls = _refreshes(app)
        app._refresh_due()  # waiting for a gap
        assert app._gap is not None
        app.refresh_panels()  # what a key does
        assert len(calls) == 1 and app._gap is None
        await asyncio.sleep(app_module.GAP_WAIT + 0.05)
        assert len(calls) == 1  # the wait was called off, not run on top


async def _until(condition) -> None:
    while not condition():
        await asyncio.sleep(0.005)
