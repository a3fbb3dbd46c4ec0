"""One scrapy-redis queue watched over time, with the fleet's crawls that use it.

:class:`RedisWatch` polls the queue (:class:`~.redis_queue.RedisQueueReader`),
asks each of the fleet's crawls on it for its report
(:data:`~.redis_workers.REPORT_CODE`, through an ``execute`` callable the
command hands in: ``core`` does not import ``remote``), matches Redis's
client connections to them, and makes a frozen :class:`RedisView`: sizes,
rates, the chart's series, the workers and the warnings.  It is also a fleet
annotator (``watch(rows) -> rows``): rows on the queue get its size in their
queue column.
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from workbench.core.fleet.model import LIVE_STATES, LOCAL, FleetRow
from workbench.core.fleet.redis_history import QueueHistory, Rates
from workbench.core.fleet.redis_queue import (
    PAGE,
    QueuePage,
    QueueReading,
    RedisKeys,
    RedisQueueReader,
)
from workbench.core.fleet.redis_warnings import WINDOW, QueueWarning, warnings_for
from workbench.core.fleet.redis_workers import (
    COUNTERS_CODE,
    REPORT_CODE,
    WorkerReport,
    pids_by_address,
    read_counters,
    read_report,
)

Execute = Callable[[FleetRow, str, float], dict]
FULL_EVERY = 30  # polls between a worker's full reports (its settings); counters between
REPORTS_AT_ONCE = 8  # workers asked at the same time
STATS_HASH = "the shared stats hash"
WORKERS = "the workers' counters"
ESTIMATED = "estimated from the dupefilter"


@dataclass(frozen=True)
class WorkerRow:
    """One crawl on the queue: its fleet row's figures and its own report."""

    pid: int | None
    host: str
    key: str | None = None  # its fleet row
    state: str = "?"
    in_flight: int | None = None
    pages_per_min: float | None = None
    items: int | None = None
    report: WorkerReport | None = None
    report_error: str | None = None
    clients: tuple[str, ...] = ()  # its Redis connections (client addresses)
    span: float | None = None  # seconds of reports behind the growths below
    dequeued_growth: int | None = None
    filtered_growth: int | None = None
    uptime: float | None = None  # seconds, from its fleet row

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES


@dataclass(frozen=True)
class RedisView:
    """What the Redis view shows, at one poll."""

    shown_url: str
    keys: RedisKeys
    reading: QueueReading | None = None
    rates: Rates = field(default_factory=Rates)
    sizes: tuple[float, ...] = ()
    enqueued: tuple[float, ...] = ()  # per minute, per poll
    dequeued: tuple[float, ...] = ()
    counters: str = ESTIMATED  # where enqueued and dequeued come from
    workers: tuple[WorkerRow, ...] = ()
    other_clients: int = 0  # connections no worker was matched to
    warnings: tuple[QueueWarning, ...] = ()
    polls: int = 0


def since_start(workers: list[WorkerRow]) -> Rates:
    """Before two readings: each worker's counters over its uptime, summed (as
    the fleet's rates from a single poll are the averages since each crawl
    started)."""
    timed = [
        (w.report, w.uptime)
        for w in workers
        if w.report is not None and w.uptime is not None and w.uptime > 0
    ]
    if not timed:
        return Rates()
    return Rates(
        enqueued=sum(r.enqueued * 60.0 / up for r, up in timed),
        dequeued=sum(r.dequeued * 60.0 / up for r, up in timed),
        exact=True,
    )


def on_queue(row: FleetRow, keys: RedisKeys, spider: str) -> bool:
    """Whether a fleet row's crawl is on this queue: its scheduler's queue key, or
    its spider's name when its scheduler is scrapy-redis's or not known (a crawl
    of the same name with Scrapy's own scheduler is another crawl: ``workbench
    demo`` is ``demo`` too)."""
    if row.queue_key:
        return row.queue_key == keys.queue
    if row.scheduler and not row.scheduler.startswith("scrapy_redis."):
        return False
    return row.spider == spider


class RedisWatch:
    """Polls one queue and its workers; thread-safe reads of the last view."""

    def __init__(
        self,
        url: str,
        spider: str,
        keys: RedisKeys | None = None,
        *,
        execute: Execute | None = None,
        serializer: str | None = None,
        timeout: float = 2.0,
    ) -> None:
        self.spider = spider
        self.keys = keys or RedisKeys.for_spider(spider)
        self.reader = RedisQueueReader(url, self.keys, serializer=serializer, timeout=timeout)
        self.execute = execute
        self.timeout = timeout
        self.history = QueueHistory()
        self._reports: dict[int, deque[tuple[float, WorkerReport]]] = {}
        self._counts: dict[int, tuple[int, int]] = {}  # pid -> last (enqueued, dequeued)
        self._full: dict[str, tuple[int, WorkerReport]] = {}  # row key -> (poll, report)
        self._pool: cf.ThreadPoolExecutor | None = None
        self._live: set[int] = set()  # the pids of the workers live at the last poll
        self._lock = threading.Lock()
        self._view = RedisView(self.reader.shown_url, self.keys)
        self._polls = 0

    @property
    def shown_url(self) -> str:
        return self.reader.shown_url

    def view(self) -> RedisView:
        with self._lock:
            return self._view

    def peek(self, offset: int = 0, limit: int = PAGE) -> QueuePage:
        return self.reader.peek(offset, limit)

    def close(self) -> None:
        self.reader.close()
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)

    def __call__(self, rows: list[FleetRow]) -> list[FleetRow]:
        """The fleet annotator: poll, then mark the rows on this queue."""
        view = self.poll(rows)
        size = view.reading.queue_size if view.reading and view.reading.ok else None
        notes = tuple(w.title.split(":")[0] for w in view.warnings)
        out = []
        for row in rows:
            if on_queue(row, self.keys, self.spider) and size is not None:
                row = row.with_(
                    queue_shared=f"redis {self.keys.queue} {size:,}",
                    notes=(*row.notes, *notes),
                )
            out.append(row)
        return out

    def _report(self, row: FleetRow) -> tuple[WorkerReport | None, str | None]:
        """The worker's report: in full once a minute, its counters between."""
        if self.execute is None or not row.live:  # execute refuses a row without a job
            return None, None
        try:
            known = self._full.get(row.key)
            if known is not None and self._polls - known[0] < FULL_EVERY:
                return read_counters(self.execute(row, COUNTERS_CODE, self.timeout), known[1]), None
            report = read_report(self.execute(row, REPORT_CODE, self.timeout))
            self._full[row.key] = (self._polls, report)
            return report, None
        except Exception as exc:
            self._full.pop(row.key, None)
            return None, (str(exc).splitlines() or [type(exc).__name__])[0][:200]

    def _ask_all(self, rows: list[FleetRow]) -> list[tuple[WorkerReport | None, str | None]]:
        """Every worker's report, at most REPORTS_AT_ONCE at a time, each bounded in time."""
        if self.execute is None or len(rows) < 2:
            return [self._report(row) for row in rows]
        if self._pool is None:
            self._pool = cf.ThreadPoolExecutor(REPORTS_AT_ONCE, thread_name_prefix="redis-report")
        futures = [self._pool.submit(self._report, row) for row in rows]
        out: list[tuple[WorkerReport | None, str | None]] = []
        deadline = time.monotonic() + 2 * self.timeout + 1
        for future in futures:
            try:
                out.append(future.result(timeout=max(0.0, deadline - time.monotonic())))
            except (cf.TimeoutError, cf.CancelledError):
                future.cancel()
                out.append((None, "its report did not come in time"))
        return out

    def _growth(self, pid: int, report: WorkerReport, now: float) -> tuple[float, int, int]:
        past = self._reports.setdefault(pid, deque(maxlen=120))
        past.append((now, report))
        first = past[0]
        for when, earlier in past:
            if now - when <= WINDOW * 1.5:
                break
            first = (when, earlier)
        when, earlier = first
        return (
            now - when,
            report.dequeued - earlier.dequeued,
            report.filtered - earlier.filtered,
        )

    def poll(self, rows: Sequence[FleetRow] | None = None) -> RedisView:
        reading = self.reader.read()
        now = time.monotonic()
        workers: list[WorkerRow] = []
        mine = [row for row in rows or () if on_queue(row, self.keys, self.spider)]
        live = {row.pid for row in mine if row.live and row.pid is not None}
        for pid in self._live - live:
            self.history.departures.append((reading.taken_at, pid))
        self._live = live
        self._full = {k: v for k, v in self._full.items() if k in {r.key for r in mine}}
        for row, (report, error) in zip(mine, self._ask_all(mine), strict=True):
            span = dequeued = filtered = None
            if report is not None and row.pid is not None:
                span, dequeued, filtered = self._growth(row.pid, report, now)
                self._counts[row.pid] = (report.enqueued, report.dequeued)
                if report.queue_class and self.reader.queue_class is None and report.uses_redis:
                    self.reader.queue_class = report.queue_class
                if report.serializer and self.reader.serializer is None:
                    self.reader.serializer = report.serializer
            workers.append(
                WorkerRow(
                    pid=row.pid,
                    host=row.host,
                    key=row.key,
                    state=row.state,
                    in_flight=row.in_flight,
                    pages_per_min=row.pages_per_min,
                    uptime=row.uptime,
                    items=row.items,
                    report=report,
                    report_error=error,
                    clients=report.client_addrs if report else (),
                    span=span,
                    dequeued_growth=dequeued,
                    filtered_growth=filtered,
                )
            )
        workers, other = self._match_clients(reading, workers, rows or ())
        counters = ESTIMATED
        enqueued = dequeued_total = None
        if reading.ok and reading.stat("scheduler/enqueued/redis") is not None:
            counters = STATS_HASH
        elif self._counts and workers and all(w.report for w in workers if w.live):
            counters = WORKERS
            enqueued = sum(e for e, _ in self._counts.values())
            dequeued_total = sum(d for _, d in self._counts.values())
        self.history.add(reading, enqueued, dequeued_total)
        sizes, enq, deq = self.history.series()
        rates = self.history.rates()
        if rates.enqueued is None and counters == WORKERS:  # one reading: since they started
            rates = since_start(workers)
        self._polls += 1
        view = RedisView(
            shown_url=self.reader.shown_url,
            keys=self.keys,
            reading=reading,
            rates=rates,
            sizes=tuple(sizes),
            enqueued=tuple(enq),
            dequeued=tuple(deq),
            counters=counters,
            workers=tuple(workers),
            other_clients=other,
            warnings=warnings_for(self.keys, self.history, workers) if reading.ok else (),
            polls=self._polls,
        )
        with self._lock:
            self._view = view
        return view

    def _match_clients(
        self, reading: QueueReading, workers: list[WorkerRow], rows: Sequence[FleetRow]
    ) -> tuple[list[WorkerRow], int]:
        """Each worker's connections in CLIENT LIST (its report's addresses, or /proc)."""
        if not reading.ok:
            return workers, 0
        addrs = [c.addr for c in reading.clients]
        claimed = {a for w in workers for a in w.clients}
        unknown = [a for a in addrs if a not in claimed]
        local = [w.pid for w in workers if w.pid is not None and _is_local(rows, w.key)]
        found: dict[str, int] = {}
        if unknown and local:
            with contextlib.suppress(Exception):
                found = pids_by_address(unknown, set(local))
        out = []
        for w in workers:
            mine = tuple(a for a in addrs if a in w.clients or found.get(a) == w.pid)
            out.append(_replace(w, clients=mine))
        matched = {a for w in out for a in w.clients}
        # our own connection is one of the unmatched: not counted
        return out, max(0, len([a for a in addrs if a not in matched]) - 1)


def _is_local(rows: Sequence[FleetRow], key: str | None) -> bool:
    for row in rows:
        if row.key == key:
            return row.source == LOCAL
    return False


def _replace(worker: WorkerRow, **changes: Any) -> WorkerRow:
    from dataclasses import replace

    return replace(worker, **changes)


def view_to_json(view: RedisView) -> dict[str, Any]:
    """The Redis view for ``workbench fleet --json`` (the URL without its password)."""
    reading = view.reading
    out: dict[str, Any] = {
        "url": view.shown_url,
        "keys": {
            "queue": view.keys.queue,
            "dupefilter": view.keys.dupefilter,
            "start_urls": view.keys.start_urls,
            "items": view.keys.items,
            "stats": view.keys.stats,
        },
        "ok": bool(reading and reading.ok),
        "error": reading.error if reading else None,
    }
    if reading is not None and reading.ok:
        out.update(
            queue_type=reading.queue_type,
            queue_size=reading.queue_size,
            dupefilter_size=reading.dupefilter_size,
            start_urls_size=reading.start_urls_size,
            items_size=reading.items_size,
            stats=dict(reading.stats),
            clients=len(reading.clients),
        )
    out["rates_per_min"] = {
        "enqueued": view.rates.enqueued,
        "dequeued": view.rates.dequeued,
        "from": view.counters,
    }
    out["workers"] = [
        {
            "pid": w.pid,
            "host": w.host,
            "state": w.state,
            "redis_clients": list(w.clients),
            "persist": w.report.persist if w.report else None,
            "scrapy_version": w.report.scrapy_version if w.report else None,
            "enqueued": w.report.enqueued if w.report else None,
            "dequeued": w.report.dequeued if w.report else None,
            "items": w.report.items if w.report else w.items,
            "report_error": w.report_error,
        }
        for w in view.workers
    ]
    out["warnings"] = [
        {"code": w.code, "title": w.title, "evidence": list(w.evidence)} for w in view.warnings
    ]
    return out
