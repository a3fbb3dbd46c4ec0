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

Only crawls that have not started can be adopted: Scrapy's ``CrawlerProcess``
(the Deferred one) starts each crawl inside ``crawl()``, before the workbench
could add its recorder, so :func:`run` refuses it and says to change the
import instead (``from workbench import CrawlerProcess``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Iterable
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
        runner: AsyncCrawlerRunner,
        crawler: Crawler,
        task: asyncio.Task[None],
        recorder: Recorder | None = None,
        capture_log: bool = True,
    ) -> None:
        super().__init__(runner.settings, crawler.spidercls, {}, recorder, capture_log)
        crawler.settings.set_in_component_priority_dict("ADDONS", WorkbenchAddon, 0)
        if recorder is not None:
            setattr(crawler, RECORDER_ATTR, recorder)
        self.runner = runner  # type: ignore[assignment]
        self.crawler = crawler
        self.recorder = recorder_for(crawler)
        self.task = task
        task.add_done_callback(self._on_done)
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
    if not process.settings.frozen:
        process.settings.set_in_component_priority_dict("ADDONS", RecordingAddon, 0)
    for crawler in process.crawlers:
        if crawler.settings.frozen:
            raise ScriptError(
                f"the crawl of {_spider_name(crawler)} has started already: call "
                "workbench.record(process) before process.crawl(), or put "
                '"workbench.RecordingAddon" in the ADDONS setting'
            )
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

    if isinstance(runner, CrawlerRunner):  # CrawlerProcess too
        raise ScriptError(
            f"Scrapy's {type(runner).__name__} starts each crawl inside crawl(), before the "
            "workbench can add its recorder: use scrapy.crawler.AsyncCrawlerProcess "
            "(or AsyncCrawlerRunner), or import CrawlerProcess from workbench instead"
        )
    if not isinstance(runner, AsyncCrawlerRunner):
        raise ScriptError(
            f"workbench.run takes a Scrapy AsyncCrawlerProcess or AsyncCrawlerRunner, "
            f"not {type(runner).__name__}"
        )
    crawls = _crawls(runner)
    if not crawls:
        raise ScriptError("no crawl to run: call process.crawl(SpiderClass) first")
    names = [_spider_name(c) for c, _ in crawls]
    if len(set(names)) != len(names):
        raise ScriptError(f"a spider is crawled twice ({', '.join(names)}): each runs once")
    texts = list(breakpoints)
    for text in texts:
        parse_breakpoint(text)  # a bad one is a ValueError saying where
    for crawler, _ in crawls:
        if crawler.crawling or crawler.settings.frozen:
            raise ScriptError(
                f"the crawl of {_spider_name(crawler)} has started already: call "
                "workbench.run right after process.crawl(), before anything is awaited"
            )
        if texts:
            crawler.settings.set(BREAKPOINTS_SETTING, texts, priority="cmdline")
        crawler.settings.set(KEEP_SETTING, True, priority="command")  # as workbench crawl
    shared = Recorder(Limits.from_settings(runner.settings)) if len(crawls) > 1 else None
    hosts = [
        ScriptHost(runner, crawler, task, shared, capture_log=not n)
        for n, (crawler, task) in enumerate(crawls)
    ]
    if shared is not None:
        hosts[0].log_settings = runner.settings  # the process's LOG_LEVEL, not a spider's
    source = LocalSource(hosts[0]) if len(hosts) == 1 else MultiSource(list(hosts))
    return source, crawls[0][1].get_loop()


def _crawls(runner: AsyncCrawlerRunner) -> list[tuple[Crawler, asyncio.Task[None]]]:
    """(crawler, task) for each ``crawl()``, in the order they were made."""
    found = []
    for task in runner._active:
        coro = task.get_coro()
        frame = getattr(coro, "cr_frame", None)
        crawler = frame.f_locals.get("crawler") if frame is not None else None
        if isinstance(crawler, Crawler):
            found.append((crawler, task))
    if len(found) != len(runner._active):
        raise ScriptError("cannot tell which task runs which crawler (not Scrapy's runner?)")
    return sorted(found, key=lambda pair: _task_number(pair[1]))


def _task_number(task: asyncio.Task[None]) -> int:
    name = task.get_name()
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
