"""What the downloader has on the wire, how long each has been there, and stalls.

Scrapy keeps no start time for a download: a slot's ``transferring`` is a
plain set, and the HTTP handlers keep their start time and byte count to
themselves.  :class:`TransferClock`, installed on the crawl's downloader
when the spider opens (or when an attached agent installs the recorder),
gives every slot a ``transferring`` set that notes when each request went
on the wire (:class:`TimedSet`).  Scrapy adds a request to it just before
the download handler starts the ``DOWNLOAD_TIMEOUT`` timer and removes it
when the download ends (a response or an error), so the age it gives is the
age the timeout counts.  That is the whole per-request cost: two Python calls
instead of C ones, a clock read and one dict entry while the request is on
the wire.  Slots the downloader creates later get one as they are stored
(its ``slots`` dict notices; nothing runs per request for that).  Requests
already on the wire when the clock was installed (attaching) get the slot's
``lastseen``, the latest start among them: their age is "at least".

The last response is stamped by the recorder's ``response_downloaded``
receiver (one attribute store); "stalled" means requests have been on the
wire for ``WORKBENCH_STALL_AFTER`` seconds and not one response came back.

Bytes received so far come from Scrapy's ``bytes_received`` signal, which
the clock listens to only while someone looks at the list and a request has
been on the wire for :data:`SLOW` seconds, or while the crawl is stalled: a
receiver costs a signal dispatch per chunk of every body (about 28 us measured
here, a few percent of a fast crawl's CPU).  It stops by itself
:data:`COUNT_FOR` seconds after the last look.  A request that was already on
the wire when counting began shows "at least" what was counted.

Everything else is read when asked: a request's ``download_timeout``,
``retry_times`` and ``max_retry_times`` meta, the retry middleware.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from time import monotonic
from typing import Any
from urllib.parse import urlsplit

CLOCK_ATTR = "workbench_clock"  # on the crawler: its TransferClock
INSTALLED_ATTR = "_workbench_clock"  # on the downloader: the clock installed there
COUNT_FOR = 5.0  # seconds bytes are counted after the in-flight list was last read
SLOW = 2.0  # seconds on the wire after which a request's bytes are worth counting
STALL_SETTING = "WORKBENCH_STALL_AFTER"
MAX_LISTED = 500  # in-flight rows listed at most


def default_stall_after(download_timeout: float) -> float:
    """A sixth of DOWNLOAD_TIMEOUT, between 10 s and a minute (180 s: 30 s)."""
    return max(10.0, min(60.0, download_timeout / 6))


# -- what a reader gets ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InFlightRequest:
    """One request the downloader holds, as it was when read."""

    url: str
    method: str
    slot: str
    # "transferring": on the wire; "waiting": in its slot's queue (DOWNLOAD_DELAY,
    # the slot's concurrency, a pause); "middleware": in a downloader middleware
    state: str
    age: float | None = None  # seconds on the wire (None unless transferring)
    exact: bool = True  # False: on the wire before workbench watched; at least `age`
    received: int | None = None  # body bytes so far (None: not counted)
    received_exact: bool = True  # False: counting began after it started; at least that
    timeout: float | None = None  # its download_timeout (meta, else DOWNLOAD_TIMEOUT)
    retries: int = 0  # retry_times: how many times it was retried already
    max_retries: int | None = None  # None: not retried (no RetryMiddleware, dont_retry)
    retry_on_timeout: bool = False  # a timeout is one of the retried exceptions
    callback: str | None = None
    depth: int = 0
    priority: int = 0

    @property
    def left(self) -> float | None:
        """Seconds before its download timeout fires (negative: overdue)."""
        if self.age is None or not self.timeout:
            return None
        return self.timeout - self.age

    @property
    def retried_after_timeout(self) -> bool:
        """Its timeout would be followed by another attempt."""
        return (
            self.retry_on_timeout
            and self.max_retries is not None
            and self.retries < self.max_retries
        )


@dataclass(frozen=True, slots=True)
class InFlightSummary:
    """The status line's part: what is on the wire, and whether answers stopped."""

    count: int  # requests on the wire
    quiet: float  # seconds during which requests were on the wire and none answered
    stall_after: float  # WORKBENCH_STALL_AFTER
    oldest_age: float = 0.0
    oldest_exact: bool = True
    oldest_url: str = ""
    oldest_left: float | None = None  # seconds before the oldest one times out
    last_left: float | None = None  # seconds before the last one on the wire times out
    waiting: int = 0  # in the downloader, not yet on the wire (slot queues, middlewares)

    @property
    def stalled(self) -> bool:
        return self.count > 0 and self.quiet >= self.stall_after


def merge_summaries(summaries: list[InFlightSummary | None]) -> InFlightSummary | None:
    """Several crawlers: the most stalled one's figures, the counts of all."""
    known = [s for s in summaries if s is not None]
    if not known:
        return None
    worst = max(known, key=lambda s: (s.stalled, s.quiet if s.stalled else s.oldest_age))
    lefts = [s.last_left for s in known if s.last_left is not None]
    return InFlightSummary(
        count=sum(s.count for s in known),
        quiet=worst.quiet,
        stall_after=worst.stall_after,
        oldest_age=worst.oldest_age,
        oldest_exact=worst.oldest_exact,
        oldest_url=worst.oldest_url,
        oldest_left=worst.oldest_left,
        last_left=max(lefts) if lefts else None,
        waiting=sum(s.waiting for s in known),
    )


STATE_ORDER = {"transferring": 0, "waiting": 1, "middleware": 2}


def oldest_first(requests: Iterable[InFlightRequest]) -> tuple[InFlightRequest, ...]:
    """On the wire first, the oldest first; then those waiting, then in middlewares."""
    return tuple(sorted(requests, key=lambda r: (STATE_ORDER.get(r.state, 3), -(r.age or 0.0))))


def mmss(seconds: float, up: bool = False) -> str:
    """A span as m:ss ("2:10"), h:mm:ss from an hour on; never negative.  ``up``
    rounds up (a countdown: "in 0:38" beside an age of 0:22, not "in 0:37")."""
    whole = max(0, math.ceil(seconds) if up else int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:d}:{secs:02d}"


def times_out(left: float | None, exact: bool = True) -> str:
    """When a download timeout fires: "times out in 0:50" ("within" when its start
    is a bound: on the wire before workbench watched)."""
    if left is None:
        return "no timeout"
    if left <= 0:
        return "timing out"
    return f"times out {'in' if exact else 'within'} {mmss(left, up=True)}"


def stall_text(transfers: InFlightSummary) -> str:
    """No response for a while: "stalled 40 s: 6 in flight, oldest 2:10 item/7,
    times out in 0:50" (raw text: sanitise it before it reaches a terminal)."""
    at_least = "" if transfers.oldest_exact else "≥"
    return (
        f"stalled {transfers.quiet:.0f} s: {transfers.count} in flight, "
        f"oldest {at_least}{mmss(transfers.oldest_age)} {short_url(transfers.oldest_url)}, "
        f"{times_out(transfers.oldest_left, transfers.oldest_exact)}"
    )


def closing_text(transfers: InFlightSummary) -> str:
    """Closing: how long until the last request on the wire times out."""
    waiting = f", {transfers.waiting} more waiting" if transfers.waiting else ""
    last = transfers.last_left
    if last is None:
        return f"{transfers.count} in flight, no timeout{waiting}"
    when = f"in {mmss(last, up=True)}" if last > 0 else "now"
    return f"{transfers.count} in flight, the last times out {when}{waiting}"


def short_url(url: str, limit: int = 24) -> str:
    """The part of a URL that tells it from its neighbours: its path and query,
    their end kept when long ("item/7" for http://host/item/7); the host for "/"."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url[-limit:]
    rest = parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
    if not rest:
        return parts.netloc or url[-limit:]
    return rest if len(rest) <= limit else "…" + rest[-(limit - 1) :]


# -- the clock on the downloader -------------------------------------------------


class TimedSet(set[Any]):
    """A downloader slot's ``transferring``: notes when each request went on the wire."""

    __slots__ = ("clock",)

    clock: TransferClock

    def add(self, request: Any) -> None:
        set.add(self, request)
        clock = self.clock
        since = clock.since
        now = monotonic()
        if not since:
            clock.busy_since = now
        since[request] = now

    def remove(self, request: Any) -> None:
        set.remove(self, request)
        clock = self.clock
        clock.since.pop(request, None)
        if clock.received or clock.guessed:
            clock.forget(request)

    def discard(self, request: Any) -> None:
        set.discard(self, request)
        self.clock.forget(request)


class _Slots(dict[Any, Any]):
    """The downloader's ``slots``: a slot stored there gets a :class:`TimedSet`."""

    __slots__ = ("clock",)

    clock: TransferClock

    def __setitem__(self, key: Any, slot: Any) -> None:
        self.clock.adopt(slot, monotonic())
        dict.__setitem__(self, key, slot)


class TransferClock:
    """Start times of the requests on the wire, the last response, the bytes so far."""

    def __init__(self, crawler: Any) -> None:
        self.crawler = crawler
        settings = crawler.settings
        self.default_timeout = settings.getfloat("DOWNLOAD_TIMEOUT")
        stall = settings.get(STALL_SETTING)
        self.stall_after = (
            float(stall) if stall not in (None, "") else default_stall_after(self.default_timeout)
        )
        self.since: dict[Any, float] = {}  # request -> monotonic time it went on the wire
        self.guessed: set[Any] = set()  # on the wire before the clock: start is a bound
        self.received: dict[Any, int] = {}  # request -> body bytes (while counting)
        self.busy_since = monotonic()  # requests on the wire without a break since
        self.last_response = 0.0  # monotonic time of the last response downloaded
        self.downloader: Any = None
        self.counting = False
        self.counting_since = 0.0
        self.count_until = 0.0
        self._retry: tuple[int, tuple[type, ...]] | None = None  # RetryMiddleware's

    # -- installing ---------------------------------------------------------------

    def install(self, engine: Any) -> None:
        """Time the crawl's downloads from now on (idempotent)."""
        downloader = getattr(engine, "downloader", None)
        if downloader is None or vars(downloader).get(INSTALLED_ATTR) is self:
            return
        now = monotonic()
        # responses before now are unknown (attaching): no stall is claimed before
        # WORKBENCH_STALL_AFTER seconds have passed without one
        self.last_response = max(self.last_response, now)
        slots = _Slots(downloader.slots)
        slots.clock = self
        for slot in slots.values():
            self.adopt(slot, now)
        downloader.slots = slots
        setattr(downloader, INSTALLED_ATTR, self)
        self.downloader = downloader
        self._retry = None

    def uninstall(self) -> None:
        """Give the downloader its plain sets back (an attached agent leaves)."""
        downloader = self.downloader
        if downloader is None or vars(downloader).get(INSTALLED_ATTR) is not self:
            return
        self.stop_counting()
        for slot in list(downloader.slots.values()):
            if isinstance(slot.transferring, TimedSet):
                slot.transferring = set(slot.transferring)
        downloader.slots = dict(downloader.slots)
        delattr(downloader, INSTALLED_ATTR)
        self.downloader = None
        self.since.clear()
        self.guessed.clear()

    def adopt(self, slot: Any, now: float) -> None:
        current = slot.transferring
        if isinstance(current, TimedSet):
            return
        timed = TimedSet(current)
        timed.clock = self
        if current:
            # already on the wire: each started at or before the slot's last start
            start = slot.lastseen if 0 < slot.lastseen <= now else now
            for request in current:
                self.since.setdefault(request, start)
                self.guessed.add(request)
            self.busy_since = min(self.busy_since, start)
        slot.transferring = timed

    def forget(self, request: Any) -> None:
        self.since.pop(request, None)
        if self.received:
            self.received.pop(request, None)
        if self.guessed:
            self.guessed.discard(request)

    # -- bytes, while someone looks -----------------------------------------------------

    def count_bytes(self) -> None:
        """Count body bytes for the next COUNT_FOR seconds."""
        now = monotonic()
        self.count_until = now + COUNT_FOR
        if self.counting:
            return
        from scrapy import signals

        self.received.clear()
        self.crawler.signals.connect(self.bytes_received, signal=signals.bytes_received)
        self.counting = True
        self.counting_since = now

    def bytes_received(self, data: bytes, request: Any, spider: Any = None) -> None:
        received = self.received
        received[request] = received.get(request, 0) + len(data)
        if monotonic() > self.count_until:
            self.stop_counting()

    def stop_counting(self) -> None:
        if not self.counting:
            return
        from scrapy import signals

        self.crawler.signals.disconnect(self.bytes_received, signal=signals.bytes_received)
        self.counting = False
        self.received.clear()

    # -- reading ------------------------------------------------------------------------

    def _on_wire(self) -> list[tuple[float, Any]]:
        """(start, request) of the requests on the wire, oldest first; forgets any
        a third party took out of a slot behind the clock's back."""
        slots = self.downloader.slots if self.downloader is not None else {}
        live = []
        for request, start in list(self.since.items()):
            slot = slots.get(request.meta.get("download_slot"))
            if slot is None or request not in slot.transferring:
                self.forget(request)
                continue
            live.append((start, request))
        live.sort(key=lambda pair: pair[0])
        return live

    def timeout_of(self, request: Any) -> float | None:
        timeout = request.meta.get("download_timeout") or self.default_timeout
        return float(timeout) if timeout else None

    def summary(self) -> InFlightSummary | None:
        if self.downloader is None:
            return None
        now = monotonic()
        live = self._on_wire()
        waiting = max(0, len(getattr(self.downloader, "active", ())) - len(live))
        quiet = now - max(self.last_response, self.busy_since) if live else 0.0
        if not live:
            return InFlightSummary(0, 0.0, self.stall_after, waiting=waiting)
        if quiet >= self.stall_after:
            self.count_bytes()  # stalled: is anything still coming? (cheap: little is)
        start, oldest = live[0]
        age = now - start
        timeout = self.timeout_of(oldest)
        deadlines = [s + t for s, r in live if (t := self.timeout_of(r))]
        return InFlightSummary(
            count=len(live),
            quiet=quiet,
            stall_after=self.stall_after,
            oldest_age=age,
            oldest_exact=oldest not in self.guessed,
            oldest_url=oldest.url,
            oldest_left=timeout - age if timeout else None,
            last_left=max(deadlines) - now if deadlines else None,
            waiting=waiting,
        )

    def requests(self, limit: int = MAX_LISTED, count_bytes: bool = True) -> list[InFlightRequest]:
        """Every request the downloader holds: on the wire (oldest first), waiting in
        a slot, in a middleware.  Starts counting bytes when one has been on the wire
        for :data:`SLOW` seconds (see :meth:`count_bytes`): in a crawl where every
        download takes milliseconds, nothing is counted and nothing is paid."""
        downloader = self.downloader
        if downloader is None:
            return []
        now = monotonic()
        live = self._on_wire()
        if count_bytes and live and now - live[0][0] >= SLOW:
            self.count_bytes()  # something is slow: are its bytes coming?
        out = [self._describe(r, "transferring", now - start) for start, r in live[:limit]]
        seen = {id(r) for _, r in live}
        slots = downloader.slots
        for key, slot in list(slots.items()):
            for request, _ in list(slot.queue):
                if len(out) >= limit:
                    return out
                seen.add(id(request))
                out.append(self._describe(request, "waiting", None, str(key)))
        for request in list(getattr(downloader, "active", ())):
            if len(out) >= limit:
                break
            if id(request) in seen:
                continue
            slot = slots.get(request.meta.get("download_slot"))
            state = "middleware" if slot is None or request not in slot.active else "waiting"
            out.append(self._describe(request, state, None))
        return out

    def _retry_policy(self) -> tuple[int, tuple[type, ...]] | None:
        """(RETRY_TIMES, retried exceptions) of the crawl's RetryMiddleware, if any."""
        if self._retry is None:
            from scrapy.downloadermiddlewares.retry import RetryMiddleware

            manager = getattr(self.downloader, "middleware", None)
            found = next(
                (m for m in getattr(manager, "middlewares", ()) if isinstance(m, RetryMiddleware)),
                None,
            )
            self._retry = (
                (-1, ())
                if found is None
                else (found.max_retry_times, tuple(found.exceptions_to_retry))
            )
        return None if self._retry[0] < 0 else self._retry

    def _describe(
        self, request: Any, state: str, age: float | None, slot: str | None = None
    ) -> InFlightRequest:
        from scrapy.exceptions import DownloadTimeoutError

        from workbench.core.recording.tap import callback_name

        meta = request.meta
        policy = self._retry_policy()
        max_retries = None
        on_timeout = False
        if policy is not None and not meta.get("dont_retry", False):
            max_retries = int(meta.get("max_retry_times", policy[0]))
            on_timeout = any(issubclass(DownloadTimeoutError, e) for e in policy[1])
        received = self.received.get(request, 0) if self.counting else None
        start = self.since.get(request)
        return InFlightRequest(
            url=request.url,
            method=request.method,
            slot=slot if slot is not None else str(meta.get("download_slot", "")),
            state=state,
            age=age,
            exact=request not in self.guessed,
            received=received if state == "transferring" else None,
            received_exact=start is not None and start >= self.counting_since,
            timeout=self.timeout_of(request),
            retries=int(meta.get("retry_times", 0)),
            max_retries=max_retries,
            retry_on_timeout=on_timeout,
            callback=callback_name(request),
            depth=int(meta.get("depth", 0)),
            priority=request.priority,
        )


def clock_for(crawler: Any) -> TransferClock:
    """The crawler's clock, created on first use (installed by the recorder)."""
    clock = getattr(crawler, CLOCK_ATTR, None)
    if clock is None:
        clock = TransferClock(crawler)
        setattr(crawler, CLOCK_ATTR, clock)
    return clock


def installed_clock(engine: Any) -> TransferClock | None:
    """The clock installed on an engine's downloader, if any."""
    downloader = getattr(engine, "downloader", None)
    return vars(downloader).get(INSTALLED_ATTR) if downloader is not None else None
