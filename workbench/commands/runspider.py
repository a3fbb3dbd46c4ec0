"""``workbench runspider FILE.py``: the spider in a Python file (no project needed)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.commands.base import CliError
from workbench.commands.crawling import CrawlCommand


class RunSpider(CrawlCommand):
    name = "runspider"
    help = "Run the spider in a Python file in the workbench (no project needed)"
    syntax = "[options] <spider_file>"
    keeps_runs = True

    def spider(
        self, cmd: Any, args: list[str], opts: argparse.Namespace, settings: Any, spargs: dict
    ) -> Any:
        from scrapy.commands.runspider import _import_file
        from scrapy.utils.spider import iter_spider_classes

        if not args:
            raise CliError("missing spider file: workbench runspider FILE.py")
        if len(args) > 1:
            raise CliError("runspider takes one file")
        path = Path(args[0])
        if not path.exists():
            raise CliError(f"file not found: {path}")
        try:
            module = _import_file(path)
        except (ImportError, ValueError) as exc:
            raise CliError(f"cannot load {str(path)!r}: {exc}") from None
        except Exception as exc:
            raise CliError(f"cannot load {str(path)!r}: {type(exc).__name__}: {exc}") from None
        classes = list(iter_spider_classes(module))
        if not classes:
            raise CliError(f"no spider found in file: {path}")
        return classes.pop()
