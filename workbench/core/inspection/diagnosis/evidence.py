"""The evidence the rules judge: one headless object, built from what a source reads.

:class:`Evidence` holds the snapshot (status, stats, fates, the rate
history), the engine's readings when the source has them
(``Source.engine_reading()``: local and attached crawls) and the fates
summary of the flows kept.  A rule reads only this object, so a test builds
one by hand and a new kind of evidence is a new field with a ``None``
default (and a ``NEEDS`` entry in :mod:`.verdicts` when rules depend on it).

The helpers answer the questions the rules ask: the readings of the last
seconds, the share of them where something held, the stats by prefix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from workbench.core.inspection.diagnosis.fate_summary import FateSummary, summarize_fates

if TYPE_CHECKING:
    from workbench.core.browser.model import BrowserView
    from workbench.core.control.pace import PacePoint, SlotRow
    from workbench.core.control.pace.engine import EnginePoint, EngineReading
    from workbench.core.recording.item_health import ItemHealth
    from workbench.core.recording.run_changes import RunComparison
    from workbench.core.sources.base import Snapshot

WARMUP = 5.0  # seconds: the pace rules leave the crawl's first seconds alone
WINDOW = 10.0  # seconds of readings a pace rule judges ("a few readings")
MIN_READINGS = 5  # fewer readings in the window: no pace verdict

P = TypeVar("P")


@dataclass(frozen=True)
class Evidence:
    snapshot: Snapshot
    engine: EngineReading | None = None  # None: this source has no engine readings
    fates: FateSummary | None = None  # None: the flows were not summarised
    items: ItemHealth | None = None  # None: no items health here
    runs: RunComparison | None = None  # None: no kept run of this spider to compare with
    browser: BrowserView | None = None  # None: no headless browser read here

    # -- the crawl -----------------------------------------------------------

    @property
    def state(self) -> str:
        return self.snapshot.status.state

    @property
    def running(self) -> bool:
        """Running (not paused, closing or over) for at least :data:`WARMUP` seconds."""
        return self.state == "running" and self.snapshot.elapsed >= WARMUP

    @property
    def stats(self) -> dict[str, Any]:
        return self.snapshot.stats

    def stat(self, name: str) -> int:
        value = self.snapshot.stats.get(name, 0)
        return int(value) if isinstance(value, (int, float)) else 0

    def stats_under(self, prefix: str) -> dict[str, int]:
        """{rest of the name: count} of the stats named ``prefix…`` (counts only)."""
        out = {}
        for name, value in self.snapshot.stats.items():
            if name.startswith(prefix) and isinstance(value, (int, float)):
                out[name[len(prefix) :]] = int(value)
        return out

    # -- the engine's readings -----------------------------------------------

    def recent(self, seconds: float = WINDOW) -> tuple[EnginePoint, ...]:
        """The engine's readings of the last ``seconds`` (none without readings)."""
        if self.engine is None or not self.engine.points:
            return ()
        return _since(self.engine.points, self.engine.points[-1].time - seconds)

    def slot_recent(self, key: str, seconds: float = WINDOW) -> tuple[PacePoint, ...]:
        """A busy slot's points of the last ``seconds`` (none when not carried)."""
        if self.engine is None:
            return ()
        for slot, points in self.engine.slot_points:
            if slot == key and points:
                return _since(points, points[-1].time - seconds)
        return ()

    def slot_row(self, key: str) -> SlotRow | None:
        if self.engine is None:
            return None
        return next((r for r in self.engine.slots if r.key == key), None)

    @property
    def busy_slots(self) -> list[str]:
        """The slots whose recent series the reading carries, busiest first."""
        return [key for key, _ in self.engine.slot_points] if self.engine is not None else []


def _since(points: Sequence[P], start: float) -> tuple[P, ...]:
    return tuple(p for p in points if p.time > start - 1e-6)  # type: ignore[attr-defined]


def share(points: Sequence[P], holds: Callable[[P], bool]) -> float:
    """The share (0..1) of ``points`` where ``holds`` is true (0 for none)."""
    if not points:
        return 0.0
    return sum(1 for p in points if holds(p)) / len(points)


def mean(values: Iterable[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return sum(kept) / len(kept) if kept else None


def gather(
    snapshot: Snapshot,
    engine: EngineReading | None = None,
    flows: Iterable[Any] | None = None,
    items: ItemHealth | None = None,
    runs: RunComparison | None = None,
    browser: BrowserView | None = None,
) -> Evidence:
    """The evidence from what a source read (``flows``: those kept, for the fates)."""
    fates = None
    if flows is not None:
        fates = summarize_fates(flows, snapshot.fates, snapshot.pages, snapshot.dropped_unkept)
    return Evidence(snapshot, engine, fates, items, runs, browser)


def evidence_of(source: Any, snapshot: Snapshot, flows: bool = True) -> Evidence:
    """The evidence a source gives: its engine's readings when it has a pace
    (``Source.engine_reading``), its flows kept (``flows``), items health and the
    comparison with the last run (``Source.run_comparison``)."""
    engine = source.engine_reading() if source.capabilities.pace else None
    kept = source.flows_since(0) if flows else None
    items = source.item_health()
    browser = source.browser() if source.capabilities.browser else None
    return gather(
        snapshot, engine, kept, items if items.total else None, source.run_comparison(), browser
    )


def pace_figures(ev: Evidence) -> list[tuple[str, str]]:
    """The engine's last readings, as the Diagnose view heads them (none without)."""
    engine = ev.engine
    points = ev.recent(WINDOW)
    if engine is None or not points:
        return []
    last = points[-1]
    figures = []
    cpu = mean(p.cpu for p in points)
    if cpu is not None:
        figures.append(("CPU", f"{cpu:.0%}"))
    lags = [p.lag for p in points if p.lag is not None]
    if lags:
        figures.append(("loop late ≤", f"{max(lags):.2f} s"))
    limit = engine.concurrent_requests or "∞"
    figures.append(("downloader", f"{last.active}/{limit}, {last.transferring} on the wire"))
    figures.append(("scheduler", f"{last.queued:,}"))
    figures.append(("callbacks waiting", f"{last.scraping}"))
    span = points[-1].time - points[0].time
    if span > 0:
        rate = (points[-1].responses - points[0].responses) / span
        figures.append(("responses/s", f"{rate:.1f}"))
    return figures
