"""The Scrapy components that feed the recorder.

- :class:`RecorderExtension` turns signals into records (responses, items,
  spider errors, item drops, requests the scheduler drops) and installs the
  :class:`~workbench.core.recording.fate_hooks.FateHooks` that tell it what
  else became of a request (offsite, depth, retries, pending at the end...).
- :class:`ErrorRecorderMiddleware` (downloader middleware, next to the
  downloader) sees every download exception, which no signal carries, and
  every ``IgnoreRequest`` of a ``process_request`` (robots.txt...).
- Every error (a callback's, a download's, an item pipeline's) is also counted
  in its group (:class:`~workbench.core.recording.errors.ErrorGroups`).
- Which flow produced a request is read from its ``Referer`` header (set by
  Scrapy's RefererMiddleware from the response URL) when it is scheduled; a
  redirect's target from its ``redirect_urls``, a retry from its
  ``retry_times`` (its previous attempt is marked retried).  A spider
  middleware would be exact, but wrapping every callback's output in one
  more async generator cost about 6% of crawl throughput; the referer costs
  a dict lookup.  With ``REFERER_ENABLED = False`` or a policy that hides
  URLs, flows simply have no parent.

All of them share the crawler's :class:`~workbench.core.recording.recorder.Recorder`
(``recorder_for(crawler)``).  Handlers only copy references and small
numbers; formatting happens in the UI.
"""

from __future__ import annotations

import logging
import time
import traceback
from time import monotonic
from typing import TYPE_CHECKING, Any

from scrapy import Request, signals
from scrapy.exceptions import DownloadCancelledError, IgnoreRequest
from scrapy.utils.misc import load_object

from workbench.core.control.in_flight import clock_for
from workbench.core.recording import errors
from workbench.core.recording.fate_hooks import (
    FateHooks,
    engine_of,
    ignored_by,
    maxsize_of,
)
from workbench.core.recording.fates import MAXSIZE
from workbench.core.recording.inline import InlineHook
from workbench.core.recording.recorder import Limits, Recorder
from workbench.core.recording.tap import FlowTap, media_pipelines

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

RECORDER_ATTR = "workbench_recorder"
TAP_ATTR = "workbench_tap"

COMPONENT_SETTINGS = {
    "EXTENSIONS": {
        "workbench.core.recording.extension.RecorderExtension": 0,
        # after the recorder: its signal handlers see the records already made
        "workbench.core.control.breakpoints.BreakpointExtension": 1,
        "workbench.core.control.pace.PaceExtension": 2,
        "workbench.core.control.telnet.TelnetVars": 3,
        # scrapy-playwright's pages and contexts (NotConfigured without its handler)
        "workbench.core.browser.extension.BrowserExtension": 4,
    },
    "DOWNLOADER_MIDDLEWARES": {
        "workbench.core.recording.extension.ErrorRecorderMiddleware": 950,
        # next to the engine: the response as the spider will get it
        "workbench.core.control.breakpoints.BreakpointMiddleware": 10,
    },
}


class WorkbenchAddon:
    """Scrapy add-on that enables the recorder components in a crawler."""

    def update_settings(self, settings: Any) -> None:
        for name, components in COMPONENT_SETTINGS.items():
            for path, order in components.items():
                settings.set_in_component_priority_dict(name, load_object(path), order)


RECORDING_SETTINGS = {
    "EXTENSIONS": {
        "workbench.core.recording.extension.RecorderExtension": 0,
        "workbench.core.recording.extension.LogRecording": 1,
    },
    "DOWNLOADER_MIDDLEWARES": {
        "workbench.core.recording.extension.ErrorRecorderMiddleware": 950,
    },
}


class RecordingAddon:
    """Scrapy add-on that records a crawl running without the UI (a script, a
    plain ``scrapy crawl``), for ``workbench attach`` to read later: the recorder
    and its log handler, no breakpoints (nothing would answer them).
    ``ADDONS = {"workbench.RecordingAddon": 0}``."""

    def update_settings(self, settings: Any) -> None:
        if any(load_object(path) is WorkbenchAddon for path in settings.getdict("ADDONS")):
            return  # under the app already: WorkbenchAddon records, and more
        for name, components in RECORDING_SETTINGS.items():
            for path, order in components.items():
                settings.set_in_component_priority_dict(name, load_object(path), order)


class LogRecording:
    """The crawl's log lines into its recorder as well, while Scrapy's own handlers
    print them as ever (``RecordingAddon``; under the app, ``LogCapture`` does it)."""

    def __init__(self, crawler: Crawler) -> None:
        from workbench.core.recording.logcapture import RecorderLogHandler

        settings = crawler.settings
        level = settings.get("LOG_LEVEL") if settings.getbool("LOG_ENABLED") else logging.WARNING
        self.handler = RecorderLogHandler(recorder_for(crawler), level)
        logging.getLogger().addHandler(self.handler)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> LogRecording:
        return cls(crawler)

    def engine_stopped(self) -> None:
        logging.getLogger().removeHandler(self.handler)


def recorder_for(crawler: Crawler) -> Recorder:
    """The crawler's recorder, created on first use from its settings."""
    recorder = getattr(crawler, RECORDER_ATTR, None)
    if recorder is None:
        recorder = Recorder(Limits.from_settings(crawler.settings))
        setattr(crawler, RECORDER_ATTR, recorder)
    return recorder


def tap_for(crawler: Crawler) -> FlowTap:
    tap = getattr(crawler, TAP_ATTR, None)
    if tap is None:
        tap = FlowTap(recorder_for(crawler), getattr(crawler.spidercls, "name", None))
        settings = crawler.settings
        tap.max_retries = settings.getint("RETRY_TIMES")
        tap.retry_codes = frozenset(int(x) for x in settings.getlist("RETRY_HTTP_CODES"))
        setattr(crawler, TAP_ATTR, tap)
    return tap


class RecorderExtension:
    """Records every response, item, drop and spider error of a crawl, and what
    became of every request."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.tap = tap_for(crawler)
        self.recorder = self.tap.recorder
        self.hooks = FateHooks(self.tap, crawler)
        self.inline = InlineHook(self.tap, crawler)  # downloads a callback awaits
        self.clock = clock_for(crawler)  # what is on the wire, since when
        self.media: list[tuple[str, str]] | None = None  # (result field, store root)
        for handler, signal in self._receivers():
            crawler.signals.connect(handler, signal=signal)
        if getattr(engine_of(crawler), "_slot", None) is not None:
            self.hooks.install()  # installed into a running crawl (attach)
            self.clock.install(engine_of(crawler))
            self.inline.install(engine_of(crawler))

    def _receivers(self) -> list[tuple[Any, Any]]:
        return [
            (self.response_downloaded, signals.response_downloaded),
            (self.response_received, signals.response_received),
            (self.item_scraped, signals.item_scraped),
            (self.item_dropped, signals.item_dropped),
            (self.item_error, signals.item_error),
            (self.spider_error, signals.spider_error),
            (self.request_scheduled, signals.request_scheduled),
            (self.request_dropped, signals.request_dropped),
            (self.spider_opened, signals.spider_opened),
        ]

    def disconnect(self) -> None:
        """Stop recording (an attach agent installed this extension and is leaving)."""
        for handler, signal in self._receivers():
            self.crawler.signals.disconnect(handler, signal=signal)
        self.hooks.uninstall()
        self.clock.uninstall()
        self.inline.uninstall()

    def spider_opened(self, spider: Any) -> None:
        self.hooks.install()
        self.clock.install(engine_of(self.crawler))
        self.inline.install(engine_of(self.crawler))

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecorderExtension:
        return cls(crawler)

    def response_downloaded(self, response: Response, request: Request, spider: Any) -> None:
        # Every response from the network, before downloader middlewares:
        # redirects and retried errors get their own flow.
        self.clock.last_response = monotonic()  # an answer: not stalled
        self.tap.new_flow(request, status=response.status, response=response)

    def response_received(self, response: Response, request: Request, spider: Any) -> None:
        # The response that goes to the spider, after downloader middlewares
        # (decompressed, possibly from the cache).
        self.tap.received(response, request)

    def request_scheduled(self, request: Request, spider: Any) -> None:
        self.tap.note_scheduled(request)

    def request_dropped(self, request: Request, spider: Any) -> None:
        scheduler = getattr(getattr(engine_of(self.crawler), "_slot", None), "scheduler", None)
        self.tap.dropped_by_scheduler(request, scheduler, self.crawler)

    def item_scraped(self, item: Any, response: Response | None, spider: Any) -> None:
        flow = self.tap.flow_for(response)
        self.recorder.add_item(item, flow.id if flow else None, spider=self.tap.spider)
        if self.media is None:
            self.media = media_pipelines(self.crawler)
        if self.media:
            self.tap.note_stored(item, self.media)

    def item_dropped(
        self, item: Any, response: Response | None, exception: BaseException, spider: Any
    ) -> None:
        flow = self.tap.flow_for(response)
        reason = f"{type(exception).__name__}: {exception}"
        self.recorder.add_item(
            item, flow.id if flow else None, dropped=reason, spider=self.tap.spider
        )

    def item_error(
        self, item: Any, response: Response | None, spider: Any, failure: Failure
    ) -> None:
        flow = self.tap.flow_for(response)
        reason = f"{type(failure.value).__name__}: {failure.value}"
        record = self.recorder.add_item(
            item, flow.id if flow else None, error=reason, spider=self.tap.spider
        )
        self.recorder.errors.add(
            errors.ITEM, reason, failure.getTraceback(), record.time, record.flow_id, record.spider
        )

    def spider_error(self, failure: Failure, response: Response | None, spider: Any) -> None:
        recorder = self.recorder
        recorder.spider_errors += 1
        flow = self.tap.flow_for(response)
        error = f"{type(failure.value).__name__}: {failure.value}"
        tb = failure.getTraceback()
        flow_id = flow.id if flow is not None else None
        recorder.errors.add(errors.CALLBACK, error, tb, time.time(), flow_id, self.tap.spider)
        if flow is None:
            return
        flow.callback_error = error
        flow.callback_traceback = tb


class ErrorRecorderMiddleware:
    """Downloader middleware next to the downloader: every download exception, and
    every request a ``process_request`` dropped with ``IgnoreRequest``."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.tap = tap_for(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ErrorRecorderMiddleware:
        return cls(crawler)

    def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> None:
        tap = self.tap
        if isinstance(exception, IgnoreRequest):  # never sent: robots.txt, a middleware
            fate, by = ignored_by(exception)
            tap.drop(request, fate, by, str(exception) or None)
            return None
        tb = "".join(traceback.format_exception(exception))
        flow = tap.new_flow(
            request,
            status=None,
            error=f"{type(exception).__name__}: {exception}",
            error_traceback=tb,
        )
        error = flow.error or ""
        tap.recorder.errors.add(errors.DOWNLOAD, error, tb, flow.time, flow.id, tap.spider)
        if isinstance(exception, DownloadCancelledError):
            limit = maxsize_of(self.crawler, request)
            if limit:
                tap.mark(flow, MAXSIZE, limit=limit)
        return None
