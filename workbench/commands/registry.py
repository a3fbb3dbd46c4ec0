"""Every ``workbench`` command, once: ``main()`` dispatches from ``COMMANDS`` and
the top-level help lists it, in this order."""

from __future__ import annotations

from workbench.commands import (
    attach,
    bench,
    check,
    crawl,
    demo,
    fleet,
    open_har,
    parse,
    ps,
    runs,
    runspider,
)
from workbench.commands.base import Command

COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        crawl.Crawl(),
        runspider.RunSpider(),
        demo.Demo(),
        bench.Bench(),
        parse.Parse(),
        open_har.OpenHar(),
        check.Check(),
        ps.Ps(),
        fleet.Fleet(),
        runs.Runs(),
        attach.Attach(),
    )
}
