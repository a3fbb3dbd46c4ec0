"""The workbench from a Python script: the crawls a script sets going itself.

Scrapy's "Run Scrapy from a script" builds an ``AsyncCrawlerProcess`` (or an
``AsyncCrawlerRunner`` on the script's own loop), calls ``crawl()`` once per
spider and starts it.  Here the same crawls run in the workbench, with every
panel, the shell and breakpoints as under ``workbench crawl``:

- :func:`run` (``workbench.run(process)`` in place of ``process.start()``)
  opens the app on the process's crawls and returns its exit status once you
  quit it; the script goes on after it;
- :func:`run_async` (``await workbench.run_async(runner)`` in place of
  ``await runner.join()``) does the same on the loop the script runs;
- :class:`AsyncCrawlerProcess` and :class:`CrawlerProcess` are Scrapy's
  ``AsyncCrawlerProcess`` whose ``start()`` is :func:`run`: changing the
  import line is enough;
- :func:`record` (or the add-on :class:`RecordingAddon` in ``ADDONS``) adds
  the recorder to crawls that run without the UI, so that ``workbench
  attach`` later finds every record it kept since the start.

The crawls are *adopted*: ``crawl()`` made each crawler and its task on the
process's loop, and nothing of them has run yet (a task runs once the loop
does).  Each crawler gets the workbench's add-on in its settings (read when
the crawl starts), a :class:`ScriptHost` in place of the ``CrawlHost`` that
``workbench crawl`` would make, and the app runs on that loop.

Only crawls whose spider has not opened can be adopted.  Scrapy's Deferred
``CrawlerProcess`` builds each crawl's components inside ``crawl()`` (its
settings frozen then): there the workbench's are added to them
(:func:`install_late`), as an attach agent adds the recorder.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import Any

from scrapy.crawler import AsyncCrawlerProcess as _ScrapyAsyncProcess
from scrapy.crawler import AsyncCrawlerRunner, Crawler, CrawlerRunner
from scrapy.settings import Settings

from workbench.core.control.breakpoints import SETTING as BREAKPOINTS_SETTING
from workbench.core.control.breakpoints import parse_breakpoint
from workbench.core.control.host import CrawlHost
from workbench.core.recording.extension import (
    RECORDER_ATTR,
    RecordingAddon,
    WorkbenchAddon,
    recorder_for,
)
from workbench.core.recording.recorder import Limits, Recorder
from workbench.core.recording.run_store import KEEP_SETTING

__all__ = [
    "AsyncCrawlerProcess",
    "CrawlerProcess",
    "RecordingAddon",
    "ScriptError",
    "record",
    "run",
    "run_async",
]


class ScriptError(RuntimeError):
    """What the script asked cannot be done (said in one sentence)."""


class ScriptHost(CrawlHost):
    """A crawl a script set going with ``runner.crawl()``, adopted before it ran."""

    def __init__(
        self,
        runner: Any,
        crawler: Crawler,
        task: asyncio.Future[None],
        recorder: Recorder | None = None,
        capture_log: bool = True,
    ) -> None:
        super().__init__(runner.settings, crawler.spidercls, {}, recorder, capture_log)
        if recorder is not None:
            setattr(crawler, RECORDER_ATTR, recorder)
        if crawler.settings.frozen:  # Scrapy's Deferred process: its components are built
            install_late(crawler)
        else:
            crawler.settings.set_in_component_priority_dict("ADDONS", WorkbenchAddon, 0)
        self.runner = runner
        self.crawler = crawler
        self.recorder = recorder_for(crawler)
        self.task = task  # type: ignore[assignment]  # a Task, or a Future (Deferred crawls)
        task.add_done_callback(self._on_done)  # type: ignore[arg-type]
        self.started_at = time.time()  # the crawl begins when the loop runs, next

    def create(self) -> Crawler:
        assert self.crawler is not None
        return self.crawler

    def setup_reactor(self) -> None:
        # a process's own set-up (DNS resolver, thread pool); a runner's script
        # runs the reactor its own way, as without the workbench
        setup = getattr(self.runner, "_setup_reactor", None)
        if setup is not None:
            setup(install_signal_handlers=False)

    def begin(self, crawler: Crawler) -> None:
        pass  # crawl() made the task, which runs already


def run(
    process: Any,
    *,
    theme: str | None = None,
    breakpoints: Iterable[str] = (),
    panel: str = "flows",
) -> int:
    """Open the workbench on the crawls of ``process`` (a Scrapy
    ``AsyncCrawlerProcess`` whose ``crawl()`` was called once per spider), in place
    of ``process.start()``.  Returns when you quit the app (a crawl still running is
    stopped gracefully first), with 0, or 1 if a crawl failed; the script goes on.

    ``breakpoints`` are ``--break`` texts (``"response: ~s 404"``, ``"error"``),
    ``theme`` a theme's name, ``panel`` the panel to open on.  With the environment
    variable ``WORKBENCH_NO_UI=1`` the crawls run without the app, recorded."""
    from workbench.commands import running

    source, loop = _adopt(process, breakpoints)
    _quiet_scrapy_root_handler()
    for host in source.crawl_hosts():
        host.capture()  # before the loop runs: nothing of the crawl reaches the terminal
    if os.environ.get("WORKBENCH_NO_UI"):
        from workbench.commands.base import CliError

        try:
            return running.run_headless(source, loop)
        except CliError as exc:  # breakpoints without a terminal for their shell
            raise ScriptError(str(exc)) from None
    return running.run_app(source, theme=theme or _theme(process), panel=panel, loop=loop)


async def run_async(
    runner: Any,
    *,
    theme: str | None = None,
    breakpoints: Iterable[str] = (),
    panel: str = "flows",
) -> int:
    """:func:`run` for an ``AsyncCrawlerRunner`` on the loop the script runs:
    ``runner.crawl(...)`` once per spider, then ``await workbench.run_async(runner)``
    in place of ``await runner.join()``."""
    from workbench.commands import running

    source, loop = _adopt(runner, breakpoints)
    if loop is not asyncio.get_running_loop():
        raise ScriptError("the crawls were made on another loop than the one running now")
    _quiet_scrapy_root_handler()
    for host in source.crawl_hosts():
        host.capture()
    if os.environ.get("WORKBENCH_NO_UI"):
        return await running.run_headless_async(source)
    return await running.run_app_async(source, theme=theme or _theme(runner), panel=panel)


def record(process: Any) -> None:
    """Add the recorder to the crawls of ``process`` (and to those it makes later),
    which go on without the UI: ``workbench attach`` then finds everything the
    recorder kept since the crawl began.  The same as ``RecordingAddon`` in
    ``ADDONS``."""
    if not isinstance(process, AsyncCrawlerRunner | CrawlerRunner):
        raise ScriptError(f"workbench.record takes a Scrapy crawler process, not {process!r}")
    from workbench.core.recording.extension import RECORDING_SETTINGS

    if not process.settings.frozen:
        process.settings.set_in_component_priority_dict("ADDONS", RecordingAddon, 0)
    for crawler in process.crawlers:
        if getattr(getattr(crawler, "_engine", None), "_slot", None) is not None:
            raise ScriptError(
                f"the crawl of {_spider_name(crawler)} has started already: call "
                "workbench.record(process) before process.start(), or put "
                '"workbench.RecordingAddon" in the ADDONS setting'
            )
        if crawler.settings.frozen:  # Scrapy's Deferred process built its components
            install_late(crawler, RECORDING_SETTINGS)
        else:
            crawler.settings.set_in_component_priority_dict("ADDONS", RecordingAddon, 0)


class AsyncCrawlerProcess(_ScrapyAsyncProcess):
    """Scrapy's ``AsyncCrawlerProcess`` whose ``start()`` opens the workbench
    (:func:`run`): ``from workbench import AsyncCrawlerProcess`` in place of
    ``from scrapy.crawler import AsyncCrawlerProcess`` is the whole change."""

    def __init__(self, settings: Any = None, install_root_handler: bool | None = None) -> None:
        if install_root_handler is not None:  # Scrapy's deprecated argument: as given
            super().__init__(settings, install_root_handler)
            return
        if not isinstance(settings, Settings):
            settings = Settings(settings)
        # the log goes to the Log panel, not to the terminal the app is about to take
        settings.set("LOG_INSTALL_ROOT_HANDLER", False, priority="cmdline")
        super().__init__(settings)

    def start(self, stop_after_crawl: bool = True, install_signal_handlers: bool = True) -> None:
        """Open the workbench on the crawls (the arguments are Scrapy's, ignored: the
        app stays until you quit it, and handles the signals itself)."""
        self.exit_status = run(self)


# Scrapy's Deferred ``CrawlerProcess`` sets each crawl going inside ``crawl()``;
# this one is the asyncio process under the name a script imports: ``crawl()``
# returns an asyncio Task instead of a Deferred, which a script seldom keeps.
CrawlerProcess = AsyncCrawlerProcess


# -- adopting a script's crawls --------------------------------------------------


def _adopt(runner: Any, breakpoints: Iterable[str]) -> tuple[Any, asyncio.AbstractEventLoop]:
    """A source over the crawls ``runner.crawl()`` made, and the loop they are on."""
    from workbench.core.sources.local import LocalSource
    from workbench.core.sources.multi import MultiSource

    if isinstance(runner, CrawlerRunner):  # CrawlerProcess too: the Deferred API
        crawls = _deferred_crawls(runner)
    elif isinstance(runner, AsyncCrawlerRunner):
        crawls = _crawls(runner)
    else:
        raise ScriptError(
            f"workbench.run takes a Scrapy crawler process or runner, not {type(runner).__name__}"
        )
    if not crawls:
        raise ScriptError(
            "no crawl to run: call process.crawl(SpiderClass) first, and workbench.run "
            "right after it (a crawl that has finished is gone from the process)"
        )
    names = [_spider_name(c) for c, _ in crawls]
    if len(set(names)) != len(names):
        raise ScriptError(f"a spider is crawled twice ({', '.join(names)}): each runs once")
    texts = list(breakpoints)
    for text in texts:
        parse_breakpoint(text)  # a bad one is a ValueError saying where
    for crawler, _ in crawls:
        engine = getattr(crawler, "_engine", None)
        if getattr(engine, "_slot", None) is not None:  # its spider has opened
            raise ScriptError(
                f"the crawl of {_spider_name(crawler)} has started already: call "
                "workbench.run right after process.crawl(), before anything is awaited"
            )
        with _unfrozen(crawler.settings):  # a Deferred crawl's: frozen in crawl()
            if texts:
                crawler.settings.set(BREAKPOINTS_SETTING, texts, priority="cmdline")
            crawler.settings.set(KEEP_SETTING, True, priority="command")  # as workbench crawl
    _shell_for_inspect_response(crawl[0] for crawl in crawls)
    shared = Recorder(Limits.from_settings(runner.settings)) if len(crawls) > 1 else None
    hosts = [
        ScriptHost(runner, crawler, task, shared, capture_log=not n)
        for n, (crawler, task) in enumerate(crawls)
    ]
    if shared is not None:
        hosts[0].log_settings = runner.settings  # the process's LOG_LEVEL, not a spider's
    source = LocalSource(hosts[0]) if len(hosts) == 1 else MultiSource(list(hosts))
    return source, crawls[0][1].get_loop()


def _shell_for_inspect_response(crawlers: Iterable[Crawler]) -> None:
    """``scrapy.shell.inspect_response`` opens the workbench shell, as under
    ``workbench crawl``: Scrapy's module, and each spider's module that imported
    Scrapy's function by name before the workbench was called (the script itself)."""
    from workbench.shell import session

    session.install()
    original = session._scrapy_inspect_response
    for crawler in crawlers:
        module = sys.modules.get(crawler.spidercls.__module__)
        if module is not None and getattr(module, "inspect_response", None) is original:
            module.inspect_response = session.inspect_response  # type: ignore[attr-defined]


def _deferred_crawls(runner: CrawlerRunner) -> list[tuple[Crawler, asyncio.Future[None]]]:
    """(crawler, a future done when its crawl is) for each ``crawl()`` of Scrapy's
    Deferred ``CrawlerProcess``, by spider name (the runner keeps no order).  Its
    ``crawl()`` made the spider, the components and the engine already, and left
    the spider's opening waiting on the reactor's loop, which has not run."""
    from twisted.internet import reactor

    loop = getattr(reactor, "_asyncioEventloop", None)
    if loop is None:
        raise ScriptError("the Deferred CrawlerProcess needs the asyncio reactor (TWISTED_REACTOR)")
    crawlers = sorted(runner.crawlers, key=_spider_name)
    done = {crawler: loop.create_future() for crawler in crawlers}

    def left(result: Any) -> Any:  # a crawl's Deferred fired: which crawlers have gone
        for crawler, future in done.items():
            if crawler not in runner.crawlers and not future.done():
                failure = getattr(result, "value", None)
                if isinstance(failure, BaseException):
                    future.set_exception(failure)
                else:
                    future.set_result(None)
        return result

    for deferred in list(runner._active):
        deferred.addBoth(left)
    return [(crawler, done[crawler]) for crawler in crawlers]


@contextlib.contextmanager
def _unfrozen(settings: Settings) -> Iterator[None]:
    frozen = settings.frozen
    settings.frozen = False
    try:
        yield
    finally:
        settings.frozen = frozen


def install_late(crawler: Crawler, components: dict[str, dict[str, int]] | None = None) -> None:
    """The workbench's components in a crawl whose own are built (Scrapy's Deferred
    ``CrawlerProcess`` builds them in ``crawl()``), before its spider opens: the
    extensions connect their signals, each downloader middleware's methods go to
    the end of the chain its order is nearer to (the error hook next to the
    downloader, the breakpoints next to the engine)."""
    from scrapy.exceptions import NotConfigured
    from scrapy.utils.misc import load_object

    from workbench.core.recording.extension import COMPONENT_SETTINGS

    components = COMPONENT_SETTINGS if components is None else components
    built = []
    for path in components.get("EXTENSIONS", {}):
        try:
            built.append(load_object(path).from_crawler(crawler))
        except NotConfigured:
            continue
    extensions = crawler.extensions
    extensions.middlewares = (*extensions.middlewares, *built)
    methods = crawler.engine.downloader.middleware.methods
    for path, order in components.get("DOWNLOADER_MIDDLEWARES", {}).items():
        mw = load_object(path).from_crawler(crawler)
        engine_side = order < 500
        if hasattr(mw, "process_request"):
            if engine_side:
                methods["process_request"].insert(0, mw.process_request)
            else:
                methods["process_request"].append(mw.process_request)
        for name in ("process_response", "process_exception"):
            if not hasattr(mw, name):
                continue
            if engine_side:  # called last on the way back
                methods[name].append(getattr(mw, name))
            else:
                methods[name].appendleft(getattr(mw, name))


def _crawls(runner: AsyncCrawlerRunner) -> list[tuple[Crawler, asyncio.Future[None]]]:
    """(crawler, task) for each ``crawl()``, in the order they were made."""
    found: list[tuple[Crawler, asyncio.Future[None]]] = []
    for task in runner._active:
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        crawler = frame.f_locals.get("crawler") if frame is not None else None
        if isinstance(crawler, Crawler):
            found.append((crawler, task))
    if len(found) != len(runner._active):
        raise ScriptError("cannot tell which task runs which crawler (not Scrapy's runner?)")
    return sorted(found, key=lambda pair: _task_number(pair[1]))


def _task_number(task: asyncio.Future[None]) -> int:
    name = task.get_name() if isinstance(task, asyncio.Task) else ""
    tail = name.rsplit("-", 1)[-1]
    return int(tail) if tail.isdigit() else 0


def _spider_name(crawler: Crawler) -> str:
    spidercls = crawler.spidercls
    return str(getattr(spidercls, "name", None) or spidercls.__name__)


def _theme(runner: Any) -> str | None:
    theme = runner.settings.get("WORKBENCH_THEME")
    return str(theme) if theme else None


def _quiet_scrapy_root_handler() -> None:
    """The process installed Scrapy's handler on the root logger (stderr): the app
    owns the terminal, the log goes to the Log panel (``LOG_FILE`` still gets it)."""
    from scrapy.utils import log as scrapy_log

    handler = scrapy_log.get_scrapy_root_handler()
    if handler is not None:
        logging.root.removeHandler(handler)
        handler.close()
        scrapy_log._scrapy_root_handler = None  # a crawler's start would put it back
