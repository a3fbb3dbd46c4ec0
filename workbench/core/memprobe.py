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

from workbench.core.heap import HeapSummary, MemoryView, MemoryWatch
from workbench.core.liverefs import CrawlPace, RefsView, RefTracker, find_class
from workbench.core.referrers import (
    ReferrerReport,
    common_path,
    crawl_roots,
    describe,
    find_referrers,
)
from workbench.core.sanitize import clean_line

LEAK_SAMPLES = 5  # objects searched to name a leak's most common referrer path


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
        self._path_searched: dict[str, float] = {}

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

    def live_objects(self, class_key: str, limit: int = 500) -> ObjectList:
        cls = find_class(class_key)
        if cls is None:
            return ObjectList(class_key, class_key.rsplit(".", 1)[-1], 0, ())
        from scrapy.utils.trackref import live_refs

        wdict = live_refs.get(cls)
        items = sorted(list(wdict.items()), key=lambda kv: kv[1]) if wdict else []
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
        return await asyncio.to_thread(find_referrers, ref, roots)

    async def leak_path(self, class_key: str, samples: int = LEAK_SAMPLES) -> str | None:
        """Search the oldest objects of a class; remember the most common path."""
        listing = self.live_objects(class_key, samples)
        roots = crawl_roots(self.crawler_of())
        reports = []
        for obj in listing.objects:
            ref = self._refs.get(obj.key)
            if ref is None:
                continue
            reports.append(await asyncio.to_thread(find_referrers, ref, roots, max_chains=1))
        self._path_searched[class_key] = time.monotonic()
        found = common_path(reports)
        if found is None:
            return None
        path, share = found
        self.tracker.set_path(class_key, clean_line(path, 500), share)
        return path

    def path_due(self, class_key: str, every: float = 60.0) -> bool:
        """True when the class's leak path was not searched in the last ``every`` s."""
        last = self._path_searched.get(class_key)
        return last is None or time.monotonic() - last >= every

    # -- heap --------------------------------------------------------------------------

    def memory(self, settings: Any, stats: dict[str, Any]) -> MemoryView:
        return self.watch.view(settings, stats)

    async def heap_summary(self) -> HeapSummary:
        return await asyncio.to_thread(self.watch.take_summary)
