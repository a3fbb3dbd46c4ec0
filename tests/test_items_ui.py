"""Items health and the Items filter as a user sees them (Pilot, FakeSource).

The fake crawl's items: three Products (the third dropped, its price None, no
rating) and, with ``reviews=True``, four dict reviews whose text is filled
once (then empty, None, and missing).
"""

from __future__ import annotations

from tests.fakes import FakeSource
from tests.helpers.app import widget_text
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.screens.item_detail import ItemScreen, field_cell, unfilled_text
from workbench.ui.screens.item_health import ItemHealthScreen, fill_bar, items_filter
from workbench.ui.widgets.record_table import RecordTable

SIZE = (150, 40)


def table_text(table: RecordTable) -> str:
    lines = (table.render_line(y) for y in range(table.size.height))
    return "\n".join("".join(s.text for s in line) for line in lines)


async def items_panel(app, pilot):
    await pilot.press("3")
    await pilot.pause()
    return app.query_one("ItemsPanel")


async def test_the_health_view_lists_fields_worst_first_and_opens_the_first_example():
    source = FakeSource(reviews=True)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        panel = await items_panel(app, pilot)
        # the Items panel says the worst field in words, one key from the view
        line = widget_text(panel.query_one("#items-health"))
        assert "text missing, None or empty in 75% of dict (3 of 4" in line
        assert "first at http://127.0.0.1:8000/api/products?page=1" in line and "h:" in line
        await pilot.press("h")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ItemHealthScreen)
        table = screen.query_one(RecordTable)
        rows = [(r.item_type, r.field) for r in table.rows]
        assert rows[:4] == [("dict", "text"), ("Product", "price"), ("Product", "rating"),
                            ("dict", "stars")]  # fmt: skip
        assert table.cursor == 0  # the worst, selected
        text = table_text(table)
        assert "Product" in text and "67%" in text and "25%" in text
        detail = widget_text(screen.query_one("#health-detail"))
        assert "item #11" in detail and "empty" in detail and "None" in detail
        assert "missing" in detail
        title = widget_text(screen.query_one("#health-title"))
        assert "7 items of 2 types" in title and "4 fields not always filled" in title
        # Enter: the first example's flow, on its Produced tab
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen) and app.screen.flow.id == 11
        await pilot.press("escape")
        await pilot.pause()
        # n selects the next example (its flow too); f shows those items in the panel
        await pilot.press("n")
        await pilot.pause()
        assert screen.example == 1
        assert "▶ item #12" in widget_text(screen.query_one("#health-detail"))
        await pilot.press("f")
        await pilot.pause()
        assert app.screen is not screen
        items = panel.query_one("#items-table", RecordTable)
        assert [r.id for r in items.rows] == [11, 12, 13]
        assert panel.filter.expression == "!~f text & ~it '^dict$'"


async def test_the_items_filter_takes_field_type_and_outcome_operators():
    source = FakeSource(reviews=True)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        panel = await items_panel(app, pilot)
        table = panel.query_one("#items-table", RecordTable)

        async def shown(expr: str) -> list[int]:
            await pilot.press("f", "ctrl+u", *expr, "enter")
            await pilot.pause()
            return [r.id for r in table.rows]

        await pilot.press("t")  # every type
        await pilot.pause()
        assert len(table.rows) == 7
        assert await shown("~none price") == [9]
        # the types line says how many of each type the filter keeps
        assert "all 1/7" in widget_text(panel.query_one("#items-type"))
        assert "Product 1/3" in widget_text(panel.query_one("#items-type"))
        assert await shown("~outcome dropped") == [9]
        assert await shown("~it dict & ~empty text") == [11]
        assert await shown("~missing rating") == [9, 10, 11, 12, 13]  # dicts have none
        assert await shown("~it Product & ~missing rating") == [9]
        assert await shown("~u /product/2 & ~f price=^51") == [8]
        assert await shown("!~f text") == [7, 8, 9, 11, 12, 13]  # Products have no text
        # a bad filter is said inline; the last valid one ("~f price=", as typed) stays
        assert await shown("~f price=(") == [7, 8]
        error = widget_text(panel.query_one("#item-filter-error"))
        assert "bad regex for ~f" in error
        # a flow-only filter still works: on the item's flow
        assert await shown("~c 200 & ~cb parse_api") == [10, 11, 12, 13]
        assert "filter" in str(panel.border_subtitle)
        await pilot.press("f", "ctrl+u", "enter")
        await pilot.pause()
        assert len(table.rows) == 7


async def test_none_and_empty_values_are_highlighted_and_enter_opens_the_item():
    source = FakeSource(reviews=True)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        panel = await items_panel(app, pilot)
        assert panel.shown_type == "dict"  # the commonest
        text = table_text(panel.query_one("#items-table", RecordTable))
        assert '""' in text and "None" in text  # the reviews' empty and None text
        panel.show_type("Product")
        await pilot.pause()
        table = panel.query_one("#items-table", RecordTable)
        text = table_text(table)
        assert "None" in text  # the dropped Product's price
        table.focus()
        table.cursor = next(i for i, r in enumerate(table.rows) if r.id == 9)
        await pilot.press("enter")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, ItemScreen)
        shown = widget_text(screen.query_one("#item-fields"))
        assert "price: None" in shown and "rating: — missing" in shown
        assert "Not filled: price None, rating missing" in shown
        assert "Dropped: DropItem: missing price" in shown
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen) and app.screen.flow.id == 9


def test_how_values_not_filled_are_drawn():
    assert unfilled_text(None) == "None"
    assert unfilled_text("") == '""' and unfilled_text(" \n") == '"␣⏎"'
    assert unfilled_text([]) == "[]" and unfilled_text({}) == "{}"
    assert field_cell("Hat") == "Hat"
    assert field_cell(None).style == "italic yellow"
    assert fill_bar(1.0) == "█" * 10 and fill_bar(0.0) == " " * 10
    assert fill_bar(0.55) == "█████▌    "


def test_the_filter_for_a_fields_items_quotes_what_it_must():
    from workbench.core.inspection.filters import ITEMS, parse_filter
    from workbench.core.recording.item_health import FieldHealth

    row = FieldHealth("Product", "title", 3, 1, 1, 1, True)
    assert items_filter(row) == "!~f title & ~it '^Product$'"
    odd = FieldHealth("my.Item", "a b'c", 3, 1, 1, 1, True)
    expr = items_filter(odd)
    parse_filter(expr, ITEMS)  # valid
    assert expr == "!~f 'a b\\'c' & ~it '^my\\.Item$'"
