"""The Scrapy components that feed the recorder.

- :class:`RecorderExtension` turns signals into records (responses, items,
  spider errors, drops).
- :class:`ErrorRecorderMiddleware` (downloader middleware, next to the
  downloader) sees every download exception, which no signal carries.
- Which flow produced a request is read from its ``Referer`` header (set by
  Scrapy's RefererMiddleware from the response URL) when it is scheduled.  A
  spider middleware would be exact, but wrapping every callback's output in
  one more async generator cost about 6% of crawl throughput; the referer
  costs a dict lookup.  With ``REFERER_ENABLED = False`` or a policy that
  hides URLs, flows simply have no parent.

All of them share the crawler's :class:`~workbench.core.recording.recorder.Recorder`
(``recorder_for(crawler)``).  Handlers only copy references and small
numbers; formatting happens in the UI.
"""

from __future__ import annotations

import logging
import re
import reprlib
import time
import traceback
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from scrapy import Request, signals
from scrapy.utils.misc import load_object

from workbench.core.recording.recorder import Limits, Recorder
from workbench.core.recording.records import Flow, freeze_headers

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
    },
    "DOWNLOADER_MIDDLEWARES": {
        "workbench.core.recording.extension.ErrorRecorderMiddleware": 950,
        # next to the engine: the response as the spider will get it
        "workbench.core.control.breakpoints.BreakpointMiddleware": 10,
    },
}

_short = reprlib.Repr()
_short.maxstring = 200
_short.maxother = 200
_short.maxlevel = 2


class WorkbenchAddon:
    """Scrapy add-on that enables the recorder components in a crawler."""

    def update_settings(self, settings: Any) -> None:
        for name, components in COMPONENT_SETTINGS.items():
            for path, order in components.items():
                settings.set_in_component_priority_dict(name, load_object(path), order)


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
        setattr(crawler, TAP_ATTR, tap)
    return tap


def callback_name(request: Request) -> str | None:
    return callback_label(request.callback)


def callback_label(callback: Any) -> str | None:
    """A request callback's name: "parse" for None (the spider's default)."""
    if callback is None:
        return "parse"
    if isinstance(callback, str):
        return callback
    return getattr(callback, "__name__", None) or type(callback).__name__


_PLAIN = frozenset({int, float, bool, type(None)})


def _repr(value: Any) -> str:
    """reprlib's short repr; the common meta values (numbers, short text) without it."""
    kind = type(value)
    if kind in _PLAIN or (kind is str and len(value) <= 200):
        return repr(value)
    return _short.repr(value)


def _reprs(mapping: dict[str, Any] | None) -> tuple[tuple[str, str], ...]:
    if not mapping:
        return ()
    return tuple([(k if type(k) is str else str(k), _repr(v)) for k, v in mapping.items()])


class FlowTap:
    """Maps live Scrapy objects to flows without keeping them alive."""

    def __init__(self, recorder: Recorder, spider: str | None = None) -> None:
        self.recorder = recorder
        self.spider = spider  # the flows' spider: several crawlers may share the recorder
        self.flow_of_request: WeakKeyDictionary[Request, Flow] = WeakKeyDictionary()
        self.flow_of_response: WeakKeyDictionary[Any, Flow] = WeakKeyDictionary()
        self.parent_of_request: WeakKeyDictionary[Request, int] = WeakKeyDictionary()
        # URL -> the latest flow whose response went to a callback (bounded)
        self.flow_of_url: dict[str, Flow] = {}

    def new_flow(
        self,
        request: Request,
        *,
        status: int | None,
        error: str | None = None,
        error_traceback: str | None = None,
        response: Response | None = None,
    ) -> Flow:
        meta = request.meta
        recorder = self.recorder
        flow = Flow(
            id=recorder.next_flow_id(),
            time=time.time(),
            method=request.method,
            url=response.url if response is not None else request.url,
            status=status,
            error=error,
            size=len(response.body) if response is not None else 0,
            latency=meta.get("download_latency"),
            callback=callback_name(request),
            depth=meta.get("depth", 0),
            priority=request.priority,
            slot=meta.get("download_slot"),
            request_headers=freeze_headers(request.headers),
            response_headers=freeze_headers(response.headers) if response is not None else None,
            meta=_reprs(meta),
            cb_kwargs=_reprs(request.cb_kwargs),
            parent_id=self.parent_of_request.get(request),
            response_class=type(response).__name__ if response is not None else None,
            error_traceback=error_traceback,
            request_body=request.body or None,
            spider=self.spider,
        )
        recorder.add_flow(flow, response.body if response is not None else None)
        self.flow_of_request[request] = flow
        if response is not None:
            self.flow_of_response[response] = flow
        return flow

    def remember_url(self, flow: Flow) -> None:
        urls = self.flow_of_url
        urls.pop(flow.url, None)
        urls[flow.url] = flow
        if len(urls) > self.recorder.limits.flows:
            del urls[next(iter(urls))]

    def received(self, response: Response, request: Request) -> Flow:
        """The response after the downloader middlewares (decompressed, maybe cached)."""
        flow = self.flow_of_request.get(request)
        if flow is None or flow.status != response.status:
            # served without the network (cache, a middleware's own response)
            flow = self.new_flow(request, status=response.status, response=response)
            self.remember_url(flow)
            return flow
        self.flow_of_response[response] = flow
        self.remember_url(flow)
        if response.body is not None and len(response.body) != flow.size:
            flow.size = len(response.body)
            flow.response_class = type(response).__name__
            flow.response_headers = freeze_headers(response.headers)
            self.recorder.bodies.put(flow.id, response.body)
        elif flow.response_class != type(response).__name__:
            flow.response_class = type(response).__name__
        return flow

    def note_scheduled(self, request: Request) -> None:
        referer = request.headers.get(b"Referer")
        if not referer:
            return
        flow = self.flow_of_url.get(referer.decode("latin-1"))
        if flow is None:
            return
        self.parent_of_request[request] = flow.id
        if len(flow.requests) < 1000:
            flow.add_request(request.method, request.url)

    def mark_ignored(self, status: int, url: str, reason: str) -> Flow | None:
        """A downloaded response that a downloader middleware dropped afterwards:
        the newest such flow (of the last 1,000) gets ``reason`` as its error."""
        flow = self.recorder.flows.newest(
            lambda f: f.url == url and f.status == status and f.error is None, 1000
        )
        if flow is not None:
            flow.error = reason
        return flow

    def note_stored(self, item: Any, media: list[tuple[str, str]]) -> None:
        """Mark the flows of a files/images pipeline's downloads with where they went."""
        from itemadapter import ItemAdapter

        adapter = ItemAdapter(item)
        for field, root in media:
            results = adapter.get(field) if field in adapter.field_names() else None
            if not isinstance(results, list):
                continue
            for result in results:
                if not isinstance(result, dict) or not isinstance(result.get("url"), str):
                    continue
                flow = self.flow_of_url.get(result["url"])
                if flow is not None and flow.stored is None:
                    path = f"{root}/{result.get('path', '?')}" if root else str(result.get("path"))
                    flow.stored = f"{path} ({result.get('status', 'stored')})"

    def flow_for(self, response: Response | None) -> Flow | None:
        if response is None:
            return None
        flow = self.flow_of_response.get(response)
        if flow is None and response.request is not None:
            flow = self.flow_of_request.get(response.request)
        return flow


def media_pipelines(crawler: Any) -> list[tuple[str, str]]:
    """(result field, store root) of each files/images pipeline of the crawl."""
    from scrapy.pipelines.files import FilesPipeline

    engine = getattr(crawler, "engine", None)
    itemproc = getattr(getattr(engine, "scraper", None), "itemproc", None)
    found = []
    for pipeline in getattr(itemproc, "middlewares", ()):
        if not isinstance(pipeline, FilesPipeline):
            continue
        field = getattr(pipeline, "images_result_field", None) or pipeline.files_result_field
        store = getattr(pipeline, "store", None)
        root = getattr(store, "basedir", None)
        bucket = getattr(store, "bucket", None)
        if root is None and bucket:
            root = f"{type(store).__name__}:{bucket}/{getattr(store, 'prefix', '')}"
        found.append((str(field), str(root or "").rstrip("/")))
    return found


class IgnoredResponseFilter(logging.Filter):
    """Marks the flow of a response that HttpCompressionMiddleware dropped.

    Over ``DOWNLOAD_MAXSIZE`` once decompressed (a decompression bomb), the
    middleware logs this warning and raises IgnoreRequest from
    ``process_response``; no signal and no other middleware sees that, so the
    flow, recorded when it was downloaded, would look like a plain 200.
    """

    LOGGER = "scrapy.downloadermiddlewares.httpcompression"
    PATTERN = re.compile(r"Ignored response <(\d{3}) (\S+)> because its body .*DOWNLOAD_MAXSIZE")

    def __init__(self, tap: FlowTap) -> None:
        super().__init__()
        self.tap = tap

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
            match = self.PATTERN.match(message)
            if match is not None:
                self.tap.mark_ignored(int(match[1]), match[2], f"IgnoreRequest: {message}")
        except Exception:  # never let this break the crawl's logging
            logger.debug("could not mark an ignored response", exc_info=True)
        return True


class RecorderExtension:
    """Records every response, item, drop and spider error of a crawl."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.tap = tap_for(crawler)
        self.recorder = self.tap.recorder
        self.ignored = IgnoredResponseFilter(self.tap)
        self.media: list[tuple[str, str]] | None = None  # (result field, store root)
        logging.getLogger(IgnoredResponseFilter.LOGGER).addFilter(self.ignored)
        for handler, signal in self._receivers():
            crawler.signals.connect(handler, signal=signal)

    def _receivers(self) -> list[tuple[Any, Any]]:
        return [
            (self.response_downloaded, signals.response_downloaded),
            (self.response_received, signals.response_received),
            (self.item_scraped, signals.item_scraped),
            (self.item_dropped, signals.item_dropped),
            (self.item_error, signals.item_error),
            (self.spider_error, signals.spider_error),
            (self.request_scheduled, signals.request_scheduled),
            (self.engine_stopped, signals.engine_stopped),
        ]

    def disconnect(self) -> None:
        """Stop recording (an attach agent installed this extension and is leaving)."""
        for handler, signal in self._receivers():
            self.crawler.signals.disconnect(handler, signal=signal)
        self.engine_stopped()

    def engine_stopped(self) -> None:
        logging.getLogger(IgnoredResponseFilter.LOGGER).removeFilter(self.ignored)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RecorderExtension:
        return cls(crawler)

    def response_downloaded(self, response: Response, request: Request, spider: Any) -> None:
        # Every response from the network, before downloader middlewares:
        # redirects and retried errors get their own flow.
        self.tap.new_flow(request, status=response.status, response=response)

    def response_received(self, response: Response, request: Request, spider: Any) -> None:
        # The response that goes to the spider, after downloader middlewares
        # (decompressed, possibly from the cache).
        self.tap.received(response, request)

    def request_scheduled(self, request: Request, spider: Any) -> None:
        self.tap.note_scheduled(request)

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
        self.recorder.add_item(
            item, flow.id if flow else None, error=reason, spider=self.tap.spider
        )

    def spider_error(self, failure: Failure, response: Response | None, spider: Any) -> None:
        self.recorder.spider_errors += 1
        flow = self.tap.flow_for(response)
        if flow is None:
            return
        flow.callback_error = f"{type(failure.value).__name__}: {failure.value}"
        flow.callback_traceback = failure.getTraceback()


class ErrorRecorderMiddleware:
    """Downloader middleware next to the downloader: every download exception."""

    def __init__(self, crawler: Crawler) -> None:
        self.tap = tap_for(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ErrorRecorderMiddleware:
        return cls(crawler)

    def process_exception(self, request: Request, exception: Exception, spider: Any = None) -> None:
        tb = "".join(traceback.format_exception(exception))
        self.tap.new_flow(
            request,
            status=None,
            error=f"{type(exception).__name__}: {exception}",
            error_traceback=tb,
        )
        return None
