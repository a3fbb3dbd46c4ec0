"""``workbench crawl SPIDER [SPIDER...]``: a spider of the current Scrapy project,
or several at once in one process (one ``MultiSource``)."""

from __future__ import annotations

import argparse
from typing import Any

from workbench.commands.base import CliError
from workbench.commands.crawling import CrawlCommand
from workbench.commands.project import spider_loader


class Crawl(CrawlCommand):
    name = "crawl"
    help = "Run a spider of the current Scrapy project (or several at once) in the workbench"
    syntax = "[options] <spider> [<spider> ...]"
    requires_project = True
    keeps_runs = True

    def spider(
        self, cmd: Any, args: list[str], opts: argparse.Namespace, settings: Any, spargs: dict
    ) -> Any:
        if not args:
            raise CliError("missing spider name: workbench crawl SPIDER [SPIDER...]")
        spider_loader(settings, args)
        if len(set(args)) != len(args):
            raise CliError("a spider is named twice (each runs once)")
        return args[0] if len(args) == 1 else list(args)

    def source(
        self, spider: Any, settings: Any, spargs: dict, opts: argparse.Namespace, cmd: Any,
        args: list[str],
    ) -> Any:  # fmt: skip
        if isinstance(spider, list):  # workbench crawl S1 S2: several crawlers, one process
            return several(spider, settings, spargs)
        return super().source(spider, settings, spargs, opts, cmd, args)


def several(names: list[str], settings: Any, spargs: dict[str, Any]) -> Any:
    """The crawlers of ``workbench crawl S1 S2 …``, sharing one recorder."""
    from workbench.core.control.host import CrawlHost
    from workbench.core.recording.recorder import Limits, Recorder
    from workbench.core.sources.multi import MultiSource

    if settings.get("JOBDIR"):
        raise CliError("JOBDIR holds one spider's job: run the spiders one at a time with it")
    for uri in settings.getdict("FEEDS"):
        if "%(name)s" not in str(uri):
            raise CliError(
                f"the feed {uri} would get every spider's items mixed: put %(name)s in its "
                "name (e.g. -o '%(name)s.jsonl') so each spider writes its own"
            )
    recorder = Recorder(Limits.from_settings(settings))
    hosts = [CrawlHost(settings, name, spargs, recorder=recorder, capture_log=not n)
             for n, name in enumerate(names)]  # fmt: skip
    hosts[0].log_settings = settings  # every crawler's log: the project's LOG_LEVEL, not a spider's
    try:
        for host in hosts:
            host.create()
    except Exception as exc:
        raise CliError(f"cannot create the crawlers: {type(exc).__name__}: {exc}") from None
    return MultiSource(hosts)
