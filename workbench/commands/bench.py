"""``workbench bench``: Scrapy's benchmark (``scrapy bench``: its spider, its
settings, its local site) in the workbench, on the Stats panel, with the
pages/min figure printed after."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.commands.base import CliError
from workbench.commands.crawling import CrawlCommand, Prepare
from workbench.commands.running import say


class Bench(CrawlCommand):
    name = "bench"
    help = "Scrapy's benchmark (scrapy bench) in the workbench: pages/min, live"
    syntax = "[options]"
    panel = "stats"

    def scrapy_settings(self) -> dict[str, Any]:
        from scrapy.commands.bench import Command as ScrapyBench

        return dict(ScrapyBench.default_settings)  # scrapy bench's own: 10 s, stats every second

    def spider(
        self, cmd: Any, args: list[str], opts: argparse.Namespace, settings: Any, spargs: dict
    ) -> Any:
        from scrapy.commands.bench import _BenchSpider

        if args:
            raise CliError(f"bench takes no arguments, got {args[0]!r}")
        spargs.setdefault("total", 100000)  # as scrapy bench
        return _BenchSpider

    def prepare(self, host: Any, opts: argparse.Namespace) -> Prepare:
        async def prepare() -> None:  # scrapy bench's site, on a free port of 127.0.0.1
            from workbench.demo.bench import listen_bench

            host.spider_kwargs.setdefault("baseurl", listen_bench())

        return prepare

    def after(self, source: Any, opts: argparse.Namespace) -> int:
        say(bench_result(source.snapshot()), err=False)
        return 0


def bench_result(snapshot: Any) -> str:
    """The benchmark's figure: pages/min over the whole crawl, from Scrapy's stats."""
    stats = snapshot.stats
    pages = int(stats.get("response_received_count", 0))
    seconds = float(stats.get("elapsed_time_seconds") or snapshot.elapsed or 0)
    rate = pages * 60 / seconds if seconds > 0 else 0.0
    return (
        f"workbench bench: {pages:,} pages in {seconds:.2f} s: {rate:,.0f} pages/min "
        "(response_received_count / elapsed_time_seconds; scrapy bench logs the same "
        "stats at its end)"
    )
