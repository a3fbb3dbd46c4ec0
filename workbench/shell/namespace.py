"""What the shell offers: ``response``, ``fetch``, ``view``, ``shelp`` and helpers.

The shell runs in a worker thread; the crawl runs on the loop.  Everything
that touches Scrapy's engine is sent to the loop (:meth:`ShellNamespace.run`)
and waited for, so ``fetch()`` goes through the running crawler's downloader
(its middlewares, cookies and proxy) while the crawl stays paused.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import itertools
import threading
import webbrowser
from collections.abc import Callable, Coroutine
from typing import Any

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.utils.datatypes import SequenceExclude
from scrapy.utils.misc import load_object
from scrapy.utils.response import open_in_browser
from scrapy.utils.trackref import print_live_refs
from w3lib.url import any_to_uri

from workbench.core.control.breakpoints import SHELL_META
from workbench.core.control.late import late
from workbench.core.control.scheduler_view import walk_queue
from workbench.core.formats.sanitize import clean
from workbench.core.recording.extension import recorder_for

HELPERS = [
    ("fetch(url[, redirect=True])", "download a URL through the crawler; rebinds response"),
    ("fetch(request)", "download a scrapy.Request through the crawler"),
    ("view(response)", "open a response in a browser (or print the file's path)"),
    ("queued(n=20)", "the next n requests in the scheduler (live Request objects)"),
    ("flows(n=20)", "the n latest flows (workbench records); flow(id) for one"),
    ("items(n=20)", "the n latest item records"),
    ("prefs()", "live objects by class (Scrapy's trackref), as in the telnet console"),
    ("shelp()", "this help"),
]
RELEVANT = ("crawler", "spider", "settings", "request", "response", "item")
EXTRA_NAMES = (  # a breakpoint hit's failure, or a live object from the Refs panel
    "failure",
    "exception",
    "traceback",
    "obj",
)


class ShellNamespace:
    """Builds and updates the variables of one shell session.

    ``loop`` is the crawl's loop; ``interrupt`` is set by the session while
    the user presses Ctrl-C, so a pending ``fetch`` stops waiting.
    """

    def __init__(
        self,
        crawler: Any,
        loop: asyncio.AbstractEventLoop,
        *,
        response: Response | None = None,
        request: Request | None = None,
        extra: dict[str, Any] | None = None,
        browser: Any = None,
    ) -> None:
        self.crawler = crawler
        self.loop = loop
        self.browser = browser  # webbrowser-like: .open(url) -> bool; None = default
        self.vars: dict[str, Any] = {}
        # the console's own namespace, when it copies ``vars`` (IPython's embed does)
        self.live: Callable[[], dict[str, Any]] | None = None
        self.populate(response, request)
        self.vars.update(extra or {})

    # -- variables -------------------------------------------------------------

    def populate(self, response: Response | None, request: Request | None) -> None:
        crawler = self.crawler
        v = self.vars
        v["scrapy"] = scrapy
        v["crawler"] = crawler
        v["spider"] = getattr(crawler, "spider", None)
        v["settings"] = crawler.settings
        try:
            v["item"] = load_object(crawler.settings["DEFAULT_ITEM_CLASS"])()
        except Exception:
            v["item"] = {}
        v["request"] = request if request is not None else getattr(response, "request", None)
        v["response"] = response
        v["fetch"] = self.fetch
        v["view"] = self.view
        v["shelp"] = self.shelp
        v["queued"] = self.queued
        v["flows"] = self.flows
        v["flow"] = self.flow
        v["items"] = self.items
        v["prefs"] = print_live_refs

    def bind(self, **names: Any) -> None:
        """Set names in the shell the user is typing in."""
        self.vars.update(names)
        if self.live is not None:
            self.live().update(names)

    def help_text(self) -> str:
        names = self.live() if self.live is not None else self.vars
        lines = ["Available Scrapy objects:"]
        lines.append(f"  {'scrapy':<10} scrapy module (scrapy.Request, scrapy.Selector, ...)")
        for name in (*RELEVANT, *EXTRA_NAMES, "sel"):
            if names.get(name) is not None:
                text = repr(names[name])
                if len(text) > 100:
                    text = text[:97] + "..."
                lines.append(f"  {name:<10} {text}")
        lines.append("Useful shortcuts:")
        for call, what in HELPERS:
            lines.append(f"  {call:<28} {what}")
        lines.append(
            "Top-level await runs on the crawl's loop. Ctrl-D or exit() returns to workbench."
        )
        return "\n".join(f"[s] {line}" for line in lines) + "\n"

    def shelp(self) -> None:
        _say(self.help_text().rstrip("\n"))

    # -- running on the loop ------------------------------------------------------

    def run(self, coro: Coroutine[Any, Any, Any]) -> Any:
        """Run a coroutine on the crawl's loop from the shell's thread and wait.

        Waits in short steps, so Ctrl-C (delivered to this thread as
        KeyboardInterrupt) cancels the coroutine instead of hanging.
        """
        if _on_loop_thread(self.loop):
            coro.close()
            raise RuntimeError("the shell must not run on the crawl's loop thread")
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            while True:
                try:
                    return future.result(timeout=0.05)
                except concurrent.futures.TimeoutError:
                    continue
        except BaseException:
            future.cancel()
            raise

    # -- helpers ---------------------------------------------------------------------

    def fetch(self, request_or_url: Request | str, redirect: bool = True, **kwargs: Any) -> None:
        """Download through the running crawler (its downloader middlewares); rebind
        ``request`` and ``response``.  Like ``scrapy shell``'s ``fetch``."""
        if isinstance(request_or_url, Request):
            request = request_or_url
        else:
            request = Request(any_to_uri(str(request_or_url)), dont_filter=True, **kwargs)
            if redirect:
                request.meta["handle_httpstatus_list"] = SequenceExclude(range(300, 400))
            else:
                request.meta["handle_httpstatus_all"] = True
        request.meta[SHELL_META] = True
        engine = late(self.crawler, "engine")
        if engine is None or getattr(engine, "spider", None) is None:
            _say("[s] fetch() needs a running crawl; this one has finished.")
            return
        try:
            response = self.run(engine.download_async(request))
        except IgnoreRequest as exc:
            _say(f"[s] The request was ignored: {exc or type(exc).__name__}")
            return
        except KeyboardInterrupt:
            _say("[s] fetch() interrupted.")
            return
        except Exception as exc:
            _say(f"[s] fetch() failed: {type(exc).__name__}: {exc}")
            return
        self.bind(request=request, response=response)
        _say(f"[s] response = <{response.status} {response.url}>")

    def view(self, response: Response | None = None) -> str | None:
        """Open the response in a browser; with none available, print the file's path."""
        if response is None:
            response = (self.live() if self.live is not None else self.vars).get("response")
        if response is None:
            _say("[s] No response to view.")
            return None
        written: list[str] = []

        def opener(url: str) -> bool:
            written.append(url)
            try:
                browser = self.browser or webbrowser.get()
                return bool(browser.open(url))
            except Exception:
                return False

        try:
            opened = open_in_browser(response, _openfunc=opener)
        except TypeError as exc:  # not HTML or text
            _say(f"[s] Cannot view this response: {exc}")
            return None
        path = written[0].removeprefix("file://") if written else None
        if opened:
            _say(f"[s] Opened in a browser: {path}")
        else:
            _say(f"[s] No browser available; the page is saved as {path}")
        return path

    def queued(self, n: int = 20) -> list[Request]:
        engine = late(self.crawler, "engine")
        slot = getattr(engine, "_slot", None)
        scheduler = getattr(slot, "scheduler", None)
        if scheduler is None:
            return []
        return [request for _, request in itertools.islice(walk_queue(scheduler), n)]

    def flows(self, n: int = 20) -> list[Any]:
        ring = recorder_for(self.crawler).flows
        return list(ring)[-n:]

    def flow(self, flow_id: int) -> Any:
        return recorder_for(self.crawler).flow(flow_id)

    def items(self, n: int = 20) -> list[Any]:
        return list(recorder_for(self.crawler).items)[-n:]


def _on_loop_thread(loop: asyncio.AbstractEventLoop) -> bool:
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return getattr(loop, "_thread_id", None) == threading.get_ident()


def _say(text: str) -> None:
    """A line the shell prints on workbench's behalf: it may hold a URL, an
    exception or a repr from the web, so control characters are made visible."""
    print(clean(text))
