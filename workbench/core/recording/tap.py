"""FlowTap: maps live Scrapy requests and responses to the recorder's flows.

The recorder's components (``extension.py``: the extension, the download-error
middleware; ``fate_hooks.py``) call it from Scrapy's signals and hooks.  It
keeps no Scrapy object alive (weak maps, bounded URL maps) and copies only
references and small numbers; formatting happens at read time.  Also here:
how a request's callback and meta are named in a record.
"""

from __future__ import annotations

import reprlib
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from weakref import WeakKeyDictionary

from scrapy import Request

from workbench.core.control.late import late
from workbench.core.recording.fate_hooks import class_path
from workbench.core.recording.fates import DUPLICATE, GAVE_UP, RETRIED, SCHEDULER
from workbench.core.recording.records import Flow, freeze_headers, pack

if TYPE_CHECKING:
    from scrapy.http import Response

    from workbench.core.recording.recorder import Recorder

_short = reprlib.Repr()
_short.maxstring = 200
_short.maxother = 200
_short.maxlevel = 2


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


def _reprs(mapping: dict[str, Any] | None) -> Sequence[tuple[str, str]]:
    if not mapping:
        return ()
    return pack(tuple([(k if type(k) is str else str(k), _repr(v)) for k, v in mapping.items()]))


class FlowTap:
    """Maps live Scrapy objects to flows without keeping them alive."""

    def __init__(self, recorder: Recorder, spider: str | None = None) -> None:
        self.recorder = recorder
        self.spider = spider  # the flows' spider: several crawlers may share the recorder
        self.flow_of_request: WeakKeyDictionary[Request, Flow] = WeakKeyDictionary()
        self.flow_of_response: WeakKeyDictionary[Any, Flow] = WeakKeyDictionary()
        self.parent_of_request: WeakKeyDictionary[Request, int] = WeakKeyDictionary()
        # downloaded inline (engine.download_async): the callback that awaited it
        self.inline_of_request: WeakKeyDictionary[Request, str] = WeakKeyDictionary()
        # URL -> the latest flow whose response went to a callback (bounded)
        self.flow_of_url: dict[str, Flow] = {}
        # URL -> the latest redirect (3xx) flow: its target's parent (bounded)
        self.redirect_of_url: dict[str, Flow] = {}
        self.max_retries = 2  # RETRY_TIMES, RETRY_HTTP_CODES (tap_for reads the settings)
        self.retry_codes: frozenset[int] = frozenset({500, 502, 503, 504, 522, 524, 408, 429})

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
        parent_id = self.parent_of_request.get(request)
        inline = self.inline_of_request.get(request) if self.inline_of_request else None
        if inline is None and parent_id is None and self.inline_of_request:
            if "redirect_urls" in meta:
                inline, parent_id = self._inline_redirect(request, meta)
            elif "retry_times" in meta:
                inline, parent_id = self._inline_retry(request, meta["retry_times"])
        flow = Flow(
            id=recorder.next_flow_id(),
            time=time.time(),
            method=request.method,
            url=response.url if response is not None else request.url,
            status=status,
            error=error,
            size=len(response.body) if response is not None else 0,
            latency=meta.get("download_latency"),
            callback=callback_name(request) if inline is None else None,
            depth=meta.get("depth", 0),
            priority=request.priority,
            slot=meta.get("download_slot"),
            request_headers=freeze_headers(request.headers),
            response_headers=freeze_headers(response.headers) if response is not None else None,
            meta=_reprs(meta),
            cb_kwargs=_reprs(request.cb_kwargs),
            parent_id=parent_id,
            response_class=type(response).__name__ if response is not None else None,
            error_traceback=error_traceback,
            request_body=request.body or None,
            spider=self.spider,
            inline=inline,
        )
        recorder.add_flow(flow, response.body if response is not None else None)
        self.flow_of_request[request] = flow
        if response is not None:
            self.flow_of_response[response] = flow
            if 300 <= status < 400:  # type: ignore[operator]
                self._remember(self.redirect_of_url, flow)
        return flow

    def note_inline(self, request: Request, callback: str, response: Response | None) -> None:
        """``request`` is downloaded inline, awaited by ``callback`` (which runs on
        ``response``: its flow is the parent, whose Produced tab lists it)."""
        self.inline_of_request[request] = callback
        parent = self.flow_for(response)
        if parent is None:
            return
        self.parent_of_request[request] = parent.id
        if len(parent.requests) < 1000:
            parent.add_request(request.method, request.url)

    def _inline_redirect(self, request: Request, meta: dict[str, Any]) -> tuple[str | None, Any]:
        """An inline download redirected: Scrapy downloads the target in the same
        ``download_async``, never scheduled; it is inline too, the redirect's child."""
        redirect = self.redirect_of_url.get(meta["redirect_urls"][-1])
        if redirect is None or redirect.inline is None:
            return None, None
        self.inline_of_request[request] = redirect.inline
        if len(redirect.requests) < 1000:
            redirect.add_request(request.method, request.url)
        return redirect.inline, redirect.id

    def _inline_retry(self, request: Request, retries: Any) -> tuple[str | None, Any]:
        """An inline download retried: Scrapy downloads the retry in the same
        ``download_async``, never scheduled; the attempt it repeats is marked
        retried, and the retry is inline too, with that attempt's parent."""
        url, method = request.url, request.method
        previous = self.recorder.flows.newest(
            lambda f: f.url == url and f.method == method and f.fate is None, 500
        )
        if previous is None or previous.inline is None:
            return None, None
        self.mark(previous, RETRIED, n=int(retries), limit=self.retry_limit(request))
        self.inline_of_request[request] = previous.inline
        return previous.inline, previous.parent_id

    def drop(
        self,
        request: Request,
        fate: str,
        by: str | None = None,
        reason: str | None = None,
        *,
        parent_id: int | None = None,
        limit: int | None = None,
        duplicate_of: int | None = None,
    ) -> Flow | None:
        """A request that never reached the network: a row with its ``fate``, the
        request as it was; only counted past ``WORKBENCH_MAX_DROPPED`` rows kept."""
        recorder = self.recorder
        if not recorder.room_for_dropped():
            recorder.count_unkept(fate)
            return None
        meta = request.meta
        if parent_id is None:
            parent_id = self.parent_of_request.get(request)
            if parent_id is None:
                parent = self.parent_for(request)
                parent_id = parent.id if parent is not None else None
        flow = Flow(
            id=recorder.next_flow_id(),
            time=time.time(),
            method=request.method,
            url=request.url,
            status=None,
            error=None,
            size=0,
            latency=None,
            callback=callback_name(request),
            depth=meta.get("depth", 0),
            priority=request.priority,
            slot=meta.get("download_slot"),
            request_headers=freeze_headers(request.headers),
            meta=_reprs(meta),
            cb_kwargs=_reprs(request.cb_kwargs),
            parent_id=parent_id,
            request_body=request.body or None,
            spider=self.spider,
            fate=fate,
            fate_by=by,
            fate_reason=reason,
            fate_limit=limit,
            duplicate_of=duplicate_of,
        )
        recorder.count_fate(fate)
        recorder.add_flow(flow)
        self.flow_of_request[request] = flow
        return flow

    def drop_produced(
        self,
        request: Request,
        response: Response | None,
        fate: str,
        by: str | None,
        reason: str | None,
        limit: int | None,
    ) -> None:
        """A spider middleware dropped a request from a callback's output (or from
        start()): it was produced, never scheduled."""
        parent = self.flow_for(response)
        if parent is not None and len(parent.requests) < 1000:
            parent.add_request(request.method, request.url)
        self.drop(request, fate, by, reason, parent_id=parent.id if parent else None, limit=limit)

    def dropped_by_scheduler(self, request: Request, scheduler: Any, crawler: Any) -> None:
        """``request_dropped``: the scheduler refused it.  Scrapy's own scheduler
        refuses only what its dupefilter has seen; another one (its own
        ``enqueue_request``) a duplicate when its dupefilter holds the request's
        fingerprint, anything else for a reason of its own."""
        dupefilter = getattr(scheduler, "df", None)
        if dupefilter is not None and _seen(scheduler, request, crawler):
            earlier = self.flow_of_url.get(request.url)
            same = (
                earlier is not None
                and earlier.method == request.method
                and (earlier.request_body or b"") == (request.body or b"")
            )
            self.drop(
                request,
                DUPLICATE,
                class_path(type(dupefilter)),
                duplicate_of=earlier.id if same and earlier is not None else None,
            )
            return
        by = class_path(type(scheduler)) if scheduler is not None else None
        self.drop(request, SCHEDULER, by, "its enqueue_request() returned False")

    def mark(
        self,
        flow: Flow,
        fate: str,
        by: str | None = None,
        reason: str | None = None,
        *,
        n: int | None = None,
        limit: int | None = None,
    ) -> None:
        """A fate decided after the flow was recorded (a retry, a middleware's drop)."""
        if flow.fate is None:
            self.recorder.count_fate(fate)
        flow.fate, flow.fate_by, flow.fate_reason = fate, by, reason
        flow.fate_n, flow.fate_limit = n, limit

    def retry_limit(self, request: Request) -> int:
        limit = request.meta.get("max_retry_times")
        return self.max_retries if limit is None else int(limit)

    def gave_up(self, flow: Flow, request: Request, retries: int) -> None:
        self.mark(flow, GAVE_UP, n=int(retries), limit=self.retry_limit(request))

    def _retried(self, request: Request, retries: int) -> None:
        """A retry is scheduled: its previous attempt (the newest flow of the same
        request, just recorded) was retried; the retry keeps that attempt's parent."""
        url, method = request.url, request.method
        previous = self.recorder.flows.newest(
            lambda f: f.url == url and f.method == method and f.fate is None, 500
        )
        if previous is None:
            return
        self.mark(previous, RETRIED, n=int(retries), limit=self.retry_limit(request))
        if previous.parent_id is not None:
            self.parent_of_request[request] = previous.parent_id

    def remember_url(self, flow: Flow) -> None:
        self._remember(self.flow_of_url, flow)

    def _remember(self, urls: dict[str, Flow], flow: Flow) -> None:
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
        retries = request.meta.get("retry_times")
        if retries and response.status in self.retry_codes:  # RetryMiddleware let it through
            self.gave_up(flow, request, retries)
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
        meta = request.meta
        retries = meta.get("retry_times")
        if retries:  # another attempt of a failed download, not a callback's output
            self._retried(request, retries)
            return
        flow = self.parent_for(request, meta)
        if flow is None:
            return
        self.parent_of_request[request] = flow.id
        if len(flow.requests) < 1000:
            flow.add_request(request.method, request.url)

    def parent_for(self, request: Request, meta: dict[str, Any] | None = None) -> Flow | None:
        """The flow that produced ``request``: the redirect it follows, or the page its
        ``Referer`` names."""
        redirects = (request.meta if meta is None else meta).get("redirect_urls")
        if redirects:
            flow = self.redirect_of_url.get(redirects[-1])
            if flow is not None:
                return flow
        referer = request.headers.get(b"Referer")
        if not referer:
            return None
        return self.flow_of_url.get(referer.decode("latin-1"))

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


def _seen(scheduler: Any, request: Request, crawler: Any) -> bool:
    """Whether the scheduler dropped ``request`` as a duplicate (see
    ``FlowTap.dropped_by_scheduler``)."""
    from scrapy.core.scheduler import Scheduler

    if request.dont_filter:
        return False
    if getattr(type(scheduler), "enqueue_request", None) is Scheduler.enqueue_request:
        return True
    # RFPDupeFilter's set of fingerprints (its public "fingerprints" is deprecated
    # and copies the whole set)
    fingerprints = getattr(getattr(scheduler, "df", None), "_fingerprints", None)
    fingerprinter = late(crawler, "request_fingerprinter")
    if not isinstance(fingerprints, set) or fingerprinter is None:
        return False
    try:
        return fingerprinter.fingerprint(request) in fingerprints
    except Exception:
        return False


def media_pipelines(crawler: Any) -> list[tuple[str, str]]:
    """(result field, store root) of each files/images pipeline of the crawl."""
    from scrapy.pipelines.files import FilesPipeline

    engine = late(crawler, "engine")
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
