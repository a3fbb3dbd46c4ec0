"""Where Scrapy decides what becomes of a request, and how the recorder hears it.

Scrapy says some of it by signal, which :class:`RecorderExtension` receives:
``request_scheduled`` (a retry, a redirect, a callback's request: its parent),
``request_dropped`` (the scheduler refused it: the dupefilter, or another
reason).  The rest is decided inside components that tell no one; on the
crawl's own instances, when the spider opens (and undone on detach),
:class:`FateHooks` wraps the one method where each decides:

- ``OffsiteMiddleware.process_request``, which its ``request_scheduled``
  receiver calls: the ``IgnoreRequest`` it raises is kept quiet by the engine
  (offsite);
- ``get_processed_request`` of the spider middlewares that can drop a request
  from a callback's output by returning None: ``DepthMiddleware`` with a
  ``DEPTH_LIMIT`` (depth), ``UrlLengthMiddleware`` and the project's own
  (ignored);
- ``Scraper.enqueue_scrape``, where every download's result ends: a failure
  raised by a ``process_response`` after the download (the decompression bomb
  HttpCompressionMiddleware drops: maxsize; another middleware's
  ``IgnoreRequest``: ignored), and the last failure of a retried request
  (gave-up);
- the scheduler's ``close``: what it still holds then is pending.

``ErrorRecorderMiddleware`` (next to the downloader) sees the ``IgnoreRequest``
of every ``process_request`` (robots.txt, a project's middleware) and the
``DownloadCancelledError`` of ``DOWNLOAD_MAXSIZE``; :func:`ignored_by` names
the component that raised it from the exception's own traceback.

A wrapper adds one call to the path it wraps and does nothing else unless the
request is dropped; nothing here reads log text.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from scrapy.exceptions import IgnoreRequest
from twisted.python.failure import Failure

from workbench.core.control.late import late
from workbench.core.recording.fates import DEPTH, IGNORED, MAXSIZE, OFFSITE, PENDING, ROBOTS

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from workbench.core.recording.tap import FlowTap

logger = logging.getLogger(__name__)

# frames of these modules are Scrapy's and Twisted's plumbing, not a component
_PLUMBING = ("scrapy.core.", "scrapy.middleware", "scrapy.utils.", "twisted.", "asyncio")
PENDING_ROWS = 10_000  # at most this many pending rows (the rest are counted)


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def raiser_of(exc: BaseException) -> type | None:
    """The class of the component whose method raised ``exc``: the innermost frame
    of its traceback whose ``self`` is not Scrapy's or Twisted's plumbing."""
    frames = []
    tb = exc.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    for frame in reversed(frames):
        try:
            owner = frame.f_locals.get("self")
        except Exception:  # a frame that cannot show its locals
            continue
        if owner is None:
            continue
        cls = type(owner)
        if not cls.__module__.startswith(_PLUMBING):
            return cls
    return None


def ignored_by(exc: BaseException) -> tuple[str, str | None]:
    """(fate, component path) of an ``IgnoreRequest``."""
    from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
    from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
    from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware

    cls = raiser_of(exc)
    if cls is None:
        if type(exc.__cause__).__name__ == "_DecompressionMaxSizeExceeded":
            return MAXSIZE, class_path(HttpCompressionMiddleware)
        return IGNORED, None
    if issubclass(cls, RobotsTxtMiddleware):
        return ROBOTS, class_path(cls)
    if issubclass(cls, OffsiteMiddleware):
        return OFFSITE, class_path(cls)
    if issubclass(cls, HttpCompressionMiddleware):
        return MAXSIZE, class_path(cls)
    return IGNORED, class_path(cls)


def engine_of(crawler: Any) -> Any:
    """The crawler's engine, or None before the crawl starts (``crawler.engine``
    raises then)."""
    return late(crawler, "engine")


def maxsize_of(crawler: Any, request: Any) -> int:
    """The DOWNLOAD_MAXSIZE that applies to ``request`` (0: none)."""
    limit = request.meta.get("download_maxsize")
    if limit is None:
        limit = getattr(getattr(crawler, "spider", None), "download_maxsize", None)
    if limit is None:
        limit = crawler.settings.getint("DOWNLOAD_MAXSIZE")
    try:
        return int(limit)
    except (TypeError, ValueError):
        return 0


class FateHooks:
    """The wrappers on a crawl's components that tell the tap what they dropped."""

    def __init__(self, tap: FlowTap, crawler: Crawler) -> None:
        self.tap = tap
        self.crawler = crawler
        self.undo: list[Callable[[], None]] = []
        self.installed = False
        self.retry_exceptions: tuple[type, ...] | None = None

    # -- installing ------------------------------------------------------------

    def install(self) -> None:
        """Wrap the crawl's components (once the engine and the spider are open)."""
        if self.installed:
            return
        engine = engine_of(self.crawler)
        if engine is None:
            return
        self.installed = True
        steps = (
            (self._downloader_middlewares, getattr(engine, "downloader", None)),
            (self._spider_middlewares, getattr(engine, "scraper", None)),
            (self._scraper, getattr(engine, "scraper", None)),
            (self._scheduler, getattr(getattr(engine, "_slot", None), "scheduler", None)),
        )
        for step, target in steps:
            if target is None:
                continue
            try:
                step(target)
            except Exception:  # a component we do not know: its fates go unnamed
                logger.debug("workbench: cannot hook %s", step.__name__, exc_info=True)

    def uninstall(self) -> None:
        while self.undo:
            with contextlib.suppress(Exception):
                self.undo.pop()()
        self.installed = False

    def _wrap(self, obj: Any, name: str, wrapper: Any) -> None:
        """Shadow ``obj.name`` with ``wrapper`` on the instance (undone later)."""
        own = obj.__dict__
        had, previous = name in own, own.get(name)
        own[name] = wrapper

        def restore() -> None:
            if own.get(name) is wrapper:
                if had:
                    own[name] = previous
                else:
                    del own[name]

        self.undo.append(restore)

    # -- the components ----------------------------------------------------------

    def _downloader_middlewares(self, downloader: Any) -> None:
        from scrapy.downloadermiddlewares.offsite import OffsiteMiddleware
        from scrapy.downloadermiddlewares.retry import RetryMiddleware

        for mw in getattr(getattr(downloader, "middleware", None), "middlewares", ()):
            if isinstance(mw, OffsiteMiddleware):
                self._wrap(mw, "process_request", self._offsite(mw, mw.process_request))
            elif isinstance(mw, RetryMiddleware):
                self.retry_exceptions = tuple(getattr(mw, "exceptions_to_retry", ()) or ())

    def _offsite(self, mw: Any, original: Any) -> Any:
        tap, path = self.tap, class_path(type(mw))

        def process_request(request: Any, spider: Any = None) -> Any:
            try:
                return original(request) if spider is None else original(request, spider)
            except IgnoreRequest as exc:
                with contextlib.suppress(Exception):
                    tap.drop(request, OFFSITE, path, str(exc) or None)
                raise

        return process_request

    def _spider_middlewares(self, scraper: Any) -> None:
        from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
        from scrapy.spidermiddlewares.depth import DepthMiddleware
        from scrapy.spidermiddlewares.urllength import UrlLengthMiddleware

        base = BaseSpiderMiddleware.get_processed_request
        for mw in getattr(getattr(scraper, "spidermw", None), "middlewares", ()):
            method = getattr(type(mw), "get_processed_request", None)
            if method is None or method is base:
                continue  # never drops one
            limit: int | None = None
            if isinstance(mw, DepthMiddleware):
                if not mw.maxdepth:
                    continue
                fate, limit = DEPTH, int(mw.maxdepth)
            elif isinstance(mw, UrlLengthMiddleware):
                fate, limit = IGNORED, getattr(mw, "maxlength", None)
            elif type(mw).__module__.startswith("scrapy."):
                continue  # Scrapy's others (referer, start, metacopy) never drop one
            else:
                fate = IGNORED  # the project's own
            wrapper = self._dropper(mw, mw.get_processed_request, fate, limit)
            self._wrap(mw, "get_processed_request", wrapper)

    def _dropper(self, mw: Any, original: Any, fate: str, limit: int | None) -> Any:
        tap, path = self.tap, class_path(type(mw))
        from scrapy.spidermiddlewares.urllength import UrlLengthMiddleware

        reason = None
        if isinstance(mw, UrlLengthMiddleware):
            reason = "URL longer than URLLENGTH_LIMIT"
        elif fate == IGNORED:
            reason = "its get_processed_request() returned None"

        def get_processed_request(request: Any, response: Any) -> Any:
            out = original(request, response)
            if out is None:
                with contextlib.suppress(Exception):
                    tap.drop_produced(request, response, fate, path, reason, limit)
            return out

        return get_processed_request

    def _scraper(self, scraper: Any) -> None:
        original = scraper.enqueue_scrape
        failed = self._failed

        def enqueue_scrape(result: Any, request: Any) -> Any:
            if isinstance(result, Failure):
                with contextlib.suppress(Exception):
                    failed(result, request)
            return original(result, request)

        self._wrap(scraper, "enqueue_scrape", enqueue_scrape)

    def _failed(self, failure: Failure, request: Any) -> None:
        """A download's result is a failure: a response dropped once downloaded, or
        the last attempt of a retried request."""
        tap = self.tap
        flow = tap.flow_of_request.get(request)
        if flow is None or flow.fate is not None:
            return  # a drop already recorded (or only counted), or not recorded
        exc = failure.value
        if isinstance(exc, IgnoreRequest):
            if flow.status is not None:  # raised by a process_response
                fate, path = ignored_by(exc)
                flow.error = f"IgnoreRequest: {exc}"
                limit = maxsize_of(self.crawler, request) if fate == MAXSIZE else None
                tap.mark(flow, fate, path, limit=limit)
            return
        retries = request.meta.get("retry_times")
        if retries and flow.status is None:
            if self.retry_exceptions and not isinstance(exc, self.retry_exceptions):
                return
            tap.gave_up(flow, request, retries)

    def _scheduler(self, scheduler: Any) -> None:
        original = getattr(scheduler, "close", None)
        if original is None:
            return
        pending = self.pending

        def close(reason: str) -> Any:
            with contextlib.suppress(Exception):
                pending(scheduler)
            return original(reason)

        self._wrap(scheduler, "close", close)

    def pending(self, scheduler: Any) -> None:
        """Record what the scheduler still holds (the crawl ends): pending rows,
        bounded; what cannot be read (a disk queue's tail) or is past the bound is
        counted."""
        from workbench.core.control.scheduler_view import walk_queue

        try:
            total = len(scheduler)
        except TypeError:
            total = 0
        tap = self.tap
        rows = 0
        for group, request in walk_queue(scheduler):
            if rows >= min(total, PENDING_ROWS) or not tap.recorder.room_for_dropped():
                break
            where = (
                "disk queue (JOBDIR: the next run resumes it)"
                if group.kind == "disk"
                else ("start requests" if group.kind == "start" else "memory queue")
            )
            tap.drop(request, PENDING, class_path(type(scheduler)), f"in the scheduler's {where}")
            rows += 1
        if total > rows:
            tap.recorder.count_unkept(PENDING, total - rows)
