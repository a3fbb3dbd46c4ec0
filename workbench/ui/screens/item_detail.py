"""One item (Enter in the Items panel): every field, the ones not filled
highlighted (None, empty, and the fields its type has that it lacks), why a
pipeline dropped it or failed on it, and ``o`` for the flow that produced it.

Also what the Items panel draws a field's value with (:func:`value_text`,
:func:`field_cell`), so the table and this view highlight alike.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.core.formats.sanitize import clean, clean_line
from workbench.core.recording.item_health import FILLED, NONE, value_state
from workbench.core.recording.records import ItemRecord

UNFILLED = "italic yellow"  # a None or empty value, a missing field


def value_text(value: Any, limit: int = 300) -> str:
    if isinstance(value, str):
        return clean_line(value, limit)
    if isinstance(value, bytes):
        return clean_line(value[:limit].decode("utf-8", "replace"), limit)
    try:
        text = json.dumps(value, ensure_ascii=False, default=repr)
    except Exception:
        text = repr(value)
    return clean_line(text, limit)


def unfilled_text(value: Any) -> str:
    """How a None or empty value shows: ``None``, ``""``, ``"  "`` (blanks), ``[]``."""
    state = value_state(value)
    if state == NONE:
        return "None"
    if isinstance(value, (str, bytes, bytearray)):
        blank = bytes(value).decode("latin-1") if not isinstance(value, str) else value
        inner = "".join("␣" if c == " " else "⏎" if c in "\r\n" else "⇥" if c == "\t" else "·"
                        for c in blank[:20])  # fmt: skip
        return f'"{inner}"'
    return value_text(value, 20)


def field_cell(value: Any, limit: int = 300) -> Text | str:
    """A field's value for a cell: as text, or highlighted when None or empty."""
    if value_state(value) == FILLED:
        return value_text(value, limit)
    return Text(unfilled_text(value), style=UNFILLED)


MISSING_CELL = Text("—", style=UNFILLED)


class ItemScreen(Screen[None]):
    HELP_TITLE: ClassVar[str] = "An item (Enter in the Items panel)"  # its ? section

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back"),
        Binding("o", "open_flow", "Its flow", tooltip="Open the flow that produced the item"),
    ]

    DEFAULT_CSS = """
    ItemScreen VerticalScroll { border: round $primary; padding: 0 1; }
    """

    def __init__(self, source: Any, record: ItemRecord, expected: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.source = source
        self.record = record
        self.expected = expected  # the fields of its type (declared or seen on others)

    def compose(self) -> Any:
        record = self.record
        scroll = VerticalScroll()
        scroll.border_title = Text(f"{clean_line(record.item_class, 80)} #{record.id}")
        with scroll:
            yield Static(self.text(), id="item-fields")
        yield Footer()

    def text(self) -> Text:
        record = self.record
        out = Text()
        present = {name for name, _ in record.fields}
        unfilled = []
        for name, value in record.fields:
            out.append(f"{clean_line(name, 80)}: ", style="bold")
            state = value_state(value)
            if state == FILLED:
                long = isinstance(value, str)  # its own lines kept
                out.append(clean(value[:100_000]) if long else value_text(value, 100_000))
            else:
                out.append(unfilled_text(value), style=UNFILLED)
                unfilled.append((name, "None" if state == NONE else "empty"))
            out.append("\n")
        for name in self.expected:
            if name not in present:
                out.append(f"{clean_line(name, 80)}: ", style="bold")
                out.append("— missing", style=UNFILLED)
                out.append("\n")
                unfilled.append((name, "missing"))
        if unfilled:
            words = ", ".join(f"{clean_line(n, 40)} {w}" for n, w in unfilled)
            out.append(f"\nNot filled: {words}\n", style="yellow")
        if record.dropped:
            out.append("\nDropped: ", style="bold yellow")
            out.append(clean(record.dropped))
            out.append("\n")
        if record.error:
            out.append("\nError: ", style="bold red")
            out.append(clean(record.error))
            out.append("\n")
        if record.flow_id is not None:
            flow = self.source.flow(record.flow_id)
            out.append(f"\nFrom flow #{record.flow_id}", style="bold")
            if flow is not None:
                out.append(f" {clean_line(flow.method, 10)} {clean_line(flow.url, 500)}")
                out.append("  (o: open it)", style="dim")
            else:
                out.append(" (no longer kept)", style="dim")
        return out

    def action_open_flow(self) -> None:
        record = self.record
        flow = self.source.flow(record.flow_id) if record.flow_id is not None else None
        if flow is None:
            why = "came from no recorded flow" if record.flow_id is None else "is no longer kept"
            self.notify(f"The flow of item #{record.id} {why}.", severity="warning")
            return
        from workbench.ui.screens.flow_detail import FlowDetailScreen

        self.app.push_screen(FlowDetailScreen(self.source, flow, tab="produced"))
