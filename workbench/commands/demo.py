"""``workbench demo``: the bundled demo site, served on 127.0.0.1, crawled by the
demo spider (no project, no network); ``--leaky``, ``--bugs`` and ``--throttle``
make it misbehave to practise the panels on."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.commands.base import CliError
from workbench.commands.crawling import CrawlCommand, Prepare

LEAKY_PAGES = 5000
LEAKY_DELAY = 0.02  # seconds between requests: about 50 pages/s, a few minutes in all
# demo --throttle: AutoThrottle on, starting at 1 s so the delays converge in view
THROTTLE_SETTINGS = {"AUTOTHROTTLE_ENABLED": True, "AUTOTHROTTLE_START_DELAY": 1.0}


class Demo(CrawlCommand):
    name = "demo"
    help = "Crawl the bundled demo site in the workbench (no project, no network)"
    syntax = "[options]"
    keeps_runs = True

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--pages",
            type=int,
            default=None,
            metavar="N",
            help="products in the demo catalogue (default: 200; 5000 with --leaky)",
        )
        parser.add_argument(
            "--leaky",
            action="store_true",
            help=(
                "make the demo spider leak responses through cb_kwargs (as in "
                "Scrapy's memory-leak docs), paced to a few minutes, to practise "
                "the Refs and Memory panels on"
            ),
        )
        parser.add_argument(
            "--bugs",
            action="store_true",
            help=(
                "make the demo spider misbehave (callback errors, items without "
                "a price) to practise breakpoints on"
            ),
        )
        parser.add_argument(
            "--throttle",
            action="store_true",
            help=(
                "turn AutoThrottle on and read each product's reviews from a slow "
                "endpoint that answers 503 in bursts, on its own slot, to practise "
                "the Slots panel on"
            ),
        )
        parser.add_argument(
            "--review-latency",
            type=float,
            default=0.3,
            metavar="SECONDS",
            help="latency of the demo site's review pages (default: 0.3)",
        )
        parser.add_argument(
            "--slow-delay",
            type=float,
            default=0.5,
            metavar="SECONDS",
            help="delay of the demo site's slow page (default: 0.5)",
        )

    def spider(
        self, cmd: Any, args: list[str], opts: argparse.Namespace, settings: Any, spargs: dict
    ) -> Any:
        from scrapy.settings import SETTINGS_PRIORITIES

        from workbench.demo.spider import DemoSpider

        if args:
            raise CliError(f"demo takes no arguments, got {args[0]!r}")
        if opts.pages is None:
            opts.pages = LEAKY_PAGES if opts.leaky else 200
        if opts.pages < 1:
            raise CliError("--pages must be at least 1")
        if opts.review_latency < 0:
            raise CliError("--review-latency must be at least 0")
        if opts.bugs:
            spargs.setdefault("bugs", "1")
        if opts.leaky:
            spargs.setdefault("leak", "1")
            if settings.getpriority("DOWNLOAD_DELAY") <= SETTINGS_PRIORITIES["default"]:
                # paced, so the growth shows over minutes rather than seconds
                settings.set("DOWNLOAD_DELAY", LEAKY_DELAY, priority="project")
        if opts.throttle:
            spargs.setdefault("reviews", "1")
            for name, value in THROTTLE_SETTINGS.items():
                if settings.getpriority(name) <= SETTINGS_PRIORITIES["default"]:
                    settings.set(name, value, priority="project")
        return DemoSpider

    def prepare(self, host: Any, opts: argparse.Namespace) -> Prepare:
        pages, slow, review_latency = opts.pages, opts.slow_delay, opts.review_latency

        async def prepare() -> None:  # the site, on a free port of 127.0.0.1
            from workbench.demo.site import listen, url_of

            port = listen(pages=pages, slow_delay=slow, review_latency=review_latency)
            host.spider_kwargs.setdefault("url", url_of(port))

        return prepare
