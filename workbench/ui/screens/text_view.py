"""A full-screen view of one long text (log record, traceback, item)."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.core.formats.sanitize import clean, clean_line


class TextScreen(Screen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back"),
    ]

    DEFAULT_CSS = """
    TextScreen VerticalScroll { border: round $primary; padding: 0 1; }
    """

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = clean_line(title, 200)
        self.text = clean(text)

    def compose(self) -> Any:
        scroll = VerticalScroll()
        scroll.border_title = Text(self.title_text)  # a str would be markup
        with scroll:
            yield Static(Text(self.text))
        yield Footer()
