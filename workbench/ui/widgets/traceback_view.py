"""A traceback that opens on the user's own frames.

The frames of the standard library, Scrapy, Twisted and anything installed
(:func:`workbench.core.recording.errors.fold`) are folded into one line per
run, ``▸ 28 frames: scrapy  (z unfolds)``; the user's frames and the exception
stand out.  ``z`` (the screen's binding) unfolds them, dimmed.
"""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.recording.tracebacks import LIBRARY, USER, fold, folded_label

LINE_LIMIT = 2000  # characters of one traceback line drawn
CHAIN_WORDS = ("above exception", "exception caught here")


def _text_line(out: Text, line: str) -> None:
    stripped = line.strip()
    if not stripped:
        out.append("\n")
        return
    if stripped.startswith("Traceback (most recent call last)"):
        style = "dim"
    elif any(words in stripped for words in CHAIN_WORDS):
        style = "dim italic"
    elif line[:1] in (" ", "\t"):  # an indented line: an exception's detail, a note
        style = ""
    else:  # what was raised; Twisted writes builtins.ValueError
        line = line.removeprefix("builtins.")
        style = "bold red"
    out.append(clean_line(line, LINE_LIMIT), style=style)
    out.append("\n")


def traceback_text(traceback: str, folded: bool = True, key: str = "z") -> Text:
    """The traceback as rich text: each run of library frames one dim line when
    ``folded`` (``key`` unfolds them), every frame dimmed but the user's otherwise."""
    out = Text()
    for block in fold(traceback):
        if block.kind == LIBRARY and folded:
            first = block.lines[0]
            indent = first[: len(first) - len(first.lstrip())]
            out.append(f"{indent}▸ {clean_line(folded_label(block), 300)}", style="dim italic")
            out.append(f"  ({key} unfolds)\n", style="dim")
        elif block.kind == LIBRARY:
            for line in block.lines:
                out.append(clean_line(line, LINE_LIMIT), style="dim")
                out.append("\n")
        elif block.kind == USER:
            for line in block.lines:
                text = clean_line(line, LINE_LIMIT)
                stripped = line.strip()
                if stripped.startswith('File "'):
                    out.append(text, style="bold")
                elif stripped and set(stripped) <= set("^~ "):
                    out.append(text, style="red")
                else:
                    out.append(text, style="yellow")
                out.append("\n")
        else:
            for line in block.lines:
                _text_line(out, line)
    out.rstrip()
    return out


def library_frames(traceback: str | None) -> int:
    """How many frames folding hides."""
    if not traceback:
        return 0
    return sum(b.frames for b in fold(traceback) if b.kind == LIBRARY)


class TracebackView(Static):
    """A traceback, folded until :meth:`toggle`."""

    def __init__(self, traceback: str, folded: bool = True, **kwargs: Any) -> None:
        self.traceback = traceback
        self.folded = folded
        super().__init__(traceback_text(traceback, folded), **kwargs)

    def toggle(self) -> bool:
        """Fold or unfold the library frames; returns whether they are folded now."""
        self.folded = not self.folded
        self.update(traceback_text(self.traceback, self.folded))
        return self.folded
