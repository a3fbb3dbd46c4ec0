"""``workbench parse URL``: scrapy parse in the workbench, the tree of responses,
items and requests by depth in a panel, and scrapy parse's report after exit."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from workbench.commands.base import CliError
from workbench.commands.crawling import CrawlCommand, create_crawler
from workbench.commands.project import spider_loader
from workbench.commands.running import say


class Parse(CrawlCommand):
    name = "parse"
    help = "Parse a URL with its spider (scrapy parse): a tree of requests and items by depth"
    description = (
        "Download URL and parse it with the spider that handles it (or "
        "--spider), as scrapy parse: the callback from -c, --rules or the "
        "request; the requests it returns are followed down to --depth. The "
        "workbench shows the tree of responses, items and requests by depth "
        "(Enter: a node's flow; p: selector playground) and prints scrapy "
        "parse's report after exit."
    )
    syntax = "[options] <url>"
    requires_project = True

    def scrapy_base(self) -> type:
        from workbench.core.inspection.parse import ParseCommand

        return ParseCommand  # scrapy parse's options and hooks, recording a tree

    def spider(
        self, cmd: Any, args: list[str], opts: argparse.Namespace, settings: Any, spargs: dict
    ) -> Any:
        """scrapy parse's spider: --spider, or the one spider that handles the URL."""
        from scrapy import Request
        from w3lib.url import is_url

        if len(args) != 1 or not is_url(args[0]):
            raise CliError("parse takes one URL, e.g. workbench parse https://example.com/page")
        if opts.depth < 1:
            raise CliError("--depth must be at least 1")
        loader = spider_loader(settings, [opts.spider] if opts.spider else [])
        if opts.spider:
            spider = loader.load(opts.spider)
        else:
            matches = loader.find_by_request(Request(args[0]))
            if len(matches) != 1:
                how = (
                    f"several spiders handle {args[0]} ({', '.join(sorted(matches))})"
                    if matches
                    else f"no spider of this project handles {args[0]} "
                    "(by its name or allowed_domains)"
                )
                raise CliError(f"{how}; name one with --spider NAME")
            spider = loader.load(matches[0])
        cmd.start_for(spider, args[0], opts)
        return spider

    def source(
        self, spider: Any, settings: Any, spargs: dict, opts: argparse.Namespace, cmd: Any,
        args: list[str],
    ) -> Any:  # fmt: skip
        from workbench.core.sources.local import ParseSource

        host, crawler = create_crawler(settings, spider, spargs)
        cmd.attach(crawler, args[0], opts)
        return ParseSource(host, cmd)

    def headless(self) -> bool:
        return super().headless() or not interactive()  # the report into a pipe

    def after(self, source: Any, opts: argparse.Namespace) -> int:
        return report_parse(source, opts)


def interactive() -> bool:
    """A terminal to draw on: a tty, or a browser page (--web runs us under Textual's
    web driver, with pipes for stdin and stdout)."""
    if "web_driver" in os.environ.get("TEXTUAL_DRIVER", ""):
        return True
    return sys.stdin.isatty() and sys.stdout.isatty()


def report_parse(source: Any, opts: argparse.Namespace) -> int:
    """scrapy parse's report; 1 (and why) when the URL got no response."""
    command = source.command
    tree = command.tree
    command.print_results(opts)
    if command.first_response is None:
        from workbench.core.formats.sanitize import clean_line

        why = tree.root_error or source.snapshot().status.error or "the crawl was stopped"
        say(f"workbench parse: error: no response for {tree.url}: {clean_line(why, 400)}")
        return 1
    return 0
