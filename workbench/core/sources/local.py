"""What the panels read from: a snapshot of one crawl, plus its controls.

:class:`LocalSource` reads an in-process :class:`CrawlHost`.  A remote
source (another process) implements the same methods, so panels cannot
tell the difference.  The UI pulls: it calls :meth:`snapshot` on a timer
and asks for records since a cursor; nothing is pushed per crawl event.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

from workbench.core.control.breakpoints import (
    Breakpoint,
    Breakpoints,
    Hit,
    breakpoints_for,
    parse_breakpoint,
)
from workbench.core.control.host import CrawlHost, CrawlStatus, ensure_reactor
from workbench.core.control.pace import PaceMonitor, PaceView, pace_for
from workbench.core.control.scheduler_view import QueueView, queue_view
from workbench.core.inspection.curl import CurlError, flow_to_curl, inject_curl, spider_callbacks
from workbench.core.inspection.rebuild import RebuildError, rebuild_request, rebuild_response
from workbench.core.inspection.replay import ReplayResult, reload_spider, replay_flow
from workbench.core.leaks.heap import HeapSummary, MemoryView
from workbench.core.leaks.liverefs import RefsView
from workbench.core.leaks.memprobe import MemoryProbe, ObjectList
from workbench.core.leaks.referrers import ReferrerReport
from workbench.core.recording.recorder import StoredBody
from workbench.core.recording.records import Flow, ItemRecord, LogRecord


@dataclass(frozen=True, slots=True)
class Sample:
    """One point of the stats history."""

    time: float
    pages: int
    items: int
    pages_per_min: float
    items_per_min: float


@dataclass(frozen=True, slots=True)
class CrawlerLine:
    """One crawler of several in the process (``workbench crawl S1 S2``)."""

    spider: str
    state: str
    pages: int
    items: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    time: float
    spider: str
    status: CrawlStatus
    stats: dict[str, Any]
    started: float | None
    finished: float | None
    flows_total: int
    flows_kept: int
    items_scraped: int
    items_dropped: int
    items_failed: int
    items_total: int
    items_kept: int
    log_total: int
    log_kept: int
    log_counts: dict[str, int]
    bodies_kept: int
    body_bytes: int
    bodies_evicted: int
    history: tuple[Sample, ...]
    hit: Hit | None = None  # the breakpoint hit waiting for the user
    hits_waiting: int = 0
    breakpoints_version: int = 0
    attached: str = ""  # e.g. "pid 1234": the crawl runs in another process
    warning: str = ""  # e.g. the attached crawl is not answering
    # several crawlers in one process: each one, and the one panels show (None: all)
    crawlers: tuple[CrawlerLine, ...] = ()
    scope: str | None = None

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or self.time) - self.started

    @property
    def pages(self) -> int:
        return int(self.stats.get("response_received_count", 0))

    @property
    def pages_per_min(self) -> float:
        return self.history[-1].pages_per_min if self.history else 0.0

    @property
    def items_per_min(self) -> float:
        return self.history[-1].items_per_min if self.history else 0.0


class Source(Protocol):
    """The interface panels read (local or remote)."""

    def snapshot(self) -> Snapshot: ...
    def flows_since(self, cursor: int) -> list[Flow]: ...
    def items_since(self, cursor: int) -> list[ItemRecord]: ...
    def log_since(self, cursor: int) -> list[LogRecord]: ...
    def flow(self, flow_id: int) -> Flow | None: ...
    def body(self, flow_id: int) -> StoredBody | None: ...
    def items_of(self, flow: Flow) -> list[ItemRecord]: ...
    def queue(self, offset: int, limit: int) -> QueueView: ...
    def toggle_pause(self) -> bool | None: ...
    def stop(self) -> bool: ...
    async def start(self) -> None: ...
    def close(self) -> None: ...
    # breakpoints
    def breakpoints(self) -> list[Breakpoint]: ...
    def add_breakpoint(self, text: str) -> Breakpoint: ...
    def edit_breakpoint(self, bp_id: int, text: str) -> Breakpoint: ...
    def remove_breakpoint(self, bp_id: int) -> None: ...
    def toggle_breakpoint(self, bp_id: int) -> bool: ...
    def continue_(self) -> bool: ...
    def step(self) -> bool: ...
    # replay and curl: data in, data out (ValueError with a message on refusal)
    async def replay(self, flow_id: int) -> ReplayResult: ...
    def curl(self, flow_id: int) -> str: ...
    def inject_curl(self, text: str, callback: str = "parse") -> str: ...
    def reload_spider(self) -> str: ...
    def callbacks(self) -> list[str]: ...
    # leak hunting: live refs (trackref), live objects, referrers, heap (muppy)
    def refs(self) -> RefsView: ...
    def set_refs_baseline(self, clear: bool = False) -> None: ...
    def ignore_ref_class(self, class_key: str, ignored: bool) -> None: ...
    def prefs_text(self) -> str: ...
    def live_objects(self, class_key: str, limit: int = 500) -> ObjectList: ...
    async def referrers(self, object_key: int) -> ReferrerReport: ...
    async def leak_paths(self, class_keys: list[str]) -> dict[str, str | None]: ...
    def leak_path_due(self, class_key: str) -> bool: ...
    def memory(self) -> MemoryView: ...
    async def heap_summary(self) -> HeapSummary: ...
    # the crawl's pace: downloader slots and AutoThrottle (key None: every slot)
    def pace(self, selected: str | None = None, points: int = 900) -> PaceView | None: ...
    def set_slot_delay(self, key: str | None, seconds: float) -> str: ...
    def set_slot_concurrency(self, key: str | None, value: int) -> str: ...
    def set_slot_autothrottle(self, key: str | None, on: bool) -> str: ...


class StatsHistory:
    """Samples pages and items at most once per ``interval`` seconds (bounded)."""

    def __init__(self, interval: float = 1.0, window: float = 10.0, maxlen: int = 3600) -> None:
        self.interval = interval
        self.window = window
        self.samples: deque[Sample] = deque(maxlen=maxlen)
        self._raw: deque[tuple[float, int, int]] = deque()

    def sample(self, now: float, pages: int, items: int) -> None:
        if self.samples and now - self.samples[-1].time < self.interval:
            return
        raw = self._raw
        raw.append((now, pages, items))
        while len(raw) > 2 and now - raw[0][0] > self.window:
            raw.popleft()
        t0, p0, i0 = raw[0]
        span = now - t0
        ppm = (pages - p0) * 60 / span if span > 0 else 0.0
        ipm = (items - i0) * 60 / span if span > 0 else 0.0
        self.samples.append(Sample(now, pages, items, ppm, ipm))


class RecorderReads:
    """The record reads of a source that holds a :class:`Recorder` as ``recorder``
    (the crawl's own, or a remote source's copy)."""

    recorder: Any

    def flows_since(self, cursor: int) -> list[Flow]:
        return self.recorder.flows.since(cursor)

    def items_since(self, cursor: int) -> list[ItemRecord]:
        return self.recorder.items.since(cursor)

    def log_since(self, cursor: int) -> list[LogRecord]:
        return self.recorder.log.since(cursor)

    def flow(self, flow_id: int) -> Flow | None:
        return self.recorder.flow(flow_id)

    def items_of(self, flow: Flow) -> list[ItemRecord]:
        return self.recorder.items_of(flow)


class LocalSource(RecorderReads):
    """Reads a crawl running in this process."""

    resumed_job: Any = None  # a JOBDIR this crawl resumes (workbench.core.control.jobdir.JobReport)
    sample_probe = True  # one of several crawlers: the process's probe is sampled once

    def __init__(
        self, host: CrawlHost, prepare: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.host = host
        self.history = StatsHistory()
        self.prepare = prepare  # e.g. start the demo site on the reactor first
        self.probe = MemoryProbe(self._crawler)

    def _crawler(self) -> Any:
        return self.host.crawler

    async def start(self) -> None:
        ensure_reactor(self.host.settings)
        if self.prepare is not None:
            await self.prepare()
        await self.host.start()

    def close(self) -> None:
        self.host.close()

    def all_hosts(self) -> list[CrawlHost]:
        """Every crawl of the process (several with ``workbench crawl S1 S2``)."""
        return [self.host]

    def stop_all(self) -> bool:
        """Stop every crawl of the process, whichever one the panels show."""
        return self.stop()

    @property
    def recorder(self) -> Any:
        recorder = self.host.recorder
        if recorder is None:
            self.host.create()
            recorder = self.host.recorder
        return recorder

    def snapshot(self) -> Snapshot:
        host = self.host
        rec = self.recorder
        crawler = host.crawler
        stats: dict[str, Any] = {}
        if host.stats is not None:
            stats = dict(host.stats.get_stats())
        now = time.time()
        bps = self.breakpoints_manager
        pages = int(stats.get("response_received_count", 0))
        scraped, dropped, failed = self._item_counts(rec, stats)
        if not host.finished:
            self.history.sample(now, pages, scraped)
        status = host.status()
        if self.sample_probe:
            self.probe.sample(pages, status.in_flight, status.queued)
        spider = getattr(crawler, "spider", None) if crawler is not None else None
        name = getattr(spider, "name", None) or getattr(
            getattr(crawler, "spidercls", None), "name", "?"
        )
        return Snapshot(
            time=now,
            spider=str(name),
            status=status,
            stats=stats,
            started=host.started_at,
            finished=host.finished_at,
            flows_total=rec.flows.total,
            flows_kept=len(rec.flows),
            items_scraped=scraped,
            items_dropped=dropped,
            items_failed=failed,
            items_total=rec.items.total,
            items_kept=len(rec.items),
            log_total=rec.log.total,
            log_kept=len(rec.log),
            log_counts=dict(rec.log_counts),
            bodies_kept=len(rec.bodies),
            body_bytes=rec.bodies.bytes,
            bodies_evicted=rec.bodies.evicted,
            history=tuple(self.history.samples),
            hit=bps.current,
            hits_waiting=len(bps.pending),
            breakpoints_version=bps.version,
        )

    def _item_counts(self, rec: Any, stats: dict[str, Any]) -> tuple[int, int, int]:
        """Items scraped, dropped and failed (the recorder's: all of them)."""
        return rec.items_scraped, rec.items_dropped, rec.items_failed

    def body(self, flow_id: int) -> StoredBody | None:
        return self.recorder.body(flow_id)

    def queue(self, offset: int = 0, limit: int = 100) -> QueueView:
        return queue_view(self.host.engine, offset, limit)

    def toggle_pause(self) -> bool | None:
        return self.host.toggle_pause()

    def stop(self) -> bool:
        stopping = self.host.stop()
        if stopping:
            # held responses would keep the engine from closing
            self.breakpoints_manager.release_all()
        return stopping

    # -- breakpoints -------------------------------------------------------------

    @property
    def breakpoints_manager(self) -> Breakpoints:
        return breakpoints_for(self.host.create())

    def breakpoints(self) -> list[Breakpoint]:
        return list(self.breakpoints_manager.items)

    def add_breakpoint(self, text: str) -> Breakpoint:
        kind, expression = parse_breakpoint(text)
        return self.breakpoints_manager.add(kind, expression)

    def edit_breakpoint(self, bp_id: int, text: str) -> Breakpoint:
        kind, expression = parse_breakpoint(text)
        return self.breakpoints_manager.edit(bp_id, kind, expression)

    def remove_breakpoint(self, bp_id: int) -> None:
        self.breakpoints_manager.remove(bp_id)

    def toggle_breakpoint(self, bp_id: int) -> bool:
        return self.breakpoints_manager.toggle(bp_id)

    def continue_(self) -> bool:
        return self.breakpoints_manager.continue_()

    def step(self) -> bool:
        return self.breakpoints_manager.step()

    # -- the shell (local only: live objects) ------------------------------------

    def shell_target(self, flow_id: int | None) -> tuple[Any, Any, dict[str, Any], str]:
        """(response, request, extra names, note) for a shell on a flow.

        The current hit's live objects when the flow is the hit's; otherwise a
        response rebuilt from what the recorder kept.
        """
        hit = self.breakpoints_manager.current
        if hit is not None and (flow_id is None or flow_id == hit.flow_id) and hit.context:
            ctx = hit.context
            extra: dict[str, Any] = {}
            failure = ctx.get("failure")
            if failure is not None:
                extra["failure"] = failure
                extra["exception"] = ctx.get("exception")
                extra["traceback"] = failure.getTraceback()
            if ctx.get("item") is not None:
                extra["item"] = ctx["item"]
            note = f"Stopped at breakpoint {hit.breakpoint_id} ({hit.description})"
            if hit.error:
                note += f": {hit.error}; see failure, exception, traceback"
            if hit.kind == "response":
                note += "; the callback has not run yet"
            return ctx.get("response"), ctx.get("request"), extra, note + "."
        flow = self.flow(flow_id) if flow_id is not None else self._latest_response_flow()
        if flow is None:
            return None, None, {}, "No response yet: use fetch(url)."
        spider = getattr(self.host.crawler, "spider", None)
        try:  # with its callback, meta and cb_kwargs when they can be rebuilt
            request = rebuild_request(flow, spider)
        except RebuildError:
            request = rebuild_request(flow)
        if flow.status is None:
            return None, request, {}, f"Flow #{flow.id} has no response: {flow.error}."
        stored = self.body(flow.id)
        try:
            response = rebuild_response(flow, stored, request, allow_truncated=True)
        except RebuildError as exc:
            return None, request, {}, f"No response for flow #{flow.id}: {exc}."
        note = f"response is flow #{flow.id}, rebuilt from the recorded body"
        if stored is not None and stored.truncated:
            note += f" (truncated to {len(stored.body)} of {stored.size} bytes)"
        return response, request, {}, note + "."

    def _latest_response_flow(self) -> Flow | None:
        for flow in reversed(list(self.recorder.flows)[-1000:]):
            if flow.status is not None:
                return flow
        return None

    def shell_object(self, object_key: int) -> tuple[Any, Any, dict[str, Any], str]:
        """(response, request, extra names, note) for a shell on a live object."""
        from scrapy.http import Request, Response

        obj = self.probe.resolve(object_key)
        if obj is None:
            return None, None, {}, "The object was collected meanwhile."
        response = obj if isinstance(obj, Response) else None
        request = obj if isinstance(obj, Request) else getattr(response, "request", None)
        note = f"obj is the live {type(obj).__name__} (gc.get_referrers(obj) lists what holds it)"
        return response, request, {"obj": obj}, note + "."

    # -- replay and curl -------------------------------------------------------

    async def replay(self, flow_id: int) -> ReplayResult:
        """Re-run the flow's callback on its stored response; diff with the original.

        Raises ValueError (ReplayRefused) when the flow cannot be replayed."""
        return await replay_flow(self.host.crawler, self.recorder, flow_id)

    def curl(self, flow_id: int) -> str:
        """The flow's request as a curl command (ValueError when it cannot be)."""
        flow = self.flow(flow_id)
        if flow is None:
            raise CurlError(f"flow #{flow_id} is no longer kept")
        return flow_to_curl(flow)

    def inject_curl(self, text: str, callback: str = "parse") -> str:
        """Queue the request of a curl command in the crawl; returns a message."""
        return inject_curl(self.host.crawler, text, callback)

    def reload_spider(self) -> str:
        """Re-import the spider's module (ValueError on a SyntaxError, ImportError...)."""
        return reload_spider(self.host.crawler)

    # -- leak hunting ----------------------------------------------------------------

    def refs(self) -> RefsView:
        return self.probe.refs()

    def set_refs_baseline(self, clear: bool = False) -> None:
        self.probe.set_baseline(clear)

    def ignore_ref_class(self, class_key: str, ignored: bool) -> None:
        self.probe.ignore(class_key, ignored)

    def prefs_text(self) -> str:
        return self.probe.prefs_text()

    def live_objects(self, class_key: str, limit: int = 500) -> ObjectList:
        return self.probe.live_objects(class_key, limit)

    async def referrers(self, object_key: int) -> ReferrerReport:
        return await self.probe.referrers(object_key)

    async def leak_paths(self, class_keys: list[str]) -> dict[str, str | None]:
        return await self.probe.leak_paths(class_keys)

    def leak_path_due(self, class_key: str) -> bool:
        return self.probe.path_due(class_key)

    def memory(self) -> MemoryView:
        stats = dict(self.host.stats.get_stats()) if self.host.stats is not None else {}
        crawler = self.host.crawler
        settings = crawler.settings if crawler is not None else self.host.settings
        return self.probe.memory(settings, stats)

    async def heap_summary(self) -> HeapSummary:
        return await self.probe.heap_summary()

    def callbacks(self) -> list[str]:
        """The spider's methods that can be callbacks, parse first."""
        crawler = self.host.crawler
        spider = getattr(crawler, "spider", None) if crawler is not None else None
        if spider is None:
            spider = getattr(crawler, "spidercls", None) if crawler is not None else None
        if spider is None:
            spider = self.host.spider if isinstance(self.host.spider, type) else None
        return spider_callbacks(spider) if spider is not None else ["parse"]

    # -- pace: slots and AutoThrottle ----------------------------------------------

    def pace(self, selected: str | None = None, points: int = 900) -> PaceView | None:
        """Slots, the last ``points`` of a series, adjustments (None before the crawler exists)."""
        crawler = self.host.crawler
        if crawler is None:
            return None
        return pace_for(crawler).view(selected, points)

    def _pace(self) -> PaceMonitor:
        crawler = self.host.crawler
        if crawler is None or self.host.finished:
            raise ValueError("the crawl is not running")
        return pace_for(crawler)

    def set_slot_delay(self, key: str | None, seconds: float) -> str:
        return self._pace().set_delay(key, seconds)

    def set_slot_concurrency(self, key: str | None, value: int) -> str:
        return self._pace().set_concurrency(key, value)

    def set_slot_autothrottle(self, key: str | None, on: bool) -> str:
        return self._pace().set_autothrottle(key, on)


class CheckSource(LocalSource):
    """``workbench check``: the spiders' contract checks, one crawl after another
    (a :class:`~workbench.core.inspection.contracts.CheckRun`); panels read the current one."""

    quiet_summary = True  # the checks' own report follows the app

    def __init__(self, run: Any) -> None:
        self.run = run
        super().__init__(run.hosts[0])
        self._task: asyncio.Task[None] | None = None
        self.stopped = False

    @property
    def host(self) -> Any:
        return self.run.host

    @host.setter
    def host(self, value: Any) -> None:  # LocalSource.__init__ sets it
        pass

    @property
    def recorder(self) -> Any:
        return self.run.recorder

    def checks(self) -> list[Any]:
        return list(self.run.results.outcomes)

    async def start(self) -> None:
        ensure_reactor(self.run.hosts[0].settings)
        self._task = asyncio.ensure_future(self.run.run())

    def stop(self) -> bool:
        self.stopped = True
        self.run.hosts[self.run.index + 1 :] = []  # no further spider
        return super().stop()

    def snapshot(self) -> Snapshot:
        snapshot = super().snapshot()
        run = self.run
        status = snapshot.status
        if not run.finished and status.state in ("finished", "starting"):
            status = CrawlStatus("running", 0, 0, None, None)  # between two spiders
        label = f"check {snapshot.spider} ({min(run.index + 1, len(run.hosts))}/{len(run.hosts)})"
        return dataclasses.replace(snapshot, spider=label, status=status)

    def close(self) -> None:
        for host in self.run.hosts:
            host.close()


class ParseSource(LocalSource):
    """``workbench parse URL``: one crawl, recorded as a tree by depth as well
    (:class:`~workbench.core.inspection.parse.ParseCommand`)."""

    quiet_summary = True  # scrapy parse's own report follows the app

    def __init__(self, host: CrawlHost, command: Any) -> None:
        super().__init__(host)
        self.command = command

    def parse_tree(self) -> Any:
        return self.command.tree
