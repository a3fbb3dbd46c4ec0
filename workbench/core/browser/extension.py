"""BrowserExtension: finds scrapy-playwright's download handler in the crawl and
puts a :class:`~workbench.core.browser.monitor.BrowserMonitor` on it.

It is not configured (Scrapy's ``NotConfigured``) when no download handler of
the crawl is scrapy-playwright's, so a crawl without a browser pays nothing.
Settings: ``WORKBENCH_BROWSER_STALE`` (seconds after its response an open page
counts as held, 30), ``WORKBENCH_BROWSER_CONSOLE`` (console lines kept per
page, 50).
"""

from __future__ import annotations

from typing import Any

from scrapy import signals
from scrapy.exceptions import NotConfigured

from workbench.core.browser.monitor import BrowserMonitor
from workbench.core.control.late import late

BROWSER_ATTR = "workbench_browser"
HANDLER_MODULE = "scrapy_playwright"


def uses_playwright(settings: Any) -> bool:
    """Whether a download handler of these settings is scrapy-playwright's."""
    handlers = settings.getdict("DOWNLOAD_HANDLERS") or {}
    for value in handlers.values():
        path = value if isinstance(value, str) else f"{getattr(value, '__module__', '')}."
        if path.startswith(HANDLER_MODULE):
            return True
    return False


def playwright_handlers(crawler: Any) -> dict[str, Any]:
    """The crawl's scrapy-playwright handler instances, by URL scheme (Scrapy makes
    one per scheme: ``http`` and ``https`` each launch a browser of their own)."""
    engine = late(crawler, "engine")
    handlers = (
        getattr(getattr(getattr(engine, "downloader", None), "handlers", None), "_handlers", None)
        or {}
    )
    return {
        scheme: handler
        for scheme, handler in handlers.items()
        if any(cls.__module__.startswith(HANDLER_MODULE) for cls in type(handler).__mro__)
    }


def browser_for(crawler: Any) -> BrowserMonitor | None:
    """The crawl's browser monitor (None: the crawl has no scrapy-playwright handler)."""
    return getattr(crawler, BROWSER_ATTR, None) if crawler is not None else None


class BrowserExtension:
    """Follows the browser of a scrapy-playwright crawl (see the module's docstring)."""

    def __init__(self, crawler: Any) -> None:
        settings = crawler.settings
        if not uses_playwright(settings):
            raise NotConfigured("no scrapy-playwright download handler")
        self.crawler = crawler
        self.monitor = BrowserMonitor(
            crawler,
            stale_after=settings.getfloat("WORKBENCH_BROWSER_STALE", 30.0),
            max_console=settings.getint("WORKBENCH_BROWSER_CONSOLE", 50),
        )
        setattr(crawler, BROWSER_ATTR, self.monitor)
        crawler.signals.connect(self.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(self.response_received, signal=signals.response_received)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Any) -> BrowserExtension:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        handlers = playwright_handlers(self.crawler)
        if handlers:
            self.monitor.install(handlers)

    def response_received(self, response: Any, request: Any, spider: Any) -> None:
        self.monitor.response_received(response, request)

    def spider_closed(self, spider: Any, reason: str) -> None:
        self.monitor.spider_closed()

    def engine_stopped(self) -> None:
        self.monitor.engine_stopped()
        self.monitor.uninstall()
