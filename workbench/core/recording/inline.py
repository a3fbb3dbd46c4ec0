"""Requests a callback downloads inline, and which callback awaited each.

Scrapy's coroutine callbacks may download a page and await its response right
there (Scrapy's docs, "Inline requests")::

    additional_response = await self.crawler.engine.download_async(request)
    # or, the older form
    additional_response = await maybe_deferred_to_future(self.crawler.engine.download(request))

Such a request never reaches the scheduler (no ``request_scheduled``) and its
response goes to no callback; the downloader's signals still make its flow.
:class:`InlineHook` shadows ``download_async`` on the crawl's own engine (undone
on detach, as the fate hooks are): when called, the caller's frames say which
spider method asked (``parse``) and on which response, whose flow becomes the
parent.  ``engine.download`` calls ``self.download_async``, so both forms pass
here; ``asyncio.gather`` of several ``download_async(r)`` calls too, since each
call is made in the callback's own frame before it is awaited.

Only frames of the user's code are walked, from the caller up, at most
:data:`DEPTH`: a download asked by Scrapy's own components (robots.txt, media
pipelines) or by workbench (the shell's ``fetch``) is not marked.  This costs a
few frame reads per inline download, and nothing for the others.
"""

from __future__ import annotations

import logging
import sys
from types import FrameType
from typing import Any

from scrapy.http import Response

logger = logging.getLogger(__name__)

DEPTH = 12  # frames walked up from the caller
ATTR = "_workbench_inline"  # on the engine: the hook installed
LIBRARIES = ("scrapy.", "twisted.", "asyncio.", "workbench.", "concurrent.")


class InlineHook:
    """``engine.download_async`` shadowed on one crawl's engine (see the module)."""

    def __init__(self, tap: Any, crawler: Any) -> None:
        self.tap = tap
        self.crawler = crawler
        self.engine: Any = None
        self.original: Any = None

    def install(self, engine: Any) -> None:
        if engine is None or vars(engine).get(ATTR) is not None:
            return
        self.engine = engine
        self.original = engine.download_async  # Scrapy's, bound
        engine.download_async = self.download_async
        setattr(engine, ATTR, self)

    def uninstall(self) -> None:
        engine = self.engine
        if engine is None or vars(engine).get(ATTR) is not self:
            return
        del engine.download_async
        delattr(engine, ATTR)
        self.engine = None

    def download_async(self, request: Any) -> Any:
        try:
            found = awaiting(sys._getframe(1), self.crawler.spider)
            if found is not None:
                self.tap.note_inline(request, *found)
        except Exception:  # recording must never break the crawl
            logger.debug("Could not tell which callback awaited %s", request, exc_info=True)
        return self.original(request)


def awaiting(frame: FrameType | None, spider: Any) -> tuple[str, Response | None] | None:
    """(the spider method that asked, the response it runs on) from the frames
    above a ``download_async`` call; None when no spider method asked."""
    if frame is not None and frame.f_code.co_name == "download" and _library(frame):
        frame = frame.f_back  # engine.download(), the Deferred form
    method: str | None = None
    for _ in range(DEPTH):
        if frame is None or _library(frame):
            break
        local = frame.f_locals
        if spider is not None and local.get("self") is spider:
            method = frame.f_code.co_name
            response = _response_of(frame, local)
            if response is not None:
                return method, response
        frame = frame.f_back
    return (method, None) if method is not None else None


def _library(frame: FrameType) -> bool:
    name = frame.f_globals.get("__name__") or ""
    return name.startswith(LIBRARIES) and not name.startswith("workbench.demo")


def _response_of(frame: FrameType, local: dict[str, Any]) -> Response | None:
    """The response a spider method runs on: its first Response argument."""
    code = frame.f_code
    for name in code.co_varnames[: code.co_argcount + code.co_kwonlyargcount]:
        value = local.get(name)
        if isinstance(value, Response):
            return value
    return None
