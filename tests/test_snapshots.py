"""One SVG snapshot per panel and screen, from a fixed source and clock.

Update with ``pytest tests/test_snapshots.py --snapshot-update`` after a
deliberate UI change, then look at the report before committing.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.fakes import FakeSource
from tests.helpers.app import press_then_still
from workbench.ui.app import WorkbenchApp

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SIZE = (140, 36)


def make_app(state: str = "running") -> WorkbenchApp:
    return WorkbenchApp(FakeSource(state), autostart=False)


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("flows", []),
        ("queue", ["2"]),
        ("items", ["3"]),
        ("items_all_types", ["3", "t"]),
        ("stats", ["4"]),
        ("log", ["5"]),
        ("help", ["question_mark"]),
        ("flow_detail_request", ["k", "k", "k", "k", "k", "enter"]),
        ("flow_detail_body", ["up", "enter", "3"]),
        ("flow_detail_error", ["k", "k", "k", "enter"]),
        ("flows_filtered", ["f", *"~c 200 & ~u product", "enter"]),
        ("flows_bad_filter", ["f", *"~c (", "enter"]),
        ("paused", ["space"]),
        ("quit_confirm", ["q"]),
        ("refs", ["6"]),
        ("refs_prefs", ["6", "e"]),
        ("live_objects", ["6", "enter", "enter"]),
        ("memory", ["7"]),
        ("memory_diff", ["7", "d"]),
        ("slots", ["8"]),
        ("slots_reviews", ["8", "j", "j"]),
        ("slots_delay_prompt", ["8", "j", "j", "d"]),
    ],
)
def test_snapshot(snap_compare, name, keys):
    assert snap_compare(make_app(), run_before=press_then_still(keys), terminal_size=SIZE)


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("flows", []),  # the URL column keeps its path: the shared origin goes to the header
        ("items", ["3"]),  # a field holding URLs: the same
    ],
)
def test_snapshot_narrow(snap_compare, name, keys):
    """80 columns: Dp, Time, Latency and Size make room for the URL first."""
    assert snap_compare(make_app(), press=["wait:200", *keys, "wait:200"], terminal_size=(80, 24))


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("flows_fates", []),  # the Fate column, dimmed dropped rows, the counts in the title
        ("flow_detail_duplicate", ["k", "k", "k", "k", "k", "enter"]),
        ("flow_detail_redirect_produced", ["k"] * 15 + ["enter", "4"]),
    ],
)
def test_snapshot_fates(snap_compare, name, keys):
    app = WorkbenchApp(FakeSource(fates=True), autostart=False)
    assert snap_compare(app, press=["wait:200", *keys, "wait:200"], terminal_size=SIZE)


def test_snapshot_finished(snap_compare):
    assert snap_compare(make_app("finished"), press=["wait:200"], terminal_size=SIZE)


def source_with_breakpoints() -> FakeSource:
    source = FakeSource()
    source.add_breakpoint("~s 404")
    source.add_breakpoint("error: ~u /product/")
    source.add_breakpoint("item: ~it Product & !~f price")
    source.toggle_breakpoint(2)
    return source


def test_snapshot_breakpoint_hit(snap_compare):
    source = source_with_breakpoints()
    source.hit(4)  # the 404 flow
    app = WorkbenchApp(source, autostart=False)
    assert snap_compare(app, press=["wait:200"], terminal_size=SIZE)


def test_snapshot_breakpoint_hit_on_an_error(snap_compare):
    source = source_with_breakpoints()
    source.hit(9, kind="error", error="ValueError: price missing")
    app = WorkbenchApp(source, autostart=False)
    assert snap_compare(app, press=["wait:200"], terminal_size=SIZE)


def test_snapshot_breakpoints_list(snap_compare):
    app = WorkbenchApp(source_with_breakpoints(), autostart=False)
    assert snap_compare(app, press=["wait:200", "B", "wait:100"], terminal_size=SIZE)


def test_snapshot_breakpoint_dialog_with_an_error(snap_compare):
    app = WorkbenchApp(source_with_breakpoints(), autostart=False)
    keys = ["wait:200", "b", *"item: ~f", "wait:100"]
    assert snap_compare(app, press=keys, terminal_size=SIZE)


@pytest.mark.parametrize("theme", ["light", "high-contrast"])
@pytest.mark.parametrize(
    ("name", "keys"),
    [("flows", []), ("flow_detail_body", ["up", "enter", "3"]), ("slots", ["8"])],
)
def test_snapshot_themes(snap_compare, theme, name, keys):
    app = WorkbenchApp(FakeSource(), autostart=False, theme=theme)
    assert snap_compare(app, press=["wait:200", *keys, "wait:200"], terminal_size=SIZE)


class _Run:
    finished = True
    index = 1
    hosts = (None, None)


def checks_source() -> FakeSource:
    from workbench.core.inspection.contracts import CheckOutcome

    source = FakeSource("finished")
    flows = source.flows_since(0)
    rows = [
        ("books", "parse_book", "@returns post-hook", "pass", "", flows[6].id),
        ("books", "parse_book", "@scrapes post-hook", "pass", "", flows[6].id),
        ("books", "parse_broken", "@scrapes post-hook", "fail", "Missing fields: upc", flows[7].id),
        ("books", "parse_listing", "callback", "error", "ValueError: bad\x1b[2J page", None),
    ]
    outcomes = [CheckOutcome(n, 0.0, *row[:5], "Traceback …\n" + row[4], row[5])
                for n, row in enumerate(rows, 1)]  # fmt: skip
    source.checks = lambda: outcomes  # type: ignore[method-assign]
    source.capabilities = dataclasses.replace(source.capabilities, checks=True, own_report=True)
    source.run = _Run()  # type: ignore[attr-defined]
    return source


def test_snapshot_checks(snap_compare):
    app = WorkbenchApp(checks_source(), autostart=False)

    assert snap_compare(app, press=["wait:200"], terminal_size=SIZE)  # it opens on the checks


async def test_the_checks_screen_opens_a_failing_checks_flow():
    from workbench.ui.screens.checks import ChecksScreen
    from workbench.ui.screens.flow_detail import FlowDetailScreen
    from workbench.ui.widgets.record_table import RecordTable

    source = checks_source()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ChecksScreen)  # workbench check opens on it
        await pilot.press("K")  # already there: not twice
        table = app.screen.query_one(RecordTable)
        assert [o.result for o in table.rows] == ["pass", "pass", "fail", "error"]
        await pilot.press("down", "down", "enter")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)
        assert app.screen.flow.id == source.checks()[2].flow_id
        await pilot.press("q", "down", "enter")  # a check without a response: says so
        await pilot.pause()
        assert isinstance(app.screen, ChecksScreen)
        assert any("no recorded response" in str(n.message) for n in app._notifications)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ChecksScreen)
        await pilot.press("K")  # back to the checks from the panels
        await pilot.pause()
        assert isinstance(app.screen, ChecksScreen)


def test_snapshot_parse_tree(snap_compare):
    from tests.helpers.parse import parse_source

    app = WorkbenchApp(parse_source(), autostart=False)

    assert snap_compare(app, press=["wait:200"], terminal_size=SIZE)  # it opens on the tree


def test_snapshot_several_crawlers(snap_compare):
    """workbench crawl books api: the status line shows the scope and each crawler."""

    from workbench.core.sources.base import CrawlerLine

    source = FakeSource()
    one = source.snapshot
    lines = (CrawlerLine("books", "running", 120, 100), CrawlerLine("api", "finished", 3, 30))
    source.snapshot = lambda: dataclasses.replace(  # type: ignore[method-assign]
        one(), spider="books + api", crawlers=lines, scope=None
    )
    app = WorkbenchApp(source, autostart=False)

    assert snap_compare(app, press=["wait:200"], terminal_size=SIZE)


@pytest.mark.parametrize(
    ("name", "state", "keys"),
    [
        ("queue_stalled", "running", ["2"]),  # the list, oldest first; the stall in the status
        ("in_flight_detail", "running", ["2", "enter"]),  # age, timeout, retry, bytes
        ("closing_countdown", "closing", []),  # quitting: when the last one times out
    ],
)
def test_snapshot_in_flight(snap_compare, name, state, keys):
    from tests.fakes import STALLED

    source = FakeSource(state)
    source.transfers = STALLED
    app = WorkbenchApp(source, autostart=False)
    assert snap_compare(app, press=["wait:200", *keys, "wait:200"], terminal_size=SIZE)


def test_snapshot_in_flight_narrow(snap_compare):
    """80 columns: the in-flight list keeps age, timeout, bytes, retries and the path."""
    from tests.fakes import STALLED

    source = FakeSource()
    source.transfers = STALLED
    app = WorkbenchApp(source, autostart=False)
    assert snap_compare(app, press=["wait:200", "2", "wait:200"], terminal_size=(80, 24))
