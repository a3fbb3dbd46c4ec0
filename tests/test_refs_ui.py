"""The Refs and Memory panels through their keys: on a fake source and on a real leaky crawl."""

from __future__ import annotations

import asyncio

import pytest
from scrapy.http import HtmlResponse

from tests.fakes import FakeSource
from tests.helpers.app import wait_for, widget_text
from tests.helpers.leaks import leaky_source
from tests.memory_fakes import PATH, PREFS
from workbench.core.leaks.liverefs import class_key
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.live_objects import LiveObjectsScreen
from workbench.ui.screens.prefs import PrefsScreen
from workbench.ui.widgets.record_table import RecordTable

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SIZE = (140, 40)


def table_rows(app, selector: str) -> list:
    return list(app.query_one(selector, RecordTable).rows)


async def test_refs_panel_keys_on_a_fake_source(tmp_path):
    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("6")
        await pilot.pause()
        panel = app.panel("refs")
        assert [r.name for r in table_rows(app, "#refs-table")][:3] == [
            "HtmlResponse",
            "Selector",
            "Request",
        ]  # sorted by live count, biggest first
        hint = widget_text(panel.query_one("#refs-hint"))
        assert "Possible leak: HtmlResponse: 812 live" in hint and PATH in hint
        assert "Selector grows too, held by the HtmlResponses" in hint  # cause first
        # o: next sort column (by change), O reverses
        await pilot.press("o")
        await pilot.pause()
        assert "sorted by change ↓" in panel.border_subtitle
        await pilot.press("O")
        await pilot.pause()
        assert "sorted by change ↑" in panel.border_subtitle
        assert table_rows(app, "#refs-table")[0].name == "Product"
        # m: baseline; M clears it
        await pilot.press("m")
        await pilot.pause()
        assert source.baseline and "baseline" in panel.border_subtitle
        await pilot.press("M")
        await pilot.pause()
        assert not source.baseline and "no baseline" in panel.border_subtitle
        # h: ignore the selected class; H shows the ignored ones again
        await pilot.press("g", "h")
        await pilot.pause()
        ignored = next(iter(source.ref_ignored))
        assert ignored not in [r.key for r in table_rows(app, "#refs-table")]
        assert "1 ignored" in panel.border_subtitle
        await pilot.press("H")
        await pilot.pause()
        assert ignored in [r.key for r in table_rows(app, "#refs-table")]
        # l: search what holds the selected class
        await pilot.press("l")
        await wait_for(lambda: source.searched, pilot, 10)
        # e: the prefs() text; w saves it, c copies it
        await pilot.press("e")
        await pilot.pause()
        assert isinstance(app.screen, PrefsScreen)
        app.screen.directory = tmp_path
        await pilot.press("w", "c")
        await pilot.pause()
        saved = list(tmp_path.glob("workbench-prefs-*.txt"))
        assert len(saved) == 1 and saved[0].read_text() == PREFS
        await pilot.press("q")
        await pilot.pause()
        # Enter: the live objects, oldest first; Enter on one: its referrers; s: shell
        await pilot.press("G", "g", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, LiveObjectsScreen)
        objects = table_rows(screen, "#objects-table")
        assert objects[0].label.endswith("/catalogue/page-1.html")
        await pilot.press("enter")
        await wait_for(lambda: "Chain 1" in widget_text(screen.query_one("#referrers-text")), pilot)
        text = widget_text(screen.query_one("#referrers-text"))
        assert "scheduler.mqs -> DownloaderAwarePriorityQueue.pqueues['127.0.0.1']" in text
        assert "dict['listing'] ×6" in text
        app.shell = object()  # stand-in: shell_on_object only needs one to exist
        app.shell_on_object = lambda key: source.shell_objects.append(key)  # type: ignore[method-assign]
        await pilot.press("s")
        assert source.shell_objects == [objects[0].key]
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, LiveObjectsScreen)


async def test_memory_panel_heap_and_diff_on_a_fake_source():
    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("7")
        await pilot.pause()
        panel = app.panel("memory")
        assert "MEMUSAGE_LIMIT_MB" in widget_text(panel.query_one("#memusage"))
        rss = panel.query_one("#rss-chart").render().plain
        assert rss.startswith("RSS  122 MB  max 122 MB  min 90.0 MB")
        assert " 200 MB┤" in rss and " 0.0 MB┤" in rss  # from zero, not from its minimum
        assert table_rows(app, "#heap-table")[0].type_name == "str"
        await pilot.press("d")
        await pilot.pause()
        heap_title = widget_text(panel.query_one("#heap-title"))
        assert "What grew from summary 1" in heap_title
        grown = {r.type_name: r.count for r in table_rows(app, "#heap-table")}
        assert grown["scrapy.http.response.html.HtmlResponse"] == 700
        assert "code" not in grown  # unchanged rows are left out
        # workbench's own objects are not what the user hunts: left out, and said
        assert not any(name.startswith(("workbench.core", "textual.")) for name in grown)
        assert "to 2 (" in heap_title and "+6,700 objects, +917.2KiB" in heap_title
        assert "workbench's own left out: +36 objects, +2.2KiB (FIFOCache, HeapRow)" in heap_title
        await pilot.press("h")
        await wait_for(lambda: len(source.summaries) == 3, pilot, 10)
        title = panel.query_one("#heap-title")
        await wait_for(lambda: "from summary 2 (" in widget_text(title), pilot, 10)
        await pilot.press("d")
        await pilot.pause()
        assert "Heap summary 3" in widget_text(panel.query_one("#heap-title"))
        # while one runs: a progress bar, and h says so
        source.heap_running = True
        app.refresh_panels()
        await pilot.pause()
        assert panel.query_one("#heap-progress").display
        assert "heap summary running: summarising" in panel.border_subtitle


async def test_refs_panel_flags_the_leaky_demo(reactor, quiet_pytest_logging):
    from scrapy.utils.defer import maybe_deferred_to_future

    port, host, source = leaky_source()
    app = WorkbenchApp(source)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("6")
            panel = app.panel("refs")

            def named() -> bool:
                app.refresh_panels()
                return "held by Request.cb_kwargs['listing'] -> HtmlResponse" in widget_text(
                    panel.query_one("#refs-hint")
                )

            try:
                await wait_for(named, pilot, 60)
            except AssertionError:
                raise AssertionError(widget_text(panel.query_one("#refs-hint"))) from None
            path, share = source.probe.tracker.paths[class_key(HtmlResponse)]
            assert path == "Request.cb_kwargs['listing'] -> HtmlResponse" and "sampled" in share
            source.stop()
            await wait_for(lambda: host.finished, pilot, 60)
    finally:
        await asyncio.sleep(0)
        await maybe_deferred_to_future(port.stopListening())
