"""Look into Scrapy's scheduler and downloader without consuming anything.

Never calls ``next_request()`` or ``pop()``; walks the in-memory queues'
deques with ``islice`` so a page costs O(offset + limit), never the whole
queue.  Disk queues (JOBDIR) only allow ``peek()`` of their head.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from workbench.core.control.in_flight import InFlightRequest, installed_clock
from workbench.core.fleet.redis_workers import shared_queue_note


@dataclass(frozen=True, slots=True)
class QueuedRequest:
    slot: str
    priority: int  # the request's priority (higher goes first)
    kind: str  # "start", "memory" or "disk"
    method: str
    url: str
    callback: str | None
    depth: int


@dataclass(frozen=True, slots=True)
class QueueGroup:
    """One (slot, priority, kind) bucket of the scheduler, with its size."""

    slot: str
    priority: int
    kind: str
    size: int


@dataclass(frozen=True, slots=True)
class SlotState:
    key: str
    concurrency: int
    delay: float
    active: int
    queued: int
    transferring: int
    lastseen: float
    in_flight: tuple[str, ...]  # URLs being downloaded (bounded)


@dataclass(frozen=True, slots=True)
class QueueView:
    total: int  # len(scheduler)
    groups: tuple[QueueGroup, ...]
    page: tuple[QueuedRequest, ...]
    offset: int
    slots: tuple[SlotState, ...]
    in_flight: int
    took: float  # seconds spent building this view
    # what the downloader holds, on the wire first (oldest first); none from an
    # older agent
    requests: tuple[InFlightRequest, ...] = ()
    # where the pending requests are when not in this process (scrapy-redis: a
    # Redis key every worker shares), in words; None for Scrapy's own scheduler
    shared: str | None = None


def _callback_name(request: Any) -> str | None:
    from workbench.core.recording.tap import callback_name

    return callback_name(request)


def _buckets(pq: Any) -> list[tuple[int, str, Any]]:
    """(priority key, kind, queue) for one ScrapyPriorityQueue, in pop order."""
    out: list[tuple[int, str, Any]] = []
    for key, q in getattr(pq, "_start_queues", {}).items():
        out.append((key, "start", q))
    for key, q in getattr(pq, "queues", {}).items():
        out.append((key, "queue", q))
    out.sort(key=lambda b: (b[0], b[1] != "start"))
    return out


def _priority_queues(pqueue: Any) -> list[tuple[str, Any]]:
    """(slot, ScrapyPriorityQueue) pairs under a scheduler's mqs/dqs."""
    if pqueue is None:
        return []
    pqueues = getattr(pqueue, "pqueues", None)
    if isinstance(pqueues, dict):  # DownloaderAwarePriorityQueue
        return sorted(pqueues.items())
    return [("*", pqueue)]


def _iter_queue(q: Any) -> tuple[Any, bool]:
    """The underlying deque of a memory queue (and whether it pops from the right)."""
    inner = getattr(q, "q", None)
    if inner is None:
        return None, False
    from queuelib.queue import LifoMemoryQueue

    return inner, isinstance(q, LifoMemoryQueue)


def queue_groups(scheduler: Any) -> list[tuple[QueueGroup, Any]]:
    groups: list[tuple[QueueGroup, Any]] = []
    for attr, storage in (("mqs", "memory"), ("dqs", "disk")):
        for slot, pq in _priority_queues(getattr(scheduler, attr, None)):
            for key, kind, q in _buckets(pq):
                label = "start" if kind == "start" else storage
                groups.append((QueueGroup(slot, -key, label, len(q)), q))
    return groups


def _describe(request: Any, group: QueueGroup) -> QueuedRequest:
    return QueuedRequest(
        slot=group.slot,
        priority=request.priority,
        kind=group.kind,
        method=request.method,
        url=request.url,
        callback=_callback_name(request),
        depth=request.meta.get("depth", 0),
    )


def walk_queue(scheduler: Any, offset: int = 0) -> Iterator[tuple[QueueGroup, Any]]:
    """(group, request) pairs from ``offset`` on, in (approximate) pop order per group.

    Lazy: taking n of them costs O(offset + n).  Requests are the live objects.
    """
    skip = offset
    for group, q in queue_groups(scheduler):
        if skip >= group.size:
            skip -= group.size
            continue
        inner, lifo = _iter_queue(q)
        if inner is None:
            # disk queue: only its head can be read without consuming
            if skip == 0:
                try:
                    head = q.peek()
                except Exception:
                    head = None
                if head is not None and hasattr(head, "url"):
                    yield group, head
            skip = 0
            continue
        source = reversed(inner) if lifo else iter(inner)
        for request in itertools.islice(source, skip, None):
            yield group, request
        skip = 0


def peek_page(
    scheduler: Any, offset: int, limit: int
) -> tuple[list[QueueGroup], list[QueuedRequest]]:
    """Groups and one page of queued requests, in (approximate) pop order per group."""
    groups = [g for g, _ in queue_groups(scheduler)]
    page = [
        _describe(request, group)
        for group, request in itertools.islice(walk_queue(scheduler, offset), limit)
    ]
    return groups, page


def slot_states(downloader: Any, max_urls: int = 20) -> list[SlotState]:
    states = []
    for key, slot in list(getattr(downloader, "slots", {}).items()):
        urls = tuple(r.url for r in itertools.islice(slot.active, max_urls))
        states.append(
            SlotState(
                key=key,
                concurrency=slot.concurrency,
                delay=slot.delay,
                active=len(slot.active),
                queued=len(slot.queue),
                transferring=len(slot.transferring),
                lastseen=slot.lastseen,
                in_flight=urls,
            )
        )
    states.sort(key=lambda s: s.key)
    return states


def queue_view(engine: Any, offset: int = 0, limit: int = 100) -> QueueView:
    start = time.perf_counter()
    slot = getattr(engine, "_slot", None) if engine is not None else None
    scheduler = getattr(slot, "scheduler", None)
    if scheduler is None:
        return QueueView(0, (), (), offset, (), 0, time.perf_counter() - start)
    try:
        total = len(scheduler)
    except TypeError:
        total = 0
    groups, page = peek_page(scheduler, offset, limit)
    downloader = getattr(engine, "downloader", None)
    slots = slot_states(downloader) if downloader is not None else []
    clock = installed_clock(engine)
    requests = tuple(clock.requests()) if clock is not None else ()
    return QueueView(
        total=total,
        groups=tuple(groups),
        page=tuple(page),
        offset=offset,
        slots=tuple(slots),
        in_flight=len(slot.inprogress) if slot is not None else 0,
        took=time.perf_counter() - start,
        requests=requests,
        shared=shared_queue_note(scheduler),
    )
