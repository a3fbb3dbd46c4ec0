"""Big bodies in the flow detail: a 20 MB body with a 10 MB line opens at once and
scrolls, because only the rows on screen are rendered (BodyView)."""

from __future__ import annotations

import time

from tests.fakes import FakeSource
from workbench.core.recording.recorder import StoredBody
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.widgets.body_view import BodyView

SIZE = (140, 36)
LINE = b"<p>" + b"x" * 10_000_000 + b"</p>\n"
BIG = b"<html><body>\n" + LINE + b"".join(b"<p>row %d</p>\n" % i for i in range(500_000))


class BigBodySource(FakeSource):
    def body(self, flow_id: int) -> StoredBody | None:
        flow = self.flow(flow_id)
        if flow is None or "catalogue/page-1" not in flow.url:
            return super().body(flow_id)
        return StoredBody(BIG, 100 * 1024 * 1024, True)  # 100 MB sent, the start kept


def big_app() -> WorkbenchApp:
    return WorkbenchApp(BigBodySource(), autostart=False)


async def open_big_body(pilot) -> FlowDetailScreen:
    app = pilot.app
    table = app.query_one("#flow-table")
    row = next(i for i, f in enumerate(table.rows) if "catalogue/page-1" in f.url)
    table.cursor = row
    await pilot.press("enter")
    await pilot.pause()
    return app.screen


async def test_a_big_body_opens_at_once_and_scrolls_to_its_end():
    app = big_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_big_body(pilot)
        assert isinstance(screen, FlowDetailScreen)
        began = time.process_time()  # CPU: a busy machine stretches only the wall time
        await pilot.press("3")
        await pilot.pause()
        opened = time.process_time() - began
        view = screen.query_one(BodyView)
        assert view.has_focus  # j/k, PgUp/PgDn, g/G scroll it
        info = str(screen.query_one("#body-info").render())
        assert "100.0MiB" in info and "kept" in info and "showing the first" in info
        assert opened < 2.0, f"the body tab took {opened:.2f} s of CPU"
        await pilot.press("G")
        await pilot.pause()
        assert view.scroll_y == view.max_scroll_y > 10_000  # the 10 MB line wraps into rows
        await pilot.press("g")
        await pilot.pause()
        assert view.scroll_y == 0


def test_snapshot_big_body(snap_compare):
    async def open_it(pilot):
        await pilot.pause()
        await open_big_body(pilot)
        await pilot.press("3")
        await pilot.pause()

    assert snap_compare(big_app(), run_before=open_it, terminal_size=SIZE)
