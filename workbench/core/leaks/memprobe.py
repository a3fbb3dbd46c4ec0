"""The leak-hunting probe of one process: live refs, live objects, referrers, heap.

:class:`MemoryProbe` is what a source reads for the Refs and Memory panels.
It samples with the snapshot (cheap), and runs the heavy work (referrer
searches, heap summaries) in worker threads on request.  Objects are never
handed out: a listing gives keys (``id()``) and labels, and the probe keeps
only weak references to resolve a key later, so looking never leaks.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.control.late import late
from workbench.core.formats.sanitize import clean_line
from workbench.core.leaks.chains import ReferrerReport, common_path, describe
from workbench.core.leaks.heap import HeapSummary, MemoryView, MemoryWatch
from workbench.core.leaks.liverefs import CrawlPace, RefsView, RefTracker, find_class
from workbench.core.leaks.referrers import crawl_roots, find_referrers, find_referrers_many

LEAK_SAMPLES = 10  # objects searched to name a leak's most common referrer path


def _no_stop_iteration(fn: Callable[..., Any]) -> Callable[..., Any]:
    """A StopIteration escaping into ``asyncio.to_thread`` would hang its future."""

    def call(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except StopIteration as exc:
            raise RuntimeError(f"{fn.__name__} stopped: {exc!r}") from None

    return call


@dataclass(frozen=True, slots=True)
class LiveObject:
    key: int  # id() of the object: resolve it with MemoryProbe.resolve
    label: str  # URL for requests and responses
    age: float  # seconds since it was created


@dataclass(frozen=True, slots=True)
class ObjectList:
    class_key: str
    class_name: str
    total: int
    objects: tuple[LiveObject, ...]  # oldest first


class MemoryProbe:
    def __init__(
        self,
        crawler_of: Callable[[], Any],
        tracker: RefTracker | None = None,
        watch: MemoryWatch | None = None,
    ) -> None:
        self.crawler_of = crawler_of
        self.tracker = tracker or RefTracker()
        self.watch = watch or MemoryWatch()
        self._refs: dict[int, weakref.ref[Any]] = {}
        self._path_searched: dict[str, float] = {}  # class key -> when (monotonic)

    # -- sampling (with every snapshot; at most once per interval) ---------------

    def sample(self, pages: int, in_flight: int, queued: int) -> None:
        self.tracker.sample(CrawlPace(pages, in_flight, queued))
        self.watch.sample(time.time())

    # -- live refs -------------------------------------------------------------------

    def refs(self) -> RefsView:
        return self.tracker.view()

    def set_baseline(self, clear: bool = False) -> None:
        if clear:
            self.tracker.clear_baseline()
        else:
            self.tracker.set_baseline()

    def ignore(self, class_key: str, ignored: bool) -> None:
        self.tracker.set_ignored(class_key, ignored)

    def prefs_text(self) -> str:
        return self.tracker.prefs_text()

    @staticmethod
    def _oldest_first(cls: type | None) -> list[tuple[Any, float]]:
        """(object, creation time) of the class's live objects, oldest first (trackref's
        monotonic_ns() ints, which its annotation calls float)."""
        from scrapy.utils.trackref import live_refs

        wdict = live_refs.get(cls) if cls is not None else None
        return sorted(list(wdict.items()), key=lambda kv: kv[1]) if wdict else []

    def live_objects(self, class_key: str, limit: int = 500) -> ObjectList:
        cls = find_class(class_key)
        if cls is None:
            return ObjectList(class_key, class_key.rsplit(".", 1)[-1], 0, ())
        items = self._oldest_first(cls)
        now_ns = time.monotonic_ns()
        listed = []
        self._refs = {k: r for k, r in self._refs.items() if r() is not None}
        for obj, created in items[:limit]:
            self._refs[id(obj)] = weakref.ref(obj)
            listed.append(LiveObject(id(obj), describe(obj), (now_ns - created) / 1e9))
        total = len(items)
        del items
        return ObjectList(class_key, cls.__name__, total, tuple(listed))

    def resolve(self, key: int) -> Any:
        """The live object listed under ``key``, or None once it was collected."""
        ref = self._refs.get(key)
        return ref() if ref is not None else None

    async def referrers(self, key: int) -> ReferrerReport:
        ref = self._refs.get(key)
        if ref is None or ref() is None:
            return ReferrerReport((), 0, 0, 0.0, True, "the object was collected")
        roots = crawl_roots(self.crawler_of())
        return await asyncio.to_thread(_no_stop_iteration(find_referrers), ref, roots)

    def _samples(self, class_key: str, samples: int) -> list[weakref.ref[Any]]:
        """Objects made while the class grew (within the leak window; objects from
        before it may be held for reasons of their own): the oldest half, and
        the rest spread over the younger ones."""
        items = self._oldest_first(find_class(class_key))
        tracker = self.tracker
        since = int(((tracker.last_sample or 0.0) - tracker.window) * 1e9)
        recent = [obj for obj, created in items if created >= since]
        objects = recent
        if len(recent) < samples:  # widen to the crawl, never to what came before it
            began = self._crawl_started_ns()
            objects = [obj for obj, created in items if created >= began]
        del items, recent
        oldest = objects[: samples // 2]
        rest = objects[samples // 2 :]
        step = max(1, len(rest) // max(1, samples - len(oldest)))
        chosen = oldest + rest[::step][: samples - len(oldest)]
        del objects, oldest, rest
        return [weakref.ref(obj) for obj in chosen]

    def _crawl_started_ns(self) -> int:
        """When the crawl started, on trackref's clock (monotonic_ns); 0 if unknown."""
        crawler = self.crawler_of()
        stats = late(crawler, "stats")
        started = stats.get_value("start_time") if stats is not None else None
        if started is None:
            return 0
        age = max(0.0, time.time() - started.timestamp())
        return time.monotonic_ns() - int(age * 1e9)

    async def leak_paths(
        self, class_keys: list[str], samples: int = LEAK_SAMPLES
    ) -> dict[str, str | None]:
        """What holds objects of these classes: the most common path of each,
        remembered for its leak hint.  One search for all the classes (one heap
        scan per level), since a leak usually drags several classes along."""
        refs: list[weakref.ref[Any]] = []
        spans: dict[str, tuple[int, int]] = {}
        for key in class_keys:
            chosen = self._samples(key, samples)
            spans[key] = (len(refs), len(refs) + len(chosen))
            refs.extend(chosen)
        roots = crawl_roots(self.crawler_of())
        many = _no_stop_iteration(find_referrers_many)
        reports = await asyncio.to_thread(many, refs, roots, max_chains=1, max_frontier=8)
        found: dict[str, str | None] = {}
        for key, (start, end) in spans.items():
            self._path_searched[key] = time.monotonic()
            common = common_path(reports[start:end])
            found[key] = None
            if common is not None:
                found[key] = path = clean_line(common[0], 500)
                self.tracker.set_path(key, path, common[1])
        return found

    def path_due(self, class_key: str, every: float = 600.0) -> bool:
        """Search a flagged class's path again? Once, then every ``every`` seconds
        (``l`` searches at once): a search scans the heap once per level, about
        0.03 s per 100,000 objects each, and the crawl waits meanwhile."""
        last = self._path_searched.get(class_key)
        return last is None or time.monotonic() - last >= every

    # -- heap --------------------------------------------------------------------------

    def memory(self, settings: Any, stats: dict[str, Any]) -> MemoryView:
        return self.watch.view(settings, stats)

    async def heap_summary(self) -> HeapSummary:
        return await asyncio.to_thread(self.watch.take_summary)
