"""Spider contracts (``scrapy check``) run as crawls the workbench records.

Scrapy's own ``ContractsManager`` builds each checked callback's request and
wraps the callback with the contracts' hooks; they report to a
``unittest.TestResult``.  :class:`CheckResults` is that result: it keeps one
:class:`CheckOutcome` per hook run, with the flow of the response it ran on,
so the UI can open the request and response of a failing check.  The spiders
run one after another, each in its own crawler with its own settings, all
recorded by one recorder.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
import traceback
import unittest
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.contracts import ContractsManager
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

from workbench.core.control.host import CrawlHost
from workbench.core.recording.recorder import Recorder

if TYPE_CHECKING:
    from scrapy import Spider

_CASE = re.compile(r"\[(?P<spider>[^\]]*)\] (?P<method>\S+) \((?P<what>.*)\)$")


@dataclass(frozen=True)
class CheckOutcome:
    id: int
    time: float
    spider: str
    callback: str
    contract: str  # "@returns post-hook", "callback", "errback", "contract"...
    result: str  # "pass" | "fail" | "error"
    message: str  # the assertion's or exception's message ("" when it passed)
    traceback: str
    flow_id: int | None  # the response's flow, when the hook ran on one


class CheckResults(unittest.TestResult):
    """What the contracts report, kept as outcomes (newest last)."""

    def __init__(self, flow_of: Callable[[str], int | None]) -> None:
        super().__init__()
        self.flow_of = flow_of  # callback name -> the newest flow of that callback
        self.outcomes: list[CheckOutcome] = []

    def _add(self, test: Any, result: str, err: Any = None) -> None:
        match = _CASE.match(str(test))
        spider, method, what = match.groups() if match else ("?", str(test), "?")
        message = tb = ""
        if err is not None:
            exc_type, exc, exc_tb = err
            message = f"{exc_type.__name__}: {exc}" if result == "error" else str(exc)
            tb = "".join(traceback.format_exception(exc_type, exc, exc_tb))
        flow_id = self.flow_of(method) if what not in ("contract",) else None
        number = len(self.outcomes) + 1
        outcome = CheckOutcome(
            number, time.time(), spider, method, what, result, message, tb, flow_id
        )
        self.outcomes.append(outcome)

    def addSuccess(self, test: Any) -> None:
        super().addSuccess(test)
        self._add(test, "pass")

    def addFailure(self, test: Any, err: Any) -> None:
        super().addFailure(test, err)
        self._add(test, "fail", err)

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        self._add(test, "error", err)

    def summary(self) -> str:
        passed = sum(1 for o in self.outcomes if o.result == "pass")
        failed = sum(1 for o in self.outcomes if o.result == "fail")
        errors = sum(1 for o in self.outcomes if o.result == "error")
        if not failed and not errors:
            return f"Ran {len(self.outcomes)} contract checks: OK"
        parts = [f"failures={failed}"] if failed else []
        parts += [f"errors={errors}"] if errors else []
        return (
            f"Ran {len(self.outcomes)} contract checks ({passed} passed): "
            f"FAILED ({', '.join(parts)})"
        )


def contracts_manager(settings: Any) -> ContractsManager:
    contracts = settings.get_component_priority_dict_with_base("SPIDER_CONTRACTS")
    names = build_component_list(contracts)
    return ContractsManager(load_object(c) for c in names)


def check_settings(settings: Any) -> None:
    """As ``scrapy check``: callbacks' output is discarded, so no pipelines or feeds
    (above the spider's own settings, below the command line)."""
    priority = (SETTINGS_PRIORITIES["spider"] + SETTINGS_PRIORITIES["cmdline"]) // 2
    settings.set("ITEM_PIPELINES", {}, priority=priority)
    settings.set("FEEDS", {}, priority=priority)


def contract_listing(conman: ContractsManager, spiders: list[type[Spider]]) -> str:
    """What ``scrapy check --list`` prints: each spider and its checked callbacks."""
    blocks = []
    for spidercls in sorted(spiders, key=lambda s: s.name):
        methods = conman.tested_methods_from_spidercls(spidercls)
        if methods:
            blocks.append(f"{spidercls.name}\n" + "\n".join(f"  * {m}" for m in sorted(methods)))
    return "\n".join(blocks)


def contracts_start(conman: ContractsManager, results: unittest.TestResult) -> Any:
    """A ``start()`` that yields the spider's contract requests (as scrapy check's)."""

    async def start(self: Any) -> AsyncIterator[Any]:
        for request in conman.from_spider(self, results):
            yield request

    return start


class CheckRun:
    """The spiders' checks, one crawl after another, into one recorder."""

    def __init__(self, settings: Any, spiders: list[type[Spider]], spargs: dict[str, Any]) -> None:
        self.settings = settings
        self.spiders = list(spiders)
        self.spargs = spargs
        self.conman = contracts_manager(settings)
        self.recorder = Recorder()
        self.results = CheckResults(self._flow_of)
        self.index = 0
        self.finished = False
        start = contracts_start(self.conman, self.results)
        for spidercls in self.spiders:
            # as scrapy check does (which also ignores mypy's method-assign)
            spidercls.start = start  # type: ignore[method-assign]
        self.hosts = [CrawlHost(settings, s, spargs, recorder=self.recorder) for s in self.spiders]

    def _flow_of(self, callback: str) -> int | None:
        flow = self.recorder.flows.newest(lambda f: f.callback == callback, 500)
        return flow.id if flow is not None else None

    @property
    def host(self) -> CrawlHost:
        return self.hosts[min(self.index, len(self.hosts) - 1)]

    async def run(self, started: Callable[[CrawlHost], Any] | None = None) -> None:
        with _environ(SCRAPY_CHECK="true"):
            for index, host in enumerate(self.hosts):
                self.index = index
                if started is not None:
                    started(host)
                await host.start()
                await host.wait()
                host.close()
        self.finished = True


@contextlib.contextmanager
def _environ(**values: str) -> Any:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old
