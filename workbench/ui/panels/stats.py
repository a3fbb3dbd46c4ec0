"""Stats: every Scrapy stat, live, pages/min and items/min over time, and what
changed since the last run of the same spider (``Source.run_comparison``)."""

from __future__ import annotations

import datetime
from typing import Any

from rich.text import Text
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.recording.run_changes import BETTER, WORSE, RunComparison, clock
from workbench.core.recording.runs import when
from workbench.core.sources.base import Snapshot, Source
from workbench.ui import format as fmt
from workbench.ui.panels.base import Panel
from workbench.ui.widgets.record_table import Column, RecordTable
from workbench.ui.widgets.time_chart import TimeChart

CHART_POINTS = 120  # seconds of history drawn
CHANGES_SHOWN = 10  # lines of "Since the last run"; workbench runs lists them all
TONE_MARKS = {WORSE: ("✗ ", "red"), BETTER: ("✓ ", "green")}


def stat_value(value: Any) -> str:
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    if isinstance(value, float):
        return f"{value:,.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return clean_line(repr(value), 300)


class StatsPanel(Panel):
    TITLE = "Stats"

    DEFAULT_CSS = """
    StatsPanel #stats-body { height: 1fr; }
    StatsPanel #stats-table { width: 1fr; }
    StatsPanel #stats-charts { width: 1fr; padding: 0 1; }
    StatsPanel TimeChart { height: 8; margin-top: 1; }
    StatsPanel #stats-summary { height: auto; }
    StatsPanel #stats-since { height: auto; margin-top: 1; }
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self._last_stats: dict[str, Any] = {}

    def compose(self) -> Any:
        with Horizontal(id="stats-body"):
            yield RecordTable(
                [Column("Stat", None, min_width=20), Column("Value", 30, "right")],
                lambda row: [clean_line(row[0], 200), stat_value(row[1])],
                row_key=lambda row: row[0],
                id="stats-table",
            )
            with VerticalScroll(id="stats-charts"):  # the section can be long: 80 columns
                yield Static("", id="stats-summary")
                yield Static("", id="stats-since")
                yield TimeChart("Pages/min", fmt.number, "green", id="pages-chart")
                yield TimeChart("Items/min", fmt.number, "magenta", id="items-chart")

    def on_mount(self) -> None:
        self.query_one("#stats-table", RecordTable).follow = False

    def refresh_from(self, snapshot: Snapshot) -> None:
        stats = snapshot.stats
        if stats != self._last_stats:
            self._last_stats = stats
            self.query_one("#stats-table", RecordTable).set_rows(sorted(stats.items()))
        history = snapshot.history[-CHART_POINTS:]
        now = history[-1].time if history else snapshot.time
        # step 0: the history fits the width (its oldest point at the left edge)
        self.query_one("#pages-chart", TimeChart).set_data(
            [(s.time, s.pages_per_min) for s in history], now, 0
        )
        self.query_one("#items-chart", TimeChart).set_data(
            [(s.time, s.items_per_min) for s in history], now, 0
        )
        reason = snapshot.status.finish_reason or "—"
        summary = Text.assemble(
            "Spider ",
            (clean_line(snapshot.spider, 80), "bold"),
            "   state ",
            (snapshot.status.state, "bold"),
            f"\nElapsed {fmt.duration(snapshot.elapsed)}   finish reason ",
            (clean_line(reason, 80), "bold"),
            f"\nPages {fmt.number(snapshot.pages)}   items {fmt.number(snapshot.items_scraped)}"
            f"   bodies kept {snapshot.bodies_kept} ({fmt.size(snapshot.body_bytes)})",
        )
        self.query_one("#stats-summary", Static).update(summary)
        since = self.query_one("#stats-since", Static)
        comparison = self.source.run_comparison()
        since.display = comparison is not None
        if comparison is not None:
            since.update(since_text(comparison, snapshot.time))
        self.set_subtitle(f"{len(stats)} stats")


def since_text(comparison: RunComparison, now: float) -> Text:
    """The section under the summary: the last run's date and figures, then each
    change since (the most telling first, at most CHANGES_SHOWN)."""
    previous, current = comparison.previous, comparison.current
    reason = clean_line(previous.finish_reason or "?", 60)
    took = f" in {clock(previous.duration)}" if previous.duration is not None else ""
    text = Text.assemble(
        ("Since the last run", "bold"),
        f" ({when(previous.started, now)})",
        (
            f"\nthen: {fmt.number(previous.pages)} pages, {fmt.number(previous.items)} items"
            f"{took}, {reason}",
            "dim",
        ),
    )
    if comparison.too_early:
        text.append(
            f"\nnow: {fmt.number(current.pages)} pages so far, too few to compare", style="dim"
        )
        return text
    if comparison.live:
        text.append(
            f"\nnow: {fmt.number(current.pages)} pages so far, counts compared per page",
            style="dim",
        )
    changes = comparison.changes
    if not changes:
        text.append("\nno change beyond noise")
        return text
    for change in changes[:CHANGES_SHOWN]:
        mark, style = TONE_MARKS.get(change.tone, ("· ", "dim"))
        text.append("\n")
        text.append(mark, style=style)
        text.append(change.text)  # made safe in core (run_changes)
    more = len(changes) - CHANGES_SHOWN
    if more > 0:
        text.append(f"\n… {more} more (workbench runs lists them)", style="dim")
    return text
