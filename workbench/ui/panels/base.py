"""The contract between the app's refresh timer and the panels."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.containers import Vertical
from textual.content import Content

from workbench.core.sources.base import Snapshot, Source


class Panel(Vertical):
    """A panel re-renders from the source when the app's timer asks it to.

    Only the visible panel is asked; a panel catches up from its cursor when
    it becomes visible again, so nothing is missed while it is hidden.
    """

    DEFAULT_CSS = """
    Panel {
        height: 1fr;
        border: round $primary 50%;
        border-title-color: $text;
        border-title-style: bold;
        padding: 0 1;
    }
    Panel:focus-within {
        border: round $primary;
    }
    """

    TITLE = "Panel"
    MIN_REFRESH = 0.0  # seconds: at least this between refreshes while the panel shows
    DEFAULT_FOCUS: str | None = None  # selector of what takes focus (None: the last table)

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.border_title = self.TITLE

    def set_subtitle(self, text: str | Text) -> None:
        """Change the border subtitle only when it differs (each change repaints).

        A str is Textual markup: only for text written here.  Anything that
        carries data from the crawl (a slot key, a filter) comes as a Text."""
        markup = Content.from_rich_text(text).markup if isinstance(text, Text) else text
        if markup != self.border_subtitle:
            self.border_subtitle = text

    @staticmethod
    def mirror(kept: list[Any], new: list[Any], keep: int) -> int | None:
        """Append ``new`` records to ``kept``, a mirror of a recorder ring that
        holds ``keep`` records now; returns the id of the oldest record still
        kept when the ring dropped some (None otherwise)."""
        kept.extend(new)
        overflow = len(kept) - keep
        if overflow <= 0:
            return None
        del kept[:overflow]
        return kept[0].id if kept else None

    def refresh_from(self, snapshot: Snapshot) -> None:
        """Pull what changed from the source and update the widgets."""
        raise NotImplementedError

    def show_error(self, exc: BaseException) -> None:
        """Contain a panel failure: say so in the panel's title, keep the app alive."""
        self.border_subtitle = Text(f"panel error: {type(exc).__name__}", style="red")
