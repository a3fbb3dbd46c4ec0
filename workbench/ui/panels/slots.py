"""Slots: the crawl's pace per downloader slot, AutoThrottle's reasons, and live control.

The table lists every slot (and, first, all of them together); the charts
and the adjustments below follow the selected row.  ``d`` sets a delay,
``C`` a concurrency, ``a`` lets AutoThrottle adjust the delay or holds it;
on the "all slots" row they apply to every slot and to slots yet to come.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Static

from workbench.core.control.pace import USER, Adjustment, PacePoint, PaceView, SlotRow
from workbench.core.formats.sanitize import clean_line
from workbench.core.sources.base import Snapshot, Source
from workbench.ui import format as fmt
from workbench.ui.panels.base import Panel
from workbench.ui.screens.dialogs import PromptScreen
from workbench.ui.widgets.record_table import Column, RecordTable
from workbench.ui.widgets.time_chart import TimeChart

STEPS = (1.0, 2.0, 5.0, 15.0, 60.0)  # seconds per chart column (+ and - zoom)
DEFAULT_STEP = 1


@dataclass(frozen=True, slots=True)
class AllSlots:
    """The first row: every slot together (its key is None)."""

    key: None
    rows: tuple[SlotRow, ...]


def seconds(value: float | None) -> str:
    """A delay or latency: 0, 850ms, 1.25s."""
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if value < 0.0005:
        return "<1ms"
    return fmt.latency(value)


def ago(now: float, then: float | None) -> str:
    if then is None:
        return "-"
    delta = max(0.0, now - then)
    if delta < 60:
        return f"{delta:.0f}s"
    if delta < 3600:
        return f"{delta / 60:.0f}m"
    return f"{delta / 3600:.0f}h"


def _count(n: int, style: str) -> Text:
    return Text(f"{n:,}", style=style if n else "dim")


def slot_cells(row: SlotRow | AllSlots, now: float | None = None) -> list[Any]:
    now = time.time() if now is None else now
    if isinstance(row, AllSlots):
        rows = row.rows
        live = [r for r in rows if r.live]
        seen = [r.last_seen for r in rows if r.last_seen is not None]
        return [
            Text(f"all {len(rows)} slots", style="bold"),
            str(sum(r.concurrency for r in live)),
            str(sum(r.active for r in live)),
            str(sum(r.queued for r in live)),
            str(sum(r.transferring for r in live)),
            seconds(sum(r.delay for r in live) / len(live)) if live else "-",
            "",
            "",
            "",
            "",
            f"{sum(r.responses for r in rows):,}",
            _count(sum(r.errors for r in rows), "bold red"),
            _count(sum(r.non200 for r in rows), "yellow"),
            f"{sum(r.rate for r in rows):.1f}",
            ago(now, max(seen) if seen else None),
            "",
        ]
    at_style = {"on": "green", "held": "bold yellow"}.get(row.autothrottle, "dim")
    key = clean_line(row.key, 200)
    name = Text(key, style="" if row.live else "dim")
    if row.overrides:
        name.append(" *", style="bold yellow")
    return [
        name,
        str(row.concurrency) if row.live else "-",
        str(row.active),
        str(row.queued),
        str(row.transferring),
        Text(seconds(row.delay), style="bold yellow" if "delay" in row.overrides else ""),
        seconds(row.target_delay),
        seconds(row.latency_last),
        seconds(row.latency_mean),
        seconds(row.latency_p95),
        f"{row.responses:,}",
        _count(row.errors, "bold red"),
        _count(row.non200, "yellow"),
        f"{row.rate:.1f}",
        ago(now, row.last_seen),
        Text(row.autothrottle, style=at_style),
    ]


def adjustment_cells(a: Adjustment) -> list[Any]:
    change = a.new_delay - a.old_delay
    if a.kind == "user":
        reason = Text(f"{USER}: {a.detail}" if a.detail else USER, style="bold magenta")
        if not a.detail:
            reason = Text(f"{USER}: delay {seconds(a.new_delay)}", style="bold magenta")
    elif a.kind == "external":
        reason = Text(a.reason, style="magenta")
    else:
        reason = Text(a.reason, style="yellow" if "kept" in a.reason or "held" in a.reason else "")
    status = "-" if a.status is None else str(a.status)
    return [
        time.strftime("%H:%M:%S", time.localtime(a.time)),
        clean_line(a.slot, 100),
        Text(status, style="" if a.status in (None, 200) else "yellow"),
        seconds(a.latency),
        seconds(a.target),
        f"{seconds(a.old_delay)} → {seconds(a.new_delay)}",
        Text(
            "=" if abs(change) < 5e-4 else f"{change * 1000:+,.0f}ms",
            style="dim" if abs(change) < 5e-4 else ("red" if change > 0 else "green"),
        ),
        reason,
    ]


def throttle_text(view: PaceView) -> Text:
    """The settings in force and AutoThrottle's policy, in words."""
    settings = dict(view.settings)
    text = Text()
    if view.autothrottle is None:
        text.append("AutoThrottle is off", style="bold")
        text.append(": delays stay where DOWNLOAD_DELAY and DOWNLOAD_SLOTS put them.\n")
    else:
        text.append("AutoThrottle is on", style="bold green")
        name = view.autothrottle
        if name != "scrapy.extensions.throttle.AutoThrottle":
            text.append(f" ({clean_line(name, 120)})")
        target = settings.get("AUTOTHROTTLE_TARGET_CONCURRENCY", "1.0")
        text.append(
            f". Each response: target = latency / {target}; delay = max(target, "
            "(delay + target) / 2) within DOWNLOAD_DELAY..AUTOTHROTTLE_MAX_DELAY; "
            "a non-200 never lowers it.\n"
        )
    for name, value in view.settings:
        if name == "AUTOTHROTTLE_ENABLED":  # said above
            continue
        text.append(f"{name:<32}", style="dim")
        text.append(f"{clean_line(value, 60)}\n")
    return text


SLOT_COLUMNS = [
    Column("Slot", None, min_width=12),
    Column("Conc", 4, "right"),
    Column("Act", 4, "right"),
    Column("Queue", 5, "right"),
    Column("Xfer", 4, "right"),
    Column("Delay", 7, "right"),
    Column("Target", 7, "right"),
    Column("Last", 6, "right"),
    Column("Mean", 6, "right"),
    Column("p95", 6, "right"),
    Column("Resp", 7, "right"),
    Column("Err", 5, "right"),
    Column("!200", 5, "right"),
    Column("Rate/s", 6, "right"),
    Column("Seen", 4, "right"),
    Column("AT", 4),
]


class SlotsPanel(Panel):
    TITLE = "Slots"
    MIN_REFRESH = 1.0  # the series gain a point a second
    DEFAULT_FOCUS = "#slots-rows"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("d", "set_delay", "Delay", tooltip="Set the selected slot's download delay"),
        Binding("C", "set_concurrency", "Concurrency", tooltip="Set the slot's concurrency"),
        Binding(
            "a",
            "toggle_autothrottle",
            "AutoThrottle",
            tooltip="Let AutoThrottle adjust the slot's delay, or hold it where it is",
        ),
        Binding("plus,equals_sign", "zoom_in", "Zoom in", tooltip="Charts: fewer seconds a column"),
        Binding(
            "minus", "zoom_out", "Zoom out", show=False, tooltip="Charts: more seconds a column"
        ),
    ]

    DEFAULT_CSS = """
    SlotsPanel #slots-rows { height: 4; }
    SlotsPanel #pace-middle { height: 14; }
    SlotsPanel #pace-charts { width: 3fr; }
    SlotsPanel #pace-charts Horizontal { height: 7; }
    SlotsPanel TimeChart { width: 1fr; height: 7; margin-right: 1; }
    SlotsPanel #pace-throttle { width: 2fr; height: 14; padding: 0 1; background: $boost; }
    SlotsPanel #pace-adjustments { height: 1fr; }
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.view: PaceView | None = None
        self.selected: str | None = None
        self.step_index = DEFAULT_STEP
        self._throttle_shown: tuple[Any, ...] | None = None
        self._adjustments_shown: tuple[Any, ...] | None = None

    def compose(self) -> Any:
        yield RecordTable(
            SLOT_COLUMNS,
            lambda row: slot_cells(row, self.view.time if self.view is not None else None),
            row_key=lambda r: ("all",) if isinstance(r, AllSlots) else ("slot", r.key),
            row_version=lambda r: r,
            id="slots-rows",
        )
        with Horizontal(id="pace-middle"):
            with Vertical(id="pace-charts"):
                with Horizontal():
                    yield TimeChart("Latency", seconds, "cyan", id="chart-latency")
                    yield TimeChart("Delay", seconds, "yellow", id="chart-delay")
                with Horizontal():
                    yield TimeChart("In flight", lambda v: f"{v:.3g}", "magenta", id="chart-flight")
                    yield TimeChart("Responses/s", lambda v: f"{v:.3g}", "green", id="chart-rate")
            yield Static("", id="pace-throttle")
        yield RecordTable(
            [
                Column("Time", 8),
                Column("Slot", 14),
                Column("Status", 6, "right"),
                Column("Latency", 7, "right"),
                Column("Target", 7, "right"),
                Column("Delay", 17, "right"),
                Column("Change", 8, "right"),
                Column("Reason", None),
            ],
            adjustment_cells,
            row_key=lambda a: (a.time, a.slot, a.kind, a.old_delay, a.new_delay),
            id="pace-adjustments",
        )

    def on_mount(self) -> None:
        rows = self.query_one("#slots-rows", RecordTable)
        rows.follow = False
        rows.border_title = "Downloader slots"
        self.query_one("#pace-adjustments").border_title = "Delay adjustments (newest last)"

    # -- refresh -------------------------------------------------------------------

    @property
    def step(self) -> float:
        return STEPS[self.step_index]

    def _points(self) -> int:
        """Series points the charts can show at this zoom (they are one width)."""
        width = self.query_one("#chart-latency", TimeChart).size.width or 80
        return int(width * self.step) + 2

    def refresh_from(self, snapshot: Snapshot) -> None:
        view = self.source.pace(self.selected, self._points())
        self.view = view
        if view is None:
            self.set_subtitle("waiting for the crawl to start")
            return
        table = self.query_one("#slots-rows", RecordTable)
        records: list[Any] = [AllSlots(None, view.rows), *view.rows]
        table.set_rows(records)
        height = max(3, min(len(records) + 1, 12))  # the header and the rows, up to 11
        if table.styles.height is None or table.styles.height.value != height:
            table.styles.height = height
        self._draw_charts(view)
        shown = (view.autothrottle, view.settings)
        if shown != self._throttle_shown:
            self._throttle_shown = shown
            self.query_one("#pace-throttle", Static).update(throttle_text(view))
        adjustments = self.query_one("#pace-adjustments", RecordTable)
        shown_rows = (view.selected, view.adjustments_total)
        if shown_rows != self._adjustments_shown:  # new rows (every table row is re-drawn)
            self._adjustments_shown = shown_rows
            adjustments.set_rows(list(view.adjustments))
        # a str border title is markup: a slot key (untrusted: "[/]") goes in a Text
        which = clean_line(view.selected, 60) if view.selected is not None else "all slots"
        adjustments.border_title = Text(
            f"Delay adjustments: {which} (newest last; {view.adjustments_total:,} in all)"
        )
        limit = view.total_concurrency or "no limit"
        self.set_subtitle(
            Text(
                f"{len(view.rows)} slots · {view.in_flight} in flight (CONCURRENT_REQUESTS "
                f"{limit}) · charts: {which}, {self.step:g}s a column (+/- zoom) · "
                "d delay · C concurrency · a AutoThrottle"
            )
        )

    def _draw_charts(self, view: PaceView) -> None:
        series: tuple[PacePoint, ...] = view.series
        now = view.time
        note = "mean of slots" if view.selected is None else ""
        charts = (
            ("#chart-latency", [(p.time, p.latency) for p in series], ""),
            ("#chart-delay", [(p.time, p.delay) for p in series], note),
            ("#chart-flight", [(p.time, float(p.transferring)) for p in series], "transferring"),
            ("#chart-rate", [(p.time, p.rate) for p in series], ""),
        )
        for chart_id, points, chart_note in charts:
            self.query_one(chart_id, TimeChart).set_data(points, now, self.step, chart_note)

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        if event.table.id != "slots-rows":
            return
        key = event.record.key
        if key != self.selected:
            self.selected = key
            self.app.call_later(self.app.refresh_panels)  # type: ignore[attr-defined]

    # -- actions -------------------------------------------------------------------

    def _current(self) -> SlotRow | AllSlots | None:
        return self.query_one("#slots-rows", RecordTable).current()

    def _where(self, row: SlotRow | AllSlots) -> str:
        if isinstance(row, AllSlots):
            return "every slot (and slots yet to come)"
        return f"slot {clean_line(row.key, 60)}"

    def _apply(self, call: Any) -> str | None:
        try:
            message = call()
        except ValueError as exc:
            return str(exc)
        self.notify(clean_line(message, 300), title="Slots", markup=False)
        self.app.call_later(self.app.refresh_panels)  # type: ignore[attr-defined]
        return None

    def action_set_delay(self) -> None:
        row = self._current()
        if row is None:
            return
        current = row.delay if isinstance(row, SlotRow) else ""

        def apply(text: str) -> str | None:
            try:
                value = float(text)
            except ValueError:
                return f"Not a number of seconds: {clean_line(text, 40)!r}"
            return self._apply(lambda: self.source.set_slot_delay(row.key, value))

        self.app.push_screen(
            PromptScreen(
                f"Download delay of {self._where(row)}, in seconds",
                f"{current:.3f}".rstrip("0").rstrip(".") if current != "" else "",
                "0 sends as fast as concurrency allows. With AutoThrottle on, the slot is held "
                "so the delay stays (a hands it back).",
                apply,
            )
        )

    def action_set_concurrency(self) -> None:
        row = self._current()
        if row is None:
            return
        current = str(row.concurrency) if isinstance(row, SlotRow) and row.live else ""

        def apply(text: str) -> str | None:
            try:
                value = int(text)
            except ValueError:
                return f"Not a whole number: {clean_line(text, 40)!r}"
            return self._apply(lambda: self.source.set_slot_concurrency(row.key, value))

        self.app.push_screen(
            PromptScreen(
                f"Concurrency of {self._where(row)}: requests on the wire at once",
                current,
                "CONCURRENT_REQUESTS still caps the whole crawl.",
                apply,
            )
        )

    def action_toggle_autothrottle(self) -> None:
        row = self._current()
        if row is None:
            return
        if isinstance(row, AllSlots):
            on = not any(r.autothrottle == "on" for r in row.rows)
        else:
            on = row.autothrottle != "on"
        error = self._apply(lambda: self.source.set_slot_autothrottle(row.key, on))
        if error:
            self.notify(clean_line(error, 300), title="Slots", severity="warning", markup=False)

    def action_zoom_in(self) -> None:
        self._zoom(-1)

    def action_zoom_out(self) -> None:
        self._zoom(1)

    def _zoom(self, delta: int) -> None:
        self.step_index = max(0, min(len(STEPS) - 1, self.step_index + delta))
        # a refresh pulls as many points as the new zoom shows, then draws
        self.app.call_later(self.app.refresh_panels)  # type: ignore[attr-defined]
