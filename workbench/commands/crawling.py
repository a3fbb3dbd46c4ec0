"""What the commands that run a crawl share: ``crawl``, ``runspider``, ``demo``,
``bench`` and ``parse``.

Their options come from Scrapy's own command classes (``-a``, ``-s``, ``-o``,
``-O``, ``-L``, ``--logfile``, ``--nolog``), so what works after
``scrapy crawl`` works after ``workbench crawl``, plus workbench's (``--theme``,
``--har``, ``--web``, ``--port``, ``--pdb``, ``--break``).  ``CrawlCommand.run``
builds the source (``build``) and runs it: in the app, headless, or served to
a browser; then the command's report and ``--har``.  A command says only what
differs: its syntax, its options, its spider, what the crawl needs first
(``prepare``), what follows it (``after``).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, ClassVar

from workbench.commands import running
from workbench.commands.base import THEME_HELP, CliError, Command, check_theme
from workbench.commands.project import project_settings, require_project

Prepare = Callable[[], Awaitable[None]]


class CrawlCommand(Command):
    """A command that runs a crawl with Scrapy's options (see the module)."""

    syntax: ClassVar[str]  # after "workbench NAME" in the usage line
    requires_project: ClassVar[bool] = False
    panel: ClassVar[str] = "flows"  # the panel the app opens on
    # the run's summary is kept for the next run to compare with (workbench runs);
    # a project's WORKBENCH_KEEP_RUNS = False, or -s WORKBENCH_KEEP_RUNS=0, turns it off
    keeps_runs: ClassVar[bool] = False

    def scrapy_base(self) -> type:
        """The Scrapy command class whose options and hooks this one has."""
        from scrapy.commands import BaseRunSpiderCommand

        return BaseRunSpiderCommand

    def scrapy_settings(self) -> dict[str, Any]:
        """Settings of the command, above Scrapy's command defaults (bench's)."""
        return {}

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        """The command's own options, after Scrapy's and workbench's."""

    def spider(
        self, cmd: Any, args: list[str], opts: argparse.Namespace, settings: Any, spargs: dict
    ) -> Any:
        """What to crawl: a spider class, a spider's name, or several names."""
        raise NotImplementedError

    def prepare(self, host: Any, opts: argparse.Namespace) -> Prepare | None:
        """What must happen before the crawl starts (a site to serve), if anything."""
        return None

    def source(
        self, spider: Any, settings: Any, spargs: dict, opts: argparse.Namespace, cmd: Any,
        args: list[str],
    ) -> Any:  # fmt: skip
        """The source the app reads: one crawler in this process."""
        from workbench.core.sources.local import LocalSource

        host, _ = create_crawler(settings, spider, spargs)
        return LocalSource(host, self.prepare(host, opts))

    def headless(self) -> bool:
        """Run without the UI (CI smoke checks)."""
        return bool(os.environ.get("WORKBENCH_NO_UI"))

    def after(self, source: Any, opts: argparse.Namespace) -> int:
        """What follows the crawl (a report); a non-zero status replaces the run's."""
        return 0

    def build(self, argv: list[str]) -> tuple[Any, Any, argparse.Namespace]:
        """Parse a command line; return (source, settings, options) ready for the app."""
        from workbench.shell.session import install

        install()  # before spider modules import scrapy.shell.inspect_response
        settings = project_settings()
        cmd, opts, args = parse_scrapy(self, argv, settings)  # --help works anywhere
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
        if self.requires_project:
            require_project()
        if self.keeps_runs:
            from workbench.core.recording.run_store import KEEP_SETTING

            settings.set(KEEP_SETTING, True, priority="command")
        spargs = dict(opts.spargs)
        spider = self.spider(cmd, args, opts, settings, spargs)
        return self.source(spider, settings, spargs, opts, cmd, args), settings, opts

    def run(self, argv: list[str]) -> int:
        try:
            source, settings, opts = self.build(argv)
        except SystemExit as exc:  # --help
            return int(exc.code or 0)
        from workbench.core.control.watchdog import WATCHDOG

        WATCHDOG.log_file = settings.get("LOG_FILE")  # where a stuck exit's stacks go too
        if opts.web:
            source.close()  # the browser session's own process runs the crawl
            return running.run_web(self.name, argv, opts.port)
        jobdir = settings.get("JOBDIR")
        if jobdir:
            resume_job(source, jobdir)
        if self.headless():
            # Headless run (CI smoke checks, parse's report into a pipe): no terminal UI.
            code = running.run_headless(source)
        else:
            code = running.run_app(source, theme=settings.get("WORKBENCH_THEME"), panel=self.panel)
        if jobdir and source.snapshot().status.state == "finished":
            from workbench.core.control.jobdir import mark_stopped

            mark_stopped(jobdir)  # closed cleanly: the next run resumes without a warning
        code = self.after(source, opts) or code
        if opts.har:
            with WATCHDOG.paused():  # a large session takes its time to write
                code = save_har_at_exit(source, opts.har) or code
        return code


def create_crawler(settings: Any, spider: Any, spargs: dict) -> tuple[Any, Any]:
    """A ``CrawlHost`` and its crawler; CliError when Scrapy refuses to make it."""
    from workbench.core.control.host import CrawlHost

    host = CrawlHost(settings, spider, spargs)
    try:
        crawler = host.create()
    except Exception as exc:
        raise CliError(f"cannot create the crawler: {type(exc).__name__}: {exc}") from None
    return host, crawler


def resume_job(source: Any, jobdir: str) -> None:
    """``JOBDIR``: say what the job holds, and mark it in use once the crawl starts."""
    from workbench.core.control.jobdir import inspect_job, mark_running

    source.resumed_job = inspect_job(jobdir)
    if source.resumed_job is not None:
        running.say(f"workbench: {source.resumed_job.summary()}")
        if source.resumed_job.problem:
            running.say(f"workbench: warning: {source.resumed_job.problem}")
    previous = source.prepare

    async def prepare() -> None:  # the crawl starts: the job is in use from now on
        mark_running(jobdir)
        if previous is not None:
            await previous()

    source.prepare = prepare


def save_har_at_exit(source: Any, path: str) -> int:
    """``--har FILE``: every flow the recorder kept; 1 (and why) if it cannot be written."""
    from workbench.core.formats.har import save_har

    flows = source.flows_since(0)
    try:
        written = save_har(source, flows, path)
    except OSError as exc:
        running.say(f"workbench: cannot save the HAR file: {exc}")
        return 1
    running.say(
        f"workbench: {len(flows):,} flows saved to {written} as HAR (credentials redacted)", False
    )
    return 0


def scrapy_command(spec: CrawlCommand) -> type:
    """Scrapy's command class for ``spec``: Scrapy's options, then workbench's."""

    base: Any = spec.scrapy_base()

    class ScrapyCommand(base):
        requires_project = spec.requires_project
        default_settings = {**base.default_settings, **spec.scrapy_settings()}

        def syntax(self) -> str:
            return spec.syntax

        def short_desc(self) -> str:
            return spec.help

        def long_desc(self) -> str:
            return spec.description or super().long_desc()

        def add_options(self, parser: argparse.ArgumentParser) -> None:
            super().add_options(parser)
            add_workbench_options(parser)
            spec.add_options(parser)

        def run(self, args: list[str], opts: argparse.Namespace) -> None:  # pragma: no cover
            raise NotImplementedError

    return ScrapyCommand


def add_workbench_options(parser: argparse.ArgumentParser) -> None:
    """``--theme``, ``--har``, ``--web``, ``--port``, ``--pdb``, ``--break``."""
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


def parse_scrapy(
    spec: CrawlCommand, argv: list[str], settings: Any
) -> tuple[Any, argparse.Namespace, list[str]]:
    """Scrapy's parser for ``spec``: (Scrapy's command object, options, arguments)."""
    from scrapy.cmdline import ScrapyArgumentParser
    from scrapy.commands import ScrapyHelpFormatter
    from scrapy.exceptions import UsageError

    cmd = scrapy_command(spec)()
    parser = ScrapyArgumentParser(
        prog=f"workbench {spec.name}",
        formatter_class=ScrapyHelpFormatter,
        usage=f"workbench {spec.name} {cmd.syntax()}",
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
        raise CliError(f"unknown option {unknown[0]} (see workbench {spec.name} -h)")
    if opts.profile:
        raise CliError("--profile is not supported by workbench (use scrapy crawl --profile)")
    breaks = breakpoints(opts)
    opts.pdb = False  # Scrapy's --pdb would start pdb inside the UI; ours is a breakpoint
    if breaks:
        settings.set("WORKBENCH_BREAKPOINTS", breaks, priority="cmdline")
    try:
        cmd.process_options(args, opts)
    except UsageError as exc:
        raise CliError(str(exc).strip()) from None
    return cmd, opts, args


def breakpoints(opts: argparse.Namespace) -> list[str]:
    """``--break`` and ``--pdb`` as breakpoint texts, each checked."""
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
