"""Flows: one row per request outcome, with a mitmproxy-style filter.

A request that never reached the network (a duplicate, offsite, too deep...)
is a row too, dimmed, its Fate column saying what became of it."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.inspection.filters import FlowFilter, parse_filter
from workbench.core.recording.fates import NEVER_DOWNLOADED
from workbench.core.recording.records import Flow
from workbench.core.sources.base import Snapshot, Source
from workbench.ui import flow_actions
from workbench.ui import format as fmt
from workbench.ui.flow_actions import FLOW_KEYS
from workbench.ui.panels.base import FilterBox, Panel
from workbench.ui.widgets.record_table import Column, RecordTable


def flow_columns(urls: fmt.UrlFit) -> list[Column]:
    """The columns; a narrow table leaves out Dp, then Time, Latency and Size
    (``drop``), so that the URL keeps room for its path."""
    return [
        Column("Time", 8, drop=3),
        Column("Meth", 4),
        Column("Status", 7),
        Column("Fate", 11),
        Column(urls.header("URL"), None, min_width=22),
        Column("Size", 8, "right", drop=1),
        Column("Latency", 7, "right", drop=2),
        Column("Callback", 16),
        Column("Dp", 2, "right", drop=4),
    ]


def flow_cells(flow: Flow, urls: fmt.UrlFit | None = None) -> list[Any]:
    """A flow's row; ``urls`` fits its URL to the column (else it is cut at the end)."""
    if flow.fate is not None and flow.fate in NEVER_DOWNLOADED:
        size = latency = "-"  # never sent
    else:
        size, latency = fmt.size(flow.size), fmt.latency(flow.latency)
    return [
        fmt.clock(flow.time),
        clean_line(flow.method, 8),
        fmt.status_cell(flow),
        fmt.fate_cell(flow),
        urls.cell(flow.url) if urls is not None else clean_line(flow.url, fmt.URL_LIMIT),
        size,
        latency,
        callback_cell(flow),
        str(flow.depth),
    ]


def callback_cell(flow: Flow) -> Any:
    """The callback the response went to; ``↩ parse`` for a download that ``parse``
    awaited inline; ``media`` for a files/images pipeline's download (its Response
    tab says where it went)."""
    if flow.inline is not None:
        return Text("↩ " + clean_line(flow.inline, 60), style="cyan")
    if flow.stored:
        return Text("media", style="cyan")
    return clean_line(flow.callback or "-", 60)


# what an empty filter box says: nothing in force (an example there read as a
# filter); it fits 80 columns
FILTER_PLACEHOLDER = "No filter: all flows shown.  f or / to filter (? operators)"


def flow_style(flow: Flow) -> str | None:
    if flow.fate is not None and flow.fate in NEVER_DOWNLOADED:
        return "dim"  # never reached the network
    return "red" if flow.failed else None


class FlowsPanel(FilterBox, Panel):
    FILTER_ID = "flow-filter"
    TITLE = "Flows"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("f,slash", "focus_filter", "Filter", tooltip="Filter flows (mitmproxy syntax)"),
        Binding("escape", "leave_filter", "Back to list", show=False),
        # p, r, x, o: the selected flow's keys, as in its detail
        *(dataclasses.replace(b, show=False) for b in FLOW_KEYS if isinstance(b, Binding)),
        Binding(
            "W",
            "save_har",
            "Save HAR",
            show=False,
            tooltip="Save the flows shown (the filter applies) as HAR 1.2 in this directory",
        ),
    ]

    DEFAULT_CSS = """
    FlowsPanel #flow-filter { height: 3; }
    FlowsPanel #flow-filter-error { color: $error; height: auto; }
    FlowsPanel #flow-filter-error.-hidden { display: none; }
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.cursor = 0
        self.filter: FlowFilter = parse_filter("")
        self.kept: list[Flow] = []  # mirror of the recorder's ring
        self.last_snapshot: Snapshot | None = None
        self.total_seen = 0
        self.scope: str | None = None  # several crawlers: the one shown (None: all)
        self.urls = fmt.UrlFit()  # what the URLs shown share (how they are fitted)

    def compose(self) -> Any:
        yield Input(
            placeholder=FILTER_PLACEHOLDER,
            id="flow-filter",
        )
        yield Static("", id="flow-filter-error", classes="-hidden")
        yield RecordTable(
            flow_columns(self.urls),
            lambda flow: flow_cells(flow, self.urls),
            row_key=lambda f: f.id,
            row_style=flow_style,
            # a callback error (or a middleware's drop, a retry's fate) arrives
            # after the row: it is part of the cache key
            row_version=lambda f: (
                f.callback_error is not None,
                f.error is not None,
                f.stored,
                f.fate,
            ),
            id="flow-table",
        )

    @property
    def table(self) -> RecordTable:
        return self.query_one("#flow-table", RecordTable)

    def refresh_from(self, snapshot: Snapshot) -> None:
        new = self.source.flows_since(self.cursor)
        self.cursor = snapshot.flows_total
        oldest = self.mirror(self.kept, new, snapshot.flows_kept)
        if oldest is not None:  # the recorder dropped its oldest flows
            self.table.trim_before(oldest)
        if snapshot.scope != self.scope:  # another crawler (S)
            self.scope = snapshot.scope
            self._set_rows([f for f in self.kept[: len(self.kept) - len(new)]
                            if self._match(f)])  # fmt: skip
        matching = [f for f in new if self._match(f)]
        if self.urls.see(f.url for f in matching):
            self.table.restyle()  # the URLs are fitted otherwise now
        self.table.append_rows(matching)
        self.last_snapshot = snapshot
        self._title(snapshot)

    def _set_rows(self, flows: list[Flow]) -> None:
        self.urls.reset()
        self.urls.see(f.url for f in flows)
        self.table.set_rows(flows)

    def _match(self, flow: Flow) -> bool:
        if self.scope is not None and flow.spider != self.scope:
            return False
        if self.filter.matches_all:
            return True
        try:
            return self.filter(flow, self._body_of)
        except Exception:
            return False

    def _body_of(self, flow: Flow) -> bytes | None:
        stored = self.source.body(flow.id)
        return stored.body if stored is not None else None

    def _title(self, snapshot: Snapshot) -> None:
        shown = len(self.table.rows)
        parts = [Text(f"{fmt.number(shown)} shown")]
        if not self.filter.matches_all:  # typed text: never markup
            parts.append(Text(f"filter: {clean_line(self.filter.expression, 60)}"))
        dropped = snapshot.flows_total - snapshot.flows_kept
        if dropped:
            parts.append(Text(f"{fmt.number(dropped)} oldest dropped (limit)", style="yellow"))
        never = fmt.never_downloaded_summary(snapshot.fates)
        if never:
            parts.append(Text(never))
        if snapshot.dropped_unkept:
            parts.append(
                Text(
                    f"{fmt.number(snapshot.dropped_unkept)} of them counted, not kept "
                    "(WORKBENCH_MAX_DROPPED)",
                    style="yellow",
                )
            )
        if not self.table.follow:
            parts.append(Text("follow off (G/End)"))
        self.set_subtitle(Text(" · ").join(parts))

    @property
    def filter_text(self) -> str:
        return "" if self.filter.matches_all else self.filter.expression

    def select_flow(self, flow_id: int) -> bool:
        """Select a flow (a breakpoint hit); False if it is not shown (filtered out)."""
        if not self.table.select_key(flow_id):
            self.refresh_from(self.source.snapshot())  # it may have just arrived
            if not self.table.select_key(flow_id):
                return False
        self.table.focus()
        return True

    # -- filter -----------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != self.FILTER_ID:
            return
        new_filter = self.parse_box(event, parse_filter)
        if new_filter is None:
            return
        self.filter = new_filter
        self._set_rows([f for f in self.kept if self._match(f)])
        if self.last_snapshot is not None:
            self._title(self.last_snapshot)  # the count and filter shown at once

    def action_save_har(self) -> None:
        flows = list(self.table.rows)
        if not flows:
            self.notify("No flows to save.", severity="warning")
            return
        self.run_worker(self._save_har(flows), group="har")

    async def _save_har(self, flows: list[Flow]) -> None:
        from workbench.core.formats.har import har_path, save_har

        spider = self.last_snapshot.spider if self.last_snapshot is not None else "crawl"
        path = har_path(spider)
        with_bodies = not getattr(self.app, "remote", False)  # remote bodies: one call each
        try:
            written = await asyncio.to_thread(save_har, self.source, flows, path, with_bodies)
        except OSError as exc:
            message = clean_line(f"Cannot save {path}: {exc}", 500)
            self.notify(message, title="HAR", severity="error", markup=False)
            return
        self.notify(  # the path is the current directory's: not markup
            clean_line(f"{len(flows):,} flows saved to {written}", 500)
            + " (credentials redacted"
            + ("" if with_bodies else "; no bodies: attached")
            + ")",
            title="HAR",
            markup=False,
        )

    # -- the selected flow's keys (FLOW_KEYS), as in its detail ----------------

    def _selected(self) -> Flow | None:
        flow = self.table.current()
        if not isinstance(flow, Flow):
            flow_actions.no_flow(self.app)
            return None
        return flow

    def action_selectors(self) -> None:
        if (flow := self._selected()) is not None:
            flow_actions.open_selectors(self.app, self.source, flow)

    def action_replay(self) -> None:
        if (flow := self._selected()) is not None:
            flow_actions.open_replay(self.app, self.source, flow)

    def action_export_curl(self) -> None:
        if (flow := self._selected()) is not None:
            flow_actions.export_curl(self.app, self.source, flow)

    def action_open_linked(self) -> None:
        if (flow := self._selected()) is not None:
            flow_actions.open_linked(self.app, self.source, flow, self.kept)
