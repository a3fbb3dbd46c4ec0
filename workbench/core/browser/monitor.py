"""BrowserMonitor: what scrapy-playwright's browser holds, recorded as it happens.

It wraps the download handler's page factory (``_create_page``, on the
crawl's own handler instance, undone by :meth:`BrowserMonitor.uninstall`) to
learn which request opened each page, and listens to each page's Playwright
events (``console``, ``pageerror``, ``close``, ``crash``) and each context's
``close``.  Everything runs on the crawl's loop; handlers only append to
bounded records.  Every text from the page is sanitised when it is kept.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import weakref
from collections import OrderedDict, deque
from pathlib import Path
from typing import Any
from weakref import WeakKeyDictionary

from workbench.core.browser.model import (
    BrowserFetch,
    BrowserLeak,
    BrowserPoint,
    BrowserView,
    ConsoleLine,
    ContextRow,
    PageRow,
)
from workbench.core.browser.procs import browser_processes
from workbench.core.formats.sanitize import clean_line

logger = logging.getLogger(__name__)

LEAK_MIN = 3  # pages held (or contexts left empty) before the warning
URL_LIMIT = 2000
TEXT_LIMIT = 500


class _Page:
    """A page's record while the crawl runs (mutable; read as a ``PageRow``)."""

    __slots__ = (
        "__weakref__",
        "callback",
        "closed",
        "console",
        "console_total",
        "context",
        "end",
        "errors",
        "fetches",
        "flow_id",
        "key",
        "last_fetch",
        "method",
        "opened",
        "page",
        "request",
        "request_url",
        "url",
    )

    def __init__(self, key: int, page: Any, context: str, request: Any, max_console: int) -> None:
        self.key = key
        self.page: Any = page  # held while open (its context holds it too), dropped when closed
        self.context = context
        self.opened = time.time()
        self.closed: float | None = None
        self.end = ""  # closed, crashed, shutdown
        self.url = clean_line(str(getattr(request, "url", "") or ""), URL_LIMIT)
        self.method = clean_line(str(getattr(request, "method", "GET")), 10)
        self.request_url = self.url
        self.callback = _callback(request)
        self.request = weakref.ref(request) if request is not None else None
        self.flow_id: int | None = None
        self.fetches = 0
        self.last_fetch: float | None = None
        self.console: deque[ConsoleLine] = deque(maxlen=max_console)
        self.console_total = 0
        self.errors = 0

    def state(self, now: float, stale_after: float) -> str:
        if self.closed is not None:
            return self.end
        if self.fetches == 0 and self.flow_id is None:
            return "loading"
        since = self.last_fetch if self.last_fetch is not None else self.opened
        return "held" if now - since >= stale_after else "open"

    def row(self, now: float, stale_after: float) -> PageRow:
        return PageRow(
            self.key,
            self.context,
            self.opened,
            self.closed,
            self.state(now, stale_after),
            self.url,
            self.method,
            self.request_url,
            self.callback,
            self.flow_id,
            self.fetches,
            self.console_total,
            self.errors,
            self.last_fetch,
        )


class _Context:
    __slots__ = (
        "closed",
        "emptied",
        "flow_id",
        "name",
        "opened",
        "opened_by",
        "pages_opened",
        "persistent",
        "request",
    )

    def __init__(self, name: str, request: Any, persistent: bool) -> None:
        self.name = name
        self.opened = time.time()
        self.closed: float | None = None
        self.opened_by = (
            f"{clean_line(str(request.method), 10)} {clean_line(str(request.url), URL_LIMIT)}"
            if request is not None
            else "startup (PLAYWRIGHT_CONTEXTS)"
        )
        self.flow_id: int | None = None
        self.request = weakref.ref(request) if request is not None else None
        self.pages_opened = 0
        self.persistent = persistent
        self.emptied: float | None = None  # since when it has no open page


def _callback(request: Any) -> str:
    callback = getattr(request, "callback", None)
    if callback is None:
        return "parse"
    name = callback if isinstance(callback, str) else getattr(callback, "__name__", "?")
    return clean_line(str(name), 60)


class BrowserMonitor:
    """The pages and contexts of one crawl's scrapy-playwright handler."""

    def __init__(
        self,
        crawler: Any = None,
        stale_after: float = 30.0,
        max_console: int = 50,
        max_closed: int = 500,
        sample_every: float = 2.0,
    ) -> None:
        self.crawler = crawler
        self.stale_after = stale_after
        self.max_console = max_console
        self.sample_every = sample_every
        self.handlers: list[tuple[Any, str]] = []  # (scrapy-playwright's handler, its scheme)
        self.stopped = False
        self._names: dict[tuple[int, str], str] = {}  # (handler, context name) -> as shown
        self.loop: asyncio.AbstractEventLoop | None = None
        self.open: dict[int, _Page] = {}
        self.closed: deque[_Page] = deque(maxlen=max_closed)
        self.by_page: dict[int, _Page] = {}  # id(page) -> its record, while open
        self.of_request: WeakKeyDictionary[Any, _Page] = WeakKeyDictionary()
        self.contexts: dict[str, _Context] = {}
        self.closed_contexts: deque[_Context] = deque(maxlen=max_closed)
        self.fetches: OrderedDict[int, tuple[_Page, str, str]] = OrderedDict()
        self.series: deque[BrowserPoint] = deque(maxlen=3600)
        self.processes: tuple[Any, ...] = ()
        self.opened_total = 0
        self.closed_total = 0
        self.closing_at: float | None = None
        self.at_close: BrowserLeak | None = None
        self.screenshots: list[str] = []
        self.wrapped = False  # the handler's page factory is ours
        self._timer: asyncio.TimerHandle | None = None
        self._keys = 0

    # -- installing on the crawl's handler -------------------------------------------

    def install(self, handlers: dict[str, Any]) -> None:
        """Wrap each handler's ``_create_page`` (on the instance; scrapy-playwright
        makes one handler, and one browser, per URL scheme) and start sampling."""
        with contextlib.suppress(RuntimeError):
            self.loop = asyncio.get_running_loop()
        if self.loop is None:
            with contextlib.suppress(RuntimeError):
                self.loop = asyncio.get_event_loop()
        several = len({id(h) for h in handlers.values()}) > 1
        for scheme, handler in handlers.items():
            if any(h is handler for h, _ in self.handlers):
                continue
            self.handlers.append((handler, scheme if several else ""))
            self._wrap(handler, scheme if several else "")
        self._schedule()

    def _wrap(self, handler: Any, scheme: str) -> None:
        original = getattr(handler, "_create_page", None)
        if original is None:
            logger.warning("scrapy-playwright's handler has no _create_page: pages not followed")
            return
        monitor = self

        async def _create_page(*args: Any, **kwargs: Any) -> Any:
            request = kwargs.get("request", args[0] if args else None)
            before = set(getattr(handler, "context_wrappers", {}) or {})
            page = await original(*args, **kwargs)
            try:
                monitor.page_opened(page, request, before, handler, scheme)
            except Exception:  # never break the crawl's download
                logger.exception("workbench could not follow a browser page")
            return page

        handler._create_page = _create_page
        self.wrapped = True

    def uninstall(self) -> None:
        for handler, _ in self.handlers:
            with contextlib.suppress(AttributeError):
                del handler._create_page
        self.wrapped = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.stopped = True

    def _schedule(self) -> None:
        if self.loop is not None and self.sample_every > 0:
            self._timer = self.loop.call_later(self.sample_every, self._tick)

    def _tick(self) -> None:
        self._timer = None
        try:
            self.sample()
        finally:
            if not self.stopped:
                self._schedule()

    # -- events ----------------------------------------------------------------------

    def page_opened(
        self,
        page: Any,
        request: Any,
        contexts_before: set[str] | None = None,
        handler: Any = None,
        scheme: str = "",
    ) -> None:
        """scrapy-playwright made ``page`` for ``request`` (its context too when new)."""
        meta = getattr(request, "meta", {}) or {}
        self._contexts_seen(handler, scheme, request, contexts_before or set())
        name = self._shown_name(handler, meta.get("playwright_context", "default"), scheme)
        self._keys += 1
        rec = _Page(self._keys, page, name, request, self.max_console)
        self.open[rec.key] = rec
        self.by_page[id(page)] = rec
        if request is not None:
            self.of_request[request] = rec
        self.opened_total += 1
        context = self.contexts.get(name)
        if context is not None:
            context.pages_opened += 1
            context.emptied = None
        page.on("console", lambda message: self._console(rec, message))
        page.on("pageerror", lambda error: self._page_error(rec, error))
        page.on("close", lambda _page: self._page_closed(rec, "closed"))
        page.on("crash", lambda _page: self._page_closed(rec, "crashed"))
        self._point()

    def _shown_name(self, handler: Any, raw: Any, scheme: str) -> str:
        """A context's name as shown: with its handler's URL scheme when another
        handler has a context of that name (the http and https handlers each have
        a "default" context, in a browser of their own)."""
        key = (id(handler), str(raw))
        shown = self._names.get(key)
        if shown is None:
            shown = clean_line(str(raw), 100)
            if shown in self._names.values() and scheme:
                shown = f"{shown} ({scheme})"
            self._names[key] = shown
        return shown

    def _contexts_seen(self, handler: Any, scheme: str, request: Any, before: set[str]) -> None:
        wrappers = getattr(handler, "context_wrappers", None) or {}
        for raw, wrapper in list(wrappers.items()):
            if (id(handler), raw) in self._names:
                continue
            name = self._shown_name(handler, raw, scheme)
            made_here = request is not None and raw not in before
            record = _Context(
                name, request if made_here else None, bool(getattr(wrapper, "persistent", False))
            )
            self.contexts[name] = record
            context = getattr(wrapper, "context", None)
            if context is not None:
                context.on("close", lambda _ctx, n=name: self._context_closed(n))

    def _console(self, rec: _Page, message: Any) -> None:
        rec.console_total += 1
        if len(rec.console) == rec.console.maxlen and rec.console_total > 2 * self.max_console:
            return  # a chatty page: past 2x the bound, counted, not kept (page errors are)
        where = ""
        with contextlib.suppress(Exception):
            loc = message.location or {}
            if loc.get("url"):
                where = f"{clean_line(str(loc['url']), 300)}:{loc.get('lineNumber', '?')}"
        kind = clean_line(str(getattr(message, "type", "log")), 20)
        text = clean_line(str(getattr(message, "text", message)), TEXT_LIMIT)
        rec.console.append(ConsoleLine(time.time(), kind, text, where))

    def _page_error(self, rec: _Page, error: Any) -> None:
        rec.console_total += 1
        rec.errors += 1
        text = getattr(error, "message", None) or str(error)
        rec.console.append(ConsoleLine(time.time(), "pageerror", clean_line(str(text), TEXT_LIMIT)))

    def _page_closed(self, rec: _Page, how: str) -> None:
        if rec.closed is not None:
            return
        rec.closed = time.time()
        rec.end = "shutdown" if self.closing_at is not None and how == "closed" else how
        page = rec.page
        if page is not None:
            with contextlib.suppress(Exception):
                rec.url = clean_line(str(page.url), URL_LIMIT)
            self.by_page.pop(id(page), None)
        rec.page = None
        self.open.pop(rec.key, None)
        self.closed.appendleft(rec)
        self.closed_total += 1
        context = self.contexts.get(rec.context)
        if context is not None and not any(p.context == rec.context for p in self.open.values()):
            context.emptied = rec.closed
        self._point()

    def _context_closed(self, name: str) -> None:
        record = self.contexts.pop(name, None)
        if record is not None:
            record.closed = time.time()
            self.closed_contexts.appendleft(record)
            self._point()

    def response_received(self, response: Any, request: Any) -> None:
        """A browser download ended: the page fetched it (a reused page too)."""
        meta = request.meta
        if not meta.get("playwright"):
            return
        page = meta.get("playwright_page")
        rec = self.by_page.get(id(page)) if page is not None else None
        if rec is None:
            rec = self.of_request.get(request)
        if rec is None:
            return
        rec.fetches += 1
        rec.last_fetch = time.time()
        final = clean_line(str(response.url), URL_LIMIT)
        rec.url = final
        flow = self._flow_of(request, response)
        if flow is not None:
            self._link(flow.id, rec, clean_line(str(request.url), URL_LIMIT), final)

    def spider_closed(self) -> None:
        """The crawl closes: what is still open now was never closed by the spider
        (scrapy-playwright closes it at shutdown, right after)."""
        self.sample()
        self.closing_at = time.time()
        self.at_close = self._leak(self.closing_at, at_close=True)

    def engine_stopped(self) -> None:
        self.sample()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.loop is not None:  # one last reading once the handler has closed the browser
            self.loop.call_later(self.sample_every, self.sample)

    # -- flows -----------------------------------------------------------------------

    def _flow_of(self, request: Any, response: Any = None) -> Any:
        crawler = self.crawler
        if crawler is None:
            return None
        from workbench.core.recording.extension import TAP_ATTR

        tap = getattr(crawler, TAP_ATTR, None)
        if tap is None:
            return None
        flow = tap.flow_of_response.get(response) if response is not None else None
        return flow if flow is not None else tap.flow_of_request.get(request)

    def _link(self, flow_id: int, rec: _Page, requested: str, final: str) -> None:
        if rec.flow_id is None:
            rec.flow_id = flow_id
            context = self.contexts.get(rec.context)
            made_by = context.request() if context is not None and context.request else None
            if made_by is not None and rec.request is not None and made_by is rec.request():
                context.flow_id = flow_id  # type: ignore[union-attr]
        self.fetches[flow_id] = (rec, requested, final)
        while len(self.fetches) > 10_000:
            self.fetches.popitem(last=False)

    def _resolve(self) -> None:
        """Flows for the pages whose request has one by now (a download error's too)."""
        for rec in [*self.open.values(), *list(self.closed)[:50]]:
            if rec.flow_id is not None or rec.request is None:
                continue
            request = rec.request()
            if request is None:
                continue
            flow = self._flow_of(request)
            if flow is not None:
                self._link(flow.id, rec, rec.request_url, clean_line(str(flow.url), URL_LIMIT))

    # -- readings ----------------------------------------------------------------------

    def sample(self) -> None:
        """The browser's processes and one point of the series."""
        try:
            self.processes = tuple(browser_processes())
        except Exception:  # /proc changed under us; try again next time
            logger.debug("reading the browser's processes failed", exc_info=True)
        self._point()

    def _point(self) -> None:
        now = time.time()
        memory = sum(p.pss for p in self.processes)
        point = BrowserPoint(now, len(self.open), len(self.contexts), memory)
        if self.series and now - self.series[-1].time < 0.2:
            self.series[-1] = point  # a burst of events: one point
        else:
            self.series.append(point)

    def _leak(self, now: float, at_close: bool = False) -> BrowserLeak | None:
        stale = self.stale_after
        held = [r for r in self.open.values() if r.state(now, stale) == "held"]
        if at_close:  # at the end every page still open was left open
            held = [r for r in self.open.values() if r.fetches or r.flow_id is not None]
        empty = [
            c for c in self.contexts.values() if c.emptied is not None and now - c.emptied >= stale
        ]
        if len(held) < LEAK_MIN and len(empty) < LEAK_MIN:
            return None
        oldest = tuple(r.row(now, stale) for r in sorted(held, key=lambda r: r.opened)[:5])
        contexts = tuple(self._context_row(c) for c in sorted(empty, key=lambda c: c.opened)[:5])
        parts = []
        if len(held) >= LEAK_MIN:
            if at_close:
                parts.append(
                    f"{len(held)} pages were still open when the crawl closed "
                    f"({self.opened_total} opened, {self.closed_total} closed by then)"
                )
            else:
                parts.append(
                    f"{len(held)} pages still open more than {stale:g}s after their response "
                    f"({self.opened_total} opened, {self.closed_total} closed)"
                )
        if len(empty) >= LEAK_MIN:
            parts.append(f"{len(empty)} browser contexts left open without a page")
        full = None if at_close else self._full_context()
        advice = []
        if len(held) >= LEAK_MIN:
            advice.append(
                "a callback that gets response.meta['playwright_page'] "
                "(playwright_include_page) must await page.close(), in an errback too"
            )
        if len(empty) >= LEAK_MIN:
            advice.append("close a context you no longer need: await page.context.close()")
        return BrowserLeak(
            "; ".join(parts), oldest, contexts, at_close, "; ".join(advice), full or "", len(held)
        )

    def _full_context(self) -> str | None:
        """A context at scrapy-playwright's page limit: its next page waits for one to
        close, so held pages stall the crawl."""
        limits = [getattr(getattr(h, "config", None), "max_pages_per_context", None)
                  for h, _ in self.handlers]  # fmt: skip
        limit = min((n for n in limits if isinstance(n, int) and n > 0), default=None)
        if limit is None:
            return None
        counts: dict[str, int] = {}
        for rec in self.open.values():
            counts[rec.context] = counts.get(rec.context, 0) + 1
        name, count = max(counts.items(), key=lambda kv: kv[1], default=("", 0))
        if count < limit:
            return None
        return (
            f"context {name} holds {count} pages (PLAYWRIGHT_MAX_PAGES_PER_CONTEXT): its next "
            "request waits for one of them to close"
        )

    def _context_row(self, c: _Context) -> ContextRow:
        pages_open = sum(1 for p in self.open.values() if p.context == c.name)
        return ContextRow(
            c.name,
            c.opened,
            c.closed,
            pages_open,
            c.pages_opened,
            c.opened_by,
            c.flow_id,
            c.persistent,
        )

    def describe_browser(self) -> str:
        handlers = [h for h, _ in self.handlers]
        handler = next(
            (h for h in handlers if getattr(h, "browser", None) is not None),
            handlers[0] if handlers else None,
        )
        browser = getattr(handler, "browser", None)
        launched = sum(1 for h in handlers if getattr(h, "browser", None) is not None)
        parts = []
        config = getattr(handler, "config", None)
        name = getattr(config, "browser_type_name", None) or "chromium"
        with contextlib.suppress(Exception):
            if browser is not None:
                name = f"{name} {browser.version}"
        parts.append(clean_line(str(name), 80))
        options = getattr(config, "launch_options", None) or {}
        if options.get("executable_path"):
            parts.append(clean_line(str(options["executable_path"]), 200))
        if options.get("headless") is False:
            parts.append("headed")
        elif browser is not None or options:
            parts.append("headless")
        if browser is None and handler is not None:
            parts.append("no browser running" if self.closing_at else "not launched yet")
        elif launched > 1:
            parts.append(f"{launched} browsers (one per URL scheme)")
        return " · ".join(parts)

    def view(self) -> BrowserView:
        now = time.time()
        self._resolve()
        stale = self.stale_after
        open_rows = sorted((r.row(now, stale) for r in self.open.values()), key=lambda r: r.opened)
        closed_rows = [r.row(now, stale) for r in self.closed]
        contexts = [self._context_row(c) for c in self.contexts.values()]
        contexts += [self._context_row(c) for c in list(self.closed_contexts)[:100]]
        leak = self._leak(now) if self.closing_at is None else self.at_close
        return BrowserView(
            time=now,
            browser=self.describe_browser(),
            pages=(*open_rows, *closed_rows),
            contexts=tuple(contexts),
            processes=self.processes,
            series=tuple(self.series),
            leak=leak,
            pages_opened=self.opened_total,
            pages_closed=self.closed_total,
            stale_after=stale,
            screenshots=tuple(self.screenshots[-5:]),
        )

    def fetch(self, flow_id: int) -> BrowserFetch | None:
        """How the browser fetched the flow (None: not by the browser, or forgotten)."""
        found = self.fetches.get(flow_id)
        if found is None:
            self._resolve()
            found = self.fetches.get(flow_id)
        if found is None:
            return None
        rec, requested, final = found
        now = time.time()
        return BrowserFetch(
            flow_id,
            rec.key,
            rec.context,
            requested,
            final,
            rec.state(now, self.stale_after),
            rec.opened,
            rec.closed,
            tuple(rec.console),
            rec.console_total,
            rec.errors,
            now,
        )

    # -- a screenshot of a page still open ---------------------------------------------

    async def screenshot(self, key: int, directory: Path | str = ".") -> str:
        """Save a PNG of the open page ``key``; its path.  Taken on the crawl's loop
        (where Playwright's objects live) whichever loop awaits it."""
        rec = self.open.get(key)
        if rec is None or rec.page is None:
            raise ValueError(f"page #{key} is not open any more: only an open page can be shot")
        path = Path(directory).resolve() / f"workbench-page-{key}-{time.strftime('%H%M%S')}.png"
        shot = rec.page.screenshot(path=str(path), full_page=True, timeout=15_000)
        loop = self.loop
        running = asyncio.get_running_loop()
        if loop is None or loop is running:
            await shot
        else:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(shot, loop))
        self.screenshots.append(str(path))
        return str(path)
