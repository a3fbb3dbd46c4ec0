"""Refs: Scrapy's trackref live objects per class, over time, with a leak hint.

What ``prefs()`` prints, live: the count of every tracked class, its change
since the last sample and since a baseline (``m``), its growth per minute,
its oldest object's age and a trend.  A class that keeps growing while pages
complete is flagged, and the most common referrer path of its oldest objects
is searched in the background and named.  Enter lists a class's objects.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.widgets import Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.leaks.liverefs import RefRow, RefsView
from workbench.core.sources.base import Snapshot, Source
from workbench.ui import format as fmt
from workbench.ui.panels.base import Panel
from workbench.ui.widgets.record_table import Column, RecordTable
from workbench.ui.widgets.time_chart import TimeChart

logger = logging.getLogger(__name__)

BARS = "▁▂▃▄▅▆▇█"


TREND = 40  # samples in the trend column


def trend(values: tuple[int, ...], width: int = TREND) -> str:
    """A sparkline in characters (one table cell) of the last ``width`` values,
    scaled from zero: a flat series is a flat line at its height, not a cliff
    (scaled from its own minimum, 21 then 20 read as full then empty)."""
    values = values[-width:]
    if not values:
        return ""
    high = max(values)
    if high <= 0:
        return BARS[0] * len(values)
    return "".join(BARS[max(0, min(7, (v * 8 - 1) // high))] for v in values)


def age(seconds: float) -> str:
    if seconds <= 0:
        return "-"
    if seconds < 60:
        return f"{seconds:.0f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m{seconds % 60:02.0f}s"
    return fmt.duration(seconds)


def signed(n: int | None) -> Text:
    if n is None:
        return Text("-", style="dim")
    if n == 0:
        return Text("0", style="dim")
    return Text(f"{n:+,}", style="yellow" if n > 0 else "green")


def ref_cells(row: RefRow) -> list[Any]:
    name = Text(clean_line(row.name, 60), style="dim" if row.ignored else "")
    if row.leak is not None:
        name = Text.assemble(("⚠ ", "bold red"), (clean_line(row.name, 60), "bold red"))
    return [
        name,
        f"{row.count:,}",
        signed(row.delta),
        signed(row.since_baseline),
        Text(f"{row.per_minute:+,.0f}", style="yellow" if row.per_minute >= 1 else "dim"),
        age(row.oldest_age),
        Text(trend(row.history), style="red" if row.leak else "cyan"),
    ]


# (title, sort key, descending by default)
SORTS: list[tuple[str, Any, bool]] = [
    ("class", lambda r: r.name.lower(), False),
    ("live", lambda r: r.count, True),
    ("change", lambda r: r.delta, True),
    ("since baseline", lambda r: r.since_baseline or 0, True),
    ("growth", lambda r: r.per_minute, True),
    ("oldest", lambda r: r.oldest_age, True),
]


class RefsPanel(Panel):
    TITLE = "Live refs"
    MIN_REFRESH = 1.0  # the data changes once a second (a trackref sample)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "sort_next", "Sort", tooltip="Sort by the next column"),
        Binding("O", "sort_reverse", "Reverse", show=False, tooltip="Reverse the sort order"),
        Binding("m", "mark_baseline", "Baseline", tooltip="Set the baseline to the counts now"),
        Binding("M", "clear_baseline", "Clear base", show=False, tooltip="Clear the baseline"),
        Binding("h", "toggle_ignore", "Ignore", tooltip="Ignore the class, like prefs(ignore=)"),
        Binding("H", "toggle_show_ignored", "Show ign.", show=False, tooltip="Show ignored"),
        Binding("e", "export", "Export", tooltip="The prefs() text, to copy or save"),
        Binding("l", "leak_path", "Who holds", tooltip="Search what holds the class's objects"),
    ]

    DEFAULT_CSS = """
    RefsPanel #refs-hint { height: auto; max-height: 6; color: $text; background: $error 20%;
                           padding: 0 1; display: none; }
    RefsPanel #refs-hint.-leak { display: block; }
    RefsPanel #refs-table { height: 1fr; }
    RefsPanel #refs-chart { height: 6; margin-top: 1; }
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.view: RefsView | None = None
        self.sort_index = 1  # live, biggest first
        self.descending = True
        self.show_ignored = False
        self.searching: set[str] = set()
        self._shown: tuple[Any, ...] | None = None
        self._hint_lines = 0
        self._flagged: set[str] = set()  # classes flagged so far (selected once)

    def compose(self) -> Any:
        yield Static("", id="refs-hint")
        yield RecordTable(
            [
                Column("Class", None, min_width=16),
                Column("Live", 9, "right"),
                Column("Δ", 7, "right"),
                Column("Since base", 10, "right"),
                Column("/min", 8, "right"),
                Column("Oldest", 8, "right"),
                Column(f"Trend (last {TREND} samples)", TREND + 2),
            ],
            ref_cells,
            row_key=lambda r: r.key,
            id="refs-table",
        )
        yield TimeChart("Live objects", fmt.number, "cyan", id="refs-chart")

    def on_mount(self) -> None:
        self.query_one("#refs-table", RecordTable).follow = False

    # -- refresh -------------------------------------------------------------------

    def refresh_from(self, snapshot: Snapshot) -> None:
        view = self.source.refs()
        shown = (view.time, self.sort_index, self.descending, self.show_ignored, view.ignored,
                 view.baseline_time, len(self.searching), tuple(
                     r.leak.path if r.leak else None for r in view.rows))  # fmt: skip
        if shown == self._shown:
            return  # nothing new since the last sample (once a second): no repaint
        self._shown = shown
        self.view = view
        rows = [r for r in view.rows if self.show_ignored or not r.ignored]
        title, key, _ = SORTS[self.sort_index]
        rows.sort(key=key, reverse=self.descending)
        table = self.query_one("#refs-table", RecordTable)
        first_rows = not table.rows and rows
        table.set_rows(rows)
        if first_rows:
            table.action_first()
        self._show_chart(table.current() or (rows[0] if rows else None))
        self._show_hint(view)
        total = sum(r.count for r in view.rows if not r.ignored)
        base = (
            f"baseline {fmt.clock(snapshot.time - (view.time - view.baseline_time))}"
            if view.baseline_time is not None
            else "no baseline (m)"
        )
        hidden = sum(1 for r in view.rows if r.ignored)
        ignored = f" · {hidden} ignored (H shows)" if hidden and not self.show_ignored else ""
        order = "↓" if self.descending else "↑"
        self.set_subtitle(
            f"{total:,} live objects in {len(view.rows)} classes · sorted by {title} {order} (o) · "
            f"{base}{ignored} · Enter: objects"
        )

    def _show_chart(self, row: RefRow | None) -> None:
        """The selected class's live count over time, from zero (a y scale and a
        time axis: a flat series reads flat, a real fall reads as one)."""
        chart = self.query_one("#refs-chart", TimeChart)
        if row is None:
            chart.title = "Live objects"
            chart.set_data([], 0.0, self._interval())
            return
        step = self._interval()
        history = row.history
        chart.title = f"{clean_line(row.name, 60)} live"
        points = [(i * step, float(c)) for i, c in enumerate(history)]
        note = f"min {min(history, default=0):,} · a sample every {step:g}s"
        chart.set_data(points, (len(history) - 1) * step, step, note)

    def _interval(self) -> float:
        return self.view.interval if self.view is not None else 1.0

    def _show_hint(self, view: RefsView) -> None:
        hint = self.query_one("#refs-hint", Static)
        leaks = [r for r in view.rows if r.leak is not None]
        hint.set_class(bool(leaks), "-leak")
        if not leaks:
            return
        lines: list[Text] = []
        flagged = {r.name for r in leaks}

        def holder(row: RefRow) -> str | None:
            """The flagged class that holds this one (a consequence, not a cause)."""
            path = row.leak.path if row.leak is not None else None
            first = path.split(" -> ")[0].split(".")[0] if path else None
            return first if first in flagged and first != row.name else None

        # causes first, then what they drag along
        ordered = sorted(leaks, key=lambda r: (holder(r) is not None, -r.per_minute))
        new = [r for r in ordered if r.key not in self._flagged]
        if new:  # a class was just flagged: select it, so Enter drills down into it
            self._flagged.update(r.key for r in new)
            self.query_one("#refs-table", RecordTable).select_key(ordered[0].key)
            self._show_chart(ordered[0])
        for row in ordered[:3]:
            assert row.leak is not None
            cause = holder(row)
            path = clean_line(row.leak.path or "", 300)
            if cause is not None:
                lines.append(
                    Text.assemble(
                        ("⚠ ", "bold yellow"),
                        f"{clean_line(row.name, 60)} grows too, held by the "
                        f"{clean_line(cause, 60)}s: {path} ({row.leak.path_share})",
                    )
                )
                continue
            message = clean_line(row.leak.message, 300)
            lines.append(Text.assemble(("⚠ Possible leak: ", "bold red"), message))
            if path:
                lines.append(
                    Text.assemble(
                        "  held by ",
                        (path, "bold"),
                        f"  ({row.leak.path_share}) · Enter on the class to see each object",
                    )
                )
            elif row.key in self.searching:
                lines.append(Text("  searching what holds them…", style="italic"))
        due = [
            r.key
            for r in leaks
            if r.leak is not None
            and not r.leak.path
            and r.key not in self.searching
            and self.source.leak_path_due(r.key)
        ]
        if due:  # one search for every flagged class: one heap scan per level
            self._search(due)
        text = Text("\n").join(lines)
        # a screen layout only when the hint's height changes
        hint.update(text, layout=len(lines) != self._hint_lines)
        self._hint_lines = len(lines)

    def _search(self, class_keys: list[str], announce: bool = False) -> None:
        self.searching.update(class_keys)
        self.run_worker(self._search_paths(class_keys, announce), group="leak-path")

    async def _search_paths(self, class_keys: list[str], announce: bool) -> None:
        try:
            paths = await self.source.leak_paths(class_keys)
            for key, path in paths.items():
                name = clean_line(key.rsplit(".", 1)[-1], 60)
                if path is None:
                    self.notify(f"No referrer path found for {name}.", timeout=4, markup=False)
                elif announce:
                    self.notify(
                        clean_line(path, 300),
                        title=f"What holds the {name} objects",
                        timeout=15,
                        markup=False,
                    )
        except Exception as exc:
            logger.exception("Searching the referrers of %s failed", class_keys)
            self.notify(
                clean_line(f"{type(exc).__name__}: {exc}", 500),
                title="Search failed",
                severity="error",
                markup=False,
            )
        finally:
            self.searching.difference_update(class_keys)
        self.app.call_later(self.app.refresh_panels)  # type: ignore[attr-defined]

    # -- actions -------------------------------------------------------------------

    def _current(self) -> RefRow | None:
        row = self.query_one("#refs-table", RecordTable).current()
        return row if isinstance(row, RefRow) else None

    def _refresh(self) -> None:
        self.app.call_later(self.app.refresh_panels)  # type: ignore[attr-defined]

    def action_sort_next(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(SORTS)
        self.descending = SORTS[self.sort_index][2]
        self._refresh()

    def action_sort_reverse(self) -> None:
        self.descending = not self.descending
        self._refresh()

    def action_mark_baseline(self) -> None:
        self.source.set_refs_baseline()
        self.notify("Baseline set: 'Since base' counts from now.", timeout=3)
        self._refresh()

    def action_clear_baseline(self) -> None:
        self.source.set_refs_baseline(clear=True)
        self._refresh()

    def action_toggle_ignore(self) -> None:
        row = self._current()
        if row is None:
            return
        self.source.ignore_ref_class(row.key, not row.ignored)
        verb = "Showing" if row.ignored else "Ignoring"
        name = clean_line(row.name, 80)
        self.notify(f"{verb} {name} (and its subclasses).", timeout=3, markup=False)
        self._refresh()

    def action_toggle_show_ignored(self) -> None:
        self.show_ignored = not self.show_ignored
        self._refresh()

    def action_export(self) -> None:
        from workbench.ui.screens.prefs import PrefsScreen

        self.app.push_screen(PrefsScreen(self.source.prefs_text()))

    def action_leak_path(self) -> None:
        row = self._current()
        if row is None:
            return
        if row.key in self.searching:
            self.notify("Already searching.", timeout=2)
            return
        name = clean_line(row.name, 60)
        self.notify(f"Searching what holds the oldest {name} objects…", markup=False)
        self._search([row.key], announce=True)
        self._refresh()

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        if isinstance(event.record, RefRow):
            self._show_chart(event.record)

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        if not isinstance(event.record, RefRow):
            return
        event.stop()
        from workbench.ui.screens.live_objects import LiveObjectsScreen

        self.app.push_screen(LiveObjectsScreen(self.source, event.record.key, event.record.name))
