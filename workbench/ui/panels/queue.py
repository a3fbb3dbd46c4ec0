"""Queue: pending requests by slot and priority (peeked, never consumed),
and what each downloader slot has in flight."""

from __future__ import annotations

from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal

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
        (f"(+{slot.active - 1}, Enter) " if slot.active > 1 else "")
        + (clean_line(slot.in_flight[0], 2000) if slot.in_flight else ""),
    ]


def group_cells(group: QueueGroup) -> list[Any]:
    return [clean_line(group.slot, 200), str(group.priority), group.kind, fmt.number(group.size)]


def request_cells(request: QueuedRequest) -> list[Any]:
    return [
        clean_line(request.slot, 100),
        str(request.priority),
        request.kind,
        clean_line(request.method, 8),
        clean_line(request.url, 2000),
        clean_line(request.callback or "-", 60),
        str(request.depth),
    ]


class QueuePanel(Panel):
    TITLE = "Queue"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("right_square_bracket", "next_page", "Next page", tooltip="Next page of the queue"),
        Binding("left_square_bracket", "prev_page", "Prev page", tooltip="Previous page"),
    ]

    DEFAULT_CSS = """
    QueuePanel #queue-top { height: 10; }
    QueuePanel #slots-table { width: 3fr; }
    QueuePanel #groups-table { width: 2fr; }
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.page_offset = 0
        self.view: QueueView | None = None

    def compose(self) -> Any:
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
        yield RecordTable(
            [
                Column("Slot", 16),
                Column("Prio", 5, "right"),
                Column("Kind", 6),
                Column("Meth", 4),
                Column("URL", None),
                Column("Callback", 16),
                Column("Dp", 3, "right"),
            ],
            request_cells,
            row_key=lambda r: (r.url, r.priority, r.kind, r.slot),
            id="pending-table",
        )

    def on_mount(self) -> None:
        for table in self.query(RecordTable):
            table.follow = False
        self.query_one("#slots-table").border_title = "Downloader slots"

    def refresh_from(self, snapshot: Snapshot) -> None:
        view = self.source.queue(self.page_offset, PAGE)
        if view.total and self.page_offset >= view.total:
            self.page_offset = max(0, (view.total - 1) // PAGE * PAGE)
            view = self.source.queue(self.page_offset, PAGE)
        self.view = view
        self.query_one("#slots-table", RecordTable).set_rows(list(view.slots))
        self.query_one("#groups-table", RecordTable).set_rows(list(view.groups))
        self.query_one("#pending-table", RecordTable).set_rows(list(view.page))
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

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        if event.table.id != "slots-table":
            return
        from workbench.ui.screens.text_view import TextScreen

        slot: SlotState = event.record
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
