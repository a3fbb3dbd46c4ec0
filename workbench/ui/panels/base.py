"""The contract between the app's refresh timer and the panels."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, Literal

from rich.text import Text
from textual import events
from textual.color import Color
from textual.containers import Vertical
from textual.content import Content
from textual.widgets import Input, Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.inspection.filters import FilterError
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
    """

    TITLE = "Panel"
    MIN_REFRESH = 0.0  # seconds: at least this between refreshes while the panel shows
    DEFAULT_FOCUS: str | None = None  # selector of what takes focus (None: the last table)

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.source = source
        self.border_title = self.TITLE

    # -- the border says where the keys go ---------------------------------------

    # The border is brighter while the focus is in the panel. A ``:focus-within``
    # rule did it, and made every focus change (each panel key) restyle all the
    # widgets of the panel left and of the panel shown, 15-30 ms of a key's
    # time: the colour is set on the panel alone instead.

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self._show_focus())

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self._show_focus()

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self._show_focus()

    def _show_focus(self) -> None:
        focused = self.has_focus_within
        primary = self.app.theme_variables.get("primary")
        if primary is None:
            return
        color = Color.parse(primary)
        edge: tuple[Literal["round"], Color] = (
            "round",
            color if focused else color.with_alpha(0.5),
        )
        if self.styles.border_top != edge:
            self.styles.border = edge

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


class FilterBox:
    """A panel's filter box: an ``Input`` with id ``FILTER_ID``, the line
    ``FILTER_ID-error`` under it, and the keys that go in and out of it
    (``f``/``/`` to edit, Enter or Escape back to the table)."""

    FILTER_ID: ClassVar[str]
    table: Any
    query_one: Any

    def parse_box(self, event: Input.Changed, parse: Callable[[str], Any]) -> Any | None:
        """The box's text parsed (the error line hidden), or None: the error shown
        under the box, the box marked invalid, the filter in force left as it was."""
        event.stop()
        error = self.query_one(f"#{self.FILTER_ID}-error", Static)
        try:
            parsed = parse(event.value)
        except FilterError as exc:
            error.update(Text(f"✗ {clean_line(str(exc), 200)}"))
            error.remove_class("-hidden")
            event.input.add_class("-invalid")
            return None
        error.add_class("-hidden")
        event.input.remove_class("-invalid")
        return parsed

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == self.FILTER_ID:
            event.stop()
            self.table.focus()

    def action_focus_filter(self) -> None:
        self.query_one(f"#{self.FILTER_ID}", Input).focus()

    def action_leave_filter(self) -> None:
        self.table.focus()
