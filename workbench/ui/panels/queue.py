"""Queue: what the downloader holds (each request on the wire with its age,
time left before its timeout, retries and bytes so far, oldest first), the
downloader slots, and the pending requests by slot and priority (peeked, never
consumed)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Static

from workbench.core.control.in_flight import InFlightRequest, mmss
from workbench.core.control.scheduler_view import QueuedRequest, QueueGroup, QueueView, SlotState
from workbench.core.formats.sanitize import clean_line
from workbench.core.sources.base import Snapshot, Source
from workbench.ui import format as fmt
from workbench.ui.panels.base import Panel
from workbench.ui.widgets.record_table import Column, RecordTable

PAGE = 200


def slot_cells(slot: SlotState) -> list[Any]:
    return [
        clean_line(slot.key, 200),
        str(slot.concurrency),
        f"{slot.delay:.2f}s",
        str(slot.active),
        str(slot.queued),
        str(slot.transferring),
        fmt.url_cell(
            slot.in_flight[0] if slot.in_flight else "",
            f"(+{slot.active - 1}, Enter) " if slot.active > 1 else "",
        ),
    ]


def group_cells(group: QueueGroup) -> list[Any]:
    return [clean_line(group.slot, 200), str(group.priority), group.kind, fmt.number(group.size)]


def request_cells(request: QueuedRequest, urls: fmt.UrlFit) -> list[Any]:
    return [
        clean_line(request.slot, 100),
        str(request.priority),
        request.kind,
        clean_line(request.method, 8),
        urls.cell(request.url),
        clean_line(request.callback or "-", 60),
        str(request.depth),
    ]


def age_cell(request: InFlightRequest) -> str:
    if request.age is None:
        return "—"
    return ("" if request.exact else "≥") + mmss(request.age)


STATE_WORDS = {"waiting": "in slot", "middleware": "in mw"}


def timeout_cell(request: InFlightRequest) -> str:
    """Time left before its download timeout, or where it waits."""
    if request.state != "transferring":
        return STATE_WORDS.get(request.state, request.state)
    left = request.left
    if left is None:
        return "none"
    if left <= 0:
        return "now"
    return f"in {'' if request.exact else '≤'}{mmss(left, up=True)}"


def retry_cell(request: InFlightRequest) -> str:
    if request.max_retries is None:
        return "no"
    return f"{request.retries}/{request.max_retries}"


def received_cell(request: InFlightRequest) -> str:
    if request.received is None:
        return ""
    return ("" if request.received_exact else "≥") + fmt.size(request.received)


def in_flight_cells(request: InFlightRequest, urls: fmt.UrlFit) -> list[Any]:
    return [
        age_cell(request),
        timeout_cell(request),
        received_cell(request),
        retry_cell(request),
        clean_line(request.slot, 100),
        clean_line(request.method, 8),
        urls.cell(request.url),
        clean_line(request.callback or "-", 60),
    ]


def in_flight_style(request: InFlightRequest) -> str | None:
    if request.state != "transferring":
        return "dim"
    left = request.left
    return "yellow" if left is not None and request.timeout and left < request.timeout / 3 else None


def in_flight_key(request: InFlightRequest) -> Any:
    # the row stays under the cursor while its age and bytes change
    return (request.url, request.method, request.slot, request.retries)


def in_flight_version(request: InFlightRequest) -> Any:
    return (request.state, int(request.age or 0), request.received, request.received_exact)


def in_flight_text(request: InFlightRequest, now: float) -> str:
    """What Enter shows about one request the downloader holds."""
    lines = [f"{request.method} {request.url}", ""]
    if request.state == "transferring" and request.age is not None:
        since = fmt.clock(now - request.age)
        age = mmss(request.age)
        if request.exact:
            lines.append(f"On the wire for {age} (since {since}), slot {request.slot}.")
        else:
            lines.append(
                f"On the wire for at least {age} (since {since} or before: it was on the "
                f"wire when workbench began to watch), slot {request.slot}."
            )
        left = request.left
        if left is None:
            lines.append("No download timeout (download_timeout 0): it waits for ever.")
        else:
            when = "now"
            if left > 0:
                when = f"{'in' if request.exact else 'within'} {mmss(left, up=True)}"
            lines.append(
                f"Times out {when}: download_timeout {request.timeout:g} s "
                "(its download_timeout meta, else DOWNLOAD_TIMEOUT)."
            )
    elif request.state == "waiting":
        lines.append(
            f"Waiting in slot {request.slot}'s queue: not on the wire yet (DOWNLOAD_DELAY, "
            "the slot's concurrency, or a pause); its timeout starts when it goes out."
        )
    else:
        lines.append("In a downloader middleware: not handed to a slot yet.")
    lines.append(_then(request))
    if request.state == "transferring":
        if request.received is None:
            lines.append(
                "Bytes received: not counted (counted once a request has been on the wire "
                "for 2 s, while this list is open, or when the crawl stalls)."
            )
        else:
            bound = "" if request.received_exact else "at least "
            lines.append(
                f"Received {bound}{fmt.count(request.received, 'byte')} of its body so far"
                + (
                    "."
                    if request.received_exact
                    else " (counted while this list is open; it started before)."
                )
            )
    lines.append(
        f"Callback {request.callback or 'parse'}, depth {request.depth}, "
        f"priority {request.priority}, retried {request.retries} time(s)."
    )
    return "\n".join(lines)


def _then(request: InFlightRequest) -> str:
    if request.max_retries is None:
        return "If it times out: not retried (dont_retry, or no RetryMiddleware)."
    if not request.retry_on_timeout:
        return "If it times out: not retried (timeouts are not in RETRY_EXCEPTIONS)."
    if request.retried_after_timeout:
        return (
            f"If it times out: retried, attempt {request.retries + 2} "
            f"(retry {request.retries + 1} of {request.max_retries})."
        )
    return f"If it times out: given up (retried {request.retries} of {request.max_retries})."


class QueuePanel(Panel):
    TITLE = "Queue"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding(
            "enter",
            "open",
            "Open",
            tooltip="The row's details: a request in flight (age, timeout, retries, bytes), "
            "a slot's requests, a pending request (Tab: the next table)",
        ),
        Binding("right_square_bracket", "next_page", "Next page", tooltip="Next page of the queue"),
        Binding("left_square_bracket", "prev_page", "Prev page", tooltip="Previous page"),
    ]
    DEFAULT_FOCUS = "#in-flight-table"

    DEFAULT_CSS = """
    QueuePanel #in-flight-table { height: 1fr; min-height: 4; }
    QueuePanel #queue-top { height: 5; }
    QueuePanel #slots-table { width: 3fr; }
    QueuePanel #groups-table { width: 2fr; }
    QueuePanel #pending-table { height: 1fr; min-height: 3; }
    QueuePanel .queue-label { height: 1; text-style: bold; color: $text-muted; }
    QueuePanel #pending-label { height: auto; max-height: 3; }
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.page_offset = 0
        self.view: QueueView | None = None
        self.urls = fmt.UrlFit()  # what the page's URLs share
        self.flight_urls = fmt.UrlFit()  # what the in-flight URLs share
        self.now = 0.0  # the snapshot's time (the detail's wall clock)
        self.flight_label = Text()
        self.shared: str | None = None  # where a scrapy-redis crawl's pending requests are

    def compose(self) -> Any:
        yield Static(
            Text("In flight, oldest first (I)"), id="in-flight-label", classes="queue-label"
        )
        yield RecordTable(
            [
                Column("Age", 6, "right"),
                Column("Timeout", 8),
                Column("Recv", 8, "right"),
                Column("Retry", 5),
                Column("Slot", 14, drop=2),
                Column("Meth", 4, drop=3),
                Column(self.flight_urls.header("URL"), None, min_width=24),
                Column("Callback", 14, drop=1),
            ],
            lambda request: in_flight_cells(request, self.flight_urls),
            row_key=in_flight_key,
            row_style=in_flight_style,
            row_version=in_flight_version,
            id="in-flight-table",
        )
        yield Static("Downloader slots · scheduler queues", classes="queue-label")
        with Horizontal(id="queue-top"):
            yield RecordTable(
                [
                    Column("Slot", 18),
                    Column("Conc", 4, "right"),
                    Column("Delay", 6, "right"),
                    Column("Active", 6, "right"),
                    Column("Queued", 6, "right"),
                    Column("Xfer", 4, "right"),
                    Column("In flight", None),
                ],
                slot_cells,
                row_key=lambda s: (
                    s.key,
                    s.active,
                    s.queued,
                    s.transferring,
                    s.delay,
                    s.in_flight[:1],
                ),
                id="slots-table",
            )
            yield RecordTable(
                [
                    Column("Slot", None),
                    Column("Prio", 5, "right"),
                    Column("Kind", 6),
                    Column("Pending", 9, "right"),
                ],
                group_cells,
                row_key=lambda g: (g.slot, g.priority, g.kind, g.size),
                id="groups-table",
            )
        yield Static("Pending in the scheduler", classes="queue-label", id="pending-label")
        yield RecordTable(
            [
                Column("Slot", 16),
                Column("Prio", 5, "right"),
                Column("Kind", 6),
                Column("Meth", 4),
                Column(self.urls.header("URL"), None, min_width=24),
                Column("Callback", 16),
                Column("Dp", 3, "right", drop=1),
            ],
            lambda request: request_cells(request, self.urls),
            row_key=lambda r: (r.url, r.priority, r.kind, r.slot),
            id="pending-table",
        )

    def on_mount(self) -> None:
        for table in self.query(RecordTable):
            table.follow = False

    def refresh_from(self, snapshot: Snapshot) -> None:
        view = self.source.queue(self.page_offset, PAGE)
        if view.total and self.page_offset >= view.total:
            self.page_offset = max(0, (view.total - 1) // PAGE * PAGE)
            view = self.source.queue(self.page_offset, PAGE)
        self.view = view
        self.now = snapshot.time
        flight = self.query_one("#in-flight-table", RecordTable)
        self.flight_urls.reset()
        self.flight_urls.see(r.url for r in view.requests)
        flight.set_rows(list(view.requests))
        label = self._flight_title(view, snapshot)
        if label != self.flight_label:
            self.flight_label = label
            self.query_one("#in-flight-label", Static).update(label)
        self.query_one("#slots-table", RecordTable).set_rows(list(view.slots))
        self.query_one("#groups-table", RecordTable).set_rows(list(view.groups))
        self.urls.reset()
        self.urls.see(r.url for r in view.page)
        self.query_one("#pending-table", RecordTable).set_rows(list(view.page))
        if view.shared != self.shared:  # scrapy-redis: the pending requests are in Redis
            self.shared = view.shared
            label = Text("Pending in the scheduler")
            if view.shared:
                label.append(f": {clean_line(view.shared, 400)}", style="not bold")
            self.query_one("#pending-label", Static).update(label)
        first = view.offset + 1 if view.page else 0
        last = view.offset + len(view.page)
        paused = (
            " · [yellow]paused: nothing leaves the queue[/]"
            if (snapshot.status.state == "paused")
            else ""
        )
        self.set_subtitle(
            f"{fmt.number(view.total)} pending · showing {first}-{last} ([ ] page) · "
            f"{view.in_flight} in flight · {len(view.slots)} slots{paused}"
        )

    @staticmethod
    def _flight_title(view: QueueView, snapshot: Snapshot) -> Text:
        on_wire = sum(1 for r in view.requests if r.state == "transferring")
        title = Text(f"In flight, oldest first (I): {on_wire} on the wire")
        others = len(view.requests) - on_wire
        if others:
            title.append(f", {others} waiting")
        transfers = snapshot.status.transfers
        if transfers is not None and transfers.stalled:
            title.append(f" · no response for {transfers.quiet:.0f} s", style="bold yellow")
        return title

    def action_open(self) -> None:
        """Enter (or the palette): open the focused table's row."""
        table = self.app.focused
        if not isinstance(table, RecordTable) or table not in self.query(RecordTable):
            table = self.query_one("#in-flight-table", RecordTable)
        record = table.current()
        if record is not None:
            self.open(table, record)

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        self.open(event.table, event.record)

    def open(self, table: RecordTable, record: Any) -> None:
        from workbench.ui.screens.text_view import TextScreen

        if table.id == "in-flight-table":
            request: InFlightRequest = record
            title = f"In flight: {request.method} {request.url}"
            self.app.push_screen(TextScreen(title, in_flight_text(request, self.now)))
            return
        if table.id == "pending-table":
            queued: QueuedRequest = record
            text = (
                f"{queued.method} {queued.url}\n\nPending in the scheduler ({queued.kind} "
                f"queue), slot {queued.slot}, priority {queued.priority}, depth {queued.depth}, "
                f"callback {queued.callback or 'parse'}."
            )
            self.app.push_screen(TextScreen(f"Pending: {queued.url}", text))
            return
        if table.id != "slots-table":
            return
        slot: SlotState = record
        lines = [
            f"{slot.active} active, {slot.transferring} transferring, {slot.queued} queued "
            f"in the downloader, delay {slot.delay:.2f}s, concurrency {slot.concurrency}",
            "",
        ]
        lines += list(slot.in_flight)
        if slot.active > len(slot.in_flight):
            lines.append(f"… and {slot.active - len(slot.in_flight)} more")
        self.app.push_screen(TextScreen(f"In flight on slot {slot.key}", "\n".join(lines)))

    def action_next_page(self) -> None:
        if self.view is not None and self.page_offset + PAGE < self.view.total:
            self.page_offset += PAGE
            self.app.call_later(self.app.refresh_panels)  # type: ignore[attr-defined]

    def action_prev_page(self) -> None:
        if self.page_offset > 0:
            self.page_offset = max(0, self.page_offset - PAGE)
            self.app.call_later(self.app.refresh_panels)  # type: ignore[attr-defined]
