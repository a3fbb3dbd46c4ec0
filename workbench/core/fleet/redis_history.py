"""A scrapy-redis queue over time: its readings kept (bounded), the rates in and
out per minute, and the series the Redis view charts.

Enqueued and dequeued come from counters when there are some (the shared
stats hash of ``RedisStatsCollector``, or the workers' own
``scheduler/enqueued/redis`` and ``dequeued`` summed); otherwise they are
estimated from the shared dupefilter (every request queued passed it).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from workbench.core.fleet.redis_queue import QueueReading


@dataclass(frozen=True)
class Rates:
    """Per-minute rates over the last readings (None: not enough readings yet)."""

    enqueued: float | None = None
    dequeued: float | None = None
    dupefilter: float | None = None
    items: float | None = None
    exact: bool = False  # from counters (the stats hash, the workers); else estimated


ENQUEUED = "scheduler/enqueued/redis"
DEQUEUED = "scheduler/dequeued/redis"


@dataclass
class QueueHistory:
    """The readings of one queue over time, bounded; rates and the chart's series.

    Enqueued and dequeued come from counters when there are some (the shared
    stats hash of RedisStatsCollector, or the workers' own
    ``scheduler/enqueued/redis`` summed, given to :meth:`add`); otherwise they
    are estimated: every request that passes the shared dupefilter is queued,
    so enqueued ≈ the dupefilter's growth, dequeued ≈ enqueued minus the queue's growth.
    """

    limit: int = 600
    readings: deque[tuple[QueueReading, int | None, int | None]] = field(default_factory=deque)
    # (wall clock, pid) of workers on the queue that left the fleet (the evidence
    # of who deleted a shared queue), bounded
    departures: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=100))

    def add(
        self, reading: QueueReading, enqueued: int | None = None, dequeued: int | None = None
    ) -> None:
        if not reading.ok:
            return
        if enqueued is None:
            enqueued = reading.stat(ENQUEUED)
        if dequeued is None:
            dequeued = reading.stat(DEQUEUED)
        self.readings.append((reading, enqueued, dequeued))
        while len(self.readings) > self.limit:
            self.readings.popleft()

    @property
    def last(self) -> QueueReading | None:
        return self.readings[-1][0] if self.readings else None

    def _pair(self, a: Any, b: Any) -> tuple[float, float, float, bool]:
        (ra, ea, da), (rb, eb, db) = a, b
        dt = max(rb.taken_at - ra.taken_at, 1e-6)
        if None not in (ea, eb, da, db):
            return dt, max(0, eb - ea), max(0, db - da), True
        enq = max(0, rb.dupefilter_size - ra.dupefilter_size)
        deq = max(0, enq - (rb.queue_size - ra.queue_size))
        return dt, enq, deq, False

    def rates(self, window: float = 30.0) -> Rates:
        if len(self.readings) < 2:
            return Rates()
        last = self.readings[-1]
        first = last
        for entry in reversed(self.readings):
            first = entry
            if last[0].taken_at - entry[0].taken_at >= window:
                break
        if first is last:
            return Rates()
        dt, enq, deq, exact = self._pair(first, last)
        per_min = 60.0 / dt
        return Rates(
            enqueued=enq * per_min,
            dequeued=deq * per_min,
            dupefilter=(last[0].dupefilter_size - first[0].dupefilter_size) * per_min,
            items=(last[0].items_size - first[0].items_size) * per_min,
            exact=exact,
        )

    def series(
        self, points: int = 60, smooth: int = 3
    ) -> tuple[list[float], list[float], list[float]]:
        """(queue sizes, enqueued per minute, dequeued per minute) for the chart; each
        rate over the last ``smooth`` polls (a counter read every two seconds moves
        by whole requests: one poll's rate jumps)."""
        items = list(self.readings)[-(points + smooth) :]
        start = min(smooth, max(len(items) - 1, 0))
        sizes = [float(r.queue_size) for r, _, _ in items[-points:]]
        enq, deq = [], []
        for n in range(start, len(items)):
            dt, e, d, _ = self._pair(items[max(0, n - smooth)], items[n])
            enq.append(e * 60.0 / dt)
            deq.append(d * 60.0 / dt)
        return sizes, enq, deq

    def since(self, seconds: float) -> list[QueueReading]:
        """The readings of the last ``seconds`` (oldest first)."""
        if not self.readings:
            return []
        end = self.readings[-1][0].taken_at
        return [r for r, _, _ in self.readings if end - r.taken_at <= seconds]

    def counters(self) -> tuple[int | None, int | None]:
        if not self.readings:
            return None, None
        _, e, d = self.readings[-1]
        return e, d


def finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None
