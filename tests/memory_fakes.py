"""Canned leak-hunting data for the fake source: refs, objects, referrers, heap."""

from __future__ import annotations

from workbench.core.leaks.chains import Chain, Hop, ReferrerReport
from workbench.core.leaks.heap import HeapRow, HeapSummary, MemoryView
from workbench.core.leaks.liverefs import LeakHint, RefRow, RefsView
from workbench.core.leaks.memprobe import LiveObject, ObjectList

T0 = 1_790_000_000.0
BASE = "http://127.0.0.1:8000"
PATH = "Request.cb_kwargs['listing'] -> HtmlResponse"

PREFS = """Live References

DemoSpider                          1   oldest: 65s ago
HtmlResponse                      812   oldest: 61s ago
Request                           574   oldest: 61s ago
Selector                          810   oldest: 61s ago
"""


def _history(start: int, step: int, n: int = 40) -> tuple[int, ...]:
    return tuple(start + step * i + (i % 3) for i in range(n))


class FakeMemory:
    """Mixed into FakeSource: the leak-hunting part of the Source interface."""

    def _memory_init(self) -> None:
        self.ref_ignored: set[str] = set()
        self.baseline = False
        self.searched: list[str] = []
        self.summaries: list[HeapSummary] = [_summary(1, 0), _summary(2, 1)]
        self.heap_running = False
        self.shell_objects: list[int] = []

    def refs(self) -> RefsView:
        leak = LeakHint(
            "HtmlResponse: 812 live, +610 in 30s (+1,220/min) while 1,480 pages completed; "
            "a crawl at this pace needs about 16; oldest 61s",
            1220.0,
            PATH,
            "10 of 10 sampled",
        )
        sel = LeakHint(
            "Selector: 810 live, +608 in 30s (+1,216/min) while 1,480 pages completed; oldest 61s",
            1216.0,
            "HtmlResponse._cached_selector -> Selector",
            "10 of 10 sampled",
        )
        base = (lambda n: n - 100) if self.baseline else (lambda n: None)
        specs = [
            ("scrapy.http.request.Request", "Request", 574, 12, 780.0, 61.0,
             _history(200, 9), None),
            ("scrapy.http.response.html.HtmlResponse", "HtmlResponse", 812, 18, 1220.0, 61.0,
             _history(30, 20), leak),
            ("scrapy.selector.unified.Selector", "Selector", 810, 18, 1216.0, 61.0,
             _history(28, 20), sel),
            ("workbench.demo.spider.DemoSpider", "DemoSpider", 1, 0, 0.0, 65.0, (1,) * 40, None),
            ("workbench.demo.spider.Product", "Product", 3, -2, -4.0, 0.4, _history(5, 0), None),
        ]  # fmt: skip
        rows = tuple(
            RefRow(key, name, count, delta, base(count), per_min, oldest, hist,
                   key in self.ref_ignored, None if key in self.ref_ignored else hint)
            for key, name, count, delta, per_min, oldest, hist, hint in specs
        )  # fmt: skip
        return RefsView(
            time=T0 + 65,
            rows=rows,
            baseline_time=T0 + 35 if self.baseline else None,
            ignored=tuple(sorted(self.ref_ignored)),
            interval=1.0,
            window=30.0,
        )

    def set_refs_baseline(self, clear: bool = False) -> None:
        self.baseline = not clear

    def ignore_ref_class(self, class_key: str, ignored: bool) -> None:
        (self.ref_ignored.add if ignored else self.ref_ignored.discard)(class_key)

    def prefs_text(self) -> str:
        return PREFS

    def live_objects(self, class_key: str, limit: int = 500) -> ObjectList:
        objects = tuple(
            LiveObject(0x7F0000001000 + 0x100 * n, f"200 {BASE}/catalogue/page-{n + 1}.html",
                       61.0 - n * 0.5)
            for n in range(min(limit, 40))
        )  # fmt: skip
        return ObjectList(class_key, class_key.rsplit(".", 1)[-1], 812, objects)

    async def referrers(self, object_key: int) -> ReferrerReport:
        self.searched.append(str(object_key))
        hops = (
            Hop("", ".mqs", True),
            Hop("DownloaderAwarePriorityQueue", ".pqueues", False),
            Hop("dict", "['127.0.0.1']", True),
            Hop("ScrapyPriorityQueue", ".queues", False),
            Hop("dict", "[1]", True),
            Hop("ScrapyRequestQueue", ".q", False),
            Hop("deque", "[0]", True),
            Hop("Request", ".cb_kwargs", False),
            Hop("dict", "['listing']", True),
            Hop("HtmlResponse", "", False),
        )
        return ReferrerReport(
            (Chain("scheduler", hops),), 11, 24, 0.42, True, "",
            ("dict['listing'] ×6", "Selector.response"),
        )  # fmt: skip

    async def leak_paths(self, class_keys: list[str]) -> dict[str, str | None]:
        self.searched.extend(class_keys)
        return dict.fromkeys(class_keys, PATH)

    def leak_path_due(self, class_key: str) -> bool:
        return False

    def memory(self) -> MemoryView:
        rss = tuple((T0 + i, (90 + i // 2) * 1_048_576) for i in range(65))
        return MemoryView(
            rss=rss,
            settings=(
                ("MEMUSAGE_ENABLED", "True"),
                ("MEMUSAGE_LIMIT_MB", "2048"),
                ("MEMUSAGE_WARNING_MB", "1024"),
                ("MEMUSAGE_CHECK_INTERVAL_SECONDS", "60.0"),
                ("MEMUSAGE_NOTIFY_MAIL", "[]"),
            ),
            stats=(("memusage/max", 128 * 1_048_576), ("memusage/startup", 90 * 1_048_576)),
            summaries=tuple(self.summaries),
            running=self.heap_running,
            progress=0.4 if self.heap_running else 0.0,
            phase="summarising 120,000 of 300,000 objects" if self.heap_running else "",
            error=None,
        )

    async def heap_summary(self) -> HeapSummary:
        summary = _summary(len(self.summaries) + 1, len(self.summaries))
        self.summaries.append(summary)
        return summary


def _summary(n: int, grown: int) -> HeapSummary:
    rows = (
        HeapRow("str", 88_690 + 4_000 * grown, 9_600_000 + 400_000 * grown),
        HeapRow("dict", 33_172 + 2_000 * grown, 8_600_000 + 500_000 * grown),
        HeapRow("code", 23_362, 8_400_000),
        HeapRow(
            "scrapy.http.response.html.HtmlResponse", 100 + 700 * grown, 5_600 + 39_200 * grown
        ),
        HeapRow("tuple", 38_825, 2_300_000),
        # workbench's own: its heap rows and the UI's caches grow between summaries
        HeapRow("workbench.core.leaks.heap.HeapRow", 6 + 6 * grown, 336 + 336 * grown),
        HeapRow("textual.cache.FIFOCache", 120 + 30 * grown, 7_500 + 1_900 * grown),
    )
    return HeapSummary(
        id=n,
        time=T0 + 20 * n,
        rows=tuple(sorted(rows, key=lambda r: (-r.size, -r.count, r.type_name))),
        objects=sum(r.count for r in rows),
        size=sum(r.size for r in rows),
        elapsed=2.8,
    )
