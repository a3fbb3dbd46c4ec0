"""The app's shell and breakpoint keys on real crawls (Pilot).

The terminal IPython needs a real terminal (test_shell_e2e.py); here a
stand-in console records what the shell would have been given.
"""

from __future__ import annotations

import gc

import pytest

from tests.conftest import demo_settings
from tests.helpers.app import wait_for, widget_text
from workbench.core.control.host import CrawlHost
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import DemoSpider, expected_item_count
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.breakpoints import BreakpointDialog, BreakpointsScreen
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.widgets.record_table import RecordTable

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite


def recording_console(calls: list[dict]):
    def console(ns, banner, history, manager):
        calls.append(
            {
                "vars": dict(ns.vars),
                "banner": banner,
                "history": history,
                "collector": gc.isenabled(),  # the s key held it (ui/collector_hold.py)
            }
        )

    return console


def make(demo_url, breaks=(), **kwargs):
    settings = demo_settings(WORKBENCH_BREAKPOINTS=list(breaks), **kwargs)
    source = LocalSource(CrawlHost(settings, DemoSpider, {"url": demo_url}))
    calls: list[dict] = []
    app = WorkbenchApp(source, shell_console=recording_console(calls))
    return source, app, calls


async def test_s_opens_the_shell_on_the_selected_flow(demo_url):
    source, app, calls = make(demo_url, DOWNLOAD_DELAY=0.05)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.query_one("#flow-table", RecordTable)
        await wait_for(lambda: len(table.rows) > 5, pilot)
        await pilot.press("k", "k")
        selected = table.current()
        app.offer_to_shell("response.css('h1::text').getall()", ["a title"])
        await pilot.press("s")
        await wait_for(lambda: calls and not app.shell.busy, pilot)
        shell_vars = calls[0]["vars"]
        assert shell_vars["response"].url == selected.url
        assert shell_vars["spider"] is source.host.crawler.spider
        assert shell_vars["sel"] == ["a title"]
        assert calls[0]["history"] == ["response.css('h1::text').getall()"]
        assert calls[0]["collector"]  # the shell's code runs with the collector on
        assert f"flow #{selected.id}" in calls[0]["banner"]
        # from a flow's detail screen, the shell opens on that flow
        flow = next(f for f in table.rows if "/product/" in f.url)
        app.push_screen(FlowDetailScreen(source, flow))
        await pilot.pause()
        await pilot.press("s")
        await wait_for(lambda: len(calls) == 2 and not app.shell.busy, pilot)
        assert calls[1]["vars"]["response"].url == flow.url
        assert calls[1]["vars"]["response"].css("h1::text").get()
        await wait_for(lambda: source.host.finished, pilot)
    assert source.recorder.items_scraped == expected_item_count(40)


async def test_a_hit_selects_the_flow_then_c_continues(demo_url):
    source, app, calls = make(demo_url, ["~u /product/5\\.html$"])
    async with app.run_test(size=(160, 45)) as pilot:
        bar = app.query_one("#hit-bar")
        await wait_for(lambda: bar.has_class("-hit"), pilot)
        text = widget_text(bar)
        assert "Breakpoint 1" in text and "/product/5.html" in text
        assert "c continue" in text
        table = app.query_one("#flow-table", RecordTable)
        assert table.current().url.endswith("/product/5.html")
        assert app.tabs.active == "flows"
        assert app.last_snapshot.status.state == "paused"
        # the footer offers continue and step only now
        assert app.check_action("continue", ()) is True
        # the shell on the hit gets the live response, before its callback
        await pilot.press("s")
        await wait_for(lambda: calls and not app.shell.busy, pilot)
        assert "the callback has not run yet" in calls[0]["banner"]
        assert calls[0]["vars"]["response"].url.endswith("/product/5.html")
        await pilot.press("c")
        await wait_for(lambda: not bar.has_class("-hit"), pilot)
        assert app.check_action("continue", ()) is False
        await wait_for(lambda: source.host.finished, pilot)
    assert source.recorder.items_scraped == expected_item_count(40)


async def test_n_steps_to_the_next_response(demo_url):
    source, app, _ = make(demo_url, ["~u /product/5\\.html$"])
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(lambda: app.last_snapshot and app.last_snapshot.hit, pilot)
        first = app.last_snapshot.hit
        await pilot.press("n")
        await wait_for(
            lambda: app.last_snapshot.hit is not None and app.last_snapshot.hit.id != first.id,
            pilot,
        )
        assert app.last_snapshot.hit.description == "step: next response"
        await pilot.press("c")
        await wait_for(lambda: source.host.finished, pilot)


async def test_b_adds_and_B_edits_breakpoints(demo_url):
    source, app, _ = make(demo_url, DOWNLOAD_DELAY=0.2)
    async with app.run_test(size=(160, 45)) as pilot:
        table = app.query_one("#flow-table", RecordTable)
        await wait_for(lambda: len(table.rows) > 1, pilot)
        await pilot.press("space")  # pause, so nothing hits meanwhile
        await pilot.press("b")
        dialog = app.screen
        assert isinstance(dialog, BreakpointDialog)
        prefilled = dialog.query_one("Input").value
        assert prefilled.startswith("response: ~u ")  # the selected flow's path
        dialog.query_one("Input").value = ""
        await pilot.press(*"item: ~f")
        await pilot.pause()
        assert "missing argument for ~f" in widget_text(dialog.query_one("#bp-error"))
        await pilot.press("enter")  # refused: still open
        assert app.screen is dialog
        await pilot.press(*" price")
        await pilot.press("enter")
        await pilot.pause()
        assert [bp.text for bp in source.breakpoints()] == ["item: ~f price"]
        await pilot.press("B")
        screen = app.screen
        assert isinstance(screen, BreakpointsScreen)
        await pilot.press("space")
        assert source.breakpoints()[0].enabled is False
        await pilot.press("e")
        await pilot.pause()
        edit = app.screen.query_one("Input")
        assert edit.value == "item: ~f price"
        edit.value = "error"
        await pilot.press("enter")
        await pilot.pause()
        assert [bp.text for bp in source.breakpoints()] == ["error"]
        await pilot.press("a", *"~s 404", "enter")
        await pilot.pause()
        assert len(source.breakpoints()) == 2
        await pilot.press("d")
        await pilot.pause()
        assert len(source.breakpoints()) == 1
        await pilot.press("escape")
        source.remove_breakpoint(source.breakpoints()[0].id)
        source.set_slot_delay(None, 0.0)  # the rest of the crawl need not take 10 s
        await pilot.press("space")
        await wait_for(lambda: source.host.finished, pilot)
