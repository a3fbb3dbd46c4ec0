"""The ? screen: every key, where it works, and the filter syntax."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from workbench.core.inspection.filters import FILTER_HELP


def key_label(keys: str) -> str:
    """A binding's keys as people write them ("space,X" -> "Space, X")."""
    names = {
        "space": "Space",
        "slash": "/",
        "question_mark": "?",
        "escape": "Esc",
        "enter": "Enter",
        "pageup": "PgUp",
        "pagedown": "PgDn",
        "home": "Home",
        "end": "End",
        "left_square_bracket": "[",
        "right_square_bracket": "]",
        "up": "↑",
        "down": "↓",
        "tab": "Tab",
        "shift+tab": "Shift+Tab",
    }
    return ", ".join(names.get(k, k) for k in keys.split(","))


def bindings_table(sections: list[tuple[str, list[BindingType]]]) -> Table:
    table = Table(box=None, show_header=False, padding=(0, 2))
    table.add_column(style="bold cyan", no_wrap=True, min_width=18)
    table.add_column()
    for title, bindings in sections:
        table.add_row(Text(title, style="bold underline"), "")
        for binding in bindings:
            if not isinstance(binding, Binding):
                continue
            description = binding.tooltip or binding.description or binding.action
            # Text cells: a str cell is Rich markup ("[", "]" are keys here)
            table.add_row(Text(key_label(binding.key)), Text(description))
        table.add_row("", "")
    return table


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape,question_mark", "app.pop_screen", "Close help"),
    ]

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 90%; height: 90%; border: thick $primary; background: $surface; padding: 0 2;
    }
    """

    def __init__(self, sections: list[tuple[str, list[BindingType]]]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> Any:
        scroll = VerticalScroll()
        scroll.border_title = "workbench keys  (q / Esc closes)"
        with scroll:
            yield Static(bindings_table(self.sections))
            yield Static(Text("Flow filter expressions", style="bold underline"))
            yield Static(Text(FILTER_HELP))
            yield Static(
                Text(
                    "\nCtrl+P opens the command palette: every action is there, and "
                    "Theme switches the colours (dark, light, high-contrast, yours).",
                    style="italic",
                )
            )
