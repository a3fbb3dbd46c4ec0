"""The pace monitor: one crawler's downloader slots, counted and sampled.

:class:`PaceMonitor` keeps a :class:`Track` per slot key (counters that
survive Scrapy dropping an idle slot), samples every live slot once a
second, runs AutoThrottle's receiver itself so each adjustment is recorded
with its reason, and builds the :class:`~.model.PaceView` a panel reads.  Its
controls are in :mod:`.controls`.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals

from workbench.core.control.late import late
from workbench.core.control.pace.controls import SlotControls
from workbench.core.control.pace.engine import EngineReading, EngineSampler, engine_reading
from workbench.core.control.pace.model import (
    ADJUSTMENTS_KEPT,
    DONT_ADJUST,
    EXTERNAL,
    HELD,
    LATENCY_WINDOW,
    MAX_SAMPLED,
    MAX_TRACKED,
    NO_LATENCY,
    RATE_WINDOW,
    SAMPLE_INTERVAL,
    SERIES_POINTS,
    TOTAL_POINTS,
    Adjustment,
    PacePoint,
    PaceView,
    ResponseFields,
    SlotRow,
    explain,
    percentile,
    settings_in_force,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

logger = logging.getLogger(__package__)  # the package's name, as before the split


@dataclass(slots=True)
class Tick:
    """Responses and their latencies since the last sample."""

    responses: int = 0
    latency_sum: float = 0.0
    latency_n: int = 0

    def add(self, latency: float | None) -> None:
        self.responses += 1
        if latency is not None:
            self.latency_sum += latency
            self.latency_n += 1

    def take(self) -> tuple[int, float | None]:
        """(responses, mean latency) since the last take, and start again."""
        n = self.latency_n
        taken = (self.responses, self.latency_sum / n if n else None)
        self.responses = self.latency_n = 0
        self.latency_sum = 0.0
        return taken


@dataclass(slots=True)
class Track:
    """What is known of one slot key (counters survive Scrapy dropping the slot)."""

    key: str
    responses: int = 0
    non200: int = 0
    left: int = 0  # requests that left the downloader, with or without a response
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))
    target_delay: float | None = None
    last_seen: float | None = None
    last_delay: float | None = None  # the delay after our last look
    slot_id: int = 0  # id() of the Slot object last seen (Scrapy re-makes idle slots)
    tick: Tick = field(default_factory=Tick)
    series: deque[PacePoint] = field(default_factory=lambda: deque(maxlen=SERIES_POINTS))
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return max(0, self.left - self.responses)


class PaceMonitor(SlotControls):
    """One crawler's slots: counters, series and adjustments (see the package's
    docstring); the controls come from :class:`SlotControls`."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.tracks: dict[str, Track] = {}
        self.total: deque[PacePoint] = deque(maxlen=TOTAL_POINTS)
        self._tick = Tick()  # the whole crawl's
        self._last_sample: float | None = None
        self.adjustments: deque[Adjustment] = deque(maxlen=ADJUSTMENTS_KEPT)
        self.adjustments_total = 0
        self.throttle: Any = None  # the AutoThrottle extension, once the spider opened
        self.held: set[str] = set()
        self.hold_new = False  # slots not seen yet start held
        self._loop: Any = None
        self.total_concurrency = settings.getint("CONCURRENT_REQUESTS")
        self.settings = settings_in_force(settings)  # the settings are frozen: read once
        self.engine = EngineSampler()  # the engine's readings and the loop's lag

    # -- wiring --------------------------------------------------------------

    @property
    def downloader(self) -> Any:
        engine = late(self.crawler, "engine")
        return getattr(engine, "downloader", None)

    def attach_throttle(self) -> None:
        """Take over AutoThrottle's response receiver (see the package's docstring)."""
        from scrapy.extensions.throttle import AutoThrottle

        extensions = late(self.crawler, "extensions")
        for ext in getattr(extensions, "middlewares", ()):
            if isinstance(ext, AutoThrottle):
                self.crawler.signals.disconnect(
                    ext._response_downloaded, signal=signals.response_downloaded
                )
                self.throttle = ext
                return

    def start_sampling(self) -> None:
        from scrapy.utils.asyncio import create_looping_call

        if self._loop is None:
            self._loop = create_looping_call(self.sample)
            self._loop.start(SAMPLE_INTERVAL, now=False)
            self.engine.start()

    def stop_sampling(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.stop()
            self._loop = None
        self.engine.stop()
        self.sample()

    # -- recording -----------------------------------------------------------

    def _track(self, key: str) -> Track:
        track = self.tracks.get(key)
        if track is None:
            track = self.tracks[key] = Track(key)
            if self.hold_new:
                self.held.add(key)
            if len(self.tracks) > MAX_TRACKED:
                self._forget_idle(key)
        return track

    def _forget_idle(self, keep: str) -> None:
        """Drop the counters of the longest-idle slots Scrapy dropped, down to 90%."""
        live = getattr(self.downloader, "slots", {})
        idle = sorted(
            (t for k, t in self.tracks.items() if k not in live and k != keep and not t.overrides),
            key=lambda t: t.last_seen or 0.0,
        )
        for track in idle[: len(self.tracks) - MAX_TRACKED * 9 // 10]:
            del self.tracks[track.key]

    def on_response(self, response: Response, request: Request) -> None:
        meta = request.meta
        key = meta.get("download_slot")
        if key is None:
            return
        now = time.time()
        track = self._track(key)
        track.responses += 1
        track.last_seen = now
        status = response.status
        if status != 200:
            track.non200 += 1
        latency = meta.get("download_latency")
        if latency is not None:
            track.latencies.append(latency)
        track.tick.add(latency)
        self._tick.add(latency)

        slot = getattr(self.downloader, "slots", {}).get(key)
        if slot is None:
            return
        old = slot.delay
        if track.slot_id != id(slot):  # a new slot, at its start delay
            track.slot_id = id(slot)
        elif track.last_delay is not None and old != track.last_delay:
            self._add(Adjustment(now, key, "external", EXTERNAL, track.last_delay, old))
        throttle = self.throttle
        if throttle is not None:
            self._autothrottle(throttle, track, slot, response, request, latency, old, now)
        track.last_delay = slot.delay

    def _autothrottle(
        self,
        throttle: Any,
        track: Track,
        slot: Any,
        response: Response,
        request: Request,
        latency: float | None,
        old: float,
        now: float,
    ) -> None:
        key = track.key
        common: ResponseFields = {
            "status": response.status,
            "latency": latency,
            "transferring": len(slot.transferring),
            "size": len(response.body),
        }
        if key in self.held:
            self._add(Adjustment(now, key, "autothrottle", HELD, old, old, **common))
            return
        try:
            throttle._response_downloaded(response, request, self.crawler.spider)
        except Exception:
            logger.exception("AutoThrottle failed on %s", request.url)
            return
        new = slot.delay
        if latency is None:
            self._add(Adjustment(now, key, "autothrottle", NO_LATENCY, old, new, **common))
            return
        if request.meta.get("autothrottle_dont_adjust_delay", False) is True:
            self._add(Adjustment(now, key, "autothrottle", DONT_ADJUST, old, new, **common))
            return
        target, reason = explain(
            old,
            new,
            latency,
            response.status,
            getattr(throttle, "target_concurrency", 1.0),
            getattr(throttle, "mindelay", 0.0),
            getattr(throttle, "maxdelay", 60.0),
        )
        track.target_delay = target
        self._add(Adjustment(now, key, "autothrottle", reason, old, new, target=target, **common))

    def on_left(self, request: Request) -> None:
        key = request.meta.get("download_slot")
        if key is None:
            return
        track = self._track(key)
        track.left += 1
        if track.left > track.responses:  # no response: a download error
            track.last_seen = time.time()

    def _add(self, adjustment: Adjustment) -> None:
        self.adjustments.append(adjustment)
        self.adjustments_total += 1

    def sample(self) -> None:
        """Append one point per live slot and one for the crawl (called every second)."""
        now = time.time()
        span = now - self._last_sample if self._last_sample is not None else SAMPLE_INTERVAL
        span = max(span, 1e-3)
        self._last_sample = now
        live = dict(getattr(self.downloader, "slots", {}))
        if len(live) > MAX_SAMPLED:
            keep = sorted(live.items(), key=lambda kv: kv[1].lastseen, reverse=True)
            live = dict(keep[:MAX_SAMPLED])
        delays: list[float] = []
        concurrency = active = transferring = 0
        for key, slot in live.items():
            track = self._track(key)
            responses, latency = track.tick.take()
            point = PacePoint(
                time=now,
                delay=slot.delay,
                concurrency=slot.concurrency,
                active=len(slot.active),
                transferring=len(slot.transferring),
                responses=responses,
                rate=responses / span,
                latency=latency,
            )
            track.series.append(point)
            delays.append(point.delay)
            concurrency += point.concurrency
            active += point.active
            transferring += point.transferring
        for key, track in self.tracks.items():  # slots Scrapy dropped meanwhile
            if key not in live and track.tick.responses:
                track.tick.take()
        responses, latency = self._tick.take()
        self.total.append(
            PacePoint(
                time=now,
                delay=sum(delays) / len(delays) if delays else 0.0,
                concurrency=concurrency,
                active=active,
                transferring=transferring,
                responses=responses,
                rate=responses / span,
                latency=latency,
            )
        )
        stats = late(self.crawler, "stats")
        received = stats.get_value("response_received_count", 0) if stats is not None else 0
        engine = late(self.crawler, "engine")
        self.engine.sample(engine, int(received or 0), transferring)

    # -- reading ---------------------------------------------------------------

    def _row(self, track: Track, slot: Any) -> SlotRow:
        latencies = list(track.latencies)
        series = list(itertools.islice(reversed(track.series), RATE_WINDOW))  # newest first
        span = series[0].time - series[-1].time + SAMPLE_INTERVAL if series else 0.0
        rate = sum(p.responses for p in series) / span if span > 0 else 0.0
        autothrottle = "-"
        if self.throttle is not None:
            autothrottle = "held" if track.key in self.held else "on"
        return SlotRow(
            key=track.key,
            live=slot is not None,
            concurrency=slot.concurrency if slot is not None else 0,
            active=len(slot.active) if slot is not None else 0,
            queued=len(slot.queue) if slot is not None else 0,
            transferring=len(slot.transferring) if slot is not None else 0,
            delay=slot.delay if slot is not None else (track.last_delay or 0.0),
            target_delay=track.target_delay,
            latency_last=latencies[-1] if latencies else None,
            latency_mean=sum(latencies) / len(latencies) if latencies else None,
            latency_p95=percentile(latencies, 0.95),
            responses=track.responses,
            errors=track.errors,
            non200=track.non200,
            rate=rate,
            last_seen=track.last_seen,
            autothrottle=autothrottle,
            overrides=", ".join(sorted(track.overrides)),
        )

    def engine_view(self) -> EngineReading:
        """The engine's readings, the settings they are held to, the slots."""
        return engine_reading(self)

    def view(
        self, selected: str | None = None, points: int = SERIES_POINTS, adjustments: int = 200
    ) -> PaceView:
        """Rows for every slot; the last ``points`` of the selected slot's series
        (None: the whole crawl's) and its last ``adjustments`` rows."""
        live = dict(getattr(self.downloader, "slots", {}))
        for key in live:
            self._track(key)
        rows = tuple(self._row(t, live.get(k)) for k, t in sorted(self.tracks.items()))
        if selected is not None and selected in self.tracks:
            source = self.tracks[selected].series
            wanted = list(
                itertools.islice(
                    (a for a in reversed(self.adjustments) if a.slot == selected), adjustments
                )
            )
        else:
            selected = None
            source = self.total
            wanted = list(itertools.islice(reversed(self.adjustments), adjustments))
        skip = max(0, len(source) - max(0, points))
        series = tuple(itertools.islice(source, skip, None))
        throttle = self.throttle
        downloader = self.downloader
        return PaceView(
            time=time.time(),
            rows=rows,
            settings=self.settings,
            autothrottle=(
                f"{type(throttle).__module__}.{type(throttle).__qualname__}"
                if throttle is not None
                else None
            ),
            selected=selected,
            series=series,
            adjustments=tuple(reversed(wanted)),
            adjustments_total=self.adjustments_total,
            in_flight=len(getattr(downloader, "active", ())),
            total_concurrency=self.total_concurrency,
        )
