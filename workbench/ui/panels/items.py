"""Items: scraped items as a table of fields; dropped items with their reason.

A filter in the flows' language (``f``: ``!~f title``, ``~outcome dropped``,
``~it Product``, and the flow operators on the item's flow), the values not
filled highlighted (None, empty, a missing field), and a line that says the
field filled least often, one key (``h``) from the Items health view.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Input, Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.inspection.filters import ITEMS, FlowFilter, ItemSubject
from workbench.core.inspection.filters import parse_filter as parse
from workbench.core.recording.item_health import FieldHealth, ItemHealth
from workbench.core.recording.records import ItemRecord
from workbench.core.sources.base import Snapshot, Source
from workbench.ui import format as fmt
from workbench.ui.panels.base import FilterBox, Panel
from workbench.ui.screens.item_detail import MISSING_CELL, ItemScreen, field_cell, value_text
from workbench.ui.screens.item_health import ItemHealthScreen, items_filter
from workbench.ui.widgets.record_table import Column, RecordTable

MAX_FIELD_COLUMNS = 12


# what an empty filter box says: nothing in force (as the Flows panel's)
PLACEHOLDER = "No filter: every item is shown.  f or / to filter"


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


class ItemsPanel(FilterBox, Panel):
    FILTER_ID = "item-filter"
    """Items of one type as a table of its fields (or all types, fields inline)."""

    TITLE = "Items"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("t", "cycle_type", "Item type", tooltip="Cycle the item type shown"),
        Binding(
            "f,slash",
            "focus_filter",
            "Filter",
            tooltip="Filter items: !~f FIELD, ~outcome dropped, ~it TYPE, flow operators",
        ),
        Binding("escape", "leave_filter", "Back to list", show=False),
        Binding(
            "h",
            "health",
            "Health",
            tooltip="Items health: each field's fill rate, worst first, with examples",
        ),
    ]

    DEFAULT_CSS = """
    ItemsPanel #item-filter { height: 3; }
    ItemsPanel #item-filter:blur { color: $text-muted; }
    ItemsPanel #item-filter-error { color: $error; height: auto; }
    ItemsPanel #item-filter-error.-hidden { display: none; }
    ItemsPanel #items-type { height: 1; color: $text-muted; }
    ItemsPanel #items-health { height: 1; text-wrap: nowrap; text-overflow: ellipsis; }
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
        self.last_snapshot: Snapshot | None = None
        self.any_reason = False
        self.scope: str | None = None  # several crawlers: the one shown (None: all)
        self.filter: FlowFilter = parse("", ITEMS)
        self.health = ItemHealth()  # the last one shown
        self.match_counts: dict[str, int] = {}  # item type -> items the filter keeps

    def compose(self) -> Any:
        yield Input(placeholder=PLACEHOLDER, id="item-filter")
        yield Static("", id="item-filter-error", classes="-hidden")
        yield Static("", id="items-type")
        yield Static("", id="items-health")
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
            cells.append(inline_fields(record))
        else:
            values = dict(record.fields)
            for name in self.fields_of.get(kind, [])[:MAX_FIELD_COLUMNS]:
                if name not in values:
                    cells.append(MISSING_CELL)
                    continue
                value = values[name]
                urls = self.url_fits.get((kind, name))
                cells.append(urls.cell(value) if urls and is_url(value) else field_cell(value))
        if self.any_reason:
            cells.append(clean_line(record.dropped or record.error or "", 300))
        return cells

    def _in_scope(self, record: ItemRecord) -> bool:
        return self.scope is None or record.spider == self.scope

    def _matches(self, record: ItemRecord) -> bool:
        """Of the crawler in scope and the filter's (whatever its type)."""
        if not self._in_scope(record):
            return False
        if self.filter.matches_all:
            return True
        flow = self.source.flow(record.flow_id) if record.flow_id is not None else None
        try:
            return self.filter(ItemSubject(record, flow), self._body_of)
        except Exception:
            return False

    def _body_of(self, subject: Any) -> bytes | None:
        flow_id = subject.id
        stored = self.source.body(flow_id) if flow_id is not None else None
        return stored.body if stored is not None else None

    def _matching(self, records: list[ItemRecord]) -> list[ItemRecord]:
        """The records the filter keeps, counted by type (``match_counts``)."""
        matched = [r for r in records if self._matches(r)]
        if not self.filter.matches_all:
            counts = self.match_counts
            for record in matched:
                counts[record.item_class] = counts.get(record.item_class, 0) + 1
        return matched

    def _rows(self) -> list[ItemRecord]:
        """Every kept record the table shows now (the filter's counts made again)."""
        self.match_counts = {}
        kind = self.shown_type
        return [r for r in self._matching(self.kept) if kind == ALL or r.item_class == kind]

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
        counts = self.match_counts
        if self.filter.matches_all:
            kinds = [(ALL, f"all {total}")] + [
                (k, f"{clean_line(k, 40)} {n}") for k, n in sorted(self.type_counts.items())
            ]
        else:  # how many of each the filter keeps: a match in another type shows
            kinds = [(ALL, f"all {sum(counts.values())}/{total}")] + [
                (k, f"{clean_line(k, 40)} {counts.get(k, 0)}/{n}")
                for k, n in sorted(self.type_counts.items())
            ]
        for kind, label in kinds:
            style = "bold reverse" if kind == shown else ""
            line.append(f" {label} ", style=style)
            line.append(" ")
        line.append("  t: next type", style="dim")
        if not self.filter.matches_all:
            line.append(" · n/m: matching the filter/all", style="dim")
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
                table.append_rows([r for r in self._matching(new)
                                   if kind == ALL or r.item_class == kind])  # fmt: skip
            self._update_type_line()
        self._update_health()
        self.last_snapshot = snapshot
        self._title(snapshot)

    def _title(self, snapshot: Snapshot) -> None:
        dropped = snapshot.items_total - snapshot.items_kept
        parts = [Text(f"{fmt.number(snapshot.items_scraped)} scraped")]
        if snapshot.items_dropped:
            parts.append(Text(f"{fmt.number(snapshot.items_dropped)} dropped", style="yellow"))
        if snapshot.items_failed:
            parts.append(Text(f"{fmt.number(snapshot.items_failed)} failed", style="red"))
        if dropped:
            parts.append(Text(f"{fmt.number(dropped)} oldest not kept"))
        if not self.filter.matches_all:  # typed text: never markup
            parts.append(Text(f"{fmt.number(len(self.table.rows))} shown", style="bold"))
            parts.append(Text(f"filter: {clean_line(self.filter.expression, 60)}"))
        parts.append(Text("Enter: item · t: type · f: filter · h: health"))
        self.set_subtitle(Text(" · ").join(parts))

    def _update_health(self) -> None:
        """The field filled least often, in words, and the fields the types declare."""
        health = self.source.item_health()
        if health is self.health:
            return
        self.health = health
        if self._learn_declared(health):
            self.table.set_columns(self._columns())
            self.table.set_rows(self._rows())
        self.query_one("#items-health", Static).update(health_line(health))

    def _learn_declared(self, health: ItemHealth) -> bool:
        """Columns for the fields a type has that no item kept here showed (a
        declared field never set); True when the columns change."""
        changed = False
        for kind in health.types:
            if kind.name not in self.type_counts:
                continue
            names = self.fields_of.setdefault(kind.name, [])
            for row in kind.fields:
                if row.field not in names:
                    names.append(row.field)
                    changed = changed or kind.name == self.shown_type
        return changed

    def expected_fields(self, kind: str) -> tuple[str, ...]:
        """The fields of a type: what its class declares and its items had."""
        health = self.health.type(kind)
        return tuple(f.field for f in health.fields) if health is not None else ()

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
        record: ItemRecord = event.record
        expected = self.expected_fields(record.item_class)
        self.app.push_screen(ItemScreen(self.source, record, expected))

    # -- filter and health ------------------------------------------------------

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != self.FILTER_ID:
            return
        new_filter = self.parse_box(event, lambda text: parse(text, ITEMS))
        if new_filter is None:
            return
        self.filter = new_filter
        self.table.set_rows(self._rows())
        self._update_type_line()
        if self.last_snapshot is not None:
            self._title(self.last_snapshot)

    def action_health(self) -> None:
        self.app.push_screen(ItemHealthScreen(self.source), self._health_closed)

    def _health_closed(self, row: FieldHealth | None) -> None:
        """The health view closed with ``f`` on a field: show its items."""
        if row is None:
            return
        if row.item_type in self.type_counts:
            self.show_type(row.item_type)
        expression = items_filter(row)
        self.query_one("#item-filter", Input).value = expression  # Changed applies it
        self.table.focus()


def inline_fields(record: ItemRecord) -> Text:
    """Every field as ``name=value``, the ones not filled highlighted."""
    text = Text()
    for n, (name, value) in enumerate(record.fields):
        if n:
            text.append(", ")
        text.append(f"{clean_line(name, 40)}=")
        cell = field_cell(value, 60)
        text.append(cell)
    return text


def health_line(health: ItemHealth) -> Text:
    """The field filled least often, in words, with its first example's URL."""
    line = Text("h: health ", style="dim")
    problems = health.problems()
    if not problems:
        if health.total:
            line.append(f"every field filled in {health.total:,} items", style="green")
        return line
    worst = problems[0]
    line.append("│ ", style="dim")
    line.append(clean_line(worst.sentence(), 300), style="bold yellow")
    first = worst.examples[0] if worst.examples else None
    if first is not None and first.url:
        line.append(f", first at {clean_line(first.url, 300)}")
    more = len(problems) - 1
    if more:
        line.append(f" · {more} more field{'s' if more != 1 else ''} not always filled", "dim")
    return line
