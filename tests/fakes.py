"""A deterministic source for snapshot and key tests: fixed records, fixed clock."""

from __future__ import annotations

import datetime
import logging

import scrapy
from scrapy.http import Headers

from tests.helpers.playwright_fake import FakeBrowser
from tests.memory_fakes import FakeMemory
from tests.pace_fakes import FakePace
from workbench.core.control.breakpoints import Breakpoint, Hit, filter_target, parse_breakpoint
from workbench.core.control.host import CrawlStatus
from workbench.core.control.in_flight import InFlightRequest, InFlightSummary
from workbench.core.control.scheduler_view import QueuedRequest, QueueGroup, QueueView, SlotState
from workbench.core.inspection.filters import parse_filter
from workbench.core.inspection.replay import ReplayResult
from workbench.core.recording.item_health import ItemHealth, ItemHealthCounter
from workbench.core.recording.recorder import StoredBody
from workbench.core.recording.records import Flow, ItemRecord, LogRecord, freeze_headers
from workbench.core.recording.run_changes import RunComparison
from workbench.core.sources.base import Capabilities, Sample, Snapshot, Source

T0 = 1_790_000_000.0  # a fixed wall-clock time (UTC)
BASE = "http://127.0.0.1:8000"
TRACEBACK = "Traceback (most recent call last):\n  ...\nValueError: price missing"
# what the downloader holds: three on the wire (one hung for 2:10), one waiting
IN_FLIGHT = (
    InFlightRequest(f"{BASE}/item/7", "GET", "127.0.0.1", "transferring", 130.0, True, 0, True,
                    180.0, 0, 2, True, "parse_product", 2, 0),
    InFlightRequest(f"{BASE}/product/12.html", "GET", "127.0.0.1", "transferring", 41.5, True,
                    3200, False, 180.0, 1, 2, True, "parse_product", 2, 0),
    InFlightRequest(f"{BASE}/reviews/3.html", "GET", "127.0.0.1", "transferring", 2.0, True, 0,
                    True, 30.0, 2, 2, True, "parse_reviews", 3, 0),
    InFlightRequest(f"{BASE}/product/13.html", "GET", "127.0.0.1", "waiting", None, True, None,
                    True, 180.0, 0, 2, True, "parse_product", 2, 0),
)  # fmt: skip
# no response for 40 s while they were on the wire (WORKBENCH_STALL_AFTER 30)
STALLED = InFlightSummary(3, 40.0, 30.0, 130.0, True, f"{BASE}/item/7", 50.0, 138.5, 1)


def _flows() -> list[Flow]:
    flows = []
    specs = [
        ("/", 200, None, "parse", 0, None),
        ("/catalogue/page-1.html", 200, None, "parse_listing", 1, 1),
        ("/old-catalogue", 301, None, "parse_listing", 1, 1),
        ("/missing.html", 404, None, "parse", 1, 1),
        ("/flaky/1.html", 500, None, "parse_page", 1, 1),
        ("/flaky/1.html", 200, None, "parse_page", 1, 1),
        ("/product/1.html", 200, None, "parse_product", 2, 2),
        ("/product/2.html", 200, None, "parse_product", 2, 2),
        ("/product/3.html", 200, "ValueError: price missing", "parse_product", 2, 2),
        ("/slow.html", None, None, "parse_slow", 1, 1),
        ("/api/products?page=1", 200, None, "parse_api", 1, 1),
        ("/evil\x1b]0;PWNED\x07.html", 200, None, "parse", 1, 1),
    ]
    for index, (path, status, cb_error, callback, depth, parent) in enumerate(specs, start=1):
        ctype = b"application/json" if "api" in path else b"text/html; charset=utf-8"
        flow = Flow(
            id=index,
            time=T0 + index,
            method="GET",
            url=BASE + path,
            status=status,
            error="TimeoutError: Getting http://127.0.0.1:8000/slow.html took longer than 0.1 s"
            if status is None
            else None,
            size=0 if status is None else 1200 + index * 37,
            latency=None if status is None else 0.012 * index,
            callback=callback,
            depth=depth,
            priority=0,
            slot="127.0.0.1",
            request_headers=freeze_headers(
                Headers({"User-Agent": "Scrapy/2.19.0", "Accept-Language": "en"})
            ),
            response_headers=None
            if status is None
            else freeze_headers(Headers({"Content-Type": ctype})),
            meta=(("depth", str(depth)), ("download_slot", "'127.0.0.1'")),
            parent_id=parent,
            response_class=None if status is None else "HtmlResponse",
            callback_error=cb_error,
            callback_traceback=TRACEBACK if cb_error else None,
        )
        if callback == "parse_product" and not cb_error:
            flow.add_item_id(index)
        if callback == "parse_listing" and status == 200:
            for n in (1, 2, 3):
                flow.add_request("GET", f"{BASE}/product/{n}.html")
        flows.append(flow)
    return flows


def _fated(flows: list[Flow]) -> list[Flow]:
    """Requests that never reached the network, and fates of downloaded ones: the
    flaky page's 500 was retried; the old catalogue's redirect target was a duplicate."""
    flows[4].fate, flows[4].fate_n, flows[4].fate_limit = "retried", 1, 2
    flows[2].add_request("GET", BASE + "/catalogue/page-1.html")
    headers = freeze_headers(Headers({"User-Agent": "Scrapy/2.19.0", "Referer": BASE + "/"}))
    specs = [  # path, fate, by, reason, parent, depth, extra
        ("/product/1.html", "duplicate", "scrapy.dupefilters.RFPDupeFilter", None, 2, 2,
         {"duplicate_of": 7}),
        ("http://ads.example/banner", "offsite",
         "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware",
         "Filtered offsite request to 'ads.example'", 2, 2, {}),
        ("/catalogue/page-9.html", "depth", "scrapy.spidermiddlewares.depth.DepthMiddleware",
         None, 8, 3, {"fate_limit": 2}),
        ("/private/orders.html", "robots",
         "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware",
         "Forbidden by robots.txt", 1, 1, {}),
        ("/catalogue/page-1.html", "duplicate", "scrapy.dupefilters.RFPDupeFilter", None, 3, 1,
         {"duplicate_of": 2}),
        ("/product/99.html", "pending", "scrapy.core.scheduler.Scheduler",
         "in the scheduler's memory queue", 2, 2, {}),
    ]  # fmt: skip
    for n, (path, fate, by, reason, parent, depth, extra) in enumerate(specs, start=13):
        url = path if "://" in path else BASE + path
        flow = Flow(n, T0 + n, "GET", url, None, None, 0, None, "parse_product", depth, 0, None,
                    request_headers=headers, meta=(("depth", str(depth)),), parent_id=parent,
                    fate=fate, fate_by=by, fate_reason=reason, **extra)  # fmt: skip
        flows.append(flow)
    flows[7].add_request("GET", BASE + "/catalogue/page-9.html")
    return flows


def _items() -> list[ItemRecord]:
    return [
        ItemRecord(
            7,
            T0 + 7,
            7,
            "Product",
            (
                ("url", BASE + "/product/1.html"),
                ("id", 1),
                ("name", "The Silent Garden"),
                ("price", 12.5),
                ("rating", "Three"),
            ),
        ),
        ItemRecord(
            8,
            T0 + 8,
            8,
            "Product",
            (
                ("url", BASE + "/product/2.html"),
                ("id", 2),
                ("name", "A Light in the Attic"),
                ("price", 51.77),
                ("rating", "One"),
            ),
        ),
        ItemRecord(
            9,
            T0 + 9,
            9,
            "Product",
            (
                ("url", BASE + "/product/3.html"),
                ("id", 3),
                ("name", "Tipping the Velvet"),
                ("price", None),
            ),
            dropped="DropItem: missing price",
        ),
    ]


class Product(scrapy.Item):
    """The fake crawl's item class: what its items health declares."""

    url = scrapy.Field()
    id = scrapy.Field()
    name = scrapy.Field()
    price = scrapy.Field()
    rating = scrapy.Field()


HEALTH_CLASSES: dict[str, type] = {"Product": Product}


def _reviews() -> list[ItemRecord]:
    """dict items from the API page whose text is filled once in four."""
    fields: list[tuple[tuple[str, object], ...]] = [
        (("product", 1), ("text", "Loved it"), ("stars", 5)),
        (("product", 1), ("text", ""), ("stars", 4)),
        (("product", 2), ("text", None), ("stars", None)),
        (("product", 2), ("stars", 3)),
    ]
    return [ItemRecord(n, T0 + 11, 11, "dict", f) for n, f in enumerate(fields, start=10)]


def _log() -> list[LogRecord]:
    return [
        LogRecord(1, T0, logging.INFO, "INFO", "scrapy.core.engine", "Spider opened"),
        LogRecord(
            2,
            T0 + 1,
            logging.DEBUG,
            "DEBUG",
            "scrapy.core.engine",
            f"Crawled (200) <GET {BASE}/> (referer: None)",
        ),
        LogRecord(
            3,
            T0 + 4,
            logging.WARNING,
            "WARNING",
            "scrapy.downloadermiddlewares.retry",
            f"Retrying <GET {BASE}/flaky/1.html> (failed 1 times): 500",
        ),
        LogRecord(
            4,
            T0 + 9,
            logging.ERROR,
            "ERROR",
            "scrapy.core.scraper",
            "Spider error processing\nTraceback (most recent call last):\nValueError",
        ),
        LogRecord(
            5,
            T0 + 10,
            logging.INFO,
            "INFO",
            "scrapy.extensions.telnet",
            "Telnet Password: 0123456789abcdef",
        ),
    ]


FATE_COUNTS = {"duplicate": 122, "offsite": 1, "depth": 1, "robots": 1, "pending": 1, "retried": 1}


class FakeSource(FakeBrowser, FakeMemory, FakePace, Source):
    """Fixed records; every capability but the shells and several crawlers."""

    capabilities = Capabilities(
        live=True,
        breakpoints=True,
        replay=True,
        reload=True,
        inject=True,
        pace=True,
        refs=True,
        heap=True,
        browser=True,
    )

    def __init__(self, state: str = "running", fates: bool = False, reviews: bool = False) -> None:
        self._memory_init()
        self._pace_init()
        self.flows = _fated(_flows()) if fates else _flows()
        self.fates = fates
        self.items = _items() + (_reviews() if reviews else [])
        self.log = _log()
        self.state = state
        self.paused = state == "paused"
        self.stopped = False
        self.started = False
        self.bps: list[Breakpoint] = []
        self.hits: list[Hit] = []
        self.bp_version = 0
        self.replays = 0
        self.reloads = 0
        self.injected: list[tuple[str, str, str]] = []

    async def start(self) -> None:
        self.started = True

    def close(self) -> None:
        pass

    def snapshot(self) -> Snapshot:
        stats = {
            "downloader/response_count": len(self.flows),
            "downloader/response_status_count/200": 8,
            "item_scraped_count": 2,
            "log_count/ERROR": 1,
            "response_received_count": 11,
            "start_time": datetime.datetime(2026, 9, 21, 12, 0, tzinfo=datetime.timezone.utc),
        }
        history = tuple(
            Sample(T0 + i, i * 10, i * 5, 300.0 + 40 * (i % 7), 150.0 + 20 * (i % 5))
            for i in range(60)
        )
        state = "paused" if self.paused else self.state
        return Snapshot(
            time=T0 + 65,
            spider="demo",
            status=CrawlStatus(
                state,
                3,
                42,
                "finished" if state == "finished" else None,
                None,
                transfers=self.transfers if state not in ("finished", "failed") else None,
            ),
            stats=stats,
            started=T0,
            finished=None,
            flows_total=len(self.flows),
            flows_kept=len(self.flows),
            items_scraped=2,
            items_dropped=1,
            items_failed=0,
            items_total=len(self.items),
            items_kept=len(self.items),
            log_total=len(self.log),
            log_kept=len(self.log),
            log_counts={"INFO": 2, "DEBUG": 1, "WARNING": 1, "ERROR": 1},
            bodies_kept=3,
            body_bytes=4096,
            bodies_evicted=0,
            history=history,
            hit=self.hits[0] if self.hits else None,
            hits_waiting=len(self.hits),
            breakpoints_version=self.bp_version,
            # 120 more duplicates than rows: WORKBENCH_MAX_DROPPED was reached
            fates=FATE_COUNTS if self.fates else {},
            dropped_unkept=120 if self.fates else 0,
        )

    def flows_since(self, cursor: int) -> list[Flow]:
        return self.flows[cursor:]

    def items_since(self, cursor: int) -> list[ItemRecord]:
        return self.items[cursor:]

    def log_since(self, cursor: int) -> list[LogRecord]:
        return self.log[cursor:]

    def flow(self, flow_id: int) -> Flow | None:
        return next((f for f in self.flows if f.id == flow_id), None)

    def body(self, flow_id: int) -> StoredBody | None:
        flow = self.flow(flow_id)
        if flow is None or flow.status is None:
            return None
        if "api" in flow.url:
            body = b'{"page": 1, "products": [{"id": 1, "name": "The Silent Garden"}]}'
        else:
            body = b"<html><head><title>Demo</title></head><body><h1>Hi</h1></body></html>"
        return StoredBody(body, len(body), False)

    def item_health(self) -> ItemHealth:
        counter = ItemHealthCounter()
        for r in self.items:
            flow = self.flow(r.flow_id) if r.flow_id is not None else None
            cls = HEALTH_CLASSES.get(r.item_class)
            outcome = 1 if r.dropped else 2 if r.error else 0
            url = flow.url if flow is not None else None
            counter.add(r.id, r.flow_id, url, r.item_class, r.fields, cls, r.spider, outcome)
        return counter.view()

    def items_of(self, flow: Flow) -> list[ItemRecord]:
        return [r for r in self.items if r.flow_id == flow.id]

    def queue(self, offset: int = 0, limit: int = 100) -> QueueView:
        page = tuple(
            QueuedRequest(
                "127.0.0.1", 0, "memory", "GET", f"{BASE}/product/{n}.html", "parse_product", 2
            )
            for n in range(10 + offset, 10 + offset + min(limit, 42 - offset))
        )
        return QueueView(
            total=42,
            groups=(
                QueueGroup("127.0.0.1", 0, "memory", 40),
                QueueGroup("127.0.0.1", 0, "start", 2),
            ),
            page=page,
            offset=offset,
            slots=(SlotState("127.0.0.1", 8, 0.0, 3, 0, 3, T0 + 64, (f"{BASE}/product/7.html",)),),
            in_flight=3,
            took=0.0001,
            requests=IN_FLIGHT,
        )

    # a test sets it (STALLED): the status line's stall, or closing, its countdown
    transfers: InFlightSummary | None = None

    def toggle_pause(self) -> bool | None:
        if self.state != "running":
            return None
        self.paused = not self.paused
        return self.paused

    def stop(self) -> bool:
        if self.stopped:
            return False
        self.stopped = True
        self.state = "closing"
        return True

    # -- breakpoints (data only: no crawl behind them) --------------------------

    def breakpoints(self) -> list[Breakpoint]:
        return list(self.bps)

    def add_breakpoint(self, text: str) -> Breakpoint:
        kind, expression = parse_breakpoint(text)
        parsed = parse_filter(expression, filter_target(kind))
        bp = Breakpoint(len(self.bps) + 1, kind, expression, filter=parsed)
        self.bps.append(bp)
        self.bp_version += 1
        return bp

    def edit_breakpoint(self, bp_id: int, text: str) -> Breakpoint:
        kind, expression = parse_breakpoint(text)
        bp = next(b for b in self.bps if b.id == bp_id)
        bp.kind, bp.expression = kind, expression
        self.bp_version += 1
        return bp

    def remove_breakpoint(self, bp_id: int) -> None:
        self.bps = [b for b in self.bps if b.id != bp_id]
        self.bp_version += 1

    def toggle_breakpoint(self, bp_id: int) -> bool:
        bp = next(b for b in self.bps if b.id == bp_id)
        bp.enabled = not bp.enabled
        self.bp_version += 1
        return bp.enabled

    def hit(self, flow_id: int, kind: str = "response", error: str | None = None) -> Hit:
        """Pretend a breakpoint fired on a flow."""
        if not self.bps:
            self.add_breakpoint("~s 404")
        flow = self.flow(flow_id)
        hit = Hit(
            id=len(self.hits) + 1,
            breakpoint_id=self.bps[0].id,
            kind=kind,
            description=self.bps[0].text,
            flow_id=flow_id,
            item_id=None,
            time=T0 + 60,
            error=error,
            url=flow.url if flow else None,
        )
        self.hits.append(hit)
        self.paused = True
        return hit

    def continue_(self) -> bool:
        if not self.hits:
            return False
        self.hits.pop(0)
        if not self.hits:
            self.paused = False
        return True

    def step(self) -> bool:
        return self.continue_()

    # -- replay and curl (canned, deterministic) -------------------------------

    async def replay(self, flow_id: int) -> ReplayResult:
        self.replays += 1
        return fake_replay(self.flow(flow_id))

    def curl(self, flow_id: int) -> str:
        flow = self.flow(flow_id)
        if flow is None:
            raise ValueError(f"flow #{flow_id} is no longer kept")
        if "\x1b" in flow.url:
            raise ValueError(f"flow #{flow_id} cannot be exported: a test refusal")
        return f"curl -X {flow.method} '{flow.url}' -H 'User-Agent: Scrapy/2.19.0'"

    def inject_curl(self, text: str, callback: str = "parse") -> str:
        from workbench.core.inspection.curl import request_from_curl

        if callback not in self.callbacks():
            raise ValueError(f"the spider has no method {callback!r}")
        request, _ = request_from_curl(text)
        self.injected.append((request.method, request.url, callback))
        return f"Queued {request.method} {request.url} → {callback}."

    def reload_spider(self) -> str:
        self.reloads += 1
        return "Reloaded DemoSpider from /tmp/demo.py."

    def callbacks(self) -> list[str]:
        return ["parse", "parse_listing", "parse_product"]

    # a test sets it (tests/helpers/runs.py makes one): the Stats panel's "Since the last run"
    comparison: RunComparison | None = None

    def run_comparison(self) -> RunComparison | None:
        return self.comparison


def fake_replay(flow: Flow | None) -> ReplayResult:
    """A replay with every kind of row (or an error for a flow whose callback failed)."""
    from workbench.core.inspection.replay import (
        ADDED,
        CHANGED,
        REMOVED,
        SAME,
        DiffRow,
        OutputItem,
        OutputRequest,
        ReplayError,
        ReplayResult,
        diff_items,
    )

    assert flow is not None
    product = dict(_items()[0].fields)
    original = [OutputItem("Product", tuple(product.items()))]
    if flow.callback_error:
        error = ReplayError("ValueError", "price missing", TRACEBACK)
        rows, rule = diff_items(original[:0], [])
        return ReplayResult(
            flow.id, flow.url, flow.callback or "parse", (), (), error, flow.callback_error,
            tuple(rows), rule, (), 0.004,
        )  # fmt: skip
    changed = OutputItem("Product", tuple({**product, "price": 13.0, "rating": None}.items()))
    extra = OutputItem("PageItem", (("url", BASE + "/product/1.html#reviews"), ("kind", "reviews")))
    rows = [
        DiffRow("item", CHANGED, original[0], changed, ("price", "rating")),
        DiffRow("item", ADDED, None, extra),
        DiffRow(
            "request",
            SAME,
            OutputRequest("GET", BASE + "/product/2.html", "parse_product"),
            OutputRequest("GET", BASE + "/product/2.html", "parse_product"),
        ),
        DiffRow("request", REMOVED, OutputRequest("GET", BASE + "/next.html", "parse"), None),
        DiffRow("request", ADDED, None, OutputRequest("GET", BASE + "/reviews/1", "parse")),
    ]
    return ReplayResult(
        flow.id, flow.url, flow.callback or "parse", (changed, extra),
        tuple(r.replayed for r in rows[2:] if r.replayed), None, None, tuple(rows),
        "items matched by position", ("1 of the original's items are no longer kept",), 0.012,
    )  # fmt: skip
