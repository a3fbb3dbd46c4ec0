"""``workbench fleet``: every crawl of the fleet in one live table (k9s, top).

:class:`FleetApp` reads a poller's :class:`~workbench.core.fleet.FleetSnapshot`
on a timer (never waiting on a host: the poller polls in its own thread),
filters it with the fleet filter, sorts it, and draws it in a
:class:`RecordTable`; the line under the table says the selected row's
details (why it is unreachable, its finish reason, its log), the status line
the fleet's totals.  Enter on a running crawl ends the app with that row
(``commands/fleet.py`` attaches, then runs the fleet again); on a finished
Scrapyd job it opens the job's log (:class:`FleetLogScreen`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Input, Static

from workbench.core.fleet.filter import FLEET_FILTER_HELP, parse_fleet_filter
from workbench.core.fleet.model import (
    FINISHED,
    PAUSED,
    PENDING,
    RUNNING,
    UNREACHABLE,
    FleetRow,
    FleetSnapshot,
)
from workbench.core.formats.sanitize import clean_line
from workbench.core.inspection.filters import FilterError
from workbench.ui import format as fmt
from workbench.ui.screens.help import HelpScreen, bindings_table
from workbench.ui.widgets.body_view import BodyView
from workbench.ui.widgets.record_table import Column, FitCell, RecordTable

TABLE_ACTIONS = ("cursor_up", "cursor_down", "page_up", "page_down", "first", "last")
REFRESH = 0.5  # seconds between looks at the poller's latest snapshot


def _num(value: float | None, digits: int = 0) -> str:
    if value is None:
        return "-"
    if digits:
        return f"{value:,.{digits}f}"
    return f"{round(value):,}"


def _age(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds // 60:.0f}m{seconds % 60:02.0f}s"
    return f"{seconds // 3600:.0f}h{seconds % 3600 // 60:02.0f}m"


def _uptime(seconds: float | None) -> str:
    return "-" if seconds is None else fmt.duration(seconds)


def _queue(row: FleetRow) -> str:
    if row.queue_shared:
        return row.queue_shared
    return _num(row.queue)


@dataclass(frozen=True)
class SortKey:
    title: str
    key: Callable[[FleetRow], Any]
    descending: bool = False  # the natural order (rates: the busiest first)


def _n(value: float | None) -> float:
    return -1.0 if value is None else float(value)


SORTS: tuple[SortKey, ...] = (
    SortKey("host", lambda r: (r.host, r.started or 0.0)),
    SortKey("pid", lambda r: r.pid or 0),
    SortKey("project", lambda r: (r.project or "", r.spider or "")),
    SortKey("spider", lambda r: (r.spider or "", r.host)),
    SortKey("job", lambda r: r.job_id or ""),
    SortKey("state", lambda r: r.state),
    SortKey("uptime", lambda r: _n(r.uptime), True),
    SortKey("pages/min", lambda r: _n(r.pages_per_min), True),
    SortKey("items/min", lambda r: _n(r.items_per_min), True),
    SortKey("errors", lambda r: _n(r.errors), True),
    SortKey("retries", lambda r: _n(r.retries), True),
    SortKey("in flight", lambda r: _n(r.in_flight), True),
    SortKey("queue", lambda r: _n(r.queue), True),
    SortKey("RSS", lambda r: _n(r.rss), True),
    SortKey("last response", lambda r: _n(r.last_response_age), True),
)
# live and unreachable crawls first, then Scrapyd's pending jobs, then the finished
GROUP = {PENDING: 1, FINISHED: 2}


def sort_rows(rows: list[FleetRow], sort: int, reverse: bool) -> list[FleetRow]:
    order = SORTS[sort]
    descending = order.descending != reverse
    ordered = sorted(rows, key=order.key, reverse=descending)
    return sorted(ordered, key=lambda r: GROUP.get(r.state, 0))


def fleet_columns() -> list[Column]:
    """The columns; on a narrow terminal the project, job id, RSS, retries, pid,
    uptime and in-flight columns go first (in that order): host, spider, state,
    the rates, errors, queue and the last response's age stay."""
    return [
        Column("HOST", None, min_width=14, weight=3, drop=1),
        Column("PID", 7, justify="right", drop=5),
        Column("PROJECT", None, min_width=7, weight=2, drop=9),
        Column("SPIDER", None, min_width=8, weight=2),
        Column("JOB", None, min_width=8, weight=2, drop=8),
        Column("STATE", 11),
        Column("UP", 8, justify="right", drop=4),
        Column("PAGES/m", 8, justify="right"),
        Column("ITEMS/m", 8, justify="right"),
        Column("ERR", 5, justify="right"),
        Column("RETRY", 5, justify="right", drop=6),
        Column("FLIGHT", 6, justify="right", drop=3),
        Column("QUEUE", None, justify="right", min_width=7, weight=1),
        Column("RSS", 8, justify="right", drop=7),
        Column("LAST", 6, justify="right", drop=2),
    ]


def keep_head(text: str, width: int) -> str:
    """The start of a text that does not fit (job ids differ at their start)."""
    if len(text) <= width:
        return text
    return text[: width - 1] + "…" if width > 1 else "…"


def _job_label(row: FleetRow) -> str | None:
    """The job id as the JOB column shows it: a job file's ``PID-UUID`` without the
    pid the PID column has (the detail line shows it whole)."""
    job_id = row.job_id
    if job_id and row.pid and job_id.startswith(f"{row.pid}-"):
        return job_id[len(str(row.pid)) + 1 :]
    return job_id


def keep_tail(text: str, width: int) -> str:
    """The end of a text that does not fit (a shared queue's words end with its size)."""
    if len(text) <= width:
        return text
    return "…" + text[len(text) - width + 1 :] if width > 1 else "…"


STATE_STYLE = {
    RUNNING: "green",
    PAUSED: "yellow",
    UNREACHABLE: "bold red",
    PENDING: "cyan",
    FINISHED: "dim",
}


def fleet_cells(row: FleetRow) -> list[Any]:
    def short(value: str | None, limit: int = 200) -> str:
        return clean_line(value, limit) if value else "-"

    state = Text(row.state, style=STATE_STYLE.get(row.state, ""))
    finished = row.state == FINISHED
    return [
        FitCell(short(row.host), fmt.elide_middle),
        str(row.pid) if row.pid else "-",
        short(row.project),
        short(row.spider),
        FitCell(short(_job_label(row)), keep_head),
        state,
        _uptime(row.uptime) if not finished else _uptime(_span(row)),
        _num(row.pages_per_min),
        _num(row.items_per_min) if not finished else _num(row.items),
        _num(row.errors),
        _num(row.retries),
        _num(row.in_flight),
        FitCell(clean_line(_queue(row), 200), keep_tail),
        fmt.size(row.rss) if row.rss else "-",
        _age(row.last_response_age),
    ]


def _span(row: FleetRow) -> float | None:
    if row.started is None or row.ended is None:
        return None
    return max(0.0, row.ended - row.started)


def stale(row: FleetRow, after: float = 30.0) -> bool:
    return row.state == RUNNING and (row.last_response_age or 0) >= after


def fleet_row_style(row: FleetRow) -> str | None:
    if row.state == UNREACHABLE:
        return "red"
    if row.state == FINISHED:
        return "dim"
    if stale(row):
        return "yellow"
    return None


def detail_text(row: FleetRow | None, width: int) -> Text:
    """One line on the selected row: what the table has no room for, the answer
    first (why it is unreachable, how it finished, a stall, its shared queue),
    then where it is (host, pid, the whole job id), so a narrow line keeps the
    answer."""
    if row is None:
        return Text(" no crawl here: none running, or all filtered out", style="dim")
    text = Text(" ")
    text.append(clean_line(row.spider or "?", 60), style="bold")
    if row.state == UNREACHABLE:
        text.append(f"  unreachable: {clean_line(row.reason or '?', 300)}", style="bold red")
    elif row.state == FINISHED:
        reason = clean_line(row.reason, 80) if row.reason else "unknown (no log read)"
        text.append(f"  finished: {reason}")
        if row.items is not None:
            text.append(f", {row.items:,} items")
    elif row.state == PENDING:
        text.append("  pending on Scrapyd (not started)", style="cyan")
    else:
        if stale(row):
            text.append(f"  no response for {_age(row.last_response_age)}", style="yellow")
        if row.reason:  # a running crawl with a reason: a Scrapyd job with no job file
            text.append(f"  {clean_line(row.reason, 200)}", style="yellow")
        if row.pages is not None:
            text.append(f"  pages {row.pages:,}  items {row.items or 0:,}")
        if row.queue_shared:
            text.append(f"  shared queue: {clean_line(row.queue_shared, 120)}", style="cyan")
    for note in row.notes:
        text.append(f"  {clean_line(note, 200)}", style="yellow")
    text.append(f"  {clean_line(row.host, 60)}", style="dim")
    if row.pid:
        text.append(f" pid {row.pid}", style="dim")
    if row.job_id:
        text.append(f"  job {clean_line(row.job_id, 80)}", style="dim")
    if row.state == FINISHED and row.log_url:
        text.append(f"  log {clean_line(row.log_url, 300)}  (Enter: read it)", style="dim")
    elif row.queue_key and not row.queue_shared and row.live:
        text.append(f"  queue key {clean_line(row.queue_key, 80)}", style="dim")
    if row.attachable and row.live:
        text.append("  (Enter: attach)", style="dim")
    text.truncate(max(width, 10), overflow="ellipsis")
    return text


def status_text(
    snapshot: FleetSnapshot,
    now: float,
    sort: str,
    reverse: bool,
    shown: int,
    expr: str,
    width: int | None = None,
) -> Text:
    """The fleet's totals; at a narrow width the least useful segments go first
    (the sort, the poll's age, RSS, the queue, in flight), the counts of crawls
    by state and the rates stay."""
    totals = snapshot.totals
    head = Text()
    head.append(" fleet ", style="bold reverse")
    if snapshot.polls == 0:
        head.append("  polling…", style="dim")
        return head
    # (text, style, rank): a higher rank is left out first
    segments: list[tuple[str, str, int]] = [(f"  {totals.running} running", "bold green", 0)]
    if totals.unreachable:
        segments.append((f"  {totals.unreachable} unreachable", "bold red", 0))
    if totals.pending:
        segments.append((f"  {totals.pending} pending", "cyan", 1))
    if totals.finished:
        segments.append((f"  {totals.finished} finished", "dim", 2))
    if expr:
        segments.append((f"  filter: {shown} of {len(snapshot.rows)}", "bold", 0))
    segments += [
        (f"   pages/m {_num(totals.pages_per_min)}", "", 0),
        (f"  items/m {_num(totals.items_per_min)}", "", 0),
        (f"  errors {totals.errors:,}", "bold red" if totals.errors else "", 0),
        (f"  in flight {totals.in_flight:,}", "", 3),
        (f"  queue {totals.queue:,}", "", 4),
        (f"  RSS {fmt.size(totals.rss)}", "", 5),
        (f"   polled {max(0.0, now - snapshot.taken_at):.0f}s ago ({snapshot.seconds:.1f}s)",
         "dim", 6),
        (f"   sort {sort} {'↑' if reverse else '↓'}", "dim", 7),
    ]  # fmt: skip
    if width:
        used = head.cell_len + sum(len(t) for t, _, _ in segments)
        for rank in range(7, 0, -1):
            if used <= width:
                break
            used -= sum(len(t) for t, _, r in segments if r == rank)
            segments = [seg for seg in segments if seg[2] != rank]
    for words, style, _ in segments:
        head.append(words, style=style)
    return head


@dataclass
class FleetViewState:
    """What the table keeps across attaches (the app is made again after each)."""

    sort: int = 7  # pages/min
    reverse: bool = False
    expr: str = ""
    cursor_key: str | None = None
    notes: list[str] = field(default_factory=list)  # to notify once shown (an attach's end)
    told: set[str] = field(default_factory=set)  # the sources' problems already shown


KEY_NAMES = {"greater_than_sign": ">", "less_than_sign": "<"}


def shown_keys(bindings: list[BindingType]) -> list[BindingType]:
    """Bindings as the ? screen names their keys (">" rather than greater_than_sign)."""
    out: list[BindingType] = []
    for binding in bindings:
        if isinstance(binding, Binding):
            keys = ",".join(KEY_NAMES.get(k, k) for k in binding.key.split(","))
            binding = dataclasses.replace(binding, key=keys)
        out.append(binding)
    return out


class FleetTable(RecordTable):
    """The fleet's table: rows are sorted, not appended, so no follow mode."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("F", "toggle_follow", "Follow", show=False, tooltip="(no use in the fleet)"),
    ]

    def action_toggle_follow(self) -> None:
        pass


class FleetHelpScreen(HelpScreen):
    """The ? screen of the fleet: its keys, the tables', the log's, the filter."""

    HELP_APP = "fleet"  # a screen of FleetApp, not of WorkbenchApp (tests/test_bindings.py)

    def compose(self) -> Any:
        scroll = VerticalScroll()
        scroll.border_title = "workbench fleet keys  (q / Esc closes)"
        with scroll:
            yield Static(bindings_table(self.sections))
            yield Static(Text("Fleet filter expressions", style="bold underline"))
            yield Static(Text(FLEET_FILTER_HELP))


class FleetLogScreen(Screen[None]):
    """A finished Scrapyd job's log (its end), fetched in a thread."""

    HELP_TITLE = "A job's log"
    HELP_APP = "fleet"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back", tooltip="Back to the fleet"),
        Binding("n", "next_error", "Next error", tooltip="The next ERROR or Traceback line"),
    ]

    DEFAULT_CSS = """
    FleetLogScreen BodyView { border: round $primary; height: 1fr; }
    """

    def __init__(self, row: FleetRow, fetch: Callable[[FleetRow], str]) -> None:
        super().__init__()
        self.row = row
        self.fetch = fetch

    def compose(self) -> Any:
        view = BodyView("loading the log…", id="fleet-log")
        title = f"Log: {self.row.spider or '?'} {self.row.job_id or ''} ({self.row.host})"
        view.border_title = Text(clean_line(title, 200))
        view.border_subtitle = Text(clean_line(self.row.log_url or "", 200))
        yield view
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(BodyView).focus()
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        try:
            text = self.fetch(self.row)
        except Exception as exc:
            text = f"The log could not be read: {str(exc).strip() or type(exc).__name__}"
        self.app.call_from_thread(self._show, text)

    def _show(self, text: str) -> None:
        view = self.query_one(BodyView)
        view.set_text(text or "(the log is empty)")
        spans = []
        offset = 0
        for line in text.splitlines(keepends=True):
            if " ERROR: " in line or line.startswith("Traceback"):
                spans.append((offset, offset + len(line.rstrip("\n"))))
            offset += len(line)
        view.set_spans(spans)
        view.call_after_refresh(view.scroll_end, animate=False)

    def action_next_error(self) -> None:
        view = self.query_one(BodyView)
        if not view.next_match():
            self.notify("No ERROR line in the log.", timeout=3)


class FleetScreen(Screen[None]):
    """The fleet table over a poller (anything with ``snapshot()`` and ``poll_now()``)."""

    HELP_TITLE = "Fleet"
    HELP_APP = "fleet"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit_fleet", "Quit", tooltip="Leave the fleet (the crawls go on)"),
        Binding(
            "enter",
            "open_row",
            "Attach/Log",
            tooltip="Attach to the selected crawl (its panels; q comes back), "
            "or open a finished Scrapyd job's log",
        ),
        Binding("l", "open_log", "Log", tooltip="The selected Scrapyd job's log"),
        Binding(
            "f,slash",
            "focus_filter",
            "Filter",
            tooltip="Filter the crawls (~spider, ~host, ~state, ~e, ~stale N...)",
        ),
        Binding("escape", "leave_filter", "Back to list", show=False, tooltip="Back to the table"),
        Binding("greater_than_sign", "sort(1)", "Sort →", tooltip="Sort by the next column"),
        Binding(
            "less_than_sign",
            "sort(-1)",
            "Sort ←",
            show=False,
            tooltip="Sort by the previous column",
        ),
        Binding("R", "reverse", "Reverse", show=False, tooltip="Reverse the sort order"),
        Binding("r", "poll", "Refresh", show=False, tooltip="Poll every source now"),
        Binding(
            "Q",
            "redis",
            "Redis queue",
            tooltip="The scrapy-redis queue the workers share (workbench fleet --redis URL)",
        ),
        Binding("question_mark", "help", "Help", tooltip="Show every key"),
    ]

    DEFAULT_CSS = """
    FleetScreen { layout: vertical; }
    FleetScreen #fleet-filter { height: 3; }
    FleetScreen #fleet-filter-error { color: $error; height: auto; }
    FleetScreen #fleet-filter-error.-hidden { display: none; }
    FleetScreen #fleet-detail { height: 1; background: $boost; }
    FleetScreen #fleet-status { height: 1; background: $panel; }
    """

    def __init__(
        self,
        poller: Any,
        *,
        state: FleetViewState | None = None,
        clock: Callable[[], float] = time.time,
        fetch_log: Callable[[FleetRow], str] | None = None,
        redis_watch: Any = None,
    ) -> None:
        super().__init__()
        self.poller = poller
        self.redis_watch = redis_watch  # a RedisWatch (--redis), the poller's annotator
        self.state = state or FleetViewState()
        self.clock = clock
        self.fetch_log = fetch_log
        self.filter = parse_fleet_filter("")
        self.seen_polls = -1
        self.snapshot: FleetSnapshot = FleetSnapshot()
        self.refresh_costs: list[float] = []  # seconds of UI time per table refresh

    def compose(self) -> Any:
        yield Input(
            value=self.state.expr,
            placeholder="filter, e.g. ~spider shop & !~state finished  (f or / here, Enter back)",
            id="fleet-filter",
        )
        yield Static("", id="fleet-filter-error", classes="-hidden")
        yield FleetTable(
            fleet_columns(),
            fleet_cells,
            row_key=lambda r: r.key,
            row_style=fleet_row_style,
            row_version=lambda r: r,
            id="fleet-table",
        )
        yield Static("", id="fleet-detail")
        yield Static("", id="fleet-status")
        yield Footer()

    @property
    def table(self) -> RecordTable:
        return self.query_one("#fleet-table", RecordTable)

    def on_mount(self) -> None:
        table = self.table
        table.follow = False
        if self.state.expr:
            try:
                self.filter = parse_fleet_filter(self.state.expr)
            except FilterError:
                self.state.expr = ""
        table.focus()
        self.refresh_table()
        self.set_interval(REFRESH, self.refresh_table)
        for note in self.state.notes:
            self.notify(clean_line(note, 500), timeout=8, markup=False)
        self.state.notes.clear()

    # -- the refresh ---------------------------------------------------------------

    def refresh_table(self, force: bool = False) -> None:
        if not self.is_attached:
            return
        began = time.perf_counter()
        snapshot = self.poller.snapshot()
        if force or snapshot.polls != self.seen_polls:
            self.seen_polls = snapshot.polls
            self.snapshot = snapshot
            rows = [r for r in snapshot.rows if self.filter(r)]
            rows = sort_rows(rows, self.state.sort, self.state.reverse)
            table = self.table
            table.set_rows(rows)
            key, self.state.cursor_key = self.state.cursor_key, None
            if key is not None:  # back from an attach: the crawl attached to
                keys = [r.key for r in rows]
                if key in keys:
                    table.cursor = keys.index(key)
            if table.cursor < 0 and rows:
                table.cursor = 0
            self._show_detail()
            self._tell_problems(snapshot)
        self._show_status()
        self.refresh_costs.append(time.perf_counter() - began)
        del self.refresh_costs[:-200]

    def _tell_problems(self, snapshot: FleetSnapshot) -> None:
        """What a source refused (a job file others can read, a Scrapyd answer that
        made no sense), once each: a warning the user sees, the reason with it."""
        for status in snapshot.sources:
            for problem in status.problems:
                if problem not in self.state.told:
                    self.state.told.add(problem)
                    self.notify(clean_line(problem, 300), severity="warning", timeout=10,
                                markup=False)  # fmt: skip

    def _show_status(self) -> None:
        sort = SORTS[self.state.sort].title
        status = self.query_one("#fleet-status", Static)
        text = status_text(
            self.snapshot,
            self.clock(),
            sort,
            self.state.reverse,
            len(self.table.rows),
            self.state.expr,
            self.size.width,
        )
        text.truncate(max(self.size.width, 10), overflow="ellipsis")
        status.update(text)

    def _show_detail(self) -> None:
        self.query_one("#fleet-detail", Static).update(
            detail_text(self.table.current(), self.size.width)
        )

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        self._show_detail()

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        self.action_open_row()

    def on_resize(self) -> None:
        self._show_detail()

    # -- keys ------------------------------------------------------------------

    def action_quit_fleet(self) -> None:
        self.app.exit(None)

    def action_open_row(self) -> None:
        row = self.table.current()
        if row is None:
            return
        if row.state == FINISHED or (row.state == PENDING and row.log_url):
            self.action_open_log()
            return
        if row.state == PENDING:
            self.notify("This Scrapyd job has not started yet.", timeout=4)
            return
        if not row.attachable:
            reason = row.reason or "no job file for it"
            self.notify(f"Cannot attach: {clean_line(reason, 300)}", severity="warning",
                        timeout=6, markup=False)  # fmt: skip
            return
        self.state.cursor_key = row.key
        self.app.exit(row)

    def action_open_log(self) -> None:
        row = self.table.current()
        if row is None or not row.log_url:
            self.notify("Only Scrapyd jobs have a log here.", timeout=4)
            return
        if self.fetch_log is None:
            self.notify("Logs cannot be read here.", timeout=4)
            return
        self.app.push_screen(FleetLogScreen(row, self.fetch_log))

    def action_focus_filter(self) -> None:
        self.query_one("#fleet-filter", Input).focus()

    def action_leave_filter(self) -> None:
        self.table.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "fleet-filter":
            return
        event.stop()
        error = self.query_one("#fleet-filter-error", Static)
        try:
            parsed = parse_fleet_filter(event.value)
        except FilterError as exc:
            error.update(Text(f"✗ {clean_line(str(exc), 200)}"))
            error.remove_class("-hidden")
            event.input.add_class("-invalid")
            return
        error.add_class("-hidden")
        event.input.remove_class("-invalid")
        self.filter = parsed
        self.state.expr = event.value.strip()
        self.refresh_table(force=True)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "fleet-filter":
            event.stop()
            self.table.focus()

    def action_sort(self, step: int) -> None:
        self.state.sort = (self.state.sort + step) % len(SORTS)
        self.refresh_table(force=True)
        self.notify(f"Sorted by {SORTS[self.state.sort].title}", timeout=2)

    def action_reverse(self) -> None:
        self.state.reverse = not self.state.reverse
        self.refresh_table(force=True)

    def action_poll(self) -> None:
        self.poller.poll_now()

    def action_redis(self) -> None:
        if self.redis_watch is None:
            self.notify(
                "No Redis queue: start the fleet with --redis URL --spider NAME",
                timeout=5,
                markup=False,
            )
            return
        from workbench.ui.screens.redis_queue import RedisQueueScreen

        self.app.push_screen(RedisQueueScreen(self.redis_watch))

    def action_help(self) -> None:
        from workbench.ui.screens.redis_queue import RedisQueueScreen

        self.app.push_screen(
            FleetHelpScreen(
                [
                    ("Fleet", shown_keys(list(self.BINDINGS))),
                    (
                        "Table",
                        [
                            b
                            for b in RecordTable.BINDINGS
                            if isinstance(b, Binding) and b.action in TABLE_ACTIONS
                        ],
                    ),
                    (FleetLogScreen.HELP_TITLE, list(FleetLogScreen.BINDINGS)),
                    (RedisQueueScreen.HELP_TITLE, list(RedisQueueScreen.BINDINGS)),
                ]
            )
        )


class FleetApp(App[Any]):
    """``workbench fleet``'s app: the fleet screen; it ends with the row to attach
    to (Enter) or None (q)."""

    TITLE = "workbench fleet"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "ctrl+q",
            "quit_fleet",
            "Quit",
            show=False,
            priority=True,
            tooltip="Leave the fleet (the crawls go on)",
        ),
    ]

    def __init__(
        self,
        poller: Any,
        *,
        state: FleetViewState | None = None,
        theme: str | None = None,
        clock: Callable[[], float] = time.time,
        fetch_log: Callable[[FleetRow], str] | None = None,
        redis_watch: Any = None,
    ) -> None:
        super().__init__()
        self.fleet = FleetScreen(
            poller, state=state, clock=clock, fetch_log=fetch_log, redis_watch=redis_watch
        )
        self._setup_themes(theme)

    @property
    def refresh_costs(self) -> list[float]:
        return self.fleet.refresh_costs

    def on_mount(self) -> None:
        self.push_screen(self.fleet)

    def action_quit_fleet(self) -> None:
        self.exit(None)

    def _setup_themes(self, wanted: str | None) -> None:
        from workbench.ui.themes import DEFAULT_THEME, load_themes, remembered_theme

        themes, _ = load_themes()
        for found in themes.values():
            self.register_theme(found.theme)
        name = wanted or remembered_theme() or DEFAULT_THEME
        self.theme = name if name in self.available_themes else DEFAULT_THEME

    def get_driver_class(self) -> Any:
        driver = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if driver is LinuxDriver:
            from workbench.ui.terminal import GuardedLinuxDriver

            return GuardedLinuxDriver
        return driver

    def terminal_lost(self) -> None:
        """The terminal is gone (``GuardedLinuxDriver``): leave."""
        self.exit()
