"""Command line: ``workbench crawl|runspider|demo`` with Scrapy's own options.

Option parsing reuses Scrapy's command classes (``-a``, ``-s``, ``-o``,
``-O``, ``-L``, ``--logfile``, ``--nolog``), so what works after
``scrapy crawl`` works after ``workbench crawl``.  Bad input gives one
line on stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

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


class CliError(Exception):
    """Bad input: printed as one line, exit status 1."""


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


THEME_HELP = (
    "colour theme for this run: dark (the default), light, high-contrast, or one of "
    "yours from ~/.config/workbench/themes/; Ctrl+P > theme switches live and "
    "remembers the choice"
)


def check_theme(name: str | None) -> str | None:
    """The theme name if it exists; CliError listing the themes otherwise."""
    if name is None:
        return None
    from workbench.ui.themes import ThemeError, load_themes

    try:
        themes, _ = load_themes()
    except ThemeError as exc:
        raise CliError(str(exc)) from None
    from textual.theme import BUILTIN_THEMES

    if name not in themes and name not in BUILTIN_THEMES:
        mine = ", ".join(sorted(themes))
        raise CliError(
            f"unknown theme {name!r}; workbench's and yours: {mine}; "
            f"Textual's: {', '.join(sorted(BUILTIN_THEMES))}"
        )
    return name


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


def _summary(source: Any) -> str:
    if source.capabilities.crawlers:
        source.select(None)  # several crawlers: all of them
    snapshot = source.snapshot()
    status = snapshot.status
    failed = status.error if status.state == "failed" else None
    reason = failed or status.finish_reason or status.error or status.state
    from workbench.core.formats.sanitize import clean_line
    from workbench.ui.format import duration

    return (
        f"workbench: spider {clean_line(str(snapshot.spider), 200)} {status.state} "
        f"({clean_line(str(reason), 500)}): "
        f"{snapshot.pages} pages, {snapshot.items_scraped} items"
        + (f", {snapshot.items_dropped} dropped" if snapshot.items_dropped else "")
        + f" in {duration(snapshot.elapsed)}"
    )


def without_web(argv: list[str]) -> list[str]:
    """The command line without ``--web`` and ``--port N``."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--web" or arg.startswith("--port="):
            continue
        elif arg == "--port":
            skip = True
        else:
            out.append(arg)
    return out


WEB_SUMMARY_ENV = "WORKBENCH_WEB_SUMMARY"  # where a --web session's crawl writes its summary


def run_web(name: str, argv: list[str], port: int) -> int:
    import asyncio
    import tempfile

    from workbench.ui.web import serve

    if os.environ.get("WORKBENCH_NO_UI"):
        print(f"workbench {name}: error: --web serves the UI; unset WORKBENCH_NO_UI",
              file=sys.stderr)  # fmt: skip
        return 1
    directory = Path(tempfile.mkdtemp(prefix="workbench-web-"))
    path = directory / "summary.txt"
    os.environ[WEB_SUMMARY_ENV] = str(path)
    interrupted = False
    # SIGTERM and a closed terminal (SIGHUP) end the server as Ctrl+C does: the
    # page's crawl first stops gracefully (its session is waited for)
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGHUP)}
    for sig, handler in previous.items():
        if handler is not signal.SIG_IGN:
            signal.signal(sig, _as_ctrl_c)
    try:
        asyncio.run(serve([name, *without_web(argv)], port, f"workbench {name}", say_out))
    except KeyboardInterrupt:
        interrupted = True
        say("workbench: stopped serving")
    except OSError as exc:  # the port is taken
        print(f"workbench {name}: error: cannot serve: {exc}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        summary = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        path.unlink(missing_ok=True)
        directory.rmdir()
    code = 0
    if summary:
        first, _, text = summary.partition("\n")
        say(text, err=False)  # the session wrote it; still, nothing raw reaches the terminal
        code = int(first) if first.isdigit() else 0
    elif not interrupted:
        print("workbench: the browser session ended", file=sys.stderr)
    return 130 if interrupted else code


def _as_ctrl_c(sig: int, frame: Any) -> None:
    if sig == signal.SIGHUP:
        from workbench.ui.app import leave_terminal

        leave_terminal()
    signal.raise_signal(signal.SIGINT)


def say_out(text: str) -> None:
    say(text, err=False)


def _web_output() -> Any:
    """Under --web the terminal is a browser page: what follows the app (the
    graceful stop, the summary) goes to the file the server prints from."""
    path = os.environ.get(WEB_SUMMARY_ENV)
    if not path:
        return None
    sys.stdout = sys.stderr = out = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
    return out


def run_app(source: Any, theme: str | None = None, panel: str = "flows") -> int:
    code = _run_app(source, theme, panel)
    path = os.environ.get(WEB_SUMMARY_ENV)
    if path:  # first line: the exit status, for the server to exit with
        sys.stdout.flush()
        text = Path(path).read_text(encoding="utf-8")
        Path(path).write_text(f"{code}\n{text}", encoding="utf-8")
    return code


def _run_app(source: Any, theme: str | None = None, panel: str = "flows") -> int:
    from workbench.core.control.host import stop_reactor_threads
    from workbench.core.control.watchdog import SHUTDOWN_GRACE, WATCHDOG
    from workbench.ui.app import WorkbenchApp

    app = WorkbenchApp(source, theme=theme, panel=panel)
    run = AppRun(app)
    try:
        try:
            run.run()
        finally:
            _web_output()
            if not app.forced:
                _stop_after_app(app, source, run)
            # the crawl is over and the app gone: the rest takes seconds, or is stuck
            WATCHDOG.arm(SHUTDOWN_GRACE, "the crawl finished")
    finally:
        run.remove()
        stop_reactor_threads()
        source.close()
    print_leftovers(app)
    if not source.capabilities.own_report:  # a saved session, checks: their own
        say(_summary(source), err=False)
    if app.forced:
        say("workbench: forced shutdown; feeds and JOBDIR may be incomplete")
        return 1
    if app.start_error:
        say(f"workbench: could not start the crawl: {app.start_error}")
        return 1
    if app.ui_error is not None:
        return 1  # the traceback is above the summary
    status = source.snapshot().status
    return 1 if status.state == "failed" else 0


def say(text: str, err: bool = True) -> None:
    """A line (or lines) for the user's terminal after the app: the text may hold
    what a web page wrote (a spider's error, a remote crawl's name), so control
    characters are made visible; the terminal may be gone (EIO), which is no error."""
    from workbench.core.formats.sanitize import clean

    with contextlib.suppress(OSError, ValueError):
        print(clean(text), file=sys.stderr if err else sys.stdout, flush=True)


def print_leftovers(app: Any) -> None:
    """What logging printed while the app had the terminal (``LeftoverOutput``)."""
    leftover = app.leftover_output
    if leftover.dropped:
        say(f"workbench: {leftover.dropped:,} earlier lines of output were dropped")
    for line in leftover.lines:
        say(line)


class AppRun:
    """The app on a loop of its own, which stays open when the app has gone, so
    a crawl the app left running can be stopped gracefully on it.

    SIGTERM, SIGINT and SIGHUP are handled for the whole run, with no gap
    between the app and what follows it: to the app while it runs (it exits,
    see ``WorkbenchApp.on_signal``), then to the graceful stop, where SIGTERM or
    SIGINT force it and SIGHUP (the terminal closed) does not.  A signal that was
    ignored when workbench started (``nohup``) stays ignored.

    The handlers are plain ``signal.signal`` ones that hand the signal to the
    loop: they run even when the loop is stuck (a thread holding it, a blocked
    write), so a second SIGTERM or SIGINT always ends the process — through the
    forced stop when the loop answers, through the watchdog within
    ``FORCE_GRACE`` seconds when it does not, and at once on a third."""

    def __init__(self, app: Any) -> None:
        from workbench.core.control.watchdog import APP_EXIT_GRACE, WATCHDOG

        self.loop = loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self.app = app
        self.app_done = False
        self.watchdog = WATCHDOG
        # the app has this long to close once asked to (Textual's shutdown stuck)
        app.exit_requested = lambda: WATCHDOG.arm(APP_EXIT_GRACE, "the interface was closed")
        # Textual's driver takes SIGTSTP and SIGCONT and leaves its handlers
        # behind: a SIGCONT afterwards (the kernel sends one with SIGHUP when
        # the terminal closes) would restart the dead app's terminal mode.
        self.job_control = {s: signal.getsignal(s) for s in (signal.SIGTSTP, signal.SIGCONT)}
        self.force = asyncio.Event()
        self.previous: dict[int, Any] = {}
        self.forcing = 0  # SIGTERM and SIGINT received
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            previous = signal.getsignal(sig)
            if previous is signal.SIG_IGN:
                continue
            with contextlib.suppress(ValueError):  # not the main thread (tests)
                signal.signal(sig, self._received)
                self.previous[sig] = previous

    def _received(self, sig: int, frame: Any) -> None:
        """The Python-level handler: count, then let the loop handle it."""
        from workbench.core.control.watchdog import FORCE_GRACE

        if sig != signal.SIGHUP:
            self.forcing += 1
            if self.forcing >= 3:
                os._exit(128 + sig)
            if self.forcing == 2:  # the loop forces; if it cannot, this does
                self.watchdog.arm(FORCE_GRACE, f"a second {signal.Signals(sig).name}")
        with contextlib.suppress(RuntimeError):  # the loop has closed
            self.loop.call_soon_threadsafe(self.handle, sig)

    def run(self) -> None:
        """Run the app; when it has exited, signals go to what follows it."""
        try:
            self.app.run(loop=self.loop)
        finally:
            self.app_done = True
            from workbench.core.leaks.heap import abandon_summaries

            abandon_summaries()  # a heap summary in progress must not hold the exit
            if self.forcing < 2:
                self.watchdog.disarm()  # the app is gone; the graceful stop has its own time
            for sig, handler in self.job_control.items():
                with contextlib.suppress(ValueError, OSError, TypeError):
                    signal.signal(sig, handler if handler is not None else signal.SIG_DFL)

    def handle(self, sig: int) -> None:
        from workbench.ui.app import leave_terminal

        if not self.app_done:
            self.app.on_signal(sig)
        elif sig == signal.SIGHUP:
            leave_terminal()  # the stop goes on; its output goes nowhere
        else:
            self.force.set()

    def remove(self) -> None:
        """Back to the handlers from before, but a closed terminal (SIGHUP) from
        now on only sends the rest of the output nowhere: the summary, the HAR file
        and the feeds' last lines are still written."""
        for sig, previous in self.previous.items():
            with contextlib.suppress(Exception):
                signal.signal(sig, _hung_up if sig == signal.SIGHUP else previous)
        self.previous.clear()


def _hung_up(sig: int, frame: Any) -> None:
    from workbench.ui.app import leave_terminal

    leave_terminal()


def _stop_after_app(app: Any, source: Any, run: AppRun) -> None:
    """The app is gone (a signal, an error in the UI) and the crawl still runs: stop
    it as Scrapy's first Ctrl-C would, so feeds are closed and JOBDIR is left
    consistent.  Ctrl-C or another SIGTERM meanwhile forces it."""
    hosts = source.crawl_hosts()  # in this process (none when attached or a HAR)
    tasks = {h.task for h in hosts if h.task is not None and not h.finished}
    if not tasks and not app.stopped_on_signal:  # several crawlers: every one, whatever the scope
        return  # (a crawl the signal stopped may have closed already: it is still said)
    if app.signalled:
        why = f"{app.signalled} received"
    elif app.ui_error is not None:
        why = "the interface failed (the traceback is above)"
    else:
        why = "the interface has closed"
    say(
        f"workbench: {why}; stopping the crawl gracefully (in-flight requests finish, "
        "feeds are closed). Ctrl-C again forces it."
    )
    logger.warning("%s; stopping the crawl gracefully.", why)
    source.stop_all()

    async def closed() -> None:
        forced = asyncio.ensure_future(run.force.wait())
        every = asyncio.ensure_future(asyncio.wait(tasks))
        await asyncio.wait({every, forced}, return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        every.cancel()

    if tasks:
        run.loop.run_until_complete(closed())
    if run.force.is_set():
        app.forced = True
        logger.warning("Forced shutdown after %s.", why)


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
        source, settings, opts = build(name, rest)
    except CliError as exc:
        print(f"workbench {name}: error: {exc}", file=sys.stderr)
        return 1
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
        say(f"workbench: the crawl (pid {pid}) has ended: {_summary(source).split(': ', 1)[1]}",
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


def run_headless(source: Any) -> int:
    """The same crawl without the UI.  ``inspect_response`` and breakpoints open
    the shell in the plain terminal; on a breakpoint, leaving the shell continues."""
    import asyncio

    from workbench.core.control.host import stop_reactor_threads
    from workbench.shell.session import ShellManager, attach

    if source.breakpoints() and not sys.stdin.isatty():
        print(
            "workbench: --break and --pdb need a terminal to open the shell in",
            file=sys.stderr,
        )
        return 1

    async def go() -> None:
        manager = ShellManager(source.shell_crawler, asyncio.get_running_loop())
        hosts = source.crawl_hosts()  # several crawlers: all of them
        for each in hosts:  # inspect_response() in any of them
            attach(each.create(), manager)
        await source.start()
        while not all(h.finished for h in hosts):
            hit = source.snapshot().hit
            if hit is not None and not manager.busy:
                target = source.shell_on_flow(hit.flow_id)
                await manager.open(
                    response=target.response,
                    request=target.request,
                    extra=target.extra,
                    note=target.note + " Leaving the shell continues the crawl.",
                )
                source.continue_()
            await asyncio.sleep(0.05)
        for each in hosts:
            await each.wait()

    try:
        asyncio.run(go())
    finally:
        stop_reactor_threads()
        source.close()
    if not source.capabilities.own_report:  # parse: its report follows, alone
        say(_summary(source), err=False)
    return 1 if source.snapshot().status.state == "failed" else 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
