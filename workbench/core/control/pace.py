"""The crawl's pace: downloader slots, AutoThrottle's adjustments, and live control.

:class:`PaceExtension` (a Scrapy extension) keeps one :class:`PaceMonitor`
per crawler (``pace_for(crawler)``):

- per-slot counters from signals: ``response_downloaded`` (responses,
  non-200s, ``download_latency``) and ``request_left_downloader`` (a request
  that left without a response is a download error);
- a sampler, once a second, that appends one :class:`PacePoint` per live
  slot and one for the whole crawl to bounded series (the charts);
- AutoThrottle: the extension's ``response_downloaded`` receiver is
  disconnected and called from ours instead, so the delay before and after
  each adjustment is known and every adjustment becomes an
  :class:`Adjustment` row with its reason -- what ``AUTOTHROTTLE_DEBUG``
  logs, as data.  A user's AutoThrottle subclass still runs its own policy;
  a row whose result the stock formula does not explain says so.  A slot
  can be *held*: AutoThrottle then leaves its delay alone;
- controls: a slot's delay and concurrency (or every slot's, and the
  defaults of slots yet to come), AutoThrottle on or off per slot.  Changes
  also go into ``downloader.per_slot_settings`` (``DOWNLOAD_SLOTS``), so a
  slot that Scrapy drops when idle comes back with them.  Each one is
  logged.

Reads ``slot.delay`` (never ``download_delay()``, which randomizes) and
relies on two private names of Scrapy 2.19: ``Downloader._delay`` (the
delay of new slots) and ``Downloader._process_queue`` (to apply a change
now instead of after the delay already scheduled).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

from scrapy import signals
from scrapy.settings import SETTINGS_PRIORITIES

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

logger = logging.getLogger(__name__)

PACE_ATTR = "workbench_pace"
SAMPLE_INTERVAL = 1.0  # seconds between two points of the series
SERIES_POINTS = 900  # per slot: 15 minutes at one point a second
TOTAL_POINTS = 3600  # the whole crawl: an hour
LATENCY_WINDOW = 200  # responses behind a slot's mean and p95 latency
ADJUSTMENTS_KEPT = 5000
MAX_TRACKED = 1000  # slots whose counters are kept (idle ones dropped first)
MAX_SAMPLED = 200  # live slots sampled each second (the most recently active)
RATE_WINDOW = 10  # points (seconds) behind a slot's responses per second
MAX_DELAY = 3600.0
MAX_CONCURRENCY = 10_000

# reasons of an adjustment row (the stock AutoThrottle policy, in its order)
TOWARD_TARGET = "halfway to target"
UP_TO_TARGET = "raised to target"
AT_MINIMUM = "clamped to minimum"
AT_MAXIMUM = "clamped to maximum"
NON_200_KEPT = "non-200 kept delay"
DONT_ADJUST = "meta: don't adjust"
NO_LATENCY = "no latency"
HELD = "held in workbench"
CUSTOM = "custom policy"
USER = "set in workbench"
EXTERNAL = "changed elsewhere"


@dataclass(frozen=True, slots=True)
class PacePoint:
    """One second of one slot (or of the whole crawl)."""

    time: float
    delay: float  # for the whole crawl: the mean over live slots
    concurrency: int
    active: int  # requests in the slot: queued in the downloader or transferring
    transferring: int  # on the wire
    responses: int  # responses downloaded during the interval
    rate: float  # responses per second during the interval
    latency: float | None  # mean download_latency of those responses


@dataclass(frozen=True, slots=True)
class Adjustment:
    """One change of a slot's delay (or a response that left it as it was)."""

    time: float
    slot: str
    kind: str  # "autothrottle", "user" or "external"
    reason: str
    old_delay: float
    new_delay: float
    status: int | None = None
    latency: float | None = None
    target: float | None = None  # latency / AUTOTHROTTLE_TARGET_CONCURRENCY
    transferring: int = 0
    size: int = 0
    detail: str = ""


class _ResponseFields(TypedDict):
    """The fields of an :class:`Adjustment` that come from the response."""

    status: int
    latency: float | None
    transferring: int
    size: int


@dataclass(frozen=True, slots=True)
class SlotRow:
    key: str
    live: bool  # still in downloader.slots (Scrapy drops a slot idle for a minute)
    concurrency: int
    active: int
    queued: int
    transferring: int
    delay: float
    target_delay: float | None  # AutoThrottle's target at the last response
    latency_last: float | None
    latency_mean: float | None  # over the last LATENCY_WINDOW responses
    latency_p95: float | None
    responses: int
    errors: int
    non200: int
    rate: float  # responses per second over the last RATE_WINDOW seconds
    last_seen: float | None  # wall time of the last response or error
    autothrottle: str  # "on", "held" or "-" (AutoThrottle not enabled)
    overrides: str  # what the user set here: "delay", "concurrency", ...


@dataclass(frozen=True, slots=True)
class PaceView:
    time: float
    rows: tuple[SlotRow, ...]
    settings: tuple[tuple[str, str], ...]  # the settings in force, as shown
    autothrottle: str | None  # the AutoThrottle class in use, or None
    selected: str | None  # the slot of series and adjustments (None: all)
    series: tuple[PacePoint, ...]
    adjustments: tuple[Adjustment, ...]  # newest last
    adjustments_total: int
    in_flight: int  # downloader.active
    total_concurrency: int  # CONCURRENT_REQUESTS (0: no limit)


def explain(
    old: float,
    new: float,
    latency: float,
    status: int,
    target_concurrency: float,
    min_delay: float,
    max_delay: float,
) -> tuple[float, str]:
    """(target delay, reason) of one adjustment, by AutoThrottle's stock policy.

    ``new`` is what the extension actually set; when the stock formula gives
    something else, the extension runs its own policy (a subclass).
    """
    target = latency / target_concurrency
    halfway = (old + target) / 2.0
    proposed = max(target, halfway)
    clamped = min(max(min_delay, proposed), max_delay)
    if status != 200 and clamped <= old:
        expected, reason = old, NON_200_KEPT
    elif clamped != proposed:
        expected, reason = clamped, (AT_MINIMUM if clamped == min_delay else AT_MAXIMUM)
    else:
        expected, reason = clamped, (UP_TO_TARGET if target > halfway else TOWARD_TARGET)
    if abs(new - expected) > 1e-9:
        reason = CUSTOM
    return target, reason


def percentile(values: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile (``fraction`` in 0..1) of ``values``."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), -(-len(ordered) * fraction // 1)))
    return ordered[int(rank) - 1]


def settings_in_force(s: Any) -> tuple[tuple[str, str], ...]:
    """The pace settings as shown: AutoThrottle's, delays, concurrency, DOWNLOAD_SLOTS."""
    names = (
        "AUTOTHROTTLE_ENABLED",
        "AUTOTHROTTLE_TARGET_CONCURRENCY",
        "AUTOTHROTTLE_START_DELAY",
        "AUTOTHROTTLE_MAX_DELAY",
        "AUTOTHROTTLE_DEBUG",
        "DOWNLOAD_DELAY",
        "DOWNLOAD_DELAY_JITTER",
        "CONCURRENT_REQUESTS",
        "CONCURRENT_REQUESTS_PER_DOMAIN",
        "CONCURRENT_REQUESTS_PER_IP",
    )
    out = [(name, str(s.get(name))) for name in names if s.get(name) is not None]
    if (s.getpriority("RANDOMIZE_DOWNLOAD_DELAY") or 0) > SETTINGS_PRIORITIES["default"]:
        out.append(("RANDOMIZE_DOWNLOAD_DELAY", str(s.get("RANDOMIZE_DOWNLOAD_DELAY"))))
    slots = s.getdict("DOWNLOAD_SLOTS")
    out.append(("DOWNLOAD_SLOTS", f"{len(slots)} slot(s) configured" if slots else "{}"))
    return tuple(out)


@dataclass(slots=True)
class _Tick:
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
class _Track:
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
    tick: _Tick = field(default_factory=_Tick)
    series: deque[PacePoint] = field(default_factory=lambda: deque(maxlen=SERIES_POINTS))
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return max(0, self.left - self.responses)


class PaceMonitor:
    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.tracks: dict[str, _Track] = {}
        self.total: deque[PacePoint] = deque(maxlen=TOTAL_POINTS)
        self._tick = _Tick()  # the whole crawl's
        self._last_sample: float | None = None
        self.adjustments: deque[Adjustment] = deque(maxlen=ADJUSTMENTS_KEPT)
        self.adjustments_total = 0
        self.throttle: Any = None  # the AutoThrottle extension, once the spider opened
        self.held: set[str] = set()
        self.hold_new = False  # slots not seen yet start held
        self._loop: Any = None
        self.total_concurrency = settings.getint("CONCURRENT_REQUESTS")
        self.settings = settings_in_force(settings)  # the settings are frozen: read once

    # -- wiring --------------------------------------------------------------

    @property
    def downloader(self) -> Any:
        engine = getattr(self.crawler, "engine", None)
        return getattr(engine, "downloader", None)

    def attach_throttle(self) -> None:
        """Take over AutoThrottle's response receiver (see the module's docstring)."""
        from scrapy.extensions.throttle import AutoThrottle

        extensions = getattr(self.crawler, "extensions", None)
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

    def stop_sampling(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(Exception):
                self._loop.stop()
            self._loop = None
        self.sample()

    # -- recording -----------------------------------------------------------

    def _track(self, key: str) -> _Track:
        track = self.tracks.get(key)
        if track is None:
            track = self.tracks[key] = _Track(key)
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
        track: _Track,
        slot: Any,
        response: Response,
        request: Request,
        latency: float | None,
        old: float,
        now: float,
    ) -> None:
        key = track.key
        common: _ResponseFields = {
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

    # -- reading ---------------------------------------------------------------

    def _row(self, track: _Track, slot: Any) -> SlotRow:
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

    # -- control ---------------------------------------------------------------

    def _keys(self, key: str | None) -> list[str]:
        if key is None:
            return sorted(set(getattr(self.downloader, "slots", {})) | set(self.tracks))
        if key not in self.tracks and key not in getattr(self.downloader, "slots", {}):
            raise ValueError(f"no downloader slot {key!r}")
        return [key]

    def _kick(self, slot: Any) -> None:
        """Apply a slot's new delay or concurrency now (not after the wait already set)."""
        downloader = self.downloader
        if slot.latercall is not None:
            slot.latercall.cancel()
            slot.latercall = None
        with contextlib.suppress(Exception):
            downloader._process_queue(slot)

    def _override(self, key: str, name: str, value: Any) -> None:
        self._track(key).overrides[name] = value
        downloader = self.downloader
        if downloader is not None:
            downloader.per_slot_settings.setdefault(key, {})[name] = value

    def set_delay(self, key: str | None, seconds: float) -> str:
        """Set a slot's delay (``key`` None: every slot, and new ones)."""
        if not 0 <= seconds <= MAX_DELAY:
            raise ValueError(f"a delay is between 0 and {MAX_DELAY:g} seconds, not {seconds:g}")
        downloader = self.downloader
        if downloader is None:
            raise ValueError("the crawl has no downloader yet")
        keys = self._keys(key)
        now = time.time()
        held = []
        for k in keys:
            slot = downloader.slots.get(k)
            old = slot.delay if slot is not None else self._track(k).last_delay or 0.0
            if slot is not None:
                slot.delay = seconds
                self._kick(slot)
            self._override(k, "delay", seconds)
            track = self._track(k)
            track.last_delay = seconds
            self._add(Adjustment(now, k, "user", USER, old, seconds))
            if self.throttle is not None and k not in self.held:
                self.held.add(k)
                held.append(k)
        where = f"slot {key}" if key is not None else "every slot and new ones"
        if key is None:
            downloader._delay = seconds
            if self.throttle is not None:
                self.hold_new = True
        message = f"Delay of {where} set to {seconds:g}s"
        if held:
            message += " (AutoThrottle's adjustment is off there now, so it holds; a: back on)"
        logger.info("%s in workbench.", message)
        return message + "."

    def set_concurrency(self, key: str | None, value: int) -> str:
        """Set a slot's concurrency (``key`` None: every slot, and new ones)."""
        if not 1 <= value <= MAX_CONCURRENCY:
            raise ValueError(f"a concurrency is between 1 and {MAX_CONCURRENCY}, not {value}")
        downloader = self.downloader
        if downloader is None:
            raise ValueError("the crawl has no downloader yet")
        now = time.time()
        for k in self._keys(key):
            slot = downloader.slots.get(k)
            old = slot.concurrency if slot is not None else None
            if slot is not None:
                slot.concurrency = value
                self._kick(slot)
            self._override(k, "concurrency", value)
            delay = slot.delay if slot is not None else 0.0
            detail = f"concurrency {old if old is not None else '-'} -> {value}"
            self._add(Adjustment(now, k, "user", USER, delay, delay, detail=detail))
        if key is None:
            if downloader.ip_concurrency:
                downloader.ip_concurrency = value
            else:
                downloader.domain_concurrency = value
        where = f"slot {key}" if key is not None else "every slot and new ones"
        message = f"Concurrency of {where} set to {value}"
        if self.total_concurrency and value > self.total_concurrency:
            message += f" (CONCURRENT_REQUESTS={self.total_concurrency} still caps the crawl)"
        logger.info("%s in workbench.", message)
        return message + "."

    def set_autothrottle(self, key: str | None, on: bool) -> str:
        """Let AutoThrottle adjust a slot's delay, or hold it where it is."""
        if self.throttle is None:
            raise ValueError(
                "AutoThrottle is not enabled in this crawl (AUTOTHROTTLE_ENABLED=True enables it)"
            )
        keys = self._keys(key)
        now = time.time()
        downloader = self.downloader
        for k in keys:
            if on:
                self.held.discard(k)
                # the delay is AutoThrottle's again, also for the slot re-made after idling
                self._track(k).overrides.pop("delay", None)
                if downloader is not None:
                    downloader.per_slot_settings.get(k, {}).pop("delay", None)
            else:
                self.held.add(k)
            slot = getattr(downloader, "slots", {}).get(k)
            delay = slot.delay if slot is not None else 0.0
            detail = f"AutoThrottle {'on' if on else 'held'}"
            self._add(Adjustment(now, k, "user", USER, delay, delay, detail=detail))
        if key is None:
            self.hold_new = not on
        where = f"slot {key}" if key is not None else "every slot"
        message = (
            f"AutoThrottle adjusts the delay of {where} again"
            if on
            else f"AutoThrottle holds the delay of {where} as it is"
        )
        logger.info("%s (set in workbench).", message)
        return message + "."


def pace_for(crawler: Crawler) -> PaceMonitor:
    monitor = getattr(crawler, PACE_ATTR, None)
    if monitor is None:
        monitor = PaceMonitor(crawler)
        setattr(crawler, PACE_ATTR, monitor)
    return monitor


class PaceExtension:
    """Feeds the crawler's :class:`PaceMonitor` (see the module's docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.monitor = pace_for(crawler)
        for handler, signal in self._receivers():
            crawler.signals.connect(handler, signal=signal)

    def _receivers(self) -> list[tuple[Any, Any]]:
        return [
            (self.spider_opened, signals.spider_opened),
            (self.spider_closed, signals.spider_closed),
            (self.response_downloaded, signals.response_downloaded),
            (self.request_left, signals.request_left_downloader),
        ]

    def detach(self) -> None:
        """Undo this extension (an attach agent installed it and is leaving).

        AutoThrottle gets its own receiver back, so it adjusts every slot
        again, including slots held from workbench."""
        for handler, signal in self._receivers():
            self.crawler.signals.disconnect(handler, signal=signal)
        monitor = self.monitor
        monitor.stop_sampling()
        throttle = monitor.throttle
        if throttle is not None:
            self.crawler.signals.connect(
                throttle._response_downloaded, signal=signals.response_downloaded
            )
            monitor.throttle = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PaceExtension:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        self.monitor.attach_throttle()
        self.monitor.start_sampling()

    def spider_closed(self, spider: Any, reason: str) -> None:
        self.monitor.stop_sampling()

    def response_downloaded(self, response: Response, request: Request, spider: Any) -> None:
        self.monitor.on_response(response, request)

    def request_left(self, request: Request, spider: Any) -> None:
        self.monitor.on_left(request)
