"""What is wrong with a scrapy-redis crawl, each with the evidence that says so.

Each rule reads the queue's history (:class:`~.redis_history.QueueHistory`) and
the workers (their fleet rows and their own reports) and returns a
:class:`QueueWarning` or None.  The words name keys, pids and counts; the UI
cleans them like any text from a crawl.
"""

from __future__ import annotations

import itertools
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.core.fleet.redis_history import QueueHistory
    from workbench.core.fleet.redis_queue import RedisKeys
    from workbench.core.fleet.redis_watch import WorkerRow

EMPTY_FOR = 15.0  # seconds of an empty queue before idle workers are worth a word
WINDOW = 20.0  # seconds over which growth (or its absence) counts
STALE_AFTER = 5.0  # seconds of workers queueing nothing on a full dupefilter


@dataclass(frozen=True)
class QueueWarning:
    code: str
    title: str
    evidence: tuple[str, ...] = ()


def _pids(workers: list[Any]) -> str:
    pids = [str(w.pid) for w in workers]
    return ", ".join(pids[:8]) + (f" and {len(pids) - 8} more" if len(pids) > 8 else "")


def _clock(epoch: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(epoch))


def persist_false(keys: RedisKeys, history: QueueHistory, workers: list[WorkerRow]) -> Any:
    on_queue = [w for w in workers if w.report is not None and w.report.uses_redis]
    flushing = [w for w in on_queue if not w.report.persist]  # type: ignore[union-attr]
    if not flushing:
        return None
    last = history.last
    now = f" ({last.queue_size:,} queued now)" if last else ""
    fps = f" ({last.dupefilter_size:,} fingerprints)" if last else ""
    return QueueWarning(
        "persist",
        "SCHEDULER_PERSIST is False: the first worker to finish deletes the queue "
        "and the dupefilter every worker shares",
        (
            f"pid {_pids(flushing)} ({len(flushing)} of {len(on_queue)} workers on this "
            "queue) run with SCHEDULER_PERSIST False",
            f"when one of them closes, scrapy-redis's Scheduler.close() deletes {keys.queue}"
            f"{now} and {keys.dupefilter}{fps}: the others run out of work, and a restart "
            "crawls everything again",
            "fix: SCHEDULER_PERSIST = True in the settings every worker uses",
        ),
    )


def queue_wiped(keys: RedisKeys, history: QueueHistory, workers: list[WorkerRow]) -> Any:
    """The dupefilter only grows (SADD): any drop is a deletion, and whatever the
    workers added before the next reading is all that is left."""
    readings = history.since(600)
    for before, after in reversed(list(itertools.pairwise(readings))):
        if after.dupefilter_size >= before.dupefilter_size or before.dupefilter_size < 10:
            continue
        evidence = [
            f"{keys.dupefilter} went from {before.dupefilter_size:,} fingerprints to "
            f"{after.dupefilter_size:,} between {_clock(before.taken_at)} and "
            f"{_clock(after.taken_at)}, {keys.queue} from {before.queue_size:,} requests to "
            f"{after.queue_size:,}",
        ]
        left = [
            pid
            for when, pid in history.departures
            if before.taken_at - 5 <= when <= after.taken_at + 5
        ]
        if left:
            evidence.append(
                f"pid {', '.join(str(p) for p in left[:8])} left the fleet then: a worker "
                "that closes with SCHEDULER_PERSIST False deletes both for everyone"
            )
        else:
            evidence.append(
                "a worker that closes with SCHEDULER_PERSIST False (or starts with "
                "SCHEDULER_FLUSH_ON_START) deletes both for everyone"
            )
        return QueueWarning(
            "wiped",
            "The shared queue and dupefilter were deleted while the crawl ran",
            tuple(evidence),
        )
    return None


def _live(workers: list[WorkerRow]) -> list[WorkerRow]:
    return [w for w in workers if w.live]


def idle_empty(keys: RedisKeys, history: QueueHistory, workers: list[WorkerRow]) -> Any:
    live = _live(workers)
    readings = history.since(600)
    if not live or not readings:
        return None
    last = readings[-1]
    if last.queue_size or last.start_urls_size:
        return None
    empty_since = last.taken_at
    for reading in reversed(readings):
        if reading.queue_size or reading.start_urls_size:
            break
        empty_since = reading.taken_at
    empty_for = last.taken_at - empty_since
    if empty_for < EMPTY_FOR or any(w.in_flight for w in live):
        return None
    return QueueWarning(
        "idle",
        f"The queue has been empty for {empty_for:.0f} s and the {len(live)} workers sit idle",
        (
            f"{keys.queue} and {keys.start_urls} empty since {_clock(empty_since)}; "
            f"nothing in flight on pid {_pids(live)}",
            f"the crawl is done, or nothing was pushed: a RedisSpider waits for "
            f"start URLs in {keys.start_urls} (redis-cli lpush {keys.start_urls} "
            '\'{"url": "https://…"}\')',
        ),
    )


def _growth(history: QueueHistory, seconds: float) -> tuple[float, Any, Any] | None:
    readings = list(history.readings)
    if len(readings) < 2:
        return None
    last = readings[-1]
    for first in reversed(readings):
        if last[0].taken_at - first[0].taken_at >= seconds:
            return last[0].taken_at - first[0].taken_at, first, last
    return None


def duplicates_only(keys: RedisKeys, history: QueueHistory, workers: list[WorkerRow]) -> Any:
    span = _growth(history, WINDOW)
    if span is None:
        return None
    seconds, (r0, e0, d0), (r1, e1, d1) = span
    reported = [w for w in workers if w.report is not None and w.filtered_growth is not None]
    filtered = sum(w.filtered_growth or 0 for w in reported)
    if e0 is None or e1 is None or d0 is None or d1 is None:
        return None
    enqueued, dequeued = e1 - e0, d1 - d0
    grew = r1.dupefilter_size - r0.dupefilter_size
    if enqueued > 0 or dequeued > 0 or (filtered <= 0 and grew <= 0):
        return None
    evidence = [
        f"in the last {seconds:.0f} s nothing entered or left {keys.queue} "
        f"({r1.queue_size:,} queued)",
    ]
    if filtered > 0:
        evidence.append(
            f"the workers dropped {filtered:,} requests as duplicates in that time "
            f"(dupefilter/filtered of pid {_pids(reported)})"
        )
    if grew > 0:
        evidence.append(f"{keys.dupefilter} grew by {grew:,} to {r1.dupefilter_size:,}")
    evidence.append(
        f"{keys.dupefilter} holds {r1.dupefilter_size:,} fingerprints: with "
        "SCHEDULER_PERSIST True they outlive a run; delete the key to crawl again"
    )
    return QueueWarning(
        "duplicates",
        "Every request is a duplicate: the dupefilter grows, the queue does not",
        tuple(evidence),
    )


def stale_dupefilter(keys: RedisKeys, history: QueueHistory, workers: list[WorkerRow]) -> Any:
    """A crawl run again on a dupefilter kept from the last run (SCHEDULER_PERSIST
    True): each worker's first requests are dropped as seen, nothing is queued.
    (scrapy-redis's dupefilter counts no ``dupefilter/filtered``: the evidence is
    that no worker queued or took anything while the fingerprints are there.)"""
    readings = history.since(600)
    reports = [w.report for w in _live(workers) if w.report is not None]
    reports = [r for r in reports if r.uses_redis]
    if len(readings) < 2 or readings[-1].taken_at - readings[0].taken_at < STALE_AFTER:
        return None
    last = readings[-1]
    if last.queue_size or not last.dupefilter_size or not reports:
        return None
    if any(r.enqueued > 0 or r.dequeued > 0 for r in reports):
        return None
    filtered = sum(r.filtered for r in reports)
    dropped = f" (and dropped {filtered:,} as duplicates)" if filtered else ""
    return QueueWarning(
        "stale",
        "Nothing was queued: the workers' requests were already in the dupefilter",
        (
            f"pid {', '.join(str(r.pid) for r in reports[:8])} queued and took nothing from "
            f"{keys.queue} in {last.taken_at - readings[0].taken_at:.0f} s{dropped}",
            f"{keys.dupefilter} holds {last.dupefilter_size:,} fingerprints and the queue is "
            "empty: a dupefilter kept from an earlier run (SCHEDULER_PERSIST True)",
            f"to crawl again: redis-cli del {keys.dupefilter} (or SCHEDULER_FLUSH_ON_START "
            "for one worker, before the others start)",
        ),
    )


def mixed_workers(keys: RedisKeys, history: QueueHistory, workers: list[WorkerRow]) -> Any:
    reports = [w for w in workers if w.report is not None and w.live]
    if len(reports) < 2 and not any(w.report and not w.report.uses_redis for w in reports):
        return None
    evidence = []
    versions: dict[str, list[Any]] = defaultdict(list)
    for w in reports:
        versions[w.report.scrapy_version].append(w)  # type: ignore[union-attr]
    if len(versions) > 1:
        evidence.append(
            "Scrapy " + "; ".join(f"{v} on pid {_pids(ws)}" for v, ws in sorted(versions.items()))
        )
    for w in reports:
        r = w.report
        assert r is not None
        if not r.uses_redis:
            evidence.append(
                f"pid {w.pid} runs {r.spider or '?'} with {r.scheduler}: its queue is its own, "
                "not the shared one"
            )
        elif r.queue_key and r.queue_key != keys.queue:
            evidence.append(f"pid {w.pid} queues into {r.queue_key}, not {keys.queue}")
    settings = [(w, w.report.shared_settings()) for w in reports]  # type: ignore[union-attr]
    names = sorted({name for _, s in settings for name in s})
    differing = 0
    for name in names:
        values: dict[str, list[Any]] = defaultdict(list)
        for w, s in settings:
            values[s.get(name, "(default)")].append(w)
        if len(values) > 1:
            differing += 1
            if differing <= 6:
                evidence.append(
                    f"{name}: "
                    + "; ".join(f"{v} on pid {_pids(ws)}" for v, ws in sorted(values.items()))
                )
    if differing > 6:
        evidence.append(f"… and {differing - 6} more settings differ")
    if not evidence:
        return None
    return QueueWarning(
        "mixed",
        "The workers do not run the same crawl (settings, Scrapy or scheduler differ)",
        tuple(evidence),
    )


def stuck_worker(keys: RedisKeys, history: QueueHistory, workers: list[WorkerRow]) -> Any:
    last = history.last
    if last is None or last.queue_size == 0:
        return None
    stuck = [
        w
        for w in _live(workers)
        if w.report is not None
        and w.report.uses_redis
        and w.span is not None
        and w.span >= WINDOW
        and (w.dequeued_growth or 0) == 0
    ]
    if not stuck:
        return None
    evidence = [
        f"pid {w.pid} ({w.state}): took nothing from {keys.queue} in {w.span:.0f} s"
        f" (dequeued {w.report.dequeued:,}, queued by it {w.report.enqueued:,})"  # type: ignore[union-attr]
        for w in stuck[:8]
    ]
    evidence.append(
        f"{last.queue_size:,} requests wait: paused, its engine stuck, or a callback "
        "that blocks (attach to it: Enter on its fleet row)"
    )
    return QueueWarning(
        "stuck", "A worker takes nothing from the queue while requests wait", tuple(evidence)
    )


RULES = (
    persist_false,
    queue_wiped,
    stale_dupefilter,
    duplicates_only,
    idle_empty,
    mixed_workers,
    stuck_worker,
)


def warnings_for(
    keys: RedisKeys, history: QueueHistory, workers: list[WorkerRow]
) -> tuple[QueueWarning, ...]:
    found = []
    for rule in RULES:
        warning = rule(keys, history, workers)
        if warning is not None:
            found.append(warning)
    return tuple(found)
