"""The site of Scrapy's benchmark (``scrapy bench``), served on 127.0.0.1.

Scrapy's own bench server (``scrapy.utils.benchserver``) listens on every
interface, on port 8998; ``workbench bench`` serves the same resource (its
``Root``: each page links to ``show`` random pages out of ``total``) in its
own process, on 127.0.0.1 and a free port.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    # the reactor as a class: Twisted's zope interfaces need the mypy-zope plugin
    from twisted.internet.posixbase import PosixReactorBase

INTERFACE = "127.0.0.1"


def listen_bench(port: int = 0) -> str:
    """Serve Scrapy's bench site with the installed reactor; its root URL."""
    from scrapy.utils.benchserver import Root
    from twisted.internet import reactor
    from twisted.web.server import Site

    site = Site(Root())
    site.noisy = False
    listening = cast("PosixReactorBase", reactor).listenTCP(port, site, interface=INTERFACE)
    return f"http://{INTERFACE}:{listening.getHost().port}"


def main(argv: list[str] | None = None) -> int:
    """Plain Scrapy on the same benchmark: ``scrapy bench``'s spider and settings,
    this module's 127.0.0.1 server (``-s NAME=VALUE`` adds settings)."""
    import argparse

    from scrapy.commands.bench import Command, _BenchSpider
    from scrapy.crawler import CrawlerProcess

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE")
    opts = parser.parse_args(argv)
    settings = dict(Command.default_settings)
    for pair in opts.settings:
        name, _, value = pair.partition("=")
        settings[name] = value
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    process = CrawlerProcess(settings)
    process.crawl(_BenchSpider, total=100000, baseurl=listen_bench())
    process.start()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
