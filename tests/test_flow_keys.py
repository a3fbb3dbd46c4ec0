"""Every key for a flow works from the Flows table and from the flow's detail
alike, and ? lists it in both places (Pilot, FakeSource)."""

from __future__ import annotations

import pytest
from textual.binding import Binding

from tests.fakes import FakeSource
from tests.helpers.app import widget_text
from workbench.ui.app import WorkbenchApp
from workbench.ui.flow_actions import FLOW_KEYS
from workbench.ui.panels.flows import FlowsPanel
from workbench.ui.screens.breakpoints import BreakpointDialog
from workbench.ui.screens.curl import CurlScreen
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.screens.replay import ReplayScreen
from workbench.ui.screens.selectors import SelectorScreen
from workbench.ui.widgets.record_table import RecordTable

pytestmark = pytest.mark.slow  # real app runs: the full suite

SIZE = (140, 36)
# what each flow key opens on a plain 200 (o: a duplicate opens its original)
OPENS = {"p": SelectorScreen, "r": ReplayScreen, "x": CurlScreen}


async def select(app, pilot, flow_id: int) -> RecordTable:
    table = app.query_one("#flow-table", RecordTable)
    table.focus()
    table.cursor = next(i for i, f in enumerate(table.rows) if f.id == flow_id)
    await pilot.pause()
    return table


def test_the_flow_keys_are_bound_in_the_table_and_the_detail():
    keys = {(b.key, b.action) for b in FLOW_KEYS if isinstance(b, Binding)}
    assert {k for k, _ in keys} == {"p", "r", "x", "o"}
    for owner in (FlowsPanel, FlowDetailScreen):
        bound = {(b.key, b.action) for b in owner.BINDINGS if isinstance(b, Binding)}
        assert keys <= bound, (owner.__name__, keys - bound)
        for _, action in keys:
            assert callable(getattr(owner, f"action_{action}", None)), (owner, action)
    # and ? lists them under both
    app = WorkbenchApp(FakeSource(), autostart=False)
    sections = dict(app.help_sections())
    for title in ("Flows panel", FlowDetailScreen.HELP_TITLE):
        listed = {b.key for b in sections[title]}
        assert {k for k, _ in keys} <= listed, title


@pytest.mark.parametrize("key", sorted(OPENS))
async def test_a_flow_key_does_the_same_from_the_table_and_the_detail(key):
    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        flow = next(f for f in source.flows if f.status == 200 and "/product/" in f.url)
        await select(app, pilot, flow.id)
        await pilot.press(key)  # from the table
        await pilot.pause()
        assert isinstance(app.screen, OPENS[key]), (key, app.screen)
        assert getattr(app.screen, "flow", flow).id == flow.id
        if key == "x":
            assert app.screen.title_text == f"curl for flow #{flow.id}"
            assert flow.url in widget_text(app.screen.query_one("#curl-command"))
        app.pop_screen()
        await pilot.pause()
        await pilot.press("enter")  # the same key in the detail
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)
        await pilot.press(key)
        await pilot.pause()
        assert isinstance(app.screen, OPENS[key]), (key, app.screen)
        assert getattr(app.screen, "flow", flow).id == flow.id


async def test_o_opens_the_linked_flow_from_the_table_too():
    source = FakeSource(fates=True)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        await select(app, pilot, 13)  # a duplicate of #7
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen) and app.screen.flow.id == 7
        app.pop_screen()
        await pilot.pause()
        plain = next(f for f in source.flows if f.status == 200 and f.fate is None)
        await select(app, pilot, plain.id)
        await pilot.press("o")  # nothing linked: it says so, and stays
        await pilot.pause()
        assert not isinstance(app.screen, FlowDetailScreen)
        assert any("No linked flow" in str(n.message) for n in app._notifications)


async def test_a_refused_export_says_why_from_the_table():
    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        evil = next(f for f in source.flows if "\x1b" in f.url)
        await select(app, pilot, evil.id)
        await pilot.press("x")
        await pilot.pause()
        assert not isinstance(app.screen, CurlScreen)
        assert any("cannot be exported" in str(n.message) for n in app._notifications)


async def test_s_and_b_take_the_selected_flow_in_the_table_and_the_detail():
    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        flow = next(f for f in source.flows if "/product/2" in f.url)
        await select(app, pilot, flow.id)
        assert app.selected_flow_id() == flow.id  # what s opens the shell on
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BreakpointDialog)
        assert "product/2" in app.screen.query_one("#bp-input").value
        app.pop_screen()
        await pilot.pause()
        other = next(f for f in source.flows if "/missing" in f.url)
        await select(app, pilot, other.id)
        await pilot.press("enter")
        await pilot.pause()
        assert app.selected_flow_id() == other.id
        await pilot.press("b")
        await pilot.pause()
        assert isinstance(app.screen, BreakpointDialog)
        assert "missing" in app.screen.query_one("#bp-input").value


async def test_an_empty_table_says_no_flow_is_selected():
    source = FakeSource()
    source.flows = []
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        app.query_one("#flow-table", RecordTable).focus()
        for key in ("r", "x", "o", "p"):
            await pilot.press(key)
            await pilot.pause()
            assert app.screen is app.screen_stack[0], key
        assert sum("No flow selected" in str(n.message) for n in app._notifications) == 4
