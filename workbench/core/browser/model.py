"""What the Browser view and a flow's detail read: frozen rows of the browser's
pages and contexts, its processes, counts over time, the leak warning.  Every
text in them (URLs, console messages, page errors) is sanitised already."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from workbench.core.browser.procs import BrowserProcess


@dataclass(frozen=True, slots=True)
class ConsoleLine:
    """A console message (``kind``: log, warning, error...) or an uncaught page
    error (``kind``: "pageerror")."""

    time: float
    kind: str
    text: str
    where: str = ""  # "url:line" of a console call, when Playwright says


@dataclass(frozen=True, slots=True)
class PageRow:
    """One page the browser opened for a request."""

    key: int  # the page's number in this crawl (#1, #2...)
    context: str  # the browser context's name (meta playwright_context)
    opened: float
    closed: float | None  # None: still open
    state: str  # loading, open, held (open long after its response), closed, crashed, shutdown
    url: str  # where the page is now (or was when it closed)
    method: str  # the request that opened it
    request_url: str
    callback: str
    flow_id: int | None  # that request's flow, once it has one
    fetches: int  # downloads made in this page (a page passed back in meta is reused)
    console: int  # console messages and page errors seen (kept or not)
    errors: int  # page errors among them
    last_fetch: float | None  # when its last download ended

    @property
    def is_open(self) -> bool:
        return self.closed is None


@dataclass(frozen=True, slots=True)
class ContextRow:
    """One browser context."""

    name: str
    opened: float
    closed: float | None
    pages_open: int
    pages_opened: int
    opened_by: str  # "#12 GET url" of the request that made it, or "startup"
    flow_id: int | None
    persistent: bool = False


@dataclass(frozen=True, slots=True)
class BrowserPoint:
    """The counts at one time: open pages, open contexts, the processes' memory
    (their PSS summed: see :mod:`~workbench.core.browser.procs`)."""

    time: float
    pages: int
    contexts: int
    memory: int


@dataclass(frozen=True, slots=True)
class BrowserLeak:
    """The leak warning: pages (or contexts) opened and never closed."""

    message: str  # what is left open: how many, for how long
    oldest: tuple[PageRow, ...]  # the oldest pages held, whose requests are named
    contexts: tuple[ContextRow, ...] = ()  # contexts left open without pages
    at_close: bool = False  # seen when the crawl closed (scrapy-playwright closed them)
    advice: str = ""  # what to do about it
    stall: str = ""  # a context at its page limit: the crawl waits for a page to close
    held: int = 0  # pages held (open past the stale time after their response)


@dataclass(frozen=True, slots=True)
class BrowserFetch:
    """How the browser fetched one flow: its page, final URL, console and errors."""

    flow_id: int
    page_key: int
    context: str
    requested_url: str
    final_url: str
    page_state: str
    opened: float
    closed: float | None
    console: tuple[ConsoleLine, ...]  # the page's, kept (bounded), oldest first
    console_total: int
    errors_total: int
    time: float = 0.0  # when it was read (the page's age is counted to it)


@dataclass(frozen=True, slots=True)
class BrowserView:
    """The Browser view's reading; ``status`` says why it is empty, when it is."""

    time: float
    status: str = ""  # "" while a browser is in use; else why there is none
    browser: str = ""  # e.g. "chromium 156.0.8078.129 · headless"
    pages: tuple[PageRow, ...] = ()  # open ones oldest first, then closed, newest first
    contexts: tuple[ContextRow, ...] = ()
    processes: tuple[BrowserProcess, ...] = ()
    series: tuple[BrowserPoint, ...] = ()
    leak: BrowserLeak | None = None
    pages_opened: int = 0
    pages_closed: int = 0
    stale_after: float = 30.0  # seconds after its response an open page counts as held
    screenshots: tuple[str, ...] = ()  # the paths saved, newest last

    @property
    def rows(self) -> tuple[PageRow, ...]:
        return self.pages

    @property
    def open_pages(self) -> int:
        return sum(1 for p in self.pages if p.is_open)

    @property
    def open_contexts(self) -> int:
        return sum(1 for c in self.contexts if c.closed is None)

    @property
    def memory(self) -> int:
        """The browser's processes' memory, PSS summed (bytes)."""
        return sum(p.pss for p in self.processes)


_NOT_SET = frozenset({"False", "None", "0", "''", '""'})


def asks_for_browser(meta: Sequence[tuple[str, str]]) -> bool:
    """Whether a flow's request asked scrapy-playwright for the browser (its meta's
    ``playwright``, as the flow keeps it: short reprs)."""
    return any(key == "playwright" and value not in _NOT_SET for key, value in meta)
