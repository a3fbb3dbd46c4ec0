"""Items: scraped items as a table of fields; dropped items with their reason."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.recording.records import ItemRecord
from workbench.core.sources.base import Snapshot, Source
from workbench.ui import format as fmt
from workbench.ui.panels.base import Panel
from workbench.ui.widgets.record_table import Column, RecordTable

MAX_FIELD_COLUMNS = 12


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


def item_outcome(record: ItemRecord) -> Text:
    if record.dropped is not None:
        return Text("dropped", style="yellow")
    if record.error is not None:
        return Text("error", style="bold red")
    return Text("ok", style="green")


ALL = "*"


def is_url(value: Any) -> bool:
    """A field whose value is a URL (its column keeps the URL's end in view)."""
    return isinstance(value, str) and value.find("://", 0, 12) > 0


class ItemsPanel(Panel):
    """Items of one type as a table of its fields (or all types, fields inline)."""

    TITLE = "Items"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "cycle_type", "Item type", tooltip="Cycle the item type shown"),
    ]

    DEFAULT_CSS = """
    ItemsPanel #items-type { height: 1; color: $text-muted; }
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.cursor = 0
        self.kept: list[ItemRecord] = []
        self.type_counts: dict[str, int] = {}
        self.fields_of: dict[str, list[str]] = {}  # item class -> field names, first seen first
        self.value_width: dict[tuple[str, str], int] = {}
        self.url_fits: dict[tuple[str, str], fmt.UrlFit] = {}  # fields holding URLs
        self.url_columns = 0
        self.urls_changed = False  # rows drawn before are fitted otherwise: restyle
        self.item_type: str | None = None  # None: follow the most common type
        self.any_reason = False
        self.scope: str | None = None  # several crawlers: the one shown (None: all)

    def compose(self) -> Any:
        yield Static("", id="items-type")
        yield RecordTable(self._columns(), self._cells, row_key=lambda r: r.id, id="items-table")

    @property
    def table(self) -> RecordTable:
        return self.query_one("#items-table", RecordTable)

    @property
    def shown_type(self) -> str:
        if self.item_type is not None:
            return self.item_type
        if not self.type_counts:
            return ALL
        return max(self.type_counts, key=lambda k: self.type_counts[k])

    def _columns(self) -> list[Column]:
        columns = [Column("#", 6, "right"), Column("Time", 8), Column("Outcome", 7)]
        kind = self.shown_type
        if kind == ALL:
            columns += [Column("Type", 12), Column("Fields", None, weight=4)]
        else:
            for name in self.fields_of.get(kind, [])[:MAX_FIELD_COLUMNS]:
                width = self.value_width.get((kind, name), 8)
                urls = self.url_fits.get((kind, name))
                title = clean_line(name, 24)
                columns.append(
                    Column(
                        urls.header(title) if urls is not None else title,
                        None,
                        min_width=max(4, min(len(name), 12)),
                        weight=max(1, min(width, 60)),
                    )
                )
        if self.any_reason:
            columns.append(Column("Reason", 30))
        return columns

    def _cells(self, record: ItemRecord) -> list[Any]:
        cells: list[Any] = [str(record.id), fmt.clock(record.time), item_outcome(record)]
        kind = self.shown_type
        if kind == ALL:
            cells.append(clean_line(record.item_class, 40))
            cells.append(
                ", ".join(f"{clean_line(n, 40)}={value_text(v, 60)}" for n, v in record.fields)
            )
        else:
            values = dict(record.fields)
            for name in self.fields_of.get(kind, [])[:MAX_FIELD_COLUMNS]:
                if name not in values:
                    cells.append(Text("—", style="dim"))
                    continue
                value = values[name]
                urls = self.url_fits.get((kind, name))
                cells.append(urls.cell(value) if urls and is_url(value) else value_text(value))
        if self.any_reason:
            cells.append(clean_line(record.dropped or record.error or "", 300))
        return cells

    def _in_scope(self, record: ItemRecord) -> bool:
        return self.scope is None or record.spider == self.scope

    def _rows(self) -> list[ItemRecord]:
        kind = self.shown_type
        return [r for r in self.kept if (kind == ALL or r.item_class == kind)
                and self._in_scope(r)]  # fmt: skip

    def _learn(self, new: list[ItemRecord]) -> bool:
        """Note types and fields; True when the table's columns must change."""
        before = (
            self.shown_type,
            self.any_reason,
            {k: len(v) for k, v in self.fields_of.items()},
            len(self.type_counts),
            self.url_columns,
        )
        for record in new:
            kind = record.item_class
            self.type_counts[kind] = self.type_counts.get(kind, 0) + 1
            names = self.fields_of.setdefault(kind, [])
            for name, value in record.fields:
                if name not in names:
                    names.append(name)
                key = (kind, name)
                if self.type_counts[kind] <= 50:
                    width = len(value_text(value, 80))
                    self.value_width[key] = max(self.value_width.get(key, 0), width)
                if is_url(value):
                    urls = self.url_fits.get(key)
                    if urls is None:
                        urls = self.url_fits[key] = fmt.UrlFit()
                        self.url_columns += 1  # a new header: the columns change
                    if urls.see((value,)):
                        self.urls_changed = True
            if record.dropped or record.error:
                self.any_reason = True
        after = (
            self.shown_type,
            self.any_reason,
            {k: len(v) for k, v in self.fields_of.items()},
            len(self.type_counts),
            self.url_columns,
        )
        return before != after

    def _update_type_line(self) -> None:
        shown = self.shown_type
        line = Text("Types: ")
        total = sum(self.type_counts.values())
        kinds = [(ALL, f"all {total}")] + [
            (k, f"{clean_line(k, 40)} {n}") for k, n in sorted(self.type_counts.items())
        ]
        for kind, label in kinds:
            style = "bold reverse" if kind == shown else ""
            line.append(f" {label} ", style=style)
            line.append(" ")
        line.append("  t: next type", style="dim")
        self.query_one("#items-type", Static).update(line)

    def refresh_from(self, snapshot: Snapshot) -> None:
        new = self.source.items_since(self.cursor)
        self.cursor = snapshot.items_total
        if snapshot.scope != self.scope:  # another crawler (S): its types and fields
            self.scope = snapshot.scope
            self.type_counts, self.fields_of, self.value_width = {}, {}, {}
            self.url_fits, self.url_columns = {}, 0
            self.any_reason = False
            self._learn([r for r in self.kept if self._in_scope(r)])
            if self.item_type not in (None, ALL, *self.type_counts):
                self.item_type = None  # a type this crawler has not: its own commonest
            self.table.set_columns(self._columns())
            self.table.set_rows(self._rows())
            self._update_type_line()
        if new:
            oldest = self.mirror(self.kept, new, snapshot.items_kept)
            self.urls_changed = False
            changed = self._learn([r for r in new if self._in_scope(r)])
            table = self.table
            if oldest is not None:
                table.trim_before(oldest)
            if changed:
                table.set_columns(self._columns())
                table.set_rows(self._rows())
            else:
                if self.urls_changed:
                    table.restyle()
                kind = self.shown_type
                table.append_rows([r for r in new if (kind == ALL or r.item_class == kind)
                                   and self._in_scope(r)])  # fmt: skip
            self._update_type_line()
        dropped = snapshot.items_total - snapshot.items_kept
        parts = [f"{fmt.number(snapshot.items_scraped)} scraped"]
        if snapshot.items_dropped:
            parts.append(f"[yellow]{fmt.number(snapshot.items_dropped)} dropped[/]")
        if snapshot.items_failed:
            parts.append(f"[red]{fmt.number(snapshot.items_failed)} failed[/]")
        if dropped:
            parts.append(f"{fmt.number(dropped)} oldest not kept")
        parts.append("Enter: all fields · t: type")
        self.set_subtitle(" · ".join(parts))

    def show_type(self, kind: str) -> None:
        self.item_type = kind
        self.table.set_columns(self._columns())
        self.table.set_rows(self._rows())
        self._update_type_line()

    def action_cycle_type(self) -> None:
        kinds = [ALL, *sorted(self.type_counts)]
        current = self.shown_type
        index = (kinds.index(current) + 1) % len(kinds) if current in kinds else 0
        self.show_type(kinds[index])

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        from workbench.ui.screens.text_view import TextScreen

        record: ItemRecord = event.record
        lines = [f"{name}: {value_text(value, 100_000)}" for name, value in record.fields]
        if record.dropped:
            lines.append(f"\nDropped: {record.dropped}")
        if record.error:
            lines.append(f"\nError: {record.error}")
        if record.flow_id is not None:
            lines.append(f"\nFrom flow #{record.flow_id}")
        self.app.push_screen(TextScreen(f"{record.item_class} #{record.id}", "\n".join(lines)))
