"""The real app running a real crawl of the demo site: every panel shows it."""

from __future__ import annotations

import re

import pytest

from tests.conftest import demo_settings
from tests.helpers.app import wait_for, widget_text
from workbench.core.control.host import CrawlHost
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import DemoSpider, expected_item_count
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.status_bar import status_text
from workbench.ui.widgets.record_table import RecordTable

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite


async def test_every_panel_shows_the_real_crawl(demo_url, tmp_path):
    out = tmp_path / "items.jsonl"
    host = CrawlHost(
        demo_settings(FEEDS={str(out): {"format": "jsonlines"}}), DemoSpider, {"url": demo_url}
    )
    source = LocalSource(host)
    app = WorkbenchApp(source)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(lambda: host.finished, pilot)
        app.refresh_panels()
        await pilot.pause()
        snapshot = app.last_snapshot
        assert snapshot.status.state == "finished"
        assert "finished" in status_text(snapshot).plain
        assert f"items {expected_item_count(40)}" in status_text(snapshot).plain

        flows = app.query_one("#flow-table", RecordTable)
        assert len(flows.rows) == host.recorder.flows.total > 40
        assert any("/product/" in f.url for f in flows.rows)

        # the filter: mitmproxy syntax, inline error for a bad expression
        await pilot.press("f")
        await pilot.press(*"~c 404")
        await pilot.pause()
        assert [f.status for f in flows.rows] == [404]
        for _ in range(6):
            await pilot.press("backspace")
        await pilot.press(*"~c (")
        await pilot.pause()
        error = app.query_one("#flow-filter-error")
        assert "-hidden" not in error.classes and "(" in str(error.render())
        for _ in range(4):
            await pilot.press("backspace")
        await pilot.press(*"~u product/7\\.html")
        await pilot.pause()
        assert len(flows.rows) == 1
        await pilot.press("enter")  # back to the table
        await pilot.press("enter")  # open the flow
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)
        assert app.screen.flow.url.endswith("/product/7.html")
        await pilot.pause(2.5)  # the refresh timer fires while the detail screen is on top
        await pilot.press("3")
        await pilot.pause()
        body = widget_text(app.screen.query_one("#body-view"))
        assert "html ·" in body and "<h1>" in body
        await pilot.press("q")
        await pilot.pause()

        await pilot.press("3")
        await pilot.pause()
        items = app.query_one("#items-table", RecordTable)
        assert len(items.rows) == 40  # the most common type (Product) is shown
        assert {r.item_class for r in items.rows} == {"Product"}

        await pilot.press("4")
        await pilot.pause()
        stats = app.query_one("#stats-table", RecordTable)
        keys = [k for k, _ in stats.rows]
        assert "item_scraped_count" in keys and "finish_reason" in keys

        await pilot.press("5")
        await pilot.pause()
        log = app.query_one("#log-table", RecordTable)
        assert any("Spider closed (finished)" in r.message for r in log.rows)

        await pilot.press("2")
        await pilot.pause()
        assert app.query_one("#queue-panel").border_subtitle.startswith("0 pending")

        await pilot.press("q")  # finished: quits without asking
        await pilot.pause()
    assert len(out.read_text().splitlines()) == host.recorder.items_scraped
    host.close()


async def test_queue_panel_shows_pending_requests_while_paused(demo_url):
    host = CrawlHost(demo_settings(CONCURRENT_REQUESTS=1), DemoSpider, {"url": demo_url})
    source = LocalSource(host)
    app = WorkbenchApp(source)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(lambda: host.recorder is not None and host.recorder.flows.total >= 3, pilot)
        await pilot.press("space")
        await wait_for(lambda: host.status().state == "paused", pilot, 10)
        await pilot.press("2")
        await pilot.pause()
        app.refresh_panels()
        await pilot.pause()
        pending = app.query_one("#pending-table", RecordTable)
        assert len(pending.rows) > 0
        assert "paused" in app.query_one("#queue-panel").border_subtitle
        await pilot.press("space")
        await wait_for(lambda: host.finished, pilot)
    host.close()


async def test_the_pause_notice_counts_what_still_finishes_and_what_is_held(demo_url):
    """With DOWNLOAD_DELAY, requests wait in the slot's queue: paused, they stay
    there, and the notice's two numbers are what finishes and what waits."""
    host = CrawlHost(demo_settings(DOWNLOAD_DELAY=0.2), DemoSpider, {"url": demo_url})
    at_pause: dict[str, int] = {}

    def waiting() -> int:
        engine = host.engine
        return sum(len(s.queue) for s in engine.downloader.slots.values()) if engine else 0

    def responses() -> int:
        return host.stats.get_value("downloader/response_count", 0) if host.stats else 0

    class Source(LocalSource):
        def toggle_pause(self) -> bool | None:
            paused = super().toggle_pause()
            at_pause.update(responses=responses(), waiting=waiting())
            at_pause.update(handed=len(host.engine._slot.inprogress))
            return paused

    app = WorkbenchApp(Source(host))
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(lambda: waiting() >= 5, pilot)
        await pilot.press("space")
        await wait_for(lambda: host.status().state == "paused", pilot, 10)
        notices = [str(n.message) for n in app._notifications]
        found = [re.search(r"; (\d+) in flight still finish.*; (\d+) waiting in the", n)
                 for n in notices]  # fmt: skip
        assert any(found), notices
        match = next(m for m in found if m)
        in_flight, held = int(match.group(1)), int(match.group(2))
        assert held == at_pause["waiting"] >= 5 and in_flight + held == at_pause["handed"]
        await wait_for(lambda: host.status().in_flight == 0, pilot, 10)
        await pilot.pause(2)  # ten delays: ten more pages if the slot's queue drained
        assert responses() - at_pause["responses"] <= in_flight
        assert host.status().held == held == waiting()
        app.refresh_panels()
        await pilot.pause()
        line = status_text(app.last_snapshot).plain
        assert f" 0 still in flight, {held} held " in line, line
        await pilot.press("space")
        await wait_for(lambda: responses() > at_pause["responses"] + held, pilot)
        await pilot.press("X")
        await wait_for(lambda: host.finished, pilot)
    host.close()


async def test_bounded_recorder_is_mirrored_and_says_what_it_dropped(demo_url):
    host = CrawlHost(
        demo_settings(WORKBENCH_MAX_FLOWS=10, WORKBENCH_MAX_ITEMS=5, WORKBENCH_MAX_LOG=20),
        DemoSpider,
        {"url": demo_url},
    )
    app = WorkbenchApp(LocalSource(host))
    async with app.run_test(size=(160, 45)) as pilot:
        for key in ("1", "3", "5", "1", "3", "5"):  # panels pull while the crawl runs
            await pilot.press(key)
            await pilot.pause(0.1)
        await wait_for(lambda: host.finished, pilot)
        for key in ("1", "3", "5"):
            await pilot.press(key)
            await pilot.pause()
            app.refresh_panels()
            await pilot.pause()
        flows = app.query_one("#flow-table", RecordTable)
        kept = [f.id for f in host.recorder.flows]
        assert [f.id for f in flows.rows] == kept and len(kept) == 10
        assert "oldest dropped" in app.panel("flows").border_subtitle
        items = app.query_one("#items-table", RecordTable)
        assert len(items.rows) <= 5
        assert "not kept" in app.panel("items").border_subtitle
        log = app.query_one("#log-table", RecordTable)
        assert [r.id for r in log.rows] == [r.id for r in host.recorder.log]
        await pilot.press("q")
    host.close()


async def test_q_while_the_crawl_closes_quits_once_it_has_closed():
    """q while closing asks whether to force the stop; the crawl closing before
    the answer quits (the question left open kept the app, and a script
    waiting for it, forever); "no" keeps the app once the crawl has closed."""
    from tests.fakes import FakeSource
    from workbench.ui.screens.dialogs import ConfirmScreen

    source = FakeSource(state="closing")
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        source.state = "finished"
        await wait_for(lambda: app._exit, pilot, 5)
    assert app.return_code == 0 and not app.forced

    await _no_keeps_the_app_once_finished("closing")  # not forced, not quitting


async def test_q_while_running_quits_if_the_crawl_ends_before_the_answer():
    """q while running asks whether to stop the crawl; if it ends on its own first
    (CLOSESPIDER_TIMEOUT, the last page), the question is moot: workbench quits.
    "no" keeps the app, and a crawl that only starts closing keeps the question."""
    from tests.fakes import FakeSource
    from workbench.ui.screens.dialogs import ConfirmScreen

    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        source.state = "closing"
        await pilot.pause(0.3)
        assert not app._exit and isinstance(app.screen, ConfirmScreen)
        source.state = "finished"
        await wait_for(lambda: app._exit, pilot, 5)
    assert app.return_code == 0 and source.state == "finished"

    await _no_keeps_the_app_once_finished("running")


async def _no_keeps_the_app_once_finished(state: str) -> None:
    """q in ``state``, "n" to its question, then the crawl finishes: the app stays."""
    from tests.fakes import FakeSource
    from workbench.ui.screens.dialogs import ConfirmScreen

    source = FakeSource(state=state)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("n")
        await pilot.pause()
        source.state = "finished"
        await pilot.pause(0.3)
        assert not app._exit and not isinstance(app.screen, ConfirmScreen)


async def test_stop_and_quit_still_quits_after_a_force_question_answered_no():
    """ "Stop and quit" while running, then q again while closing and "no" to
    forcing: workbench still quits once the crawl has closed, as asked first."""
    from tests.fakes import FakeSource

    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("y")  # stop gracefully and quit
        await pilot.pause()
        assert source.state == "closing"
        await pilot.press("q")
        await pilot.pause()
        await pilot.press("n")  # do not force
        await pilot.pause()
        assert not app._exit
        source.state = "finished"
        await wait_for(lambda: app._exit, pilot, 5)
