"""Diagnose (D) under Pilot: the verdicts and the fates summary on the fake source,
Enter on each opening what supports it, and the status line's headline."""

from __future__ import annotations

import pytest
from textual.widgets import Input

from tests.helpers.app import wait_for, widget_text
from tests.helpers.diagnosis import fake_source as source
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.diagnose import DiagnoseScreen
from workbench.ui.status_bar import StatusBar
from workbench.ui.widgets.record_table import RecordTable

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SIZE = (160, 45)


async def open_diagnose(pilot) -> DiagnoseScreen:
    await pilot.press("D")
    await wait_for(lambda: isinstance(pilot.app.screen, DiagnoseScreen), pilot)
    await pilot.pause()
    return pilot.app.screen


async def test_d_opens_the_verdicts_from_any_panel_and_enter_opens_the_slot():
    app = WorkbenchApp(source(), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("4")  # from the Stats panel
        await pilot.pause()
        screen = await open_diagnose(pilot)
        codes = [v.code for v in screen.verdicts.rows]
        assert codes[0] == "delay"  # the limit first, then the notes
        detail = str(screen.query_one("#verdict-detail").render())
        assert "Setting: DOWNLOAD_DELAY (now 1 s)" in detail
        assert "Rule: Scrapy docs, Optimization: Finding the bottleneck" in detail
        title = widget_text(screen.query_one("#diagnose-title"))
        assert "downloader 16/16, 0 on the wire" in title
        await pilot.press("enter")
        await wait_for(lambda: not isinstance(app.screen, DiagnoseScreen), pilot)
        assert app.tabs.active == "slots"
        slots = app.panels["slots"]
        await wait_for(lambda: slots.selected == "127.0.0.1", pilot)
        table = slots.query_one("#slots-rows", RecordTable)
        assert table.current().key == "127.0.0.1" and table.has_focus


async def test_the_status_line_names_the_worst_verdict():
    app = WorkbenchApp(source(), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        bar = app.query_one(StatusBar)
        await wait_for(lambda: "⚑" in widget_text(bar), pilot)
        line = widget_text(bar)
        assert "⚑ bound by DOWNLOAD_DELAY" in line and line.rstrip().endswith("(D)")
    quiet = WorkbenchApp(source(engine=False), autostart=False)  # notes only: no headline
    async with quiet.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        assert "⚑" not in widget_text(quiet.query_one(StatusBar))


async def test_a_fate_row_opens_its_flows_in_the_flows_panel():
    app = WorkbenchApp(source(), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_diagnose(pilot)
        await pilot.press("tab")
        assert screen.fates.has_focus
        rows = screen.fates.rows
        assert [r.fate for r in rows if not r.part][:3] == ["downloaded", "duplicate", "offsite"]
        offsite = next(i for i, r in enumerate(rows) if r.fate == "offsite" and not r.part)
        for _ in range(offsite):
            await pilot.press("j")
        await pilot.press("enter")
        await wait_for(lambda: not isinstance(app.screen, DiagnoseScreen), pilot)
        flows = app.panels["flows"]
        assert app.tabs.active == "flows"
        assert flows.query_one("#flow-filter", Input).value == "~fate offsite"
        await wait_for(lambda: flows.filter_text == "~fate offsite", pilot)
        shown = flows.table.rows
        assert shown and all(f.fate == "offsite" for f in shown)


async def test_a_components_row_filters_by_who_decided():
    app = WorkbenchApp(source(), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        screen = await open_diagnose(pilot)
        await pilot.press("tab")
        rows = screen.fates.rows
        part = next(i for i, r in enumerate(rows) if r.fate == "duplicate" and r.part)
        for _ in range(part):
            await pilot.press("j")
        await pilot.press("enter")
        await wait_for(lambda: not isinstance(app.screen, DiagnoseScreen), pilot)
        flows = app.panels["flows"]
        wanted = "~fate duplicate & ~by RFPDupeFilter$"
        await wait_for(lambda: flows.filter_text == wanted, pilot)
        assert all(f.fate == "duplicate" for f in flows.table.rows)


async def test_the_summary_says_rows_past_the_bound_are_only_counted():
    app = WorkbenchApp(source(), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_diagnose(pilot)
        note = widget_text(screen.query_one("#fates-note"))
        assert "120 never-downloaded requests were only counted" in note
        assert "WORKBENCH_MAX_DROPPED" in note
        duplicate = next(r for r in screen.fates.rows if r.fate == "duplicate" and not r.part)
        assert duplicate.count == 122 and duplicate.kept == 2


async def test_nothing_wrong_says_so_and_what_was_not_checked():
    fake = source(engine=False, fates=False)
    fake.items = []  # no items, so no field is missing
    app = WorkbenchApp(fake, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_diagnose(pilot)
        table = widget_text(screen.verdicts)
        assert "Nothing looks wrong" in table
        assert "No rule found a problem" in str(screen.query_one("#verdict-detail").render())
        unchecked = str(screen.query_one("#unchecked").render())
        assert "Not checked" in unchecked and "engine's readings" in unchecked
        fates_note = widget_text(screen.query_one("#fates-note"))
        assert "Every request so far was downloaded" in fates_note


async def test_escape_and_d_close_it_and_the_items_verdict_opens_the_items():
    fake = source(engine=False)
    app = WorkbenchApp(fake, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await open_diagnose(pilot)
        await pilot.press("escape")
        await wait_for(lambda: not isinstance(app.screen, DiagnoseScreen), pilot)
        screen = await open_diagnose(pilot)
        await pilot.press("D")
        await wait_for(lambda: not isinstance(app.screen, DiagnoseScreen), pilot)
        screen = await open_diagnose(pilot)
        items = next(i for i, v in enumerate(screen.verdicts.rows) if v.code == "items")
        for _ in range(items):
            await pilot.press("j")
        await pilot.press("enter")
        await wait_for(lambda: app.tabs.active == "items", pilot)


def test_the_status_line_makes_room_for_the_answers_at_every_width():
    """The rates, the clock, the headline's parenthesis and the queue make way
    first; the state, the errors (E) and the headline's words stay longest."""
    from tests.fakes import FakeSource
    from workbench.ui.status_bar import status_text

    snapshot = FakeSource().snapshot()
    words = "bound by DOWNLOAD_DELAY (127.0.0.1: 1.00 s)"
    full = status_text(snapshot, None, (words, "yellow")).plain
    assert full.endswith(f"⚑ {words} (D)") and "(420/min)" in full and "0:01:05" in full
    for width in (200, 160, 120, 100, 80, 60, 40, 24):
        line = status_text(snapshot, width, (words, "yellow")).plain
        assert len(line) <= width, (width, line)
        assert line.startswith(" ● running"), line
        if width >= 60:
            assert line.endswith("⚑ bound by DOWNLOAD_DELAY (D)") or line.endswith(f"{words} (D)")
            assert "errors 1 (E)" in line
        if width >= 80:
            assert "pages 11" in line and "items 2" in line, line
        if width <= 120:
            assert "(420/min)" not in line and "0:01:05" not in line  # first to go
    assert "(127.0.0.1: 1.00 s)" in status_text(snapshot, 160, (words, "yellow")).plain
    assert status_text(snapshot, 40, (words, "")).plain.endswith("…")
    sanitised = status_text(snapshot, None, ("x\x1b[2Jy", "")).plain
    assert sanitised.endswith("⚑ x\\x1b[2Jy (D)") and "\x1b" not in sanitised
