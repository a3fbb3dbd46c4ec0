"""The heap by type (Pympler's muppy), RSS over time, and Scrapy's MEMUSAGE settings.

A heap summary walks every object the interpreter knows: on demand only,
in a worker thread, reporting progress.  ``heap_objects()`` gathers the
objects as ``muppy.get_objects()`` does (one long step), then
``summary.summarize`` runs over chunks so the progress is real and the crawl
keeps running between chunks.  The object list is dropped as soon as the rows
are built: a summary keeps strings and numbers only.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import types
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pympler import summary
from pympler.process import ProcessMemoryInfo

CHUNK = 20_000

MEMUSAGE_SETTINGS = (
    "MEMUSAGE_ENABLED",
    "MEMUSAGE_LIMIT_MB",
    "MEMUSAGE_WARNING_MB",
    "MEMUSAGE_CHECK_INTERVAL_SECONDS",
    "MEMUSAGE_NOTIFY_MAIL",
)


# The modules of workbench's own objects: its records and heap rows, the UI's
# Textual and Rich objects, Pympler's.  The demo's spider and site are the crawl's.
OWN_MODULES = ("workbench.", "textual.", "rich.", "pympler.")


def own_type(type_name: str) -> bool:
    """A type of workbench's own, not the crawl's: a heap diff leaves it out
    (a user hunts the crawl's leaks, and workbench's memory is bounded)."""
    return type_name.startswith(OWN_MODULES) and not type_name.startswith("workbench.demo.")


@dataclass(frozen=True, slots=True)
class HeapRow:
    type_name: str
    count: int
    size: int  # bytes (sys.getsizeof, shallow)


@dataclass(frozen=True, slots=True)
class HeapSummary:
    id: int
    time: float  # wall clock
    rows: tuple[HeapRow, ...]  # biggest first
    objects: int
    size: int
    elapsed: float  # seconds it took

    def diff(self, older: HeapSummary) -> tuple[HeapRow, ...]:
        """What changed since ``older`` (Pympler's get_diff), growth first; the
        types of workbench's own included (:func:`own_type` tells them)."""
        left = [[r.type_name, r.count, r.size] for r in older.rows]
        right = [[r.type_name, r.count, r.size] for r in self.rows]
        rows = [
            HeapRow(name, count, size)
            for name, count, size in summary.get_diff(left, right)
            if count or size
        ]
        rows.sort(key=lambda r: (-r.size, -r.count, r.type_name))
        return tuple(rows)


@dataclass(frozen=True, slots=True)
class MemoryView:
    rss: tuple[tuple[float, int], ...]  # (wall time, bytes)
    settings: tuple[tuple[str, str], ...]
    stats: tuple[tuple[str, Any], ...]  # memusage/* stats
    summaries: tuple[HeapSummary, ...]
    running: bool
    progress: float  # 0..1 while running
    phase: str
    error: str | None


def unfreeze() -> None:
    """Make frozen objects visible to ``gc.get_objects``/``get_referrers`` again.

    The app freezes what it created before the crawl (``gc.freeze``), and
    frozen objects are invisible to both; a heap summary or a referrer search
    must see them (a module-level cache is exactly what it looks for)."""
    if gc.get_freeze_count():
        gc.unfreeze()


# CPython 3.12.0 to 3.12.5 (python/cpython#122695, fixed in 3.12.6): the C
# ``_asyncio`` module's gc traversal walks its free list of Future iterators,
# which is freed memory, so ``gc.get_referents(_asyncio)`` hands those out as
# objects.  When the list holding them goes, they are freed a second time and
# pushed onto the free list again, which then loops on itself: the next
# collection spins forever in ``gc.collect()`` (the hang), or, once one of
# them has been reused by an ``await``, follows a live object as the next
# free entry and crashes (the segfault).  Any ``await`` on an asyncio future
# fills that list, and ``muppy.get_objects()`` asks every container for its
# referents, so a heap summary after an app or a crawl had run was enough.
# ``gc.freeze()``/``unfreeze()`` play no part: the app that froze the heap
# first was also the first to ``await``.  (``gc.get_referrers`` traverses
# the module too, but only compares addresses: harmless.)
_ASYNCIO_FREELIST_TRAVERSED = (3, 12) <= sys.version_info[:3] < (3, 12, 6)


def referents(obj: Any) -> list[Any]:
    """``gc.get_referents(obj)``, except where CPython would hand out freed
    memory: the ``_asyncio`` module on 3.12.0-3.12.5 (see above) gives its
    globals only, not the objects its C state holds."""
    # ``type(...) is``: isinstance() would ask a dead weak proxy for __class__
    if _ASYNCIO_FREELIST_TRAVERSED and type(obj) is types.ModuleType:
        globals_ = obj.__dict__
        if isinstance(globals_, dict) and globals_.get("__name__") == "_asyncio":
            return [globals_]
    return gc.get_referents(obj)


def heap_objects() -> list[Any]:
    """Every object the collector tracks, frames left out, and the untracked
    objects they refer to (strings, numbers...), each once: what
    ``muppy.get_objects()`` returns, but through :func:`referents`."""
    gc.collect()
    tracked = [o for o in gc.get_objects() if type(o) is not types.FrameType]
    untracked: list[Any] = []
    seen: set[int] = set()
    for container in tracked:
        for ref in referents(container):
            if not gc.is_tracked(ref) and id(ref) not in seen:
                seen.add(id(ref))
                untracked.append(ref)
    del seen
    untracked.extend(tracked)
    return untracked


class SummaryAbandoned(Exception):
    """The process is on its way out: the summary in progress was dropped."""


_abandon = threading.Event()


def abandon_summaries() -> None:
    """Stop the heap summary in progress at its next chunk:
    the app has gone and nobody will read it, and the process must not wait for
    it (it would hold the exit for seconds, at full CPU)."""
    _abandon.set()


def summarize(progress: Callable[[float, str], None] | None = None) -> tuple[list[HeapRow], int]:
    """Rows by type (biggest first) and the number of objects, with progress."""
    report = progress or (lambda fraction, phase: None)
    report(0.0, "collecting objects")
    unfreeze()
    objects = heap_objects()
    total = len(objects)
    counts: dict[str, list[int]] = {}
    try:
        for start in range(0, total, CHUNK):
            if _abandon.is_set():
                raise SummaryAbandoned
            report(start / max(total, 1), f"summarising {start:,} of {total:,} objects")
            for name, count, size in summary.summarize(objects[start : start + CHUNK]):
                row = counts.get(name)
                if row is None:
                    counts[name] = [count, size]
                else:
                    row[0] += count
                    row[1] += size
    finally:
        del objects
    report(1.0, "done")
    rows = [HeapRow(name, c, s) for name, (c, s) in counts.items()]
    rows.sort(key=lambda r: (-r.size, -r.count, r.type_name))
    return rows, total


class MemoryWatch:
    """RSS history (sampled with the snapshot) and background heap summaries."""

    def __init__(self, interval: float = 1.0, maxlen: int = 3600, keep: int = 5) -> None:
        self.interval = interval
        self.rss: deque[tuple[float, int]] = deque(maxlen=maxlen)
        self.summaries: deque[HeapSummary] = deque(maxlen=keep)
        self.running = False
        self.progress = 0.0
        self.phase = ""
        self.error: str | None = None
        self._ids = 0
        self._lock = threading.Lock()

    def sample(self, now: float) -> None:
        if self.rss and now - self.rss[-1][0] < self.interval:
            return
        info = ProcessMemoryInfo()
        if info.rss:
            self.rss.append((now, int(info.rss)))

    def _progress(self, fraction: float, phase: str) -> None:
        self.progress = fraction
        self.phase = phase

    def take_summary(self) -> HeapSummary:
        """Blocking: run it in a worker thread (``asyncio.to_thread``)."""
        with self._lock:
            if self.running:
                raise RuntimeError("a heap summary is already running")
            self.running, self.error = True, None
            _abandon.clear()  # a summary asked for now is wanted
        began = time.perf_counter()
        try:
            rows, objects = summarize(self._progress)
        except Exception as exc:
            self.error = f"{type(exc).__name__}: {exc}"
            raise
        finally:
            self.running = False
        self._ids += 1
        result = HeapSummary(
            id=self._ids,
            time=time.time(),
            rows=tuple(rows),
            objects=objects,
            size=sum(r.size for r in rows),
            elapsed=time.perf_counter() - began,
        )
        self.summaries.append(result)
        return result

    def view(self, settings: Any, stats: dict[str, Any]) -> MemoryView:
        chosen = []
        for name in MEMUSAGE_SETTINGS:
            value = settings.get(name) if settings is not None else None
            chosen.append((name, "" if value is None else str(value)))
        mem_stats = tuple(sorted((k, v) for k, v in stats.items() if k.startswith("memusage/")))
        return MemoryView(
            rss=tuple(self.rss),
            settings=tuple(chosen),
            stats=mem_stats,
            summaries=tuple(self.summaries),
            running=self.running,
            progress=self.progress,
            phase=self.phase,
            error=self.error,
        )
