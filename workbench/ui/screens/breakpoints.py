"""Breakpoints: the list (add, edit, toggle, delete) and the edit dialog."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import DataTable, Footer, Input, Static

from workbench.core.control.breakpoints import KIND_HELP, Breakpoint, parse_breakpoint
from workbench.core.formats.sanitize import clean_line
from workbench.core.sources.base import Source

FORMS = "\n".join(f"  {kind + ':':<10} {what}" for kind, what in KIND_HELP.items())
DIALOG_HELP = (
    "KIND: EXPR, where EXPR is a flow filter (press ? in the app for the syntax).\n"
    f"{FORMS}\n"
    "Examples:  ~s 404   ·   error   ·   error: ~u /product/   ·   item: !~f price"
)


class BreakpointDialog(ModalScreen[str | None]):
    """Type a breakpoint; Enter saves (checked first), Escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    BreakpointDialog { align: center middle; }
    BreakpointDialog > Vertical {
        width: 90; height: auto; border: thick $accent; background: $surface; padding: 1 2;
    }
    BreakpointDialog #bp-title { text-style: bold; margin-bottom: 1; }
    BreakpointDialog #bp-error { color: $error; height: auto; }
    BreakpointDialog #bp-help { color: $text-muted; margin-top: 1; }
    """

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value

    def compose(self) -> Any:
        with Vertical():
            yield Static(self.title_text, id="bp-title", markup=False)
            # an example, said as one: an empty box must not read as a breakpoint typed
            yield Input(self.value, placeholder="KIND: EXPR, e.g. response: ~s 404", id="bp-input")
            yield Static("", id="bp-error")
            yield Static(DIALOG_HELP, id="bp-help", markup=False)

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self._check(event.value, quiet_empty=True)

    def _check(self, text: str, quiet_empty: bool = False) -> bool:
        error = self.query_one("#bp-error", Static)
        if not text.strip() and quiet_empty:
            error.update("")
            return False
        try:
            parse_breakpoint(text)
        except ValueError as exc:
            error.update(Text(f"✗ {clean_line(str(exc), 400)}"))
            return False
        error.update("")
        return True

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if self._check(event.value):
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class BreakpointsScreen(Screen[None]):
    """Every breakpoint with its hit count; keys to edit them."""

    HELP_TITLE: ClassVar[str] = "Breakpoints (B)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back"),
        Binding("a", "add", "Add", tooltip="Add a breakpoint"),
        Binding("e", "edit", "Edit", tooltip="Edit the selected breakpoint (also Enter)"),
        Binding(
            "space",
            "toggle_breakpoint",
            "On/off",
            tooltip="Enable or disable the selected breakpoint",
        ),
        Binding("d,delete", "delete", "Delete", tooltip="Delete the selected breakpoint"),
    ]

    DEFAULT_CSS = """
    BreakpointsScreen #bp-heading { height: auto; padding: 0 1; background: $panel; }
    BreakpointsScreen DataTable { height: 1fr; }
    BreakpointsScreen #bp-empty { padding: 1 2; color: $text-muted; }
    """

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self._ids: list[int] = []

    def compose(self) -> Any:
        yield Static("Breakpoints — a hit pauses the crawl; c continues, n steps", id="bp-heading")
        table: DataTable[Any] = DataTable(cursor_type="row", id="bp-table")
        table.add_columns("#", "On", "Kind", "Expression", "Hits")
        yield table
        yield Static(
            "No breakpoints. Press a to add one, for example  ~s 404  or  item: !~f price.",
            id="bp-empty",
        )
        yield Footer()

    def on_mount(self) -> None:
        self.reload()
        self.query_one(DataTable).focus()

    def reload(self, select: int | None = None) -> None:
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        items: list[Breakpoint] = self.source.breakpoints()
        self._ids = [bp.id for bp in items]
        for bp in items:
            table.add_row(
                str(bp.id),
                Text("●", style="bold red") if bp.enabled else Text("○", style="dim"),
                Text(bp.kind if not bp.one_shot else "step"),  # a str cell is markup
                Text(clean_line(bp.expression or "(any)", 200)),
                str(bp.hits),
            )
        self.query_one("#bp-empty").display = not items
        if select is not None and select in self._ids:
            table.move_cursor(row=self._ids.index(select))
        elif items:
            table.move_cursor(row=min(max(row, 0), len(items) - 1))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        self.action_edit()

    def _selected(self) -> Breakpoint | None:
        table = self.query_one(DataTable)
        if not self._ids or table.cursor_row < 0 or table.cursor_row >= len(self._ids):
            return None
        bp_id = self._ids[table.cursor_row]
        return next((bp for bp in self.source.breakpoints() if bp.id == bp_id), None)

    def action_add(self) -> None:
        def added(text: str | None) -> None:
            if text:
                bp = self.source.add_breakpoint(text)
                self.reload(select=bp.id)

        self.app.push_screen(BreakpointDialog("New breakpoint"), added)

    def action_edit(self) -> None:
        bp = self._selected()
        if bp is None:
            self.action_add()
            return

        def edited(text: str | None) -> None:
            if text:
                self.source.edit_breakpoint(bp.id, text)
                self.reload(select=bp.id)

        self.app.push_screen(BreakpointDialog(f"Edit breakpoint {bp.id}", bp.text), edited)

    def action_toggle_breakpoint(self) -> None:  # not DOMNode's action_toggle(attribute)
        bp = self._selected()
        if bp is not None:
            self.source.toggle_breakpoint(bp.id)
            self.reload(select=bp.id)

    def action_delete(self) -> None:
        bp = self._selected()
        if bp is not None:
            self.source.remove_breakpoint(bp.id)
            self.reload()
            self.notify(f"Breakpoint {bp.id} deleted.", timeout=2)
