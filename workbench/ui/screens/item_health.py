"""Items health (``h`` in the Items panel): each field of each item type, how
often it was filled, worst first, with the first items where it was not.

The rows are :class:`~workbench.core.recording.item_health.FieldHealth`
(counted in core as items are recorded, attached crawls included); the pane
under the table says the highlighted row in words and lists its first
examples.  Enter opens the selected example's flow; ``f`` shows the items
without the field in the Items panel (the screen closes with that row, the
panel filters with :func:`items_filter`).
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.recording.item_health import FieldHealth, ItemHealth, percent
from workbench.ui import format as fmt
from workbench.ui.widgets.record_table import Column, RecordTable

BAR = 10  # cells of the fill bar
PARTS = " ▏▎▍▌▋▊▉"


def fill_style(row: FieldHealth) -> str:
    if not row.unfilled:
        return "green"
    return "bold red" if row.fill_rate < 0.5 else "yellow" if row.fill_rate < 0.95 else ""


def fill_bar(rate: float, width: int = BAR) -> str:
    """``rate`` (0..1) as a bar of ``width`` cells, in eighths."""
    eighths = round(max(0.0, min(1.0, rate)) * width * 8)
    full, part = divmod(eighths, 8)
    bar = "█" * full + (PARTS[part] if part else "")
    return bar.ljust(width)


def count_cell(n: int) -> Text:
    return Text(f"{n:,}", style="yellow") if n else Text("·", style="dim")


def example_url(url: str | None, limit: int = 300) -> str:
    return clean_line(url, limit) if url else "(its flow is unknown)"


def health_cells(row: FieldHealth, urls: fmt.UrlFit | None = None) -> list[Any]:
    filled = Text(fill_bar(row.fill_rate), style=fill_style(row))
    filled.append(f" {percent(row.filled, row.total):>5}")
    first = row.examples[0] if row.examples else None
    if first is None:
        example: Any = Text("—", style="dim")
    elif first.url and urls is not None:
        example = urls.cell(first.url)
    else:
        example = example_url(first.url)
    return [
        clean_line(row.item_type, 40),
        Text(clean_line(row.field, 60)) + Text("" if row.declared else " *", style="dim"),
        filled,
        count_cell(row.missing),
        count_cell(row.none),
        count_cell(row.empty),
        example,
    ]


def health_columns(urls: fmt.UrlFit) -> list[Column]:
    return [
        Column("Type", 12),
        Column("Field", 16),
        Column("Filled", BAR + 6),
        Column("Missing", 7, "right"),
        Column("None", 6, "right"),
        Column("Empty", 6, "right"),
        Column(urls.header("First not filled"), None, min_width=20),
    ]


def items_filter(row: FieldHealth) -> str:
    """The Items filter of the items where ``row``'s field is not filled."""
    field = row.field
    if re.fullmatch(r"[^\s=()&|!\"'~]+", field):
        term = f"!~f {field}"
    else:  # quoted: a name with spaces, quotes or operators
        term = "!~f '" + field.replace("'", "\\'") + "'"
    return f"{term} & ~it '^{re.escape(row.item_type)}$'"


class ItemHealthScreen(Screen[FieldHealth | None]):
    """Each field's fill rate, worst first; closes with the field whose items to
    show (``f``), or None."""

    HELP_TITLE: ClassVar[str] = "Items health (h in the Items panel)"  # its ? section

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("n", "next_example", "Next example", tooltip="Select the row's next example"),
        Binding(
            "f",
            "show_items",
            "Show these items",
            tooltip="Show the items without this field in the Items panel (its filter)",
        ),
    ]

    DEFAULT_CSS = """
    ItemHealthScreen #health-title { height: auto; padding: 0 1; }
    ItemHealthScreen #health-box { border: round $primary; height: 1fr; padding: 0 1; }
    ItemHealthScreen #health-table { height: 1fr; }
    ItemHealthScreen #health-detail { height: auto; max-height: 8; border-top: solid $primary 50%; }
    """

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.source = source
        self.health = ItemHealth()
        self.example = 0  # the selected example of the highlighted row
        self.urls = fmt.UrlFit()  # what the first examples' URLs share

    def compose(self) -> Any:
        yield Static("", id="health-title")
        with Vertical(id="health-box"):
            yield RecordTable(
                health_columns(self.urls),
                lambda row: health_cells(row, self.urls),
                row_key=lambda r: (r.item_type, r.field),
                row_style=lambda r: "dim" if not r.unfilled else None,
                row_version=lambda r: (r.total, r.filled, r.none, r.empty),
                id="health-table",
            )
            yield Static("", id="health-detail")
        yield Footer()

    @property
    def table(self) -> RecordTable:
        return self.query_one("#health-table", RecordTable)

    def on_mount(self) -> None:
        self.table.follow = False
        self.table.focus()
        self.update()
        self.set_interval(1.0, self.update)

    def update(self) -> None:
        health = self.source.item_health()
        if health is self.health and self.table.rows:
            return
        self.health = health
        rows = health.rows()
        self.urls.reset()
        self.urls.see(r.examples[0].url or "" for r in rows if r.examples)
        self.table.set_rows(rows)
        self._title()
        self._detail()

    def _title(self) -> None:
        health = self.health
        title = Text("Items health: ", style="bold")
        kinds = len(health.types)
        title.append(f"{health.total:,} items of {kinds} type{'s' if kinds != 1 else ''}")
        problems = health.problems()
        if problems:
            title.append(" · ")
            many = len(problems)
            title.append(f"{many} field{'s' if many != 1 else ''} not always filled", "yellow")
        elif health.total:
            title.append(" · every field of every item is filled", style="green")
        if health.types_uncounted:
            title.append(f" · {health.types_uncounted:,} items of more types not counted")
        dropped = sum(t.dropped for t in health.types)
        failed = sum(t.failed for t in health.types)
        if dropped or failed:
            parts = [f"{n:,} {w}" for n, w in ((dropped, "dropped"), (failed, "failed")) if n]
            title.append(f" · counted with the {' and '.join(parts)} by a pipeline", style="dim")
        if any(not f.declared for f in health.rows()):
            title.append("\n* a key of some items, not a field the item class declares", "dim")
        self.query_one("#health-title", Static).update(title)

    def _detail(self) -> None:
        row: FieldHealth | None = self.table.current()
        detail = self.query_one("#health-detail", Static)
        if row is None:
            detail.update(Text("No items yet.", style="dim"))
            return
        text = Text()
        text.append(clean_line(row.sentence(), 400), style="bold" if row.unfilled else "")
        if not row.examples:
            detail.update(text)
            return
        self.example = min(self.example, len(row.examples) - 1)
        for n, example in enumerate(row.examples):
            chosen = n == self.example
            text.append("\n▶ " if chosen else "\n  ", style="bold")
            text.append(f"item #{example.item_id:<6} ", style="bold" if chosen else "dim")
            text.append(f"{example.state:<8}", style="yellow")
            text.append(example_url(example.url))
        text.append(
            "\nEnter: the selected example's flow · n: next example"
            " · f: these items in the Items panel",
            style="dim",
        )
        detail.update(text)

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        event.stop()
        self.example = 0
        self._detail()

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        row: FieldHealth = event.record
        if not row.examples:
            self.notify(f"{clean_line(row.field, 60)} is filled in every item.", markup=False)
            return
        example = row.examples[min(self.example, len(row.examples) - 1)]
        flow = self.source.flow(example.flow_id) if example.flow_id is not None else None
        if flow is None:
            why = "came from no recorded flow" if example.flow_id is None else "is no longer kept"
            self.notify(f"The flow of item #{example.item_id} {why}.", severity="warning")
            return
        from workbench.ui.screens.flow_detail import FlowDetailScreen

        self.app.push_screen(FlowDetailScreen(self.source, flow, tab="produced"))

    def action_next_example(self) -> None:
        row: FieldHealth | None = self.table.current()
        if row is not None and row.examples:
            self.example = (self.example + 1) % len(row.examples)
            self._detail()

    def action_show_items(self) -> None:
        row: FieldHealth | None = self.table.current()
        if row is None:
            return
        if not row.unfilled:
            self.notify(f"{clean_line(row.field, 60)} is filled in every item.", markup=False)
            return
        self.dismiss(row)

    def action_close(self) -> None:
        self.dismiss(None)
