"""Command line: ``workbench crawl|runspider|demo`` with Scrapy's own options.

Option parsing reuses Scrapy's command classes (``-a``, ``-s``, ``-o``,
``-O``, ``-L``, ``--logfile``, ``--nolog``), so what works after
``scrapy crawl`` works after ``workbench crawl``.  Bad input gives one
line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.commands.base import THEME_HELP, CliError, check_theme
from workbench.commands.project import project_settings, require_project, spider_loader
from workbench.commands.registry import COMMANDS
from workbench.commands.running import (
    run_app,
    run_headless,
    run_web,
    say,
)

logger = logging.getLogger("workbench")

SUBCOMMANDS = {
    "crawl": "Run a spider of the current Scrapy project (or several at once) in the workbench",
    "runspider": "Run the spider in a Python file in the workbench (no project needed)",
    "demo": "Crawl the bundled demo site in the workbench (no project, no network)",
    "bench": "Scrapy's benchmark (scrapy bench) in the workbench: pages/min, live",
    "parse": "Parse a URL with its spider (scrapy parse): a tree of requests and items by depth",
    "open": "Open a saved HAR file (workbench's or a browser's) read-only in the panels",
    "check": "Run the spiders' contracts (scrapy check) in the workbench",
    "ps": "List this user's running Scrapy crawls (RemoteControl job files)",
    "attach": "Attach the panels to a running crawl (--shell: a Python shell inside it)",
}


LEAKY_PAGES = 5000
LEAKY_DELAY = 0.02  # seconds between requests: about 50 pages/s, a few minutes in all
# demo --throttle: AutoThrottle on, starting at 1 s so the delays converge in view
THROTTLE_SETTINGS = {"AUTOTHROTTLE_ENABLED": True, "AUTOTHROTTLE_START_DELAY": 1.0}


def _version() -> str:
    import scrapy

    from workbench import __version__

    return f"workbench {__version__} (Scrapy {scrapy.__version__})"


def _top_help() -> str:
    lines = [
        _version(),
        "",
        "Usage: workbench <command> [options] [args]",
        "",
        "Commands:",
    ]
    lines += [f"  {name:<11} {desc}" for name, desc in SUBCOMMANDS.items()]
    lines += [
        "",
        "Options:",
        "  --version   show the version and exit",
        "  -h, --help  show this help and exit",
        "",
        'Use "workbench <command> -h" for the options of a command.',
        "In the app, press ? for every key.",
    ]
    return "\n".join(lines)


def _command_class(name: str) -> type:
    from scrapy.commands import BaseRunSpiderCommand

    base: type = BaseRunSpiderCommand
    if name == "parse":  # scrapy parse's options and hooks, recording a tree
        from workbench.core.inspection.parse import ParseCommand

        base = ParseCommand

    class Command(base):
        requires_project = name in ("crawl", "parse")
        if name == "bench":  # scrapy bench's own: 10 s, stats every second
            from scrapy.commands.bench import Command as _Bench

            default_settings = {**BaseRunSpiderCommand.default_settings, **_Bench.default_settings}

        def syntax(self) -> str:
            return {
                "crawl": "[options] <spider> [<spider> ...]",
                "runspider": "[options] <spider_file>",
                "demo": "[options]",
                "bench": "[options]",
                "parse": "[options] <url>",
            }[name]

        def short_desc(self) -> str:
            return SUBCOMMANDS[name]

        def long_desc(self) -> str:
            if name == "parse":
                return (
                    "Download URL and parse it with the spider that handles it (or "
                    "--spider), as scrapy parse: the callback from -c, --rules or the "
                    "request; the requests it returns are followed down to --depth. The "
                    "workbench shows the tree of responses, items and requests by depth "
                    "(Enter: a node's flow; p: selector playground) and prints scrapy "
                    "parse's report after exit."
                )
            return super().long_desc()

        def add_options(self, parser: argparse.ArgumentParser) -> None:
            super().add_options(parser)
            parser.add_argument(
                "--theme",
                metavar="NAME",
                help=THEME_HELP,
            )
            parser.add_argument(
                "--har",
                metavar="FILE",
                help=(
                    "when the crawl is over, save its recorded flows to FILE as HAR 1.2 "
                    "(credentials redacted; W in the Flows panel saves the flows shown)"
                ),
            )
            parser.add_argument(
                "--web",
                action="store_true",
                help=(
                    "serve the app to a browser instead (textual-serve, on 127.0.0.1, "
                    "behind a random token in the URL it prints); the crawl runs while "
                    "the page is open"
                ),
            )
            parser.add_argument(
                "--port",
                type=int,
                default=0,
                metavar="N",
                help="with --web: the port to serve on (default: a free one)",
            )
            parser.add_argument(
                "--pdb",
                action="store_true",
                help="break into the workbench shell on any spider error (a breakpoint)",
            )
            parser.add_argument(
                "--break",
                dest="breaks",
                action="append",
                default=[],
                metavar="[KIND:]EXPR",
                help=(
                    "pause on a breakpoint (repeatable). KIND is response (the default), "
                    "error, item or dropped; EXPR is a flow filter, e.g. '~s 404', "
                    "'error: ~u /product/', 'item: !~f price'"
                ),
            )
            if name == "demo":
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

        def run(self, args: list[str], opts: argparse.Namespace) -> None:  # pragma: no cover
            raise NotImplementedError

    return Command


def _parse(name: str, argv: list[str], settings: Any) -> tuple[Any, argparse.Namespace, list[str]]:
    from scrapy.cmdline import ScrapyArgumentParser
    from scrapy.commands import ScrapyHelpFormatter
    from scrapy.exceptions import UsageError

    cmd = _command_class(name)()
    parser = ScrapyArgumentParser(
        prog=f"workbench {name}",
        formatter_class=ScrapyHelpFormatter,
        usage=f"workbench {name} {cmd.syntax()}",
        conflict_handler="resolve",
        description=cmd.long_desc(),
    )
    settings.setdict(cmd.default_settings, priority="command")
    cmd.settings = settings
    cmd.add_options(parser)
    try:
        opts, args = parser.parse_known_args(args=argv)
    except SystemExit as exc:  # --help (0) or argparse's own error (2)
        if exc.code in (0, None):
            raise
        raise CliError("invalid options (see the message above)") from None
    unknown = [a for a in args if a.startswith("-") and a not in ("-",)]
    if unknown:
        raise CliError(f"unknown option {unknown[0]} (see workbench {name} -h)")
    if opts.profile:
        raise CliError("--profile is not supported by workbench (use scrapy crawl --profile)")
    breaks = _breakpoints(opts)
    opts.pdb = False  # Scrapy's --pdb would start pdb inside the UI; ours is a breakpoint
    if breaks:
        settings.set("WORKBENCH_BREAKPOINTS", breaks, priority="cmdline")
    try:
        cmd.process_options(args, opts)
    except UsageError as exc:
        raise CliError(str(exc).strip()) from None
    return cmd, opts, args


def _breakpoints(opts: argparse.Namespace) -> list[str]:
    from workbench.core.control.breakpoints import parse_breakpoint

    texts = list(opts.breaks)
    if opts.pdb:
        texts.append("error")
    for text in texts:
        try:
            parse_breakpoint(text)
        except ValueError as exc:  # FilterError too: its message has the column
            raise CliError(f"bad --break {text!r}: {exc}") from None
    return texts


def _spider_for_crawl(args: list[str], settings: Any) -> Any:
    if not args:
        raise CliError("missing spider name: workbench crawl SPIDER [SPIDER...]")
    spider_loader(settings, args)
    if len(set(args)) != len(args):
        raise CliError("a spider is named twice (each runs once)")
    return args[0] if len(args) == 1 else list(args)


def _spider_for_file(args: list[str]) -> Any:
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


def _spider_for_parse(args: list[str], opts: argparse.Namespace, settings: Any) -> Any:
    """scrapy parse's spider: --spider, or the one spider that handles the URL."""
    from scrapy import Request
    from w3lib.url import is_url

    if len(args) != 1 or not is_url(args[0]):
        raise CliError("parse takes one URL, e.g. workbench parse https://example.com/page")
    if opts.depth < 1:
        raise CliError("--depth must be at least 1")
    loader = spider_loader(settings, [opts.spider] if opts.spider else [])
    if opts.spider:
        return loader.load(opts.spider)
    matches = loader.find_by_request(Request(args[0]))
    if len(matches) != 1:
        how = (
            f"several spiders handle {args[0]} ({', '.join(sorted(matches))})"
            if matches
            else f"no spider of this project handles {args[0]} (by its name or allowed_domains)"
        )
        raise CliError(f"{how}; name one with --spider NAME")
    return loader.load(matches[0])


def build(name: str, argv: list[str]) -> tuple[Any, Any, argparse.Namespace]:
    """Parse a command line; return (source, settings, options) ready for the app."""
    from workbench.core.control.host import CrawlHost
    from workbench.core.sources.local import LocalSource, ParseSource
    from workbench.shell.session import install

    install()  # before spider modules import scrapy.shell.inspect_response
    settings = project_settings()
    cmd, opts, args = _parse(name, argv, settings)  # --help works anywhere
    if opts.port and not opts.web:
        raise CliError("--port goes with --web")
    if opts.har is not None:
        har = Path(opts.har).expanduser()
        if har.is_dir() or not har.parent.is_dir():
            raise CliError(f"--har {opts.har}: not a file in an existing directory")
    if not 0 <= opts.port <= 65535:
        raise CliError("--port must be between 1 and 65535")
    if opts.theme is not None:
        settings.set("WORKBENCH_THEME", check_theme(opts.theme), priority="cmdline")
    if name in ("crawl", "parse"):
        require_project()
    prepare = None
    spargs = dict(opts.spargs)
    if name == "crawl":
        spider: Any = _spider_for_crawl(args, settings)
    elif name == "runspider":
        spider = _spider_for_file(args)
    elif name == "parse":
        spider = _spider_for_parse(args, opts, settings)
        cmd.start_for(spider, args[0], opts)
    elif name == "bench":
        if args:
            raise CliError(f"bench takes no arguments, got {args[0]!r}")
        from scrapy.commands.bench import _BenchSpider

        spider = _BenchSpider
        spargs.setdefault("total", 100000)  # as scrapy bench

        async def prepare() -> None:
            from workbench.demo.bench import listen_bench

            spargs_url = listen_bench()
            host.spider_kwargs.setdefault("baseurl", spargs_url)
    else:
        if args:
            raise CliError(f"demo takes no arguments, got {args[0]!r}")
        if opts.pages is None:
            opts.pages = LEAKY_PAGES if opts.leaky else 200
        if opts.pages < 1:
            raise CliError("--pages must be at least 1")
        from scrapy.settings import SETTINGS_PRIORITIES

        from workbench.demo.spider import DemoSpider

        spider = DemoSpider
        pages, slow = opts.pages, opts.slow_delay
        if opts.review_latency < 0:
            raise CliError("--review-latency must be at least 0")
        review_latency = opts.review_latency
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

        async def prepare() -> None:
            from workbench.demo.site import listen, url_of

            port = listen(pages=pages, slow_delay=slow, review_latency=review_latency)
            host.spider_kwargs.setdefault("url", url_of(port))

    if isinstance(spider, list):  # workbench crawl S1 S2: several crawlers, one process
        return _several(spider, settings, spargs, opts), settings, opts
    host = CrawlHost(settings, spider, spargs)
    try:
        crawler = host.create()
    except Exception as exc:
        raise CliError(f"cannot create the crawler: {type(exc).__name__}: {exc}") from None
    if name == "parse":
        cmd.attach(crawler, args[0], opts)
        return ParseSource(host, cmd), settings, opts
    return LocalSource(host, prepare), settings, opts


def _several(names: list[str], settings: Any, spargs: dict[str, Any], opts: Any) -> Any:
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


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(_top_help())
        return 0
    if argv[0] == "--version":
        print(_version())
        return 0
    name, rest = argv[0], argv[1:]
    command = COMMANDS.get(name)  # the commands moved to workbench/commands so far
    if command is None and name not in SUBCOMMANDS:
        print(
            f"workbench: unknown command {name!r} (commands: {', '.join(SUBCOMMANDS)})",
            file=sys.stderr,
        )
        return 1
    try:
        return command.run(rest) if command is not None else _crawl(name, rest)
    except CliError as exc:
        print(f"workbench {name}: error: {exc.line()}", file=sys.stderr)
        return 1


def _crawl(name: str, rest: list[str]) -> int:
    try:
        source, settings, opts = build(name, rest)
    except SystemExit as exc:  # --help
        return int(exc.code or 0)
    from workbench.core.control.watchdog import WATCHDOG

    WATCHDOG.log_file = settings.get("LOG_FILE")  # where a stuck exit's stacks go too
    if opts.web:
        source.close()  # the browser session's own process runs the crawl
        return run_web(name, rest, opts.port)
    jobdir = settings.get("JOBDIR")
    if jobdir:
        from workbench.core.control.jobdir import inspect_job, mark_running

        source.resumed_job = inspect_job(jobdir)
        if source.resumed_job is not None:
            say(f"workbench: {source.resumed_job.summary()}")
            if source.resumed_job.problem:
                say(f"workbench: warning: {source.resumed_job.problem}")
        previous = source.prepare

        async def prepare() -> None:  # the crawl starts: the job is in use from now on
            mark_running(jobdir)
            if previous is not None:
                await previous()

        source.prepare = prepare
    if os.environ.get("WORKBENCH_NO_UI") or (name == "parse" and not _interactive()):
        # Headless run (CI smoke checks, parse's report into a pipe): no terminal UI.
        code = run_headless(source)
    else:
        code = run_app(source, theme=settings.get("WORKBENCH_THEME"),
                       panel="stats" if name == "bench" else "flows")  # fmt: skip
    if jobdir and source.snapshot().status.state == "finished":
        from workbench.core.control.jobdir import mark_stopped

        mark_stopped(jobdir)  # closed cleanly: the next run resumes without a warning
    if name == "bench":
        say(bench_result(source.snapshot()), err=False)
    if name == "parse":
        code = report_parse(source, opts) or code
    if opts.har:
        from workbench.core.control.watchdog import WATCHDOG

        with WATCHDOG.paused():  # a large session takes its time to write
            code = save_har_at_exit(source, opts.har) or code
    return code


def _interactive() -> bool:
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


def save_har_at_exit(source: Any, path: str) -> int:
    """``--har FILE``: every flow the recorder kept; 1 (and why) if it cannot be written."""
    from workbench.core.formats.har import save_har

    flows = source.flows_since(0)
    try:
        written = save_har(source, flows, path)
    except OSError as exc:
        say(f"workbench: cannot save the HAR file: {exc}")
        return 1
    say(f"workbench: {len(flows):,} flows saved to {written} as HAR (credentials redacted)", False)
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


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
