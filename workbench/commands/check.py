"""``workbench check [SPIDER...]``: the spiders' contracts, as ``scrapy check``,
with a results table and each check's request and response in the panels."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from typing import Any

from workbench.commands.base import THEME_HELP, CliError, Command, check_theme
from workbench.commands.project import project_settings, require_project, spider_loader
from workbench.commands.running import run_app, say


class Check(Command):
    name = "check"
    help = "Run the spiders' contracts (scrapy check) in the workbench"
    description = (
        "Run the spiders' contracts (@url, @cb_kwargs, @returns, @scrapes and "
        "SPIDER_CONTRACTS) in the workbench: a results table, each check's request and "
        "response. Exit status 1 when a contract fails, as scrapy check."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("spiders", nargs="*", metavar="SPIDER", help="default: every spider")
        parser.add_argument("-l", "--list", action="store_true", help="only list the contracts")
        parser.add_argument(
            "-v",
            "--verbose",
            action="store_true",
            help="with --list: spiders without contracts too",
        )
        parser.add_argument(
            "-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE",
            help="spider argument (may be repeated)",
        )  # fmt: skip
        parser.add_argument(
            "-s", dest="set", action="append", default=[], metavar="NAME=VALUE",
            help="setting (may be repeated)",
        )  # fmt: skip
        parser.add_argument("--theme", metavar="NAME", help=THEME_HELP)

    def execute(self, opts: argparse.Namespace) -> int:
        from scrapy.utils.conf import arglist_to_dict

        from workbench.core.inspection.contracts import (
            CheckRun,
            check_settings,
            contract_listing,
            contracts_manager,
        )
        from workbench.shell.session import install

        install()
        require_project()
        settings = project_settings()
        try:
            settings.setdict(arglist_to_dict(opts.set), priority="cmdline")
            spargs = arglist_to_dict(opts.spargs)
        except ValueError:
            raise CliError("use -a NAME=VALUE and -s NAME=VALUE") from None
        settings.set("LOG_ENABLED", False, priority="command")  # as scrapy check
        check_settings(settings)
        check_theme(opts.theme)
        loader = spider_loader(settings, opts.spiders)
        classes = [loader.load(name) for name in (opts.spiders or sorted(loader.list()))]
        conman = contracts_manager(settings)
        if opts.list:
            listing = contract_listing(conman, classes)
            if opts.verbose:
                bare = [c.name for c in classes if not conman.tested_methods_from_spidercls(c)]
                listing = "\n".join([listing, *bare]).strip()
            print(listing)
            return 0
        classes = [c for c in classes if conman.tested_methods_from_spidercls(c)]
        if not classes:
            print("workbench check: no contracts to check")
            return 0
        run = CheckRun(settings, classes, spargs)
        if os.environ.get("WORKBENCH_NO_UI") or not sys.stdin.isatty():
            run_checks_headless(run)
        else:
            from workbench.core.sources.local import CheckSource

            run_app(CheckSource(run), theme=opts.theme)
        return report_checks(run)


def run_checks_headless(run: Any) -> None:
    """The checks without the UI (no terminal, or WORKBENCH_NO_UI)."""
    from workbench.core.control.host import ensure_reactor, stop_reactor_threads

    async def go() -> None:
        ensure_reactor(run.settings)
        await run.run()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(go())
    finally:
        stop_reactor_threads()


def report_checks(run: Any) -> int:
    """scrapy check's report: each failure with its traceback, then the summary."""
    from workbench.core.formats.sanitize import clean

    results = run.results
    for outcome in results.outcomes:
        if outcome.result != "pass":
            kind = "FAIL" if outcome.result == "fail" else "ERROR"
            print("=" * 70)
            say(f"{kind}: [{outcome.spider}] {outcome.callback} ({outcome.contract})", False)
            print("-" * 70)
            print(clean(outcome.traceback or outcome.message).rstrip())
    print("-" * 70)
    print(results.summary())
    return 0 if results.wasSuccessful() and run.finished else 1
