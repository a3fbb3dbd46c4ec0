"""``workbench bench``: Scrapy's benchmark (``scrapy bench``: its spider, its
settings, its local site) in the workbench, on the Stats panel, with the
pages/min figure printed after."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.commands.base import CliError
from workbench.commands.crawling import CrawlCommand
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

    def source(
        self, spider: Any, settings: Any, spargs: dict, opts: argparse.Namespace, cmd: Any,
        args: list[str],
    ) -> Any:  # fmt: skip
        """Scrapy's bench site in a process of its own, as scrapy bench serves it (on
        127.0.0.1 and a free port): serving it in the crawl's process would take its
        share of the one core the crawl runs on, and the figure would not be scrapy
        bench's."""
        import atexit

        from workbench.demo.bench import BenchServer

        self.server = BenchServer()
        try:
            spargs.setdefault("baseurl", self.server.start())
        except RuntimeError as exc:
            raise CliError(str(exc)) from None
        atexit.register(self.server.stop)
        return super().source(spider, settings, spargs, opts, cmd, args)

    def after(self, source: Any, opts: argparse.Namespace) -> int:
        self.server.stop()
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
