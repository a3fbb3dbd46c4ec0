"""The Log panel's search box: / opens it, Enter or Escape goes back to the records."""

from __future__ import annotations

from textual.widgets import Input

from tests.fakes import FakeSource
from workbench.ui.app import WorkbenchApp
from workbench.ui.widgets.record_table import RecordTable


async def test_escape_leaves_the_search_box_and_keeps_the_search():
    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.press("5")
        await pilot.pause()
        table = app.query_one("#log-table", RecordTable)
        everything = len(table.rows)
        await pilot.press("slash", *"telnet")
        await pilot.pause()
        assert isinstance(app.focused, Input)
        await pilot.press("escape")
        await pilot.pause()
        assert app.focused is table
        assert 0 < len(table.rows) < everything  # still searched
        await pilot.press("q")  # a key for the app again, not text for the box
        await pilot.pause()
        assert app.query_one("#log-search", Input).value == "telnet"
