"""Command line: ``workbench crawl|runspider|demo`` with Scrapy's own options.

Option parsing reuses Scrapy's command classes (``-a``, ``-s``, ``-o``,
``-O``, ``-L``, ``--logfile``, ``--nolog``), so what works after
``scrapy crawl`` works after ``workbench crawl``.  Bad input gives one
line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.commands.base import THEME_HELP, CliError, check_theme
from workbench.commands.running import (
    AppRun,
    print_leftovers,
    run_app,
    run_headless,
    run_web,
    say,
    summary,
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


def _require_project() -> None:
    from scrapy.utils.project import inside_project

    if not inside_project():
        raise CliError(
            "not inside a Scrapy project: no scrapy.cfg here or in a parent directory, "
            "and SCRAPY_SETTINGS_MODULE is not set (use 'workbench runspider FILE.py' "
            "or 'workbench demo')"
        )


def _project_settings() -> Any:
    from scrapy.utils.project import get_project_settings

    try:
        return get_project_settings()
    except Exception as exc:
        raise CliError(f"cannot load the project settings: {type(exc).__name__}: {exc}") from None


def _spider_loader(settings: Any, names: Sequence[str] = ()) -> Any:
    """The project's spider loader, once each of ``names`` is known to be a spider of it."""
    from scrapy.spiderloader import get_spider_loader

    try:
        loader = get_spider_loader(settings)
    except Exception as exc:
        raise CliError(f"cannot load the project's spiders: {type(exc).__name__}: {exc}") from None
    available = sorted(loader.list())
    for name in names:
        if name not in available:
            listing = ", ".join(available) if available else "none"
            raise CliError(f"unknown spider {name!r}; spiders in this project: {listing}")
    return loader


def _spider_for_crawl(args: list[str], settings: Any) -> Any:
    if not args:
        raise CliError("missing spider name: workbench crawl SPIDER [SPIDER...]")
    _spider_loader(settings, args)
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
    loader = _spider_loader(settings, [opts.spider] if opts.spider else [])
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
    settings = _project_settings()
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
        _require_project()
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
    if name == "ps":
        return ps(rest)
    if name == "open":
        return open_har(rest)
    if name == "check":
        return check(rest)
    if name == "attach":
        return attach(rest)
    if name not in SUBCOMMANDS:
        print(
            f"workbench: unknown command {name!r} (commands: {', '.join(SUBCOMMANDS)})",
            file=sys.stderr,
        )
        return 1
    try:
        return _crawl(name, rest)
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


def _parse_with_jobs_dir(
    parser: argparse.ArgumentParser, argv: list[str]
) -> tuple[argparse.Namespace, Path] | int:
    """Add ``--jobs-dir`` and parse: (options, job files directory), or the exit
    status (0 after --help, 1 after an error argparse has printed)."""
    from workbench.remote.jobs import jobs_dir

    parser.add_argument(
        "--jobs-dir",
        type=Path,
        metavar="DIR",
        help="where the job files are (default: REMOTE_CONTROL_JOBS_DIR or Scrapy's state dir; "
        "with --ssh, on that machine)",
    )
    parser.add_argument(
        "--ssh",
        metavar="[USER@]HOST",
        help="crawls on another machine, through your OpenSSH client (ssh HOST must work); "
        "the crawl's port is forwarded to 127.0.0.1 here",
    )
    try:
        opts = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0) and 1
    if opts.ssh is not None and (not opts.ssh.strip() or opts.ssh.startswith("-")):
        parser.print_usage(sys.stderr)
        print(f"{parser.prog}: error: --ssh takes a host, not {opts.ssh!r}", file=sys.stderr)
        return 1
    if opts.ssh:
        return opts, opts.jobs_dir or Path("")
    return opts, opts.jobs_dir or jobs_dir(_project_settings())


def _list_jobs(opts: argparse.Namespace, directory: Path) -> Any:
    """The job listing, here or over SSH (SshError, JobFileError on failure)."""
    from workbench.remote.jobs import list_jobs

    if opts.ssh:
        from workbench.remote.ssh import list_remote_jobs

        return list_remote_jobs(opts.ssh, str(opts.jobs_dir) if opts.jobs_dir else None)
    return list_jobs(directory)


def ps(argv: list[str]) -> int:
    """``workbench ps [--json] [--jobs-dir DIR]``: the running crawls, from job files."""
    import json
    import time

    from workbench.core.formats.sanitize import clean_line

    parser = argparse.ArgumentParser(
        prog="workbench ps",
        description=SUBCOMMANDS["ps"] + ". Stale job files (their process is gone) are removed; "
        "files another user could read are refused.",
    )
    parser.add_argument("--json", action="store_true", help="print the jobs as a JSON array")
    parsed = _parse_with_jobs_dir(parser, argv)
    if isinstance(parsed, int):
        return parsed
    opts, directory = parsed
    from workbench.remote.ssh import SshError

    try:
        found = _list_jobs(opts, directory)
    except SshError as exc:
        print(f"workbench ps: error: {clean_line(str(exc), 500)}", file=sys.stderr)
        return 1
    for problem in found.problems:
        print(f"workbench ps: {clean_line(problem, 500)}", file=sys.stderr)
    if opts.json:
        print(json.dumps([job.public() for job in found.jobs], indent=2))
        return 0
    if not found.jobs:
        where = f"on {opts.ssh}" if opts.ssh else f"job files in {directory}"
        print(f"No running Scrapy crawls ({clean_line(where, 300)}).")
        return 0
    rows = [("PID", "SPIDER", "PROJECT", "SCRAPY", "STARTED", "JOB")]
    for job in found.jobs:
        started = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.start_time))
            if job.start_time
            else "-"
        )
        rows.append(
            (
                str(job.pid),
                clean_line(job.spider, 40),
                clean_line(job.project or "-", 40),
                clean_line(job.scrapy_version, 20),
                started,
                clean_line(job.job_id, 60),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
    return 0


def attach(argv: list[str]) -> int:
    """``workbench attach [--shell] [--ssh HOST] [JOB|PID]``: the panels, or a shell, on a
    running crawl (here, or on HOST through an SSH port forward)."""
    from workbench.core.formats.sanitize import clean_line
    from workbench.remote.client import RemoteControlClient, RemoteError, choose_job
    from workbench.remote.jobs import JobFileError
    from workbench.remote.repl import RemoteShell, interact

    parser = argparse.ArgumentParser(
        prog="workbench attach",
        description="Attach to a crawl running elsewhere (scrapy crawl, Scrapyd, another "
        "terminal) through Scrapy's RemoteControl extension.",
    )
    parser.add_argument("job", nargs="?", help="a pid or job id from workbench ps (default: "
                        "the only running crawl)")  # fmt: skip
    parser.add_argument("--shell", action="store_true", help="open a Python shell in the crawl")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="install only the light probe (recent responses, log, stats, slots, queue, "
        "refs), not workbench's recorder: for crawls where every percent counts",
    )
    parser.add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="per shell entry (30)"
    )
    parser.add_argument("--theme", metavar="NAME", help=THEME_HELP)
    parsed = _parse_with_jobs_dir(parser, argv)
    if isinstance(parsed, int):
        return parsed
    opts, directory = parsed
    if opts.timeout <= 0:
        print("workbench attach: error: --timeout must be positive", file=sys.stderr)
        return 1
    try:
        check_theme(opts.theme)
    except CliError as exc:
        print(f"workbench attach: error: {exc}", file=sys.stderr)
        return 1
    from workbench.remote.ssh import SshError, Tunnel

    tunnel = None
    try:
        found = _list_jobs(opts, directory)
        where = opts.ssh or str(directory)
        if opts.job is None and sys.stdin.isatty():
            job = pick_job(found, where)
            if job is None:
                return 1
        else:
            job = choose_job(found, opts.job, where)
        if opts.ssh:
            tunnel = Tunnel(opts.ssh, job)
            job = tunnel.job
        client = RemoteControlClient(job)
        status = client.status()
        if not sys.stdin.isatty():
            what = "--shell needs" if opts.shell else "the panels need"
            print(f"workbench attach: error: {what} a terminal", file=sys.stderr)
            return 1
        if opts.shell:
            return interact(RemoteShell(client, opts.timeout), status)
        return run_attached(client, job_file_local=not opts.ssh, probe=opts.probe, theme=opts.theme)
    except (JobFileError, RemoteError, SshError) as exc:
        print(f"workbench attach: error: {clean_line(str(exc), 500)}", file=sys.stderr)
        return 1
    finally:
        if tunnel is not None:
            tunnel.close()


def _parse_args(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace | int:
    """The options, or the exit status of --help (0) or of a usage error (2)."""
    try:
        return parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)


def check(argv: list[str]) -> int:
    """``workbench check [SPIDER...]``: the spiders' contracts, as ``scrapy check``."""
    parser = argparse.ArgumentParser(
        prog="workbench check",
        description="Run the spiders' contracts (@url, @cb_kwargs, @returns, @scrapes and "
        "SPIDER_CONTRACTS) in the workbench: a results table, each check's request and "
        "response. Exit status 1 when a contract fails, as scrapy check.",
    )
    parser.add_argument("spiders", nargs="*", metavar="SPIDER", help="default: every spider")
    parser.add_argument("-l", "--list", action="store_true", help="only list the contracts")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="with --list: spiders without contracts too")  # fmt: skip
    parser.add_argument("-a", dest="spargs", action="append", default=[], metavar="NAME=VALUE",
                        help="spider argument (may be repeated)")  # fmt: skip
    parser.add_argument("-s", dest="set", action="append", default=[], metavar="NAME=VALUE",
                        help="setting (may be repeated)")  # fmt: skip
    parser.add_argument("--theme", metavar="NAME", help=THEME_HELP)
    opts = _parse_args(parser, argv)
    if isinstance(opts, int):
        return opts
    try:
        return _check(opts)
    except CliError as exc:
        print(f"workbench check: error: {exc}", file=sys.stderr)
        return 1


def _check(opts: argparse.Namespace) -> int:
    from scrapy.utils.conf import arglist_to_dict

    from workbench.core.inspection.contracts import CheckRun, check_settings, contract_listing
    from workbench.shell.session import install

    install()
    _require_project()
    settings = _project_settings()
    try:
        settings.setdict(arglist_to_dict(opts.set), priority="cmdline")
        spargs = arglist_to_dict(opts.spargs)
    except ValueError:
        raise CliError("use -a NAME=VALUE and -s NAME=VALUE") from None
    settings.set("LOG_ENABLED", False, priority="command")  # as scrapy check
    check_settings(settings)
    check_theme(opts.theme)
    loader = _spider_loader(settings, opts.spiders)
    classes = [loader.load(name) for name in (opts.spiders or sorted(loader.list()))]
    from workbench.core.inspection.contracts import contracts_manager

    conman = contracts_manager(settings)
    if opts.list:
        listing = contract_listing(conman, classes)
        if opts.verbose:
            bare = [c.name for c in classes if not conman.tested_methods_from_spidercls(c)]
            listing = "\n".join([listing, *bare]).strip()
        print(listing)
        return 0
    classes = [c for c in classes if conman.tested_methods_from_spidercls(c)]
    if not classes:
        print("workbench check: no contracts to check")
        return 0
    run = CheckRun(settings, classes, spargs)
    if os.environ.get("WORKBENCH_NO_UI") or not sys.stdin.isatty():
        _run_checks_headless(run)
    else:
        from workbench.core.sources.local import CheckSource

        run_app(CheckSource(run), theme=opts.theme)
    return _report_checks(run)


def _run_checks_headless(run: Any) -> None:
    from workbench.core.control.host import ensure_reactor, stop_reactor_threads

    async def go() -> None:
        ensure_reactor(run.settings)
        await run.run()

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(go())
    finally:
        stop_reactor_threads()


def _report_checks(run: Any) -> int:
    """scrapy check's report: each failure with its traceback, then the summary."""
    from workbench.core.formats.sanitize import clean

    results = run.results
    for outcome in results.outcomes:
        if outcome.result != "pass":
            kind = "FAIL" if outcome.result == "fail" else "ERROR"
            print("=" * 70)
            say(f"{kind}: [{outcome.spider}] {outcome.callback} ({outcome.contract})", False)
            print("-" * 70)
            print(clean(outcome.traceback or outcome.message).rstrip())
    print("-" * 70)
    print(results.summary())
    return 0 if results.wasSuccessful() and run.finished else 1


def open_har(argv: list[str]) -> int:
    """``workbench open FILE.har``: a saved session, read-only, in the same panels."""
    parser = argparse.ArgumentParser(
        prog="workbench open",
        description="Open a HAR file read-only in the panels: one saved with --har or W, "
        "or exported from a browser's Network tool.",
    )
    parser.add_argument("file", help="a .har file")
    parser.add_argument("--theme", metavar="NAME", help=THEME_HELP)
    opts = _parse_args(parser, argv)
    if isinstance(opts, int):
        return opts
    from workbench.core.formats.sanitize import clean_line
    from workbench.core.sources.har_file import HarError, HarSource

    try:
        check_theme(opts.theme)
        source = HarSource(opts.file)
    except (CliError, HarError) as exc:
        print(f"workbench open: error: {clean_line(str(exc), 500)}", file=sys.stderr)
        return 1
    if not sys.stdin.isatty() or os.environ.get("WORKBENCH_NO_UI"):
        snapshot = source.snapshot()
        print(f"workbench open: {snapshot.flows_total:,} flows in {source.path} "
              f"({clean_line(source.creator.strip(), 80) or 'unknown creator'}); "
              "the panels need a terminal")  # fmt: skip
        return 1 if not os.environ.get("WORKBENCH_NO_UI") else 0
    return run_app(source, theme=opts.theme)


def run_attached(
    client: Any, job_file_local: bool = True, probe: bool = False, theme: str | None = None
) -> int:
    """The panels on a crawl in another process; quitting detaches."""
    from workbench.core.formats.sanitize import clean_line
    from workbench.remote.client import RemoteError
    from workbench.remote.source import RemoteSource
    from workbench.ui.app import WorkbenchApp

    source = RemoteSource(client, job_file_local=job_file_local, probe=probe)
    try:
        hello = source.attach()
    except (RemoteError, ValueError) as exc:
        print(f"workbench attach: error: {clean_line(str(exc), 500)}", file=sys.stderr)
        return 1
    from workbench.core.control.watchdog import SHUTDOWN_GRACE, WATCHDOG

    app = WorkbenchApp(source, theme=theme)
    run = AppRun(app)  # SIGTERM, SIGINT, SIGHUP, a closed terminal: detach, as q does
    try:
        run.run()
    finally:
        WATCHDOG.arm(SHUTDOWN_GRACE, "detaching")  # the detach's calls are bounded in time
        run.remove()
        source.close()
    print_leftovers(app)
    snapshot = source.snapshot()
    pid = client.job.pid
    if source.gone:
        say(f"workbench: the crawl (pid {pid}) has ended: {summary(source).split(': ', 1)[1]}",
            err=False)  # fmt: skip
        return 0
    what = "removed what it installed" if not hello.get("existing") else "left its recorder"
    say(
        f"workbench: detached from {clean_line(snapshot.spider, 40)} (pid {pid}), "
        f"{what}; the crawl goes on ({snapshot.status.state}).",
        err=False,
    )
    return 0


def pick_job(found: Any, where: str) -> Any:
    """The only running crawl, or the one the user picks from a numbered list."""
    from workbench.core.formats.sanitize import clean_line
    from workbench.remote.client import choose_job

    jobs = found.jobs
    if len(jobs) < 2:
        return choose_job(found, None, where)  # the only one, or the error that says why
    print("Running crawls:")
    for number, job in enumerate(jobs, 1):
        print(
            f"  {number}. pid {job.pid}  {clean_line(job.spider, 40)}  "
            f"({clean_line(job.project or '-', 40)})  job {clean_line(job.job_id, 60)}"
        )
    while True:
        try:
            answer = input(f"Attach to which one? [1-{len(jobs)}, Enter to cancel] ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return None
        if not answer:
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(jobs):
            return jobs[int(answer) - 1]
        print(f"  a number from 1 to {len(jobs)}, please")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
