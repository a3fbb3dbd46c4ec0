"""Live references over time: Scrapy's trackref, sampled, with a leak hint.

``scrapy.utils.trackref.live_refs`` maps every class that inherits from
``object_ref`` (Request, Response and subclasses, Item, Selector, Spider and
any project class) to a weak dictionary of its live instances and their
creation times.  :class:`RefTracker` samples it (at most once per interval),
keeps a bounded history per class and computes what ``prefs()`` cannot: the
change since the last sample and since a baseline, the growth per minute and
a hint when a class keeps growing while pages complete.  A flagged class stays
flagged while its objects are still held (the crawl over, the growth stopped),
until they are released.

Counting is cheap (``len`` of each weak dictionary); the oldest age is the
first entry's (trackref inserts objects as they are created).  No object is
kept: the history is keyed by class name.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from types import NoneType
from typing import Any

from scrapy.http import Request, Response
from scrapy.utils import trackref


def class_key(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


@dataclass(frozen=True, slots=True)
class LeakHint:
    """Why a class looks like it leaks, and (once searched) what holds it."""

    message: str
    per_minute: float
    path: str | None = None  # the most common referrer path, generalised
    path_share: str = ""  # e.g. "4 of 5 sampled"


@dataclass(frozen=True, slots=True)
class RefRow:
    key: str  # module.qualname: unique
    name: str  # what prefs() prints (the class's __name__)
    count: int
    delta: int  # since the previous sample
    since_baseline: int | None
    per_minute: float
    oldest_age: float  # seconds; 0 when there is none
    history: tuple[int, ...]
    ignored: bool
    leak: LeakHint | None


@dataclass(frozen=True, slots=True)
class RefsView:
    time: float
    rows: tuple[RefRow, ...]
    baseline_time: float | None
    ignored: tuple[str, ...]
    interval: float
    window: float

    def row(self, key: str) -> RefRow | None:
        return next((r for r in self.rows if r.key == key), None)


@dataclass(slots=True)
class _ClassHistory:
    name: str
    counts: deque[tuple[float, int]]
    oldest_age: float = 0.0


@dataclass(slots=True)
class _Flag:
    """A class once flagged: the count before it grew, the most it rose, when."""

    low: int
    rise: int
    since: float


@dataclass(frozen=True, slots=True)
class CrawlPace:
    """What the crawl was doing at a sample: to tell a leak from a busy crawl."""

    pages: int = 0  # responses received so far
    in_flight: int = 0  # requests in the downloader
    queued: int = 0  # requests in the scheduler


def live_classes(ignore: tuple[type, ...] = ()) -> list[tuple[type, Any]]:
    """(class, weak dict of its live objects) for every tracked class, as prefs() reads them."""
    out = []
    for cls, wdict in list(trackref.live_refs.items()):
        if ignore and issubclass(cls, ignore):
            continue
        out.append((cls, wdict))
    return out


def find_class(key: str) -> type | None:
    for cls in list(trackref.live_refs.keys()):
        if class_key(cls) == key or cls.__name__ == key:
            return cls
    return None


class RefTracker:
    """Samples trackref's live objects; bounded history; leak hints.

    ``window`` is the span the growth and the leak hint look at; ``min_rise``
    the growth (in objects) below which nothing is flagged.
    """

    def __init__(
        self,
        interval: float = 1.0,
        window: float = 30.0,
        maxlen: int = 900,
        min_rise: int = 20,
        clock: Any = time.monotonic,
    ) -> None:
        self.interval = interval
        self.window = window
        self.min_rise = min_rise
        self.maxlen = maxlen
        self.clock = clock
        self.classes: dict[str, _ClassHistory] = {}
        self.pace: deque[tuple[float, CrawlPace]] = deque(maxlen=maxlen)
        self.baseline: dict[str, int] | None = None
        self.baseline_time: float | None = None
        self.ignored: set[str] = set()
        self.paths: dict[str, tuple[str, str]] = {}  # class key -> (path, share)
        self.flags: dict[str, _Flag] = {}  # class key -> flagged, while still held
        # class key -> (message, count before the rise, rise) while it grows as a leak
        self.growth: dict[str, tuple[str, int, int] | None] = {}
        self.last_sample: float | None = None

    # -- sampling ------------------------------------------------------------------

    def sample(self, pace: CrawlPace | None = None, now: float | None = None) -> bool:
        """Take a sample unless one was taken less than ``interval`` ago."""
        now = self.clock() if now is None else now
        if self.last_sample is not None and now - self.last_sample < self.interval:
            return False
        self.last_sample = now
        now_ns = int(now * 1e9)  # the clock is monotonic, like trackref's creation times
        seen = set()
        for cls, wdict in live_classes():
            key = class_key(cls)
            seen.add(key)
            hist = self.classes.get(key)
            if hist is None:
                hist = self.classes[key] = _ClassHistory(cls.__name__, deque(maxlen=self.maxlen))
            count = len(wdict)
            try:
                # trackref adds each object when it is created, and dicts keep
                # insertion order: the first value is the oldest (no O(n) min)
                oldest = next(iter(wdict.values()), None)
            except RuntimeError:  # changed size during iteration (another thread)
                oldest = None
            hist.counts.append((now, count))
            hist.oldest_age = (now_ns - oldest) / 1e9 if oldest is not None else 0.0
        for key, hist in self.classes.items():
            if key not in seen:  # the class itself was collected
                hist.counts.append((now, 0))
                hist.oldest_age = 0.0
        self.pace.append((now, pace or CrawlPace()))
        self._judge()
        return True

    def _judge(self) -> None:
        """Flag the classes growing as a leak does, at every sample (whether or not
        anyone looks), and unflag those whose gain was released."""
        for key, hist in self.classes.items():
            points = self._window(hist)
            growing = self._growing(key, hist, points, self._slope(points) * 60)
            self.growth[key] = growing
            flag = self.flags.get(key)
            if growing is not None:
                _, low, rise = growing
                if flag is None:
                    self.flags[key] = _Flag(low, rise, points[-1][0])
                else:
                    flag.low, flag.rise = min(flag.low, low), max(flag.rise, rise)
            elif flag is not None and hist.counts:
                held = hist.counts[-1][1] - flag.low
                if held < max(self.min_rise, flag.rise // 2):  # released: not a leak
                    del self.flags[key]

    # -- controls ------------------------------------------------------------------

    def set_baseline(self) -> None:
        self.baseline = {key: h.counts[-1][1] for key, h in self.classes.items() if h.counts}
        self.baseline_time = self.last_sample

    def clear_baseline(self) -> None:
        self.baseline = None
        self.baseline_time = None

    def set_ignored(self, key: str, ignored: bool) -> None:
        if ignored:
            self.ignored.add(key)
        else:
            self.ignored.discard(key)

    def set_path(self, key: str, path: str, share: str) -> None:
        self.paths[key] = (path, share)

    # -- reading -------------------------------------------------------------------

    def ignored_classes(self) -> tuple[type, ...]:
        return tuple(
            cls for cls in list(trackref.live_refs.keys()) if class_key(cls) in self.ignored
        )

    def prefs_text(self) -> str:
        """Exactly what ``prefs()`` prints, with the ignored classes left out."""
        ignore = self.ignored_classes() or NoneType
        return trackref.format_live_refs(ignore=ignore)

    def view(self, history: int = 120) -> RefsView:
        rows = []
        ignored_types = self.ignored_classes()
        ignored_keys = set(self.ignored)
        for cls, _ in live_classes():  # subclasses of an ignored class are ignored too
            if ignored_types and issubclass(cls, ignored_types):
                ignored_keys.add(class_key(cls))
        for key, hist in self.classes.items():
            if not hist.counts:
                continue
            count = hist.counts[-1][1]
            if count == 0 and all(c == 0 for _, c in list(hist.counts)[-history:]):
                continue  # nothing alive, nothing recent: prefs() skips it too
            prev = hist.counts[-2][1] if len(hist.counts) > 1 else count
            base = None if self.baseline is None else count - self.baseline.get(key, 0)
            points = self._window(hist)  # once: the growth and the leak hint read it
            per_minute = self._slope(points) * 60
            rows.append(
                RefRow(
                    key=key,
                    name=hist.name,
                    count=count,
                    delta=count - prev,
                    since_baseline=base,
                    per_minute=per_minute,
                    oldest_age=hist.oldest_age,
                    history=tuple(c for _, c in list(hist.counts)[-history:]),
                    ignored=key in ignored_keys,
                    leak=None if key in ignored_keys else self._leak(key, hist, per_minute),
                )
            )
        rows.sort(key=lambda r: r.name)
        return RefsView(
            time=self.last_sample or 0.0,
            rows=tuple(rows),
            baseline_time=self.baseline_time,
            ignored=tuple(sorted(self.ignored)),
            interval=self.interval,
            window=self.window,
        )

    def _window(self, hist: _ClassHistory) -> list[tuple[float, int]]:
        if not hist.counts:
            return []
        end = hist.counts[-1][0]
        return [(t, c) for t, c in hist.counts if end - t <= self.window]

    @staticmethod
    def _slope(points: list[tuple[float, int]]) -> float:
        """Least-squares growth, objects per second, over the window's points."""
        if len(points) < 2:
            return 0.0
        n = len(points)
        mt = sum(t for t, _ in points) / n
        mc = sum(c for _, c in points) / n
        var = sum((t - mt) ** 2 for t, _ in points)
        if var <= 0:
            return 0.0
        return sum((t - mt) * (c - mc) for t, c in points) / var

    def _pace_at(self, t: float) -> CrawlPace:
        for when, pace in self.pace:
            if when >= t:
                return pace
        return self.pace[-1][1] if self.pace else CrawlPace()

    def expected(self, key: str, pace: CrawlPace) -> int:
        """How many objects of the class a healthy crawl holds at this pace."""
        cls = find_class(key)
        if cls is not None and issubclass(cls, Request):
            return pace.in_flight + pace.queued  # queued requests are alive by design
        if cls is not None and issubclass(cls, Response):
            return pace.in_flight
        return 0

    def _leak(self, key: str, hist: _ClassHistory, per_minute: float) -> LeakHint | None:
        """The hint while the class grows as a leak does; then, once the growth
        stops (the crawl over or paused), while what it gained is still held."""
        path, share = self.paths.get(key, (None, ""))
        growing = self.growth.get(key)
        if growing is not None:
            return LeakHint(growing[0], per_minute=per_minute, path=path, path_share=share)
        flag = self.flags.get(key)
        if flag is None or not hist.counts:
            return None
        now_t, count = hist.counts[-1]
        held = count - flag.low
        pace = self._pace_at(now_t)
        why = (
            "nothing is in flight or queued, so none of them should be"
            if not (pace.in_flight or pace.queued)
            else "the growth stopped, not the holding"
        )
        message = (
            f"{hist.name}: {count:,} live, still held: {flag.low:,} before the growth "
            f"flagged {now_t - flag.since:.0f}s ago, +{held:,} since; {why}; "
            f"oldest {hist.oldest_age:.0f}s"
        )
        return LeakHint(message=message, per_minute=per_minute, path=path, path_share=share)

    def _growing(
        self, key: str, hist: _ClassHistory, points: list[tuple[float, int]], per_minute: float
    ) -> tuple[str, int, int] | None:
        """(message, the count before the rise, the rise) when the class grows as a
        leak does: steadily, while pages complete, beyond what the pace needs, and
        with objects older than half the window."""
        if len(points) < 5:
            return None
        span = points[-1][0] - points[0][0]
        if span < self.window / 2 or per_minute <= 0:
            return None
        first_t = points[0][0]
        now_t, count = points[-1]
        low = min(c for _, c in points)
        rise = count - low
        if rise < max(self.min_rise, low // 4):
            return None
        start, now = self._pace_at(first_t), self._pace_at(now_t)
        pages = now.pages - start.pages
        if pages <= 0:  # nothing completes: a paused or stuck crawl, not a leak
            return None
        expected = self.expected(key, now)
        if count < 2 * expected + self.min_rise:
            return None
        if hist.oldest_age < span / 2:  # everything is young: churn, not retention
            return None
        what = f"; a crawl at this pace needs about {expected:,}" if expected else ""
        message = (
            f"{hist.name}: {count:,} live, +{rise:,} in {span:.0f}s "
            f"({per_minute:+,.0f}/min) while {pages:,} pages completed{what}; "
            f"oldest {hist.oldest_age:.0f}s"
        )
        return message, low, rise
