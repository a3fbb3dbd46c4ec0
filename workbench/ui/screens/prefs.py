"""The ``prefs()`` text of the live refs: to read, copy or save."""

from __future__ import annotations

import time
from pathlib import Path
from typing import ClassVar

from textual.binding import Binding, BindingType

from workbench.core.formats.sanitize import clean_line
from workbench.ui.screens.text_view import TextScreen


class PrefsScreen(TextScreen):
    """Exactly what ``prefs()`` prints in Scrapy's telnet console (ignored classes left out)."""

    HELP_TITLE: ClassVar[str] = "prefs() text (e in Refs)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back"),
        Binding("c", "copy", "Copy", tooltip="Copy the text to the clipboard"),
        Binding("w", "save", "Save", tooltip="Write the text to a file in the current directory"),
    ]

    def __init__(self, text: str, directory: Path | None = None) -> None:
        super().__init__("prefs() — c copies, w saves to a file", text)
        self.raw = text
        self.directory = directory or Path.cwd()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.raw)
        self.notify("Copied the prefs() text (if your terminal allows it).", timeout=3)

    def action_save(self) -> None:
        path = self.directory / time.strftime("workbench-prefs-%Y%m%d-%H%M%S.txt")
        try:
            path.write_text(self.raw, encoding="utf-8")
        except OSError as exc:
            message = clean_line(f"Could not write {path}: {exc}", 500)
            self.notify(message, severity="error", markup=False)
            return
        self.notify(clean_line(f"Wrote {path}", 500), timeout=6, markup=False)
