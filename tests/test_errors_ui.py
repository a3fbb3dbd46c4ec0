"""Errors grouped, on screen: E lists the groups, a group shows its examples and its
traceback folded on the user's frames, the Error tab opens on them, and a log
line says what was raised."""

from __future__ import annotations

import logging

import pytest
from rich.text import Text
from textual.widgets import OptionList, Static

from tests.error_fakes import ErrorsFakeSource, callback_traceback
from tests.fakes import T0, FakeSource
from workbench.core.recording.records import LogRecord
from workbench.ui.app import WorkbenchApp
from workbench.ui.panels.log import log_cells
from workbench.ui.screens.errors import ErrorGroupScreen, ErrorsScreen, TracebackScreen
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.widgets.record_table import RecordTable
from workbench.ui.widgets.traceback_view import TracebackView, traceback_text

SIZE = (140, 40)


def shown(widget: Static) -> str:
    rendered = widget.render()
    return rendered.plain if isinstance(rendered, Text) else str(rendered)


def error_tab(screen: FlowDetailScreen) -> str:
    from rich.console import Console

    console = Console(width=200, record=True, color_system=None)
    console.print(screen._error())
    return console.export_text()


def test_a_log_line_with_a_traceback_says_what_was_raised_first():
    message = "Spider error processing <GET http://127.0.0.1:8000/product/3.html>\n"
    record = LogRecord(1, T0, logging.ERROR, "ERROR", "scrapy.core.scraper",
                       message + callback_traceback(3))  # fmt: skip
    cell = str(log_cells(record)[3])
    assert cell.startswith(
        "ValueError: bad price 3 on http://127.0.0.1:8000/product/3.html · Spider error processing"
    )
    assert cell.endswith(f"(+{record.message.count(chr(10))} lines, Enter)")
    # a line without a traceback is as it was
    plain = LogRecord(2, T0, logging.INFO, "INFO", "scrapy.statscollectors", "Dumping:\n{}")
    assert str(log_cells(plain)[3]) == "Dumping:  … (+1 lines, Enter)"


def test_the_status_line_names_the_key_that_groups_the_errors():
    from workbench.ui.status_bar import status_text

    assert "errors 1 (E)" in status_text(FakeSource().snapshot()).plain


def test_a_folded_traceback_shows_the_users_frame_and_one_line_per_library_run():
    folded = traceback_text(callback_traceback(3)).plain
    assert "▸ 28 frames: scrapy  (z unfolds)" in folded
    assert 'File "/home/user/shop/shop/spiders/books.py", line 42, in parse_product' in folded
    assert "site-packages" not in folded
    assert (
        folded.splitlines()[-1] == "ValueError: bad price 3 on http://127.0.0.1:8000/product/3.html"
    )
    unfolded = traceback_text(callback_traceback(3), folded=False).plain
    assert unfolded.count("site-packages") == 28
    # what a traceback says cannot write to the terminal
    hostile = traceback_text("Traceback (most recent call last):\nValueError: \x1b]0;PWNED\x07")
    assert "\x1b" not in hostile.plain and "\x07" not in hostile.plain


@pytest.mark.slow
async def test_E_lists_the_groups_and_each_opens_its_flows_and_traceback():
    app = WorkbenchApp(ErrorsFakeSource(), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("E")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ErrorsScreen)
        table = screen.query_one("#errors-table", RecordTable)
        groups = table.rows
        assert [(g.count, g.kind) for g in groups[:3]] == [
            (36, "callback"), (5, "download"), (2, "item")]  # fmt: skip
        assert groups[0].title == "ValueError: bad price <n> on <url>"
        assert groups[0].location == "shop/spiders/books.py:42 in parse_product"
        title = shown(screen.query_one("#errors-title", Static))
        assert "45 in 5 groups" in title and "37 callback" in title
        preview = shown(screen.query_one("#errors-preview", Static))
        assert "ValueError: bad price 135 on http://127.0.0.1:8000/product/135.html" in preview
        assert "#100 " in preview and "#135 " in preview
        # o: the latest example's flow, on its Error tab
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen) and app.screen.flow.id == 135
        await pilot.press("q")
        await pilot.pause()
        # Enter: the group, its examples and its traceback folded
        await pilot.press("enter")
        await pilot.pause()
        group = app.screen
        assert isinstance(group, ErrorGroupScreen)
        examples = group.query_one("#group-examples", OptionList)
        assert examples.option_count == 10
        view = group.query_one(TracebackView)
        assert "28 frames: scrapy" in shown(view) and "site-packages" not in shown(view)
        await pilot.press("z")
        await pilot.pause()
        assert shown(view).count("site-packages") == 28
        await pilot.press("j", "enter")  # the second example
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen) and app.screen.flow.id == 101
        await pilot.press("q", "q", "down", "enter")  # the refused downloads
        await pilot.pause()
        download = app.screen
        assert isinstance(download, ErrorGroupScreen) and download.group.kind == "download"
        text = shown(download.query_one(TracebackView))
        assert "direct cause" in text and "frames: scrapy" in text
        assert "not in your code" in shown(download.query_one("#group-title", Static))


@pytest.mark.slow
async def test_the_error_tab_opens_on_the_users_frames_and_z_unfolds_the_rest():
    source = ErrorsFakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await app.push_screen(FlowDetailScreen(source, source.flow(110)))
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FlowDetailScreen)
        text = error_tab(screen)
        assert "ValueError: bad price 110 on http://127.0.0.1:8000/product/110.html" in text
        assert "Where  shop/spiders/books.py:42 in parse_product" in text
        assert "36 times" in text and "E lists every error group" in text
        assert "28 frames of the library folded: z unfolds" in text
        assert "site-packages" not in text
        await pilot.press("z")
        await pilot.pause()
        assert error_tab(screen).count("site-packages") == 28
        await pilot.press("z")
        await pilot.pause()
        assert "site-packages" not in error_tab(screen)
        # E from the detail: the groups over it
        await pilot.press("E")
        await pilot.pause()
        assert isinstance(app.screen, ErrorsScreen)


@pytest.mark.slow
async def test_enter_on_a_log_line_with_a_traceback_opens_it_folded():
    source = FakeSource()
    message = "Spider error processing <GET http://x/>\n" + callback_traceback(9)
    source.log.append(LogRecord(6, T0 + 11, logging.ERROR, "ERROR", "scrapy.core.scraper", message))
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("5")
        await pilot.pause()
        table = app.query_one("#log-table", RecordTable)
        table.focus()
        await pilot.press("end", "enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, TracebackScreen)
        text = shown(screen.query_one(TracebackView))
        assert "28 frames: scrapy" in text and "books.py" in text
        await pilot.press("z")
        await pilot.pause()
        assert "site-packages" in shown(screen.query_one(TracebackView))


@pytest.mark.slow
async def test_no_errors_says_so():
    source = FakeSource()
    source.flows = [f for f in source.flows if not f.failed]
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await pilot.press("E")
        await pilot.pause()
        assert "none recorded" in shown(app.screen.query_one("#errors-title", Static))
        assert "No errors" in shown(app.screen.query_one("#errors-preview", Static))
        await pilot.press("o")  # nothing to open: nothing happens
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ErrorsScreen)


def test_the_title_says_why_its_count_is_not_the_status_lines():
    """The status line's "errors N" is Scrapy's log_count/ERROR (one line when a
    request gives up); E counts every failed attempt: the title says so when
    the two differ, and nothing when they agree."""
    view = ErrorsFakeSource().error_groups()
    differ = ErrorsScreen._title(view, logged=4).plain
    assert "45 in 5 groups" in differ
    assert (
        "Every failed attempt counts here, retries included; the status line's errors 4 "
        "are the lines Scrapy logged at ERROR." in differ
    )
    none = ErrorsScreen._title(view, logged=0).plain
    assert "Scrapy logged no line at ERROR, so the status line shows no errors." in none
    assert "status line" not in ErrorsScreen._title(view, logged=view.total).plain
    assert "status line" not in ErrorsScreen._title(view).plain
