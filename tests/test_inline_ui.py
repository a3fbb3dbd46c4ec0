"""Inline requests as a user sees them (Pilot and a snapshot, FakeSource): the
Fate column says ``inline`` and the Callback column the callback that awaited
it, ``~inline`` filters them, the parent's Produced tab lists them and opens
each, whose Request tab names the callback."""

from __future__ import annotations

from tests.fakes import BASE, FakeSource
from tests.helpers.app import widget_text
from tests.helpers.factories import make_flow
from workbench.core.formats.har import save_har
from workbench.core.sources.har_file import HarSource
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.widgets.record_table import RecordTable

SIZE = (150, 40)
PARENT = 7  # /product/1.html, whose parse_product awaited two more pages


def inline_source() -> FakeSource:
    source = FakeSource()
    parent = source.flow(PARENT)
    assert parent is not None
    after = max(f.id for f in source.flows)
    children = [
        make_flow(
            id=after + n + 1,
            time=parent.time + 0.2 * (n + 1),
            url=f"{BASE}/product/1/{name}",
            callback=None,
            inline="parse_product",
            parent_id=PARENT,
            size=120 + n,
            latency=0.02,
            slot="127.0.0.1",
            depth=parent.depth,
        )
        for n, name in enumerate(("price.json", "stock.json"))
    ]
    for child in children:
        parent.add_request(child.method, child.url)
    source.flows.extend(children)
    return source


def rows_text(table: RecordTable) -> list[str]:
    lines = (table.render_line(y) for y in range(table.size.height))
    return ["".join(s.text for s in line) for line in lines]


async def test_inline_rows_the_filter_and_the_produced_tab():
    source = inline_source()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        table = app.query_one("#flow-table", RecordTable)
        price = next(line for line in rows_text(table) if "price.json" in line)
        assert "inline" in price and "↩ parse_product" in price
        await pilot.press("f", *"~inline", "enter")
        await pilot.pause()
        assert [f.url.rsplit("/", 1)[-1] for f in table.rows] == ["price.json", "stock.json"]
        await pilot.press("f", "ctrl+u", "enter")
        await pilot.pause()

        table.focus()
        table.cursor = next(i for i, f in enumerate(table.rows) if f.id == PARENT)
        await pilot.press("enter", "4")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, FlowDetailScreen) and screen.flow.id == PARENT
        produced = widget_text(screen.query_one("#produced-view"))
        assert "Requests (2)" in produced
        line = next(x for x in produced.splitlines() if "price.json" in x)
        assert "inline" in line and f"#{source.flows[-2].id}" in line
        await pilot.press("enter")  # the highlighted request: its flow
        await pilot.pause()
        child = app.screen
        assert isinstance(child, FlowDetailScreen) and child.flow.url.endswith("price.json")
        request = widget_text(child.query_one("#request-view"))
        callback = next(x for x in request.splitlines() if x.startswith("Callback"))
        assert "downloaded inline, awaited in parse_product" in callback
        parent = next(x for x in request.splitlines() if x.startswith("Parent flow"))
        assert f"#{PARENT}" in parent and "/product/1.html" in parent


def test_snapshot_inline_produced(snap_compare):
    """The product page's Produced tab: its two inline downloads, each with its flow."""
    app = WorkbenchApp(inline_source(), autostart=False)

    async def open_parent(pilot) -> None:
        await pilot.pause()
        table = app.query_one("#flow-table", RecordTable)
        table.focus()
        table.cursor = next(i for i, f in enumerate(table.rows) if f.id == PARENT)
        await pilot.press("enter", "4")
        await pilot.pause()

    assert snap_compare(app, run_before=open_parent, terminal_size=SIZE)


def test_snapshot_inline_rows(snap_compare):
    assert snap_compare(WorkbenchApp(inline_source(), autostart=False),
                        press=["wait:200"], terminal_size=SIZE)  # fmt: skip


def test_a_saved_session_keeps_the_inline_downloads(tmp_path):
    source = inline_source()
    opened = HarSource(save_har(source, source.flows_since(0), tmp_path / "s.har"))
    back = opened.flows_since(0)
    inline = [f for f in back if f.inline is not None]
    assert [f.url.rsplit("/", 1)[-1] for f in inline] == ["price.json", "stock.json"]
    parent = next(f for f in back if f.url.endswith("/product/1.html"))
    assert {f.parent_id for f in inline} == {parent.id} and inline[0].inline == "parse_product"
