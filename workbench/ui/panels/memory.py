"""Memory: RSS over time, Scrapy's MEMUSAGE settings, and heap summaries (muppy).

``h`` takes a heap summary in the background (a progress bar; the UI and the
crawl go on); the table shows the latest by type, biggest first.  With two
summaries, ``d`` switches to the difference: what grew between them.
"""

from __future__ import annotations

import logging
import time
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import ProgressBar, Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.leaks.heap import HeapRow, HeapSummary, MemoryView, own_type
from workbench.core.sources.base import Snapshot, Source
from workbench.ui import format as fmt
from workbench.ui.panels.base import Panel
from workbench.ui.widgets.record_table import Column, RecordTable
from workbench.ui.widgets.time_chart import TimeChart

logger = logging.getLogger(__name__)

CHART_POINTS = 300


def mb(n: int) -> str:
    return f"{n / 1_048_576:,.1f} MB"


def megabytes(value: float) -> str:
    """The RSS chart's labels, in its 7 columns: "0.0 MB", "95.5 MB", "200 MB"."""
    return f"{value:,.0f} MB" if value >= 100 else f"{value:,.1f} MB"


def heap_cells(row: HeapRow, diff: bool) -> list[Any]:
    if diff:
        style = "yellow" if row.size > 0 or row.count > 0 else "green"
        return [
            clean_line(row.type_name, 200),
            Text(f"{row.count:+,}", style=style),
            Text(("+" if row.size > 0 else "") + fmt.size(row.size), style=style),
        ]
    if own_type(row.type_name):  # workbench's own: dimmed and said
        name = Text.assemble(clean_line(row.type_name, 200), ("  (workbench's own)", "italic"))
        name.stylize("dim")
        return [name, Text(f"{row.count:,}", "dim"), Text(fmt.size(row.size), "dim")]
    return [clean_line(row.type_name, 200), f"{row.count:,}", fmt.size(row.size)]


def own_part(rows: list[HeapRow]) -> str:
    """What a diff leaves out of workbench's own: "workbench's own left out: +36
    objects, +2.2KiB (FIFOCache, HeapRow)"."""
    if not rows:
        return ""
    count, size = sum(r.count for r in rows), sum(r.size for r in rows)
    names = ", ".join(r.type_name.rsplit(".", 1)[-1] for r in rows[:3])
    more = "…" if len(rows) > 3 else ""
    return (
        f"workbench's own left out: {count:+,} objects, {'+' if size >= 0 else ''}"
        f"{fmt.size(size)} ({clean_line(names, 120)}{more})"
    )


class MemoryPanel(Panel):
    TITLE = "Memory"
    MIN_REFRESH = 1.0  # RSS is sampled once a second

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("h", "heap", "Heap summary", tooltip="Summarise the heap by type (background)"),
        Binding("d", "toggle_diff", "Diff", tooltip="Show what grew between the last two"),
    ]

    DEFAULT_CSS = """
    MemoryPanel #memory-top { height: 9; }
    MemoryPanel #rss-box { width: 3fr; }
    MemoryPanel #rss-chart { height: 1fr; }
    MemoryPanel #memusage { width: 2fr; padding: 0 1; }
    MemoryPanel #heap-progress { height: 1; display: none; }
    MemoryPanel #heap-progress.-running { display: block; }
    MemoryPanel #heap-title { height: auto; margin-top: 1; }
    MemoryPanel #heap-table { height: 1fr; }
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.diff = False
        self.view: MemoryView | None = None
        self._shown: tuple[int, bool] | None = None
        self._state: tuple[Any, ...] | None = None
        self._memusage_lines = 0

    def compose(self) -> Any:
        with Horizontal(id="memory-top"):
            with Vertical(id="rss-box"):
                yield TimeChart("RSS", megabytes, "cyan", id="rss-chart")
            yield Static("", id="memusage")
        # a total from the start: an indeterminate bar animates 15 times a second,
        # hidden or not
        yield ProgressBar(total=100, id="heap-progress", show_eta=False)
        yield Static("Heap: h takes a summary (Pympler's muppy) in the background", id="heap-title")
        yield RecordTable(
            [
                Column("Type", None, min_width=20),
                Column("Objects", 12, "right"),
                Column("Size", 10, "right"),
            ],
            lambda row: heap_cells(row, self.diff),
            row_key=lambda r: r.type_name,
            row_version=lambda r: (r.count, r.size, self.diff),
            id="heap-table",
        )

    def on_mount(self) -> None:
        self.query_one("#heap-table", RecordTable).follow = False

    def refresh_from(self, snapshot: Snapshot) -> None:
        view = self.source.memory()
        state = (view.rss[-1] if view.rss else None, len(view.summaries), view.running,
                 view.progress, view.error, self.diff, view.stats)  # fmt: skip
        if state == self._state:
            return  # nothing new (RSS is sampled once a second): no repaint
        self._state = state
        self.view = view
        self._show_rss(view)
        self._show_memusage(view)
        progress = self.query_one("#heap-progress", ProgressBar)
        progress.set_class(view.running, "-running")
        if view.running:
            progress.update(total=100, progress=view.progress * 100)
        self._show_heap(view)
        doing = f"heap summary running: {view.phase}" if view.running else "h: heap summary"
        count = len(view.summaries)
        self.set_subtitle(
            f"{count} heap summar{'y' if count == 1 else 'ies'} · {doing}"
            + (" · d: diff" if count >= 2 else "")
        )

    def _show_rss(self, view: MemoryView) -> None:
        """RSS over time from zero, with a y scale and a time axis: a flat RSS
        reads flat (scaled from its own minimum, 0.1 MB of noise was a cliff)."""
        chart = self.query_one("#rss-chart", TimeChart)
        points = view.rss[-CHART_POINTS:]
        if not points:
            chart.set_data([], 0.0, 1.0)
            return
        values = [b / 1_048_576 for _, b in points]
        span = points[-1][0] - points[0][0]
        chart.set_data(
            [(t, v) for (t, _), v in zip(points, values, strict=True)],
            points[-1][0],
            0,  # the whole history in the width
            f"min {min(values):,.1f} MB · last {fmt.duration(span)}",
        )

    def _show_memusage(self, view: MemoryView) -> None:
        text = Text("MEMUSAGE settings in force\n", style="bold")
        for name, value in view.settings:
            text.append(f"{name:<32}", style="dim")
            text.append(clean_line(value or "-", 60) + "\n")
        for name, value in view.stats:
            text.append(f"{clean_line(name, 32):<32}", style="dim")
            shown = mb(value) if isinstance(value, int) and value > 1_000_000 else str(value)
            text.append(clean_line(shown, 60) + "\n")
        lines = len(view.settings) + len(view.stats)
        self.query_one("#memusage", Static).update(text, layout=lines != self._memusage_lines)
        self._memusage_lines = lines

    def _show_heap(self, view: MemoryView) -> None:
        title = self.query_one("#heap-title", Static)
        if view.error:
            title.update(Text(f"Heap summary failed: {clean_line(view.error, 200)}", "red"))
        if view.running:
            title.update(
                Text(
                    f"Heap summary running: {clean_line(view.phase, 100)} "
                    "(the crawl and the UI go on)",
                    "italic",
                ),
                layout=False,
            )
            return
        if not view.summaries:
            return
        latest = view.summaries[-1]
        diff = self.diff and len(view.summaries) >= 2
        key = (latest.id, diff)
        if key == self._shown:
            return
        self._shown = key
        table = self.query_one("#heap-table", RecordTable)
        if diff:
            older = view.summaries[-2]
            changed = latest.diff(older)
            rows = [r for r in changed if not own_type(r.type_name)]
            own_rows = [r for r in changed if own_type(r.type_name)]
            objects = latest.objects - older.objects - sum(r.count for r in own_rows)
            size = latest.size - older.size - sum(r.size for r in own_rows)
            own = own_part(own_rows)
            title.update(
                Text.assemble(
                    ("What grew ", "bold"),
                    f"from summary {older.id} ({fmt.clock(older.time)}) to {latest.id} "
                    f"({fmt.clock(latest.time)}): "
                    f"{objects:+,} objects, {'+' if size >= 0 else ''}{fmt.size(size)}",
                    (" · d: latest summary", "dim"),
                    (f"\n{own}" if own else "", "dim"),
                )
            )
        else:
            rows = list(latest.rows)
            title.update(self._summary_title(latest))
        table.set_rows(rows)
        table.action_first()  # new content: from the top (the biggest)

    @staticmethod
    def _summary_title(summary: HeapSummary) -> Text:
        return Text.assemble(
            (f"Heap summary {summary.id} ", "bold"),
            f"at {fmt.clock(summary.time)}: {summary.objects:,} objects, "
            f"{fmt.size(summary.size)} (shallow sizes), took {summary.elapsed:.1f}s",
        )

    # -- actions -------------------------------------------------------------------

    def action_heap(self) -> None:
        if self.view is not None and self.view.running:
            self.notify("A heap summary is already running.", timeout=3)
            return
        self.notify("Summarising the heap in the background…", timeout=3)
        self.run_worker(self._take(), group="heap", exclusive=True)
        self.app.call_later(self.app.refresh_panels)  # type: ignore[attr-defined]

    async def _take(self) -> None:
        began = time.monotonic()
        try:
            summary = await self.source.heap_summary()
        except Exception as exc:
            logger.exception("The heap summary failed")
            self.notify(
                clean_line(f"{type(exc).__name__}: {exc}", 500),
                title="Heap summary",
                severity="error",
                markup=False,
            )
            return
        self.notify(
            f"Heap summary {summary.id}: {summary.objects:,} objects in "
            f"{time.monotonic() - began:.1f}s.",
            timeout=4,
        )
        self._shown = None
        self.app.call_later(self.app.refresh_panels)  # type: ignore[attr-defined]

    def action_toggle_diff(self) -> None:
        count = len(self.view.summaries) if self.view is not None else 0
        if count < 2:
            self.notify("Take two heap summaries (h) to compare them.", timeout=3)
            return
        self.diff = not self.diff
        self._shown = None
        self.app.call_later(self.app.refresh_panels)  # type: ignore[attr-defined]
