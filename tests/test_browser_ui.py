"""The Browser panel and the flow detail's browser part, on FakeSource's fixed
readings (tests/helpers/playwright_fake.py): keys, texts and snapshots."""

from __future__ import annotations

import pytest

from tests.fakes import FakeSource
from tests.helpers.app import widget_text
from workbench.core.browser.model import asks_for_browser
from workbench.core.inspection.diagnosis import diagnose
from workbench.core.inspection.diagnosis.evidence import evidence_of
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.widgets.record_table import RecordTable

SIZE = (140, 36)


def _app(state: str = "leaky") -> WorkbenchApp:
    source = FakeSource()
    source.browser_state = state
    return WorkbenchApp(source, autostart=False)


async def test_the_leak_warning_names_the_requests_that_opened_the_oldest_pages():
    app = _app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await pilot.pause(0.2)
        hint = widget_text(app.query_one("#browser-hint"))
        assert "Pages left open" in hint and "await page.close()" in hint
        assert "#7 GET http://127.0.0.1:8000/product/1.html" in hint
        table = app.query_one("#browser-table", RecordTable)
        assert [r.key for r in table.rows] == [2, 3, 4, 5, 1]  # open oldest first, then closed
        text = widget_text(table)
        assert "held" in text and "loading" in text and "closed" in text
        about = widget_text(app.query_one("#browser-about"))
        assert "chromium 156" in about and "Processes: 5" in about
        subtitle = str(app.query_one("#browser-panel").border_subtitle)
        assert "4 open pages" in subtitle and "5 opened, 1 closed" in subtitle


async def test_enter_opens_the_flow_of_the_request_that_opened_the_page():
    app = _app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await pilot.pause(0.2)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, FlowDetailScreen) and app.screen.flow.id == 7
        await pilot.press("2")
        await pilot.pause(0.2)
        response = widget_text(app.screen.query_one("#response-view"))
        assert "Fetched by the headless browser" in response
        assert "product/1.html#reviews" in response  # the page's final URL
        assert "page errors" in response and "product 1 loaded" in response
        assert "\x1b" not in response and "TypeError: price" in response  # sanitised


async def test_w_saves_a_screenshot_of_an_open_page_and_refuses_a_closed_one():
    app = _app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await pilot.pause(0.2)
        await pilot.press("w")
        await app.workers.wait_for_complete()
        await pilot.pause(0.1)
        assert app.source.screenshots_taken == [2]
        notes = [str(n.message) for n in app._notifications]
        assert any("/tmp/workbench-page-2-120000.png" in n for n in notes)
        await pilot.press("G")  # the closed page, last
        await pilot.press("w")
        await pilot.pause(0.1)
        assert app.source.screenshots_taken == [2]
        notes = [str(n.message) for n in app._notifications]
        assert any("closed" in n and "open page" in n for n in notes)


async def test_a_crawl_without_a_browser_says_so():
    app = _app("none")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("9")
        await pilot.pause(0.2)
        status = str(app.query_one("#browser-status").render())
        assert "No headless browser" in status and "scrapy-playwright" in status
        assert not app.query_one("#browser-top").display


def test_a_flow_is_marked_browser_when_its_request_asked_for_it():
    assert asks_for_browser((("playwright", "True"), ("depth", "1")))
    assert not asks_for_browser((("playwright", "False"),))
    assert not asks_for_browser((("depth", "1"),))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "state", "keys"),
    [
        ("browser_leaky", "leaky", ["9"]),
        ("browser_tidy", "tidy", ["9"]),
        ("browser_none", "none", ["9"]),
        ("browser_flow_detail", "leaky", ["9", "enter", "2"]),
    ],
)
def test_snapshot(snap_compare, name, state, keys):
    assert snap_compare(_app(state), press=["wait:200", *keys, "wait:200"], terminal_size=SIZE)


@pytest.mark.slow
def test_snapshot_narrow(snap_compare):
    assert snap_compare(_app(), press=["wait:200", "9", "wait:200"], terminal_size=(80, 24))


def _browser_verdict(source: FakeSource):
    verdicts = diagnose(evidence_of(source, source.snapshot())).verdicts
    return next((v for v in verdicts if v.code == "browser_pages"), None)


def test_diagnose_carries_the_warning():
    source = FakeSource()
    source.browser_state = "leaky"
    verdict = _browser_verdict(source)
    assert verdict is not None and verdict.severity == "problem"
    assert verdict.headline == "3 browser pages left open"
    assert verdict.target is not None and verdict.target.panel == "browser"
    assert "page.close()" in verdict.setting
    assert any("by #7 GET http://127.0.0.1:8000/product/1.html" in f for _, f in verdict.evidence)
    source.browser_state = "tidy"
    assert _browser_verdict(source) is None
    source.browser_state = "none"
    assert _browser_verdict(source) is None


async def test_the_verdicts_target_is_the_browser_panels_table():
    app = _app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)  # the app's first focus (the Flows table) is given
        verdict = _browser_verdict(app.source)
        app.open_target(verdict.target)
        await pilot.pause(0.2)
        assert app.focused is not None and app.focused.id == "browser-table"
