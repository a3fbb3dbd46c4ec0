"""A read-only view of a long text with highlighted spans, through the line API.

Only the visible rows are rendered (and cached), so a 10 MB body costs a
row index, not a 10 MB widget.  Lines are wrapped at the view's width
(by cells; very long or ASCII lines by characters, which is the same for
ASCII).  Text is cleaned piece by piece, after the highlight spans are
applied, so spans stay exact offsets into the original text while control
characters still never reach the terminal.  Tabs show as one space.
"""

from __future__ import annotations

from array import array
from bisect import bisect_right
from collections.abc import Sequence
from itertools import repeat
from typing import ClassVar

from rich.cells import chop_cells
from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Size
from textual.scroll_view import ScrollView
from textual.strip import Strip

from workbench.core.formats.sanitize import clean

CELL_WRAP_LIMIT = 20_000  # longer non-ASCII lines wrap by characters (cheaper)


def _shown(piece: str) -> str:
    return clean(piece.replace("\t", " "))


class BodyView(ScrollView, can_focus=True):
    """Text with highlighted spans; ``spans`` are sorted, disjoint offsets."""

    BINDINGS: ClassVar[list[BindingType]] = [  # arrows, PgUp/PgDn, Home/End are inherited
        Binding("k", "scroll_up", "Up", show=False),
        Binding("j", "scroll_down", "Down", show=False),
        Binding("g", "scroll_home", "Top", show=False),
        Binding("G", "scroll_end", "Bottom", show=False),
    ]

    DEFAULT_CSS = """
    BodyView {
        overflow-x: hidden;
        overflow-y: scroll;
    }
    BodyView > .body-view--gutter { color: $text-muted; }
    BodyView > .body-view--match { background: $warning; color: black; text-style: bold; }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "body-view--gutter",
        "body-view--match",
    }

    def __init__(self, text: str = "", *, name: str | None = None, id: str | None = None) -> None:
        super().__init__(name=name, id=id)
        self.text = text
        self.spans: Sequence[tuple[int, int]] = ()
        self._ends: list[int] = []
        self.match_index = -1
        self._rows: array[int] = array("q", [0])
        self._lines: array[int] = array("q", [1])  # line number of a row, 0 when wrapped
        self._layout_width = -1
        self._gutter = 2
        self._version = 0
        self._cache: LRUCache[tuple[int, int, int], Strip] = LRUCache(1000)

    # -- data ------------------------------------------------------------------

    def set_text(self, text: str) -> None:
        if text is self.text:
            return
        self.text = text
        self._layout_width = -1
        self.spans, self._ends = (), []
        self._changed()
        self._ensure_layout()
        self.scroll_to(y=0, animate=False)

    def set_spans(self, spans: Sequence[tuple[int, int]]) -> None:
        """Highlight ``spans``."""
        self.spans = spans
        self._ends = [end for _, end in spans]
        self.match_index = -1
        self._changed()

    def _changed(self) -> None:
        self._version += 1
        self._cache.clear()
        self.refresh()

    # -- layout ----------------------------------------------------------------

    def _ensure_layout(self) -> None:
        width = self.scrollable_content_region.width
        if width <= 0 or width == self._layout_width:
            return
        self._layout_width = width
        self._gutter = len(str(self.text.count("\n") + 1)) + 1
        self._rows, self._lines = self._wrap(max(1, width - self._gutter))
        self._cache.clear()
        size = Size(width, len(self._rows))
        if size != self.virtual_size:
            self.virtual_size = size

    def _wrap(self, width: int) -> tuple[array[int], array[int]]:
        text = self.text
        rows: array[int] = array("q")
        numbers: array[int] = array("q")
        pos, number, total = 0, 1, len(text)
        find = text.find
        while True:
            newline = find("\n", pos)
            end = total if newline < 0 else newline
            rows.append(pos)
            numbers.append(number)
            if end - pos > width:
                segment = text[pos:end]
                if len(segment) <= CELL_WRAP_LIMIT and not segment.isascii():
                    offset = pos
                    chunks = chop_cells(segment, width)
                    if sum(map(len, chunks)) == len(segment):
                        for chunk in chunks[:-1]:
                            offset += len(chunk)
                            rows.append(offset)
                        numbers.extend(repeat(0, len(chunks) - 1))
                        segment = ""
                if segment:
                    extra = range(pos + width, end, width)
                    rows.extend(extra)
                    numbers.extend(repeat(0, len(extra)))
            if newline < 0:
                break
            pos = newline + 1
            number += 1
        return rows, numbers

    def on_resize(self) -> None:
        self._ensure_layout()

    def offset_row(self, offset: int) -> int:
        """The row that shows character ``offset``."""
        self._ensure_layout()
        return max(0, bisect_right(self._rows, offset) - 1)

    def scroll_to_offset(self, offset: int) -> None:
        """Scroll so that ``offset`` shows near the top third of the view."""
        row = self.offset_row(offset)
        height = max(1, self.scrollable_content_region.height)
        top = self.scroll_offset.y
        bottom = top + height
        if not top <= row < bottom:
            self.scroll_to(y=max(0, row - height // 3), animate=False)

    def next_match(self) -> bool:
        """Scroll to the next highlighted span (cycling); False when there is none."""
        if not self.spans:
            return False
        self.match_index = (self.match_index + 1) % len(self.spans)
        self.scroll_to_offset(self.spans[self.match_index][0])
        return True

    # -- rendering -------------------------------------------------------------

    def render_line(self, y: int) -> Strip:
        self._ensure_layout()
        width = self.scrollable_content_region.width
        # scroll_offset rounds, as Textual does when it decides to repaint: int() would
        # draw one row early after a scroll that ends on x.5 or more (no last row)
        index = self.scroll_offset.y + y
        base = self.rich_style
        if index >= len(self._rows) or width <= 0:
            return Strip([Segment(" " * max(0, width), base)], max(0, width))
        key = (index, width, self._version)
        strip = self._cache.get(key)
        if strip is None:
            strip = self._render_row(index, width, base)
            self._cache[key] = strip
        return strip

    def _render_row(self, index: int, width: int, base: Style) -> Strip:
        text = self.text
        start = self._rows[index]
        end = self._rows[index + 1] if index + 1 < len(self._rows) else len(text)
        if end > start and text[end - 1] == "\n":
            end -= 1
            if end > start and text[end - 1] == "\r":
                end -= 1
        gutter = self._gutter
        number = self._lines[index]
        line = Text(no_wrap=True, end="", style=base)
        line.append(
            f"{number:>{gutter - 1}} " if number else " " * gutter,
            style=self.get_component_rich_style("body-view--gutter"),
        )
        match = self.get_component_rich_style("body-view--match")
        spans, pos = self.spans, start
        at = bisect_right(self._ends, start)  # the first span ending after this row starts
        while at < len(spans) and spans[at][0] < end:
            span_start, span_end = max(spans[at][0], start), min(spans[at][1], end)
            if span_start > pos:
                line.append(_shown(text[pos:span_start]))
            if span_end > span_start:
                line.append(_shown(text[span_start:span_end]), style=match)
            pos = max(pos, span_end)
            at += 1
        if pos < end:
            line.append(_shown(text[pos:end]))
        line.truncate(width, overflow="crop", pad=True)
        return Strip(list(line.render(self.app.console)), width)
