"""The fleet table under Pilot (a fixed fleet, a fixed clock): Enter attaches or
opens a finished job's log, the filter, sorting, help, hostile text; and one
snapshot per view at 160 and 80 columns."""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers.app import wait_for, widget_text
from tests.helpers.fleet import NOW, FakePoller, fetch_log, fleet_rows
from workbench.core.fleet.model import FINISHED, PENDING, UNREACHABLE
from workbench.ui.screens.fleet import (
    FleetApp,
    FleetHelpScreen,
    FleetLogScreen,
    FleetScreen,
    FleetViewState,
)
from workbench.ui.widgets.body_view import BodyView

pytestmark = pytest.mark.slow  # the real app under Pilot


def make_app(rows=None, state=None) -> FleetApp:
    poller = FakePoller(rows=rows) if rows is not None else FakePoller()
    return FleetApp(poller, clock=lambda: NOW, fetch_log=fetch_log, theme="dark", state=state)


def keys_of(table) -> list[str]:
    return [r.key for r in table.rows]


async def select(pilot, app, key: str) -> None:
    table = app.fleet.table
    table.cursor = keys_of(table).index(key)
    await pilot.pause()


async def test_enter_on_a_running_crawl_ends_the_table_with_it():
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        first = app.fleet.table.current()
        assert first.key == "local:a"  # the busiest first (pages/min)
        await pilot.press("enter")
        await pilot.pause()
    assert app.return_value is first
    assert app.fleet.state.cursor_key == "local:a"  # the table comes back on it


async def test_enter_on_a_finished_job_opens_its_log_and_q_comes_back():
    app = make_app()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        await select(pilot, app, "scrapyd:fin")
        await pilot.press("enter")
        await wait_for(lambda: isinstance(app.screen, FleetLogScreen), pilot, 10)
        view = app.screen.query_one(BodyView)
        await wait_for(lambda: "Dumping Scrapy stats" in view.text, pilot, 10)
        assert "\\x1b[31m" in widget_text(view)  # the log's escape shown, not obeyed
        await pilot.press("n")
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)
        assert app.return_value is None


async def test_pending_and_unreachable_rows_say_why_they_cannot_be_attached():
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        await select(pilot, app, "ssh:far")
        detail = app.fleet.query_one("#fleet-detail")
        assert "ssh far.example did not answer in 5 s" in widget_text(detail)
        await pilot.press("enter")
        await pilot.pause()
        await select(pilot, app, "scrapyd:pend")
        await pilot.press("enter")
        await pilot.pause()
        notes = [str(n.message) for n in app._notifications]
        assert any("Cannot attach" in n for n in notes)
        assert any("not started" in n for n in notes)
        assert app.is_running  # neither ended the table


async def test_the_filter_the_sort_and_the_totals():
    app = make_app()
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        table = app.fleet.table
        assert len(table.rows) == 7
        status = app.fleet.query_one("#fleet-status")
        text = widget_text(status)
        assert "4 running" in text and "1 unreachable" in text and "errors 44" in text
        await pilot.press("f", *"~state run & ~e")
        await pilot.pause()
        assert keys_of(table) == ["local:a", "local:b"]
        assert "filter: 2 of 7" in widget_text(status)
        await pilot.press(*"~nope")
        await pilot.pause()
        error = app.fleet.query_one("#fleet-filter-error")
        assert "unknown operator" in widget_text(error)
        assert keys_of(table) == ["local:a", "local:b"]  # the last good filter stays
        app.fleet.query_one("#fleet-filter").value = ""
        await pilot.press("enter")
        await pilot.pause()
        assert table.has_focus
        assert len(table.rows) == 7
        await pilot.press("greater_than_sign")  # pages/min -> items/min
        await pilot.pause()
        assert app.fleet.state.sort == 8
        await pilot.press("less_than_sign", "less_than_sign", "less_than_sign")  # errors... uptime
        await pilot.press("R")
        await pilot.pause()
        live = [r for r in table.rows if r.state not in (PENDING, FINISHED)]
        assert live[0].uptime is None or live[0].uptime <= live[-2].uptime
        # finished and pending jobs stay below the crawls whatever the sort
        assert [r.state for r in table.rows][-2:] == [PENDING, FINISHED]


async def test_help_lists_every_key_and_the_filter():
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, FleetHelpScreen)
        text = " ".join(widget_text(w) for w in app.screen.query("Static"))
        for words in ("Attach to the selected crawl", "~stale SECONDS", "Sort by the next"):
            assert words in text
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, FleetScreen)


def test_every_key_resolves_to_an_action():
    for cls in (FleetScreen, FleetApp, FleetLogScreen):
        for binding in cls.BINDINGS:
            action = binding.action.split("(", 1)[0]
            target = action.removeprefix("app.")
            owner = FleetApp if action.startswith("app.") else cls
            assert hasattr(owner, f"action_{target}"), (cls.__name__, binding.action)
            assert binding.tooltip or binding.description


async def test_hostile_text_is_shown_escaped():
    evil = dataclasses.replace(
        fleet_rows()[3],
        host="\x1b]0;pwned\x07box",
        reason="ssh: \x1b[2J[bold]cleared[/bold]\u202egnp.exe",
        state=UNREACHABLE,
    )
    app = make_app(rows=[evil])
    async with app.run_test(size=(160, 20)) as pilot:
        await pilot.pause()
        table_text = widget_text(app.fleet.table)
        detail = widget_text(app.fleet.query_one("#fleet-detail"))
    assert "\x1b" not in table_text + detail
    assert "\\x1b]0;pwned" in table_text or "\\x1b" in table_text
    assert "[bold]cleared[/bold]" in detail and "\\u202e" in detail


async def test_back_from_an_attach_the_cursor_is_on_that_crawl():
    state = FleetViewState(cursor_key="scrapyd:run", notes=["attach failed: it ended"])
    app = make_app(state=state)
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        assert app.fleet.table.current().key == "scrapyd:run"
        assert any("it ended" in str(n.message) for n in app._notifications)


SNAPSHOTS = [
    ("fleet", (160, 24), []),
    ("fleet_narrow", (80, 24), []),
    ("fleet_unreachable", (160, 24), ["j", "j", "j"]),
    ("fleet_filtered", (120, 24), ["f", *"~src scrapyd", "enter"]),
    ("fleet_log", (120, 24), ["G", "enter", "wait:300"]),
    ("fleet_help", (120, 36), ["question_mark"]),
]


async def test_a_refused_job_file_is_told_once_with_its_reason():
    poller = FakePoller(problems=("refusing job file /x/\x1b[2J1.json: its mode 0644 lets",))
    app = FleetApp(poller, clock=lambda: NOW, theme="dark")
    async with app.run_test(size=(160, 30)) as pilot:
        await pilot.pause()
        poller.polls += 1
        app.fleet.refresh_table()
        await pilot.pause()
        told = [str(n.message) for n in app._notifications if "refusing" in str(n.message)]
    assert len(told) == 1 and "mode 0644" in told[0]
    assert "\\x1b[2J" in told[0] and "\x1b" not in told[0]  # escaped, not obeyed


async def test_an_empty_fleet_says_so():
    app = make_app(rows=[])
    async with app.run_test(size=(100, 20)) as pilot:
        await pilot.pause()
        assert "none running" in widget_text(app.fleet.query_one("#fleet-detail"))
        assert "0 running" in widget_text(app.fleet.query_one("#fleet-status"))


@pytest.mark.parametrize(("name", "size", "keys"), SNAPSHOTS, ids=[s[0] for s in SNAPSHOTS])
def test_snapshot(snap_compare, name, size, keys):
    assert snap_compare(make_app(), press=["wait:200", *keys, "wait:200"], terminal_size=size)


async def test_every_hostile_payload_is_drawn_escaped():
    from tests.hostile_payloads import PAYLOADS

    base = fleet_rows()[0]
    rows = [
        dataclasses.replace(base, key=f"k{n}", spider=p, host=p, job_id=p, reason=p, project=p)
        for n, p in enumerate(PAYLOADS)
    ]
    app = make_app(rows=rows)
    async with app.run_test(size=(200, len(rows) + 12)) as pilot:
        await pilot.pause()
        table = app.fleet.table
        shown = [widget_text(table)]
        for n in range(0, len(rows), 7):
            table.cursor = n
            await pilot.pause()
            shown.append(widget_text(app.fleet.query_one("#fleet-detail")))
        svg = app.export_screenshot()
    text = "\n".join(shown)
    for payload in PAYLOADS:
        control = payload.split(":", 1)[1].rsplit("WB", 1)[0]
        assert control not in text and control not in svg, repr(payload)
