"""A virtual table: only the visible rows are formatted and rendered.

Rows are any records; a ``render_row`` callable turns one into cells when it
becomes visible, and strips are cached by (record key, width, highlight).
Appending thousands of rows costs a list extend and one refresh, so the
crawl's throughput does not depend on how many rows the table holds.

A cell is a ``str``, a ``Text``, or a :class:`FitCell`, which is shaped once
its column's width is known (a URL keeps its distinguishing end: see
``ui/format.py``'s ``fit_url``).  On a narrow table, columns with a ``drop``
rank are left out, highest rank first, before a flexible column would go
below its ``min_width``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

STRIP_CACHE = 400  # rendered lines kept per table


@dataclass(frozen=True, slots=True)
class FitCell:
    """A cell drawn as ``fit(value, width)`` in its column's width (instead of
    being cut at the end), in ``style``."""

    value: str
    fit: Callable[[str, int], str]
    style: str = ""

    def text(self, width: int) -> Text:
        return Text(self.fit(self.value, width), style=self.style)


Cell = str | Text | FitCell


@dataclass(frozen=True, slots=True)
class Column:
    title: str | FitCell  # a FitCell: a header that depends on the width too
    width: int | None = None  # None: share the remaining width (by weight)
    justify: str = "left"  # "left" or "right"
    min_width: int = 8
    weight: int = 1
    drop: int = 0  # > 0: left out of a narrow table (the highest first)


class RecordTable(ScrollView, can_focus=True):
    """A scrolling table over a list of records with a cursor and follow mode."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "cursor_up", "Up", show=False),
        Binding("down,j", "cursor_down", "Down", show=False),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False),
        Binding("home,g", "first", "First", show=False),
        Binding("end,G", "last", "Last/follow", show=False),
        Binding("enter", "select", "Open", show=False),
        Binding("F", "toggle_follow", "Follow", tooltip="Follow the newest row"),
    ]

    DEFAULT_CSS = """
    RecordTable {
        height: 1fr;
        overflow-x: hidden;
        overflow-y: scroll;
    }
    RecordTable > .record-table--header {
        text-style: bold;
        background: $panel;
        color: $text;
    }
    RecordTable > .record-table--cursor {
        background: $accent 40%;
    }
    RecordTable:focus > .record-table--cursor {
        background: $accent;
        color: $text;
    }
    """

    COMPONENT_CLASSES: ClassVar[set[str]] = {"record-table--header", "record-table--cursor"}

    cursor: reactive[int] = reactive(-1, always_update=True, repaint=False)
    follow: reactive[bool] = reactive(True)

    class RowMessage(Message):
        """Base of the table's messages: which table, which record."""

        def __init__(self, table: RecordTable, record: Any) -> None:
            super().__init__()
            self.table = table
            self.record = record

        @property
        def control(self) -> RecordTable:
            return self.table

    class Selected(RowMessage):
        """Enter pressed on a row."""

    class Highlighted(RowMessage):
        """The cursor moved to a row."""

    def __init__(
        self,
        columns: Sequence[Column],
        render_row: Callable[[Any], Sequence[Cell]],
        row_key: Callable[[Any], Any] = id,
        row_style: Callable[[Any], str | None] | None = None,
        row_version: Callable[[Any], Any] | None = None,
        *,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.columns = list(columns)
        self.render_row = render_row
        self.row_key = row_key
        self.row_style = row_style
        self.row_version = row_version  # part of the strip cache key (records that change)
        self.rows: list[Any] = []
        # Rendered lines: a few screens' worth, for scrolling back and forth. A
        # line of a wide table is 1.5-3 KB; 2,000 of them per table (as before)
        # held 3-6 MiB each once a following table had seen that many rows.
        self._cache: LRUCache[tuple[Any, Any, int, bool, bool], Strip] = LRUCache(STRIP_CACHE)
        self._widths: list[int] = []
        self._widths_for = -1
        self._paint_style: Style | None = None  # the table's style during one paint

    # -- data ------------------------------------------------------------------

    def set_rows(self, rows: list[Any]) -> None:
        """Replace every row (e.g. after a filter change)."""
        key = self.current_key()
        self.rows = rows
        self._cache.clear()
        self._update_size()
        if self.follow:
            self._move_to_end()
        elif key is None:  # a table that does not follow starts at its first row
            self.cursor = 0 if rows else -1
            self._scroll_to_cursor()
        else:
            for index, row in enumerate(rows):
                if self.row_key(row) == key:
                    self.cursor = index
                    break
            else:
                self.cursor = min(self.cursor, len(rows) - 1)
            self._scroll_to_cursor()
        self.refresh()

    def append_rows(self, rows: Sequence[Any]) -> None:
        if not rows:
            return
        self.rows.extend(rows)
        self._update_size()
        if self.follow:
            self._move_to_end()
        self.refresh()

    def trim_before(self, oldest_id: int) -> None:
        """Drop the leading rows whose ``id`` is below ``oldest_id`` (the recorder
        dropped those records)."""
        count = 0
        for row in self.rows:
            if row.id >= oldest_id:
                break
            count += 1
        self.trim_front(count)

    def trim_front(self, count: int) -> None:
        """Drop the oldest ``count`` rows."""
        if count <= 0:
            return
        del self.rows[:count]
        if self.cursor >= 0:
            self.cursor = max(0, self.cursor - count) if self.rows else -1
        self._update_size()
        self.refresh()

    def restyle(self) -> None:
        """Forget the rendered rows (the theme changed) and draw them again."""
        self._cache.clear()
        self.refresh()

    def set_columns(self, columns: Sequence[Column]) -> None:
        self.columns = list(columns)
        self._widths_for = -1
        self._cache.clear()
        self.refresh()

    def current(self) -> Any:
        if 0 <= self.cursor < len(self.rows):
            return self.rows[self.cursor]
        return None

    def current_key(self) -> Any:
        record = self.current()
        return None if record is None else self.row_key(record)

    # -- geometry -------------------------------------------------------------

    def _update_size(self) -> None:
        size = Size(self.size.width, len(self.rows) + 1)
        if size == self.virtual_size:
            return
        if self.is_mounted and self.size.height:
            # The vertical scrollbar is always shown, so a new row count never
            # changes the layout: skip the screen-wide layout pass that
            # assigning virtual_size triggers (the main cost of a busy table).
            self.set_reactive(RecordTable.virtual_size, size)
            self._scroll_update(size)
            self.refresh()
        else:
            self.virtual_size = size

    def on_resize(self) -> None:
        # a panel shown again gets a Resize at its old size: the strips still fit
        if self.scrollable_content_region.width != self._widths_for:
            self._widths_for = -1
            self._cache.clear()  # strips of the old width (the key has the width too)
        self._update_size()

    def _shown_columns(self, width: int) -> list[bool]:
        """Which columns fit: the droppable ones go, highest ``drop`` first, while the
        fixed widths and the flexible columns' minimums overflow ``width``."""
        shown = [True] * len(self.columns)
        need = sum((c.width or c.min_width) + 1 for c in self.columns) - 1
        for index in sorted(
            (i for i, c in enumerate(self.columns) if c.drop > 0),
            key=lambda i: -self.columns[i].drop,
        ):
            if need <= width:
                break
            shown[index] = False
            column = self.columns[index]
            need -= (column.width or column.min_width) + 1
        return shown

    def _column_widths(self, width: int) -> list[int]:
        """Each column's width; 0 for a column left out (no separator either)."""
        if width == self._widths_for:
            return self._widths
        shown = self._shown_columns(width)
        columns = [c for c, on in zip(self.columns, shown, strict=True) if on]
        fixed = sum(c.width or 0 for c in columns) + len(columns) - 1
        flex = [c for c in columns if c.width is None]
        spare = max(0, width - fixed)
        total_weight = sum(c.weight for c in flex) or 1
        widths = []
        for column, on in zip(self.columns, shown, strict=True):
            if not on:
                widths.append(0)
            elif column.width is not None:
                widths.append(column.width)
            else:
                widths.append(max(column.min_width, spare * column.weight // total_weight))
        # minimum widths may overflow a narrow table: take it back from the widest flex columns
        excess = sum(widths) + len(columns) - 1 - width
        flex_index = [i for i, c in enumerate(self.columns) if c.width is None and shown[i]]
        while excess > 0 and flex_index:
            widest = max(flex_index, key=lambda i: widths[i])
            if widths[widest] <= 3:
                break
            widths[widest] -= 1
            excess -= 1
        self._widths = widths
        self._widths_for = width
        return widths

    @property
    def page_height(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    # -- rendering ------------------------------------------------------------

    def _line(
        self, cells: Sequence[Cell], width: int, style: Style, over: Style | None = None
    ) -> Strip:
        widths = self._column_widths(width)
        # the row style is the base: cell colours (status, level) show on top of it
        text = Text(no_wrap=True, overflow="ellipsis", end="", style=style)
        first = True
        for cell, column, cw in zip(cells, self.columns, widths, strict=False):
            if not cw:  # a column left out of a narrow table
                continue
            if not first:
                text.append(" ")
            first = False
            if isinstance(cell, FitCell):
                piece = cell.text(cw)
            elif isinstance(cell, Text):
                piece = cell.copy()
            else:
                piece = Text(cell)
            piece.no_wrap = True
            piece.truncate(cw, overflow="ellipsis", pad=False)
            pad = cw - piece.cell_len
            if pad > 0:
                if column.justify == "right":
                    piece = Text(" " * pad) + piece
                else:
                    piece.append(" " * pad)
            text.append_text(piece)
        text.truncate(width, pad=True)
        if over is not None:  # the cursor row: one colour, readable on the highlight
            text.stylize(over)
        segments = list(text.render(self.app.console))
        return Strip(segments, width)

    def render_lines(self, crop: Region) -> list[Strip]:
        """Every line of one paint: the table's style is worked out once for all of
        them (``rich_style`` walks the widget's ancestors; per line it was a
        quarter of a paint's time with the Flows panel following a fast crawl)."""
        self._paint_style = self.rich_style
        try:
            return super().render_lines(crop)
        finally:
            self._paint_style = None

    def render_line(self, y: int) -> Strip:
        width = self.scrollable_content_region.width
        base = self._paint_style or self.rich_style
        if y == 0:
            header_style = self.get_component_rich_style("record-table--header")
            return self._line([c.title for c in self.columns], width, base + header_style)
        _, scroll_y = self.scroll_offset
        index = scroll_y + y - 1
        if index >= len(self.rows) or index < 0:
            return Strip([Segment(" " * width, base)], width)
        record = self.rows[index]
        selected = index == self.cursor
        version = self.row_version(record) if self.row_version else None
        # only the cursor row looks different with the focus (focusing the table
        # as its panel is shown left every other row's strip in the cache)
        key = (self.row_key(record), version, width, selected, selected and self.has_focus)
        strip = self._cache.get(key)
        if strip is None:
            style = base
            extra = self.row_style(record) if self.row_style else None
            if extra:
                style = style + Style.parse(extra)
            over = self.get_component_rich_style("record-table--cursor") if selected else None
            try:
                cells = self.render_row(record)
            except Exception as exc:  # a bad record must not break the table
                cells = [Text(f"<cannot render row: {type(exc).__name__}>", style="red")]
            strip = self._line(cells, width, style, over)
            self._cache[key] = strip
        return strip

    def on_focus(self) -> None:
        self.refresh()

    def on_blur(self) -> None:
        self.refresh()

    # -- cursor ---------------------------------------------------------------

    def watch_cursor(self, old: int, new: int) -> None:
        self.refresh()
        record = self.current()
        if record is not None and old != new:
            self.post_message(self.Highlighted(self, record))

    def _scroll_to_cursor(self) -> None:
        if self.cursor < 0:
            return
        top = int(self.scroll_y)
        height = self.page_height
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False)

    def _move_to_end(self) -> None:
        if self.rows:
            self.cursor = len(self.rows) - 1
            self._scroll_end()
            if not (self.is_mounted and self.size.height):
                # not laid out yet: the virtual size applies on the next layout
                self.call_after_refresh(self._scroll_end)
        else:
            self.cursor = -1

    def _scroll_end(self) -> None:
        if self.follow and self.rows:
            self.scroll_to(y=max(0, len(self.rows) - self.page_height), animate=False)

    def _move(self, delta: int) -> None:
        if not self.rows:
            return
        target = max(0, min(len(self.rows) - 1, (self.cursor if self.cursor >= 0 else 0) + delta))
        self.follow = target == len(self.rows) - 1 and delta > 0 and self.follow
        self.cursor = target
        self._scroll_to_cursor()

    def select_key(self, key: Any) -> bool:
        """Put the cursor on the row with this key (follow mode off)."""
        for index in range(len(self.rows) - 1, -1, -1):
            if self.row_key(self.rows[index]) == key:
                self.follow = False
                self.cursor = index
                self._scroll_to_cursor()
                return True
        return False

    def action_cursor_up(self) -> None:
        self.follow = False
        self._move(-1)

    def action_cursor_down(self) -> None:
        self._move(1)

    def action_page_up(self) -> None:
        self.follow = False
        self._move(-self.page_height)

    def action_page_down(self) -> None:
        self._move(self.page_height)

    def action_first(self) -> None:
        self.follow = False
        self._move(-len(self.rows))

    def action_last(self) -> None:
        self.follow = True
        self._move_to_end()

    def action_toggle_follow(self) -> None:
        self.follow = not self.follow
        if self.follow:
            self._move_to_end()
        self.notify("Following the newest row" if self.follow else "Follow off", timeout=1.5)

    def action_select(self) -> None:
        record = self.current()
        if record is not None:
            self.post_message(self.Selected(self, record))

    def on_click(self, event: Any) -> None:
        _, scroll_y = self.scroll_offset
        index = scroll_y + event.y - 1
        if 0 <= index < len(self.rows):
            self.follow = False
            if index == self.cursor and getattr(event, "chain", 1) >= 2:
                self.action_select()
            self.cursor = index
