"""Run real Scrapy crawls on the asyncio loop that is already running.

The UI (or a test) owns the loop; :class:`CrawlHost` installs Twisted's
asyncio reactor on it, sets the reactor up the way ``scrapy crawl`` does
(DNS resolver, thread pool) without signal handlers, and starts crawlers
with :class:`scrapy.crawler.AsyncCrawlerRunner`.  The reactor is never
``run()`` nor ``stop()``-ped: that would stop the loop itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass
from typing import Any

from scrapy import signals
from scrapy.crawler import AsyncCrawlerRunner, Crawler, CrawlerProcessBase
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.log import log_scrapy_info

from workbench.core.control.in_flight import InFlightSummary, installed_clock
from workbench.core.recording.extension import RECORDER_ATTR, WorkbenchAddon, recorder_for
from workbench.core.recording.logcapture import LogCapture
from workbench.core.recording.recorder import Recorder

logger = logging.getLogger(__name__)

ASYNCIO_REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"


class HostError(RuntimeError):
    """A crawl cannot be started (bad settings, wrong reactor, ...)."""


def ensure_reactor(settings: Settings) -> None:
    """Install and start the asyncio reactor on the running loop (idempotent)."""
    if not settings.getbool("TWISTED_REACTOR_ENABLED", True):
        return
    wanted = settings.get("TWISTED_REACTOR") or ASYNCIO_REACTOR
    if wanted != ASYNCIO_REACTOR:
        raise HostError(
            f"workbench runs Scrapy on the asyncio reactor; TWISTED_REACTOR is set to {wanted!r}"
        )
    from twisted.internet import asyncioreactor, error

    loop = asyncio.get_running_loop()
    with contextlib.suppress(error.ReactorAlreadyInstalledError):
        asyncioreactor.install(eventloop=loop)
    from twisted.internet import reactor

    if not isinstance(reactor, asyncioreactor.AsyncioSelectorReactor):
        raise HostError(f"another Twisted reactor is already installed: {type(reactor).__name__}")
    if reactor._asyncioEventloop is not loop:
        raise HostError("the Twisted reactor is bound to another asyncio loop")
    if not reactor.running:
        reactor.startRunning(installSignalHandlers=False)
        reactor._workbench_started = True  # its threads are ours to stop


def stop_reactor_threads() -> None:
    """Stop the reactor's thread pool so the process can exit (never reactor.stop());
    not when a script runs the reactor (``react()``): its shutdown stops them."""
    from twisted.internet import reactor

    if not getattr(reactor, "_workbench_started", False):
        return
    pool = getattr(reactor, "threadpool", None)
    if pool is not None and pool.started:
        pool.stop()


class _Runner(AsyncCrawlerRunner):
    """AsyncCrawlerRunner plus CrawlerProcess's reactor set-up (DNS, threads)."""

    _setup_reactor = CrawlerProcessBase._setup_reactor

    def _stop_dfd(self) -> Any:
        return deferred_from_coro(self.stop())


@dataclass(frozen=True, slots=True)
class CrawlStatus:
    state: str  # starting | running | paused | closing | finished | failed
    in_flight: int  # handed to the downloader and not held: these still finish
    queued: int
    finish_reason: str | None
    error: str | None
    held: int = 0  # paused: waiting in a downloader slot, held there until resumed
    # what is on the wire, how long no response came, the last timeout (None: unknown)
    transfers: InFlightSummary | None = None


HOLD_ATTR = "_workbench_hold"  # on the downloader: its DownloadHold while paused
HOLD_CHECK = 0.5  # seconds between checks that the crawl is still paused


class DownloadHold:
    """Requests waiting in the downloader's slots when the crawl paused, kept there.

    ``engine.pause()`` only stops the scheduler from feeding the downloader.
    With a ``DOWNLOAD_DELAY`` (or a slot's concurrency) the engine has already
    handed it up to ``CONCURRENT_REQUESTS``, which wait in each slot's queue
    and leave one per delay through ``Downloader._process_queue``, paused or
    not.  While held, that method (replaced on the crawl's own downloader)
    sets the held requests aside, so what the downloader is asked later (the
    shell's ``fetch()``, a replay) still goes out; they stay in the slot's
    queue, so the Queue and Slots panels count them.  The hold ends with
    ``resume_engine`` or, checked every ``HOLD_CHECK`` seconds, when the
    engine is no longer paused or closes (Scrapy waits for every request it
    handed out before it closes a spider).
    """

    def __init__(self, engine: Any) -> None:
        self.engine = engine
        self.downloader = engine.downloader
        self.requests = {r for slot in self.downloader.slots.values() for r, _ in slot.queue}
        self._process_queue = self.downloader._process_queue  # Scrapy's, bound
        self._timer: asyncio.TimerHandle | None = None

    @classmethod
    def of(cls, engine: Any) -> DownloadHold | None:
        downloader = getattr(engine, "downloader", None)
        return vars(downloader).get(HOLD_ATTR) if downloader is not None else None

    def install(self) -> None:
        self.downloader._process_queue = self.process_queue
        setattr(self.downloader, HOLD_ATTR, self)
        self._check_later()

    def process_queue(self, slot: Any) -> None:
        if self._over():
            self.release()
            self._process_queue(slot)
            return
        held = [entry for entry in slot.queue if entry[0] in self.requests]
        if not held:
            self._process_queue(slot)
            return
        others = [entry for entry in slot.queue if entry[0] not in self.requests]
        slot.queue.clear()
        slot.queue.extend(others)
        try:
            self._process_queue(slot)  # what came after the pause
        finally:
            slot.queue.extendleft(reversed(held))  # first in line again when resumed

    def count(self) -> int:
        """Held requests still waiting (one leaves only if the slot is closed)."""
        return sum(
            1
            for slot in list(self.downloader.slots.values())
            for request, _ in slot.queue
            if request in self.requests
        )

    def release(self) -> None:
        """Let the held requests go, each slot at its own pace again."""
        if vars(self.downloader).get(HOLD_ATTR) is not self:
            return
        del self.downloader._process_queue  # Scrapy's own again
        delattr(self.downloader, HOLD_ATTR)
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        for slot in list(self.downloader.slots.values()):
            if slot.queue:
                with contextlib.suppress(Exception):
                    self._process_queue(slot)

    def _over(self) -> bool:
        engine = self.engine
        slot = getattr(engine, "_slot", None)
        return not engine.paused or not engine.running or slot is None or slot.closing is not None

    def _check_later(self) -> None:
        self._timer = asyncio.get_running_loop().call_later(HOLD_CHECK, self._check)

    def _check(self) -> None:
        self._timer = None
        if self._over():
            self.release()
        elif vars(self.downloader).get(HOLD_ATTR) is self:
            self._check_later()


def hold_downloads(engine: Any) -> None:
    """Keep the requests waiting in the downloader's slots there (see DownloadHold)."""
    if getattr(engine, "downloader", None) is not None and DownloadHold.of(engine) is None:
        DownloadHold(engine).install()


def resume_engine(engine: Any) -> bool:
    """Unpause and wake the engine at once, and let held requests go; False if it
    was not paused."""
    if engine is None or not engine.paused:
        return False
    engine.unpause()
    hold = DownloadHold.of(engine)
    if hold is not None:
        hold.release()
    slot = getattr(engine, "_slot", None)
    if slot is not None:
        slot.nextcall.schedule()  # unpause() alone waits for the 5 s heartbeat
    return True


class CrawlHost:
    """One crawl (one spider) run inside the current process and loop."""

    def __init__(
        self,
        settings: Settings,
        spider: type | str,
        spider_kwargs: dict[str, Any] | None = None,
        recorder: Recorder | None = None,
        capture_log: bool = True,
    ) -> None:
        self.settings = settings
        # several crawls, in turn (check) or together (crawl S1 S2), one recorder;
        # together, only one of them routes the process's logging into it
        self.shared_recorder = recorder
        self.capture_log = capture_log
        self.log_settings: Settings | None = None  # several crawlers: not one spider's
        self.spider = spider
        self.spider_kwargs = dict(spider_kwargs or {})
        self.runner: _Runner | None = None
        self.crawler: Crawler | None = None
        self.task: asyncio.Task[None] | None = None
        self.error: str | None = None
        self.started_at: float | None = None
        self.finished_at: float | None = None
        self._stopping = False
        self._stop_task: asyncio.Future[None] | None = None
        self._autothrottle: bool | None = None  # AUTOTHROTTLE_ENABLED, read once
        self._log_capture: LogCapture | None = None
        self._tuned_gc = False  # this crawl set the collector's thresholds (collector.py)
        self.recorder: Recorder | None = None

    # -- lifecycle ---------------------------------------------------------

    def create(self) -> Crawler:
        """Create the crawler (spider class resolved, settings merged)."""
        if self.crawler is not None:
            return self.crawler
        settings = self.settings.copy()
        settings.set_in_component_priority_dict("ADDONS", WorkbenchAddon, 0)
        self.runner = _Runner(settings)
        crawler = self.runner.create_crawler(self.spider)
        if self.shared_recorder is not None:
            setattr(crawler, RECORDER_ATTR, self.shared_recorder)
        self.recorder = recorder_for(crawler)
        self.crawler = crawler
        return crawler

    async def start(self) -> None:
        """Start the crawl; returns once it is under way (see :meth:`wait`)."""
        crawler = self.create()
        assert self.runner is not None and self.recorder is not None
        self.capture()
        ensure_reactor(self.settings)
        if self.settings.getbool("TWISTED_REACTOR_ENABLED", True):
            from twisted.internet import reactor

            if not getattr(reactor, "_workbench_setup", False):
                self.setup_reactor()
                reactor._workbench_setup = True
        self.begin(crawler)

    def setup_reactor(self) -> None:
        """The DNS resolver and thread pool, as ``scrapy crawl`` sets them (once)."""
        assert self.runner is not None
        # CrawlerProcessBase's method on an AsyncCrawlerRunner: it reads only
        # self.settings, which both have
        self.runner._setup_reactor(install_signal_handlers=False)  # type: ignore[misc]

    def capture(self) -> None:
        """Route logging into the recorder (once; only the host that captures)."""
        if self.capture_log and self._log_capture is None:
            assert self.recorder is not None
            crawler = self.crawler
            settings = self.log_settings or (crawler.settings if crawler else self.settings)
            self._log_capture = LogCapture(self.recorder, settings)
            self._log_capture.install()

    def begin(self, crawler: Crawler) -> None:
        """Set the crawl going on the runner (a script's crawl is already going)."""
        assert self.runner is not None
        from workbench.core.control import collector

        self._tuned_gc = collector.tune_for_crawl(self.settings) or self._tuned_gc
        if collector.wanted(self.settings, warn=False) is not None:
            collector.free_documents(crawler)
        log_scrapy_info(self.settings)
        self.started_at = time.time()
        self.task = self.runner.crawl(crawler, **self.spider_kwargs)
        self.task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        self.finished_at = time.time()
        if task.cancelled():
            self.error = "cancelled"
            return
        exc = task.exception()
        if exc is not None:
            self.error = f"{type(exc).__name__}: {exc}"
            logger.error("The crawl failed to start or crashed: %s", self.error, exc_info=exc)
            return
        self._keep_run()

    def _keep_run(self) -> None:
        """The run's summary, for the next run to compare with (WORKBENCH_KEEP_RUNS)."""
        from workbench.core.recording.run_store import keep_run

        try:
            keep_run(self.crawler, self.recorder, self.started_at, self.finished_at,
                     shared=self.shared_recorder is not None)  # fmt: skip
        except Exception as exc:  # a full disk, a read-only home: the crawl is no worse
            logger.warning("Could not keep this run's summary: %s: %s", type(exc).__name__, exc)

    async def wait(self) -> None:
        if self.task is not None:
            await asyncio.wait({self.task})

    def close(self) -> None:
        if self._tuned_gc:
            from workbench.core.control import collector

            collector.restore()
            self._tuned_gc = False
        if self._log_capture is not None:
            self._log_capture.uninstall()
            self._log_capture = None

    # -- controls ----------------------------------------------------------

    @property
    def engine(self) -> Any:
        crawler = self.crawler
        return getattr(crawler, "_engine", None) if crawler is not None else None

    @property
    def finished(self) -> bool:
        return self.task is not None and self.task.done()

    def pause(self) -> bool:
        """Pause: nothing leaves the scheduler, nor waits in a downloader slot;
        what is on the wire finishes and its callback runs."""
        engine = self.engine
        if engine is None or not engine.running or self.finished:
            return False
        engine.pause()
        hold_downloads(engine)
        return True

    def resume(self) -> bool:
        return resume_engine(self.engine)

    def toggle_pause(self) -> bool | None:
        """Pause or resume; returns the new paused state (None if not running)."""
        engine = self.engine
        if engine is None or self.finished:
            return None
        if engine.paused:
            self.resume()
            return False
        self.pause()
        return True

    def stop(self) -> bool:
        """Graceful stop, as Scrapy's first Ctrl-C: in-flight requests finish,
        feeds are closed, the spider closes with reason "shutdown"."""
        if self.crawler is None or self.finished or self._stopping:
            return False
        self._stopping = True
        engine = self.engine
        logger.info("Stop requested from workbench, shutting down gracefully.")
        if engine is None or not engine.running:
            # Still starting (the spider opening, the engine not yet running):
            # Crawler.stop_async would only clear crawler.crawling, and the
            # engine, once started, would crawl everything.  Stop it as it
            # starts instead: Scrapy lets an engine_started handler stop it
            # before the first start request is read (and so may a stop while
            # the engine_started handlers run).
            if engine is not None and getattr(engine, "_starting", False):
                self._stop_task = asyncio.ensure_future(self._stop_on_start())
            else:
                self.crawler.signals.connect(self._stop_on_start, signal=signals.engine_started)
            return True
        if engine.paused:
            self.resume()
        self._stop_task = asyncio.ensure_future(self.crawler.stop_async())
        return True

    async def _stop_on_start(self) -> None:
        crawler = self.crawler
        assert crawler is not None
        crawler.signals.disconnect(self._stop_on_start, signal=signals.engine_started)
        crawler.crawling = False  # as Crawler.stop_async leaves it
        await crawler.engine.stop_async()

    # -- state ---------------------------------------------------------------

    def response_due(self) -> bool:
        """AutoThrottle sets this crawl's pace and a request is on the wire: a
        response may come in any moment, and the time the loop takes to read it
        counts in its latency, which AutoThrottle turns into the next delays."""
        crawler = self.crawler
        if crawler is None or self.finished:
            return False
        if self._autothrottle is None:
            self._autothrottle = crawler.settings.getbool("AUTOTHROTTLE_ENABLED")
        if not self._autothrottle:
            return False
        clock = installed_clock(self.engine)
        return clock is not None and bool(clock.since)

    @property
    def stats(self) -> Any:
        """The crawler's stats collector, or None before the crawl starts."""
        crawler = self.crawler
        return getattr(crawler, "_stats", None) if crawler is not None else None

    def status(self) -> CrawlStatus:
        engine = self.engine
        stats = self.stats
        finish_reason = stats.get_value("finish_reason") if stats is not None else None
        in_flight = 0
        queued = 0
        held = 0
        transfers = None
        if engine is not None:
            hold = DownloadHold.of(engine)
            held = hold.count() if hold is not None else 0
            slot = getattr(engine, "_slot", None)
            if slot is not None:
                in_flight = len(slot.inprogress) - held
                scheduler = slot.scheduler
                try:
                    queued = len(scheduler)
                except TypeError:
                    queued = 0
            clock = installed_clock(engine)
            if clock is not None and not self.finished:
                transfers = clock.summary()
        if self.finished:
            state = "failed" if self.error and not finish_reason else "finished"
        elif engine is None or not engine.running:
            state = "closing" if self._stopping or finish_reason else "starting"
        else:
            slot = getattr(engine, "_slot", None)
            if self._stopping or (slot is not None and slot.closing is not None):
                state = "closing"
            elif engine.paused:
                state = "paused"
            else:
                state = "running"
        return CrawlStatus(state, in_flight, queued, finish_reason, self.error, held, transfers)
