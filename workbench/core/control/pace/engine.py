"""What the engine is doing, read once a second: the figures of Scrapy's
"Finding the bottleneck" (``est()`` in the telnet console), kept as a series.

Scrapy's docs say to "take a few readings at different points of the crawl"
of ``len(engine.downloader.active)``, the scheduler's queues and the
scraper's slot, and to look at CPU: a process at 100% of a core is
CPU-bound.  :class:`EngineSampler` takes those readings for the pace
monitor's once-a-second sampler (one :class:`EnginePoint` each), and times
the event loop: a looping call every :data:`LAG_INTERVAL` seconds notes how
late it runs (the loop lag, which CPU-bound callbacks cause: what Scrapy's
``EVENT_LOOP_LAG_THRESHOLD`` warns about in later versions).  CPU is the
process's CPU time over the wall time of the second (1.0: one core), every
thread included (in ``workbench crawl`` the UI shares the loop and the
process; its own share is bounded, see ``ui/app.py``'s ``COST_FACTOR``).

:func:`engine_reading` bundles the series with the settings the rules of
``core/inspection/diagnosis`` compare them to and the slots' rows: an
:class:`EngineReading`, what ``Source.engine_reading()`` returns.  Plain data;
nothing here decides anything.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workbench.core.control.pace.model import PacePoint, SlotRow

if TYPE_CHECKING:
    from workbench.core.control.pace.monitor import PaceMonitor

LAG_INTERVAL = 0.1  # seconds between two looks at the loop (as Scrapy's own lag monitor)
ENGINE_POINTS = 120  # seconds of readings kept
SLOT_POINTS = 30  # seconds of each busy slot's series in a reading
BUSY_SLOTS = 8  # the slots whose series a reading carries (the most requests first)


@dataclass(frozen=True, slots=True)
class EnginePoint:
    """One second of the engine (the readings of Scrapy's ``est()``)."""

    time: float
    queued: int  # requests in the scheduler (len(scheduler): mqs and dqs)
    active: int  # len(engine.downloader.active): in the slots' queues or on the wire
    transferring: int  # on the wire (every slot's transferring)
    scraping: int  # responses waiting for, or in, a callback (scraper slot queue + active)
    scraper_bytes: int  # engine.scraper.slot.active_size
    backout: bool  # engine.scraper.slot.needs_backout()
    responses: int  # responses received so far (cumulative)
    lag: float | None  # seconds: the latest the loop ran a 0.1 s timer since the last point
    cpu: float | None  # the process's CPU time / wall time since the last point (1.0: a core)
    # seconds the loop ran its timers late since the last point, summed: how long it was
    # blocked (a callback that runs 3 s makes one late timer of about 3 s)
    blocked: float | None = None


@dataclass(frozen=True, slots=True)
class EngineReading:
    """The engine's recent readings, the settings they are held to, the slots."""

    time: float
    points: tuple[EnginePoint, ...]  # newest last, one a second
    concurrent_requests: int  # CONCURRENT_REQUESTS
    per_domain: int  # CONCURRENT_REQUESTS_PER_DOMAIN
    per_ip: int  # CONCURRENT_REQUESTS_PER_IP
    download_delay: float  # DOWNLOAD_DELAY
    autothrottle: bool  # AutoThrottle is running
    target_concurrency: float  # AUTOTHROTTLE_TARGET_CONCURRENCY
    max_delay: float  # AUTOTHROTTLE_MAX_DELAY
    scraper_max_bytes: int  # SCRAPER_SLOT_MAX_ACTIVE_SIZE
    download_timeout: float  # DOWNLOAD_TIMEOUT
    priority_queue: str  # SCHEDULER_PRIORITY_QUEUE (its class name)
    slots: tuple[SlotRow, ...] = ()
    # the busiest slots' last SLOT_POINTS seconds: (slot key, points), most requests first
    slot_points: tuple[tuple[str, tuple[PacePoint, ...]], ...] = ()
    last_response: float | None = None  # wall time of the last response, any slot


class EngineSampler:
    """The loop's lag between samples, and one :class:`EnginePoint` a second."""

    def __init__(self) -> None:
        self.points: deque[EnginePoint] = deque(maxlen=ENGINE_POINTS)
        self._timer: Any = None
        self._last_tick: float | None = None
        self._lag: float | None = None  # the worst since the last sample
        self._blocked = 0.0  # the lateness summed since the last sample
        self._cpu_at: tuple[float, float] | None = None  # (wall, process CPU) of the last sample

    def start(self) -> None:
        if self._timer is not None:
            return
        from scrapy.utils.asyncio import create_looping_call

        self._timer = create_looping_call(self._tick)
        self._timer.start(LAG_INTERVAL, now=False)
        self._last_tick = time.monotonic()
        self._cpu_at = (time.monotonic(), time.process_time())

    def stop(self) -> None:
        if self._timer is not None:
            with contextlib.suppress(Exception):
                self._timer.stop()
            self._timer = None
        self._last_tick = None

    def _tick(self) -> None:
        now = time.monotonic()
        last, self._last_tick = self._last_tick, now
        if last is None:
            return
        late = max(0.0, now - last - LAG_INTERVAL)
        self._blocked += late
        if self._lag is None or late > self._lag:
            self._lag = late

    def sample(self, engine: Any, responses: int, transferring: int) -> None:
        """Append one point (called once a second by the pace monitor)."""
        wall, cpu_time = time.monotonic(), time.process_time()
        cpu = None
        if self._cpu_at is not None and wall - self._cpu_at[0] > 0.05:
            cpu = max(0.0, (cpu_time - self._cpu_at[1]) / (wall - self._cpu_at[0]))
        self._cpu_at = (wall, cpu_time)
        if self._last_tick is not None:  # a timer overdue now counts too
            late = max(0.0, wall - self._last_tick - LAG_INTERVAL)
            if late > LAG_INTERVAL:
                self._blocked += late
                self._lag = max(self._lag or 0.0, late)
                self._last_tick = wall  # counted: the next tick measures from here
        lag, self._lag = self._lag, None
        blocked: float | None = self._blocked
        self._blocked = 0.0
        if self._timer is None:
            lag = blocked = None  # not timed (the loop was not watched)
        queued = active = scraping = scraper_bytes = 0
        backout = False
        if engine is not None:
            slot = getattr(engine, "_slot", None)
            scheduler = getattr(slot, "scheduler", None) if slot is not None else None
            if scheduler is not None:
                with contextlib.suppress(TypeError):
                    queued = len(scheduler)
            downloader = getattr(engine, "downloader", None)
            active = len(getattr(downloader, "active", ()))
            scraper_slot = getattr(getattr(engine, "scraper", None), "slot", None)
            if scraper_slot is not None:
                scraping = len(scraper_slot.queue) + len(scraper_slot.active)
                scraper_bytes = int(scraper_slot.active_size)
                with contextlib.suppress(Exception):
                    backout = bool(scraper_slot.needs_backout())
        self.points.append(
            EnginePoint(
                time=time.time(),
                queued=queued,
                active=active,
                transferring=transferring,
                scraping=scraping,
                scraper_bytes=scraper_bytes,
                backout=backout,
                responses=responses,
                lag=lag,
                cpu=cpu,
                blocked=blocked,
            )
        )


def engine_reading(monitor: PaceMonitor) -> EngineReading:
    """The monitor's crawl, now: its engine's series, the settings, the slots."""
    crawler = monitor.crawler
    s = crawler.settings
    view = monitor.view(points=0, adjustments=0)
    busiest = sorted(
        (r for r in view.rows if r.live), key=lambda r: (r.active, r.responses), reverse=True
    )[:BUSY_SLOTS]
    slot_points = []
    for row in busiest:
        track = monitor.tracks.get(row.key)
        if track is not None:
            series = tuple(track.series)[-SLOT_POINTS:]
            slot_points.append((row.key, series))
    seen = [r.last_seen for r in view.rows if r.last_seen is not None]
    queue_cls = s.get("SCHEDULER_PRIORITY_QUEUE")
    queue_name = queue_cls if isinstance(queue_cls, str) else getattr(queue_cls, "__name__", "")
    return EngineReading(
        time=time.time(),
        points=tuple(monitor.engine.points),
        concurrent_requests=s.getint("CONCURRENT_REQUESTS"),
        per_domain=s.getint("CONCURRENT_REQUESTS_PER_DOMAIN"),
        per_ip=s.getint("CONCURRENT_REQUESTS_PER_IP"),
        download_delay=s.getfloat("DOWNLOAD_DELAY"),
        autothrottle=monitor.throttle is not None,
        target_concurrency=s.getfloat("AUTOTHROTTLE_TARGET_CONCURRENCY"),
        max_delay=s.getfloat("AUTOTHROTTLE_MAX_DELAY"),
        scraper_max_bytes=s.getint("SCRAPER_SLOT_MAX_ACTIVE_SIZE"),
        download_timeout=s.getfloat("DOWNLOAD_TIMEOUT"),
        priority_queue=str(queue_name).rsplit(".", 1)[-1],
        slots=view.rows,
        slot_points=tuple(slot_points),
        last_response=max(seen) if seen else None,
    )
