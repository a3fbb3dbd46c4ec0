"""The site of Scrapy's benchmark (``scrapy bench``), served on 127.0.0.1.

Scrapy's own bench server (``scrapy.utils.benchserver``) listens on every
interface, on port 8998, in a process of its own (``scrapy bench`` starts it
as a subprocess, so the crawl has its process to itself). ``workbench bench``
does the same with the same resource (its ``Root``: each page links to
``show`` random pages out of ``total``), on 127.0.0.1 and a free port:
``BenchServer`` starts ``python -m workbench.demo.bench --serve``.
"""

from __future__ import annotations

import subprocess
import sys
from typing import TYPE_CHECKING, cast

if TYPE_CHECKING:
    # the reactor as a class: Twisted's zope interfaces need the mypy-zope plugin
    from twisted.internet.posixbase import PosixReactorBase

INTERFACE = "127.0.0.1"
START_TIMEOUT = 30.0  # seconds for the server's process to say where it listens


def listen_bench(port: int = 0) -> str:
    """Serve Scrapy's bench site with the installed reactor; its root URL."""
    from scrapy.utils.benchserver import Root
    from twisted.internet import reactor
    from twisted.web.server import Site

    site = Site(Root())
    site.noisy = False
    listening = cast("PosixReactorBase", reactor).listenTCP(port, site, interface=INTERFACE)
    return f"http://{INTERFACE}:{listening.getHost().port}"


class BenchServer:
    """Scrapy's bench site in a process of its own, as ``scrapy bench`` runs it:
    ``url`` once started; stopped on ``stop()`` (or leaving the ``with``), and
    with this process, since its stdin is a pipe from here."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> str:
        import select

        self.proc = subprocess.Popen(
            [sys.executable, "-u", "-m", "workbench.demo.bench", "--serve"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith(f"http://{INTERFACE}:"):
            self.stop()
            raise RuntimeError(
                "Scrapy's bench site did not start (python -m workbench.demo.bench --serve)"
            )
        self.url = line
        return line

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()

    def __enter__(self) -> str:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve() -> int:
    """Serve the bench site until stdin closes (the parent went away)."""
    import threading

    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor

    print(listen_bench(), flush=True)
    running = cast("PosixReactorBase", reactor)

    def watch_stdin() -> None:
        sys.stdin.read()
        running.callFromThread(running.stop)

    threading.Thread(target=watch_stdin, daemon=True).start()
    running.run(installSignalHandlers=False)
    return 0


def main(argv: list[str] | None = None) -> int:
    """Plain Scrapy on the same benchmark: ``scrapy bench``'s spider and settings,
    the bench site in a process of its own on 127.0.0.1 (``-s NAME=VALUE`` adds
    settings; ``--serve`` only serves the site, printing its URL)."""
    import argparse

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("-s", dest="settings", action="append", default=[], metavar="NAME=VALUE")
    parser.add_argument("--serve", action="store_true", help="serve the bench site only")
    opts = parser.parse_args(argv)
    if opts.serve:
        return serve()
    from scrapy.commands.bench import Command, _BenchSpider
    from scrapy.crawler import CrawlerProcess
    from scrapy.utils.reactor import install_reactor

    settings = dict(Command.default_settings)
    for pair in opts.settings:
        name, _, value = pair.partition("=")
        settings[name] = value
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    with BenchServer() as url:
        process = CrawlerProcess(settings)
        process.crawl(_BenchSpider, total=100000, baseurl=url)
        process.start()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
