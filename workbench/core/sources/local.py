"""The sources of a crawl in this process: :class:`LocalSource` reads an
in-process :class:`CrawlHost`; :class:`CheckSource` (``workbench check``) and
:class:`ParseSource` (``workbench parse``) add what their command shows.

The contract they implement, and the capabilities they declare, are in
:mod:`workbench.core.sources.base`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from workbench.core.browser.extension import browser_for
from workbench.core.browser.model import BrowserFetch, BrowserView
from workbench.core.control import lanes
from workbench.core.control.breakpoints import (
    Breakpoint,
    Breakpoints,
    breakpoints_for,
    parse_breakpoint,
)
from workbench.core.control.host import CrawlHost, CrawlStatus, ensure_reactor
from workbench.core.control.jobdir import keeping_ports
from workbench.core.control.pace import PaceMonitor, PaceView, pace_for
from workbench.core.control.pace.engine import EngineReading
from workbench.core.control.scheduler_view import QueueView, queue_view
from workbench.core.inspection.curl import inject_curl, spider_callbacks
from workbench.core.inspection.rebuild import RebuildError, rebuild_request, rebuild_response
from workbench.core.inspection.replay import ReplayResult, reload_spider, replay_flow
from workbench.core.leaks.chains import ReferrerReport
from workbench.core.leaks.heap import HeapSummary, MemoryView
from workbench.core.leaks.liverefs import RefsView
from workbench.core.leaks.memprobe import MemoryProbe, ObjectList
from workbench.core.recording.records import Flow
from workbench.core.recording.run_changes import RunComparison, compare_runs
from workbench.core.recording.run_store import KEEP_SETTING, RunStore
from workbench.core.recording.runs import RunSummary, project_of, run_key, summary_of_crawl
from workbench.core.sources.base import (
    Capabilities,
    RecorderReads,
    ShellTarget,
    Snapshot,
    StatsHistory,
)

NO_BROWSER = (
    "No headless browser in this crawl: none of its DOWNLOAD_HANDLERS is scrapy-playwright's "
    "(see docs/browser.md)"
)


# What the interface asks of a crawl in this process runs in the crawl's lane of
# the loop, so the work it sets going stays there (core/control/lanes.py)
CRAWL_LANE_METHODS = (
    "start",
    "toggle_pause",
    "stop",
    "stop_all",
    "continue_",
    "step",
    "replay",
    "inject_curl",
    "reload_spider",
    "set_slot_delay",
    "set_slot_concurrency",
    "set_slot_autothrottle",
)


class LocalSource(RecorderReads):
    """Reads a crawl running in this process."""

    capabilities: ClassVar[Capabilities] = Capabilities(
        live=True,
        breakpoints=True,
        replay=True,
        reload=True,
        inject=True,
        pace=True,
        refs=True,
        heap=True,
        local_shell=True,
        browser=True,
    )
    unavailable: ClassVar[str] = "not available for this crawl"
    sample_probe = True  # one of several crawlers: the process's probe is sampled once

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        lanes.wrap_methods(cls, CRAWL_LANE_METHODS)

    def __init__(
        self, host: CrawlHost, prepare: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self._host = host
        self.history = StatsHistory()
        self.prepare = prepare  # e.g. start the demo site on the reactor first
        self.probe = MemoryProbe(self._crawler)
        # since the last run: the previous run (looked up once per crawl), the
        # comparison (made at most once every COMPARE_EVERY seconds)
        self._previous: tuple[str, RunSummary | None] | None = None
        self._comparison: tuple[float, RunComparison | None] | None = None

    def _crawler(self) -> Any:
        return self.host.crawler

    async def start(self) -> None:
        ensure_reactor(self.host.settings)
        if self.prepare is not None:
            jobdir = self.host.settings.get("JOBDIR")
            # the demo site keeps its port with the job, so the job's URLs lead to it
            with keeping_ports(jobdir) if jobdir else contextlib.nullcontext():
                await self.prepare()
        await self.host.start()

    def close(self) -> None:
        self.host.close()

    @property
    def host(self) -> CrawlHost:
        """The crawl the panels show."""
        return self._host

    def shell_crawler(self) -> Any:
        return self.host.create()

    def crawl_hosts(self) -> list[CrawlHost]:
        """Every crawl of the process (several with ``workbench crawl S1 S2``)."""
        return [self.host]

    def response_due(self) -> bool:
        return any(host.response_due() for host in self.crawl_hosts())

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
            fates=dict(rec.fate_counts),
            dropped_unkept=rec.dropped_unkept,
            hit=bps.current,
            hits_waiting=len(bps.pending),
            breakpoints_version=bps.version,
        )

    def _item_counts(self, rec: Any, stats: dict[str, Any]) -> tuple[int, int, int]:
        """Items scraped, dropped and failed (the recorder's: all of them)."""
        return rec.items_scraped, rec.items_dropped, rec.items_failed

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

    def shell_on_flow(self, flow_id: int | None) -> ShellTarget:
        """The shell's names for a flow.

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
            return ShellTarget(ctx.get("response"), ctx.get("request"), extra, note + ".")
        flow = self.flow(flow_id) if flow_id is not None else self._latest_response_flow()
        if flow is None:
            return ShellTarget(note="No response yet: use fetch(url).")
        spider = getattr(self.host.crawler, "spider", None)
        try:  # with its callback, meta and cb_kwargs when they can be rebuilt
            request = rebuild_request(flow, spider)
        except RebuildError:
            request = rebuild_request(flow)
        if flow.status is None:
            return ShellTarget(None, request, {}, f"Flow #{flow.id} has no response: {flow.error}.")
        stored = self.body(flow.id)
        try:
            response = rebuild_response(flow, stored, request, allow_truncated=True)
        except RebuildError as exc:
            return ShellTarget(None, request, {}, f"No response for flow #{flow.id}: {exc}.")
        note = f"response is flow #{flow.id}, rebuilt from the recorded body"
        if stored is not None and stored.truncated:
            note += f" (truncated to {len(stored.body)} of {stored.size} bytes)"
        return ShellTarget(response, request, {}, note + ".")

    def _latest_response_flow(self) -> Flow | None:
        for flow in reversed(list(self.recorder.flows)[-1000:]):
            if flow.status is not None:
                return flow
        return None

    def shell_on_object(self, object_key: int) -> ShellTarget:
        """The shell's names for a live object (``obj``)."""
        from scrapy.http import Request, Response

        obj = self.probe.resolve(object_key)
        if obj is None:
            return ShellTarget(note="The object was collected meanwhile.")
        response = obj if isinstance(obj, Response) else None
        request = obj if isinstance(obj, Request) else getattr(response, "request", None)
        note = f"obj is the live {type(obj).__name__} (gc.get_referrers(obj) lists what holds it)"
        return ShellTarget(response, request, {"obj": obj}, note + ".")

    # -- replay and curl -------------------------------------------------------

    async def replay(self, flow_id: int) -> ReplayResult:
        """Re-run the flow's callback on its stored response; diff with the original.

        Raises ValueError (ReplayRefused) when the flow cannot be replayed."""
        return await replay_flow(self.host.crawler, self.recorder, flow_id)

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

    # -- the headless browser (scrapy-playwright) ------------------------------------

    def browser(self) -> BrowserView:
        monitor = browser_for(self.host.crawler)
        if monitor is None:
            return BrowserView(time.time(), status=NO_BROWSER)
        return monitor.view()

    def browser_fetch(self, flow_id: int) -> BrowserFetch | None:
        monitor = browser_for(self.host.crawler)
        return monitor.fetch(flow_id) if monitor is not None else None

    async def browser_screenshot(self, key: int | None) -> str:
        monitor = browser_for(self.host.crawler)
        if monitor is None or key is None:
            raise ValueError("No browser page to shoot: select an open page first")
        return await monitor.screenshot(key)

    # -- since the last run ----------------------------------------------------------

    COMPARE_EVERY = 1.0  # seconds

    def run_comparison(self) -> RunComparison | None:
        """This crawl, live or over, against the last kept run of its spider (when
        its runs are kept: WORKBENCH_KEEP_RUNS)."""
        host = self.host
        crawler = host.crawler
        if crawler is None or host.started_at is None:
            return None
        if not crawler.settings.getbool(KEEP_SETTING, False):
            return None
        now = time.monotonic()
        cached = self._comparison
        if cached is not None and now - cached[0] < self.COMPARE_EVERY:
            return cached[1]
        if self._previous is None:  # the last run kept before this one started
            name = str(getattr(crawler.spidercls, "name", None) or "?")
            project = project_of(crawler.spidercls)
            previous = RunStore().previous(run_key(name, project), before=host.started_at)
            self._previous = (project, previous)
        project, previous = self._previous
        comparison = None
        if previous is not None:
            current = summary_of_crawl(
                crawler, self.recorder, host.started_at, host.finished_at,
                shared=host.shared_recorder is not None, project=project,
            )  # fmt: skip
            comparison = compare_runs(previous, current)
        self._comparison = (now, comparison)
        return comparison

    # -- pace: slots and AutoThrottle ----------------------------------------------

    def pace(self, selected: str | None = None, points: int = 900) -> PaceView | None:
        """Slots, the last ``points`` of a series, adjustments (None before the crawler exists)."""
        crawler = self.host.crawler
        if crawler is None:
            return None
        return pace_for(crawler).view(selected, points)

    def engine_reading(self) -> EngineReading | None:
        """The engine's readings and the settings (None before the crawler exists)."""
        crawler = self.host.crawler
        if crawler is None:
            return None
        return pace_for(crawler).engine_view()

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


lanes.wrap_methods(LocalSource, CRAWL_LANE_METHODS)


class CheckSource(LocalSource):
    """``workbench check``: the spiders' contract checks, one crawl after another
    (a :class:`~workbench.core.inspection.contracts.CheckRun`); panels read the current one."""

    capabilities: ClassVar[Capabilities] = dataclasses.replace(
        LocalSource.capabilities, checks=True, own_report=True
    )

    def __init__(self, run: Any) -> None:
        self.run = run
        super().__init__(run.hosts[0])
        self._task: asyncio.Task[None] | None = None
        self.stopped = False

    @property
    def host(self) -> Any:
        """The spider being checked now."""
        return self.run.host

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

    capabilities: ClassVar[Capabilities] = dataclasses.replace(
        LocalSource.capabilities, parse_tree=True, own_report=True
    )

    def __init__(self, host: CrawlHost, command: Any) -> None:
        super().__init__(host)
        self.command = command

    def parse_tree(self) -> Any:
        return self.command.tree
