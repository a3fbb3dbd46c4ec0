"""What the pace monitor reports, and the numbers it keeps to.

The limits of the counters and series; the reasons an :class:`Adjustment`
gives (the stock AutoThrottle policy's, in its order, and workbench's own);
the records (:class:`PacePoint`, :class:`Adjustment`, :class:`SlotRow`,
:class:`PaceView`); :func:`explain` (which reason the stock policy gives an
adjustment), :func:`percentile` and :func:`settings_in_force`.  Plain data:
no Scrapy signals here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypedDict

from scrapy.settings import SETTINGS_PRIORITIES

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


class ResponseFields(TypedDict):
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
