"""Running a source: the app (``run_app``, with ``AppRun``'s signal handling and
the graceful stop after it), without the UI (``run_headless``), or served to a
browser (``run_web``); and what is printed after the app (``say``, the
leftovers, the summary).

Every command that shows the panels goes through here.  Nothing here parses a
command line; a user error is raised as ``CliError``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
from pathlib import Path
from typing import Any

from workbench.commands.base import CliError
from workbench.core.control import lanes

logger = logging.getLogger("workbench")


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


def say_out(text: str) -> None:
    say(text, err=False)


def summary(source: Any) -> str:
    """What the crawl did, for the terminal once the app has gone: its outcome,
    then (each on a line of its own) its errors grouped and the requests that
    never reached the network, so the answer outlives the screen."""
    if source.capabilities.crawlers:
        source.select(None)  # several crawlers: all of them
    snapshot = source.snapshot()
    status = snapshot.status
    failed = status.error if status.state == "failed" else None
    reason = failed or status.finish_reason or status.error or status.state
    from workbench.core.formats.sanitize import clean_line
    from workbench.ui.format import duration, never_downloaded_summary

    lines = [
        f"workbench: spider {clean_line(str(snapshot.spider), 200)} {status.state} "
        f"({clean_line(str(reason), 500)}): "
        f"{snapshot.pages} pages, {snapshot.items_scraped} items"
        + (f", {snapshot.items_dropped} dropped" if snapshot.items_dropped else "")
        + f" in {duration(snapshot.elapsed)}"
    ]
    try:
        errors = source.error_groups()
    except Exception:  # an attached crawl that has gone: nothing more to say
        errors = None
    if errors is not None and errors.groups:
        count = len(errors.groups) + errors.hidden
        top = errors.groups[0]
        where = f" at {top.location}" if top.location else ""
        lines.append(
            f"workbench: {errors.total:,} error{'s' if errors.total != 1 else ''} in "
            f"{count:,} group{'s' if count != 1 else ''}; the most frequent: "
            f"{clean_line(top.title, 160)}{clean_line(where, 160)} (×{top.count:,})"
        )
    never = never_downloaded_summary(snapshot.fates)
    if never:
        lines.append(f"workbench: {never.removesuffix(' (~dropped)')}")
    return "\n".join(lines)


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

    def __init__(self, app: Any, loop: asyncio.AbstractEventLoop | None = None) -> None:
        from workbench.core.control.watchdog import APP_EXIT_GRACE, WATCHDOG

        # a script's crawls were set going on its loop: the app runs on that one
        # ...else one of its own, the interface's callbacks first (core/control/lanes.py)
        self.loop = loop = loop or lanes.new_event_loop()
        with contextlib.suppress(RuntimeError):  # the loop runs already (run_async)
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
            # the app's tasks, timers and callbacks in the interface's lane
            lanes.ui_context().run(self.app.run, loop=self.loop)
        finally:
            self._app_gone()

    async def run_async(self) -> None:
        """The same on the loop that runs already (a script's own)."""
        try:
            await self.app.run_async()
        finally:
            self._app_gone()

    def _app_gone(self) -> None:
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


def stop_after_app(app: Any, source: Any, run: AppRun) -> None:
    """The app is gone (a signal, an error in the UI) and the crawl still runs: stop
    it as Scrapy's first Ctrl-C would, so feeds are closed and JOBDIR is left
    consistent.  Ctrl-C or another SIGTERM meanwhile forces it."""
    stopping = _stopping(app, source, run)
    if stopping is not None:
        why, closing = stopping
        if closing is not None:
            run.loop.run_until_complete(closing)
        _forced(app, run, why)


async def stop_after_app_async(app: Any, source: Any, run: AppRun) -> None:
    """``stop_after_app`` on the loop that runs already."""
    stopping = _stopping(app, source, run)
    if stopping is not None:
        why, closing = stopping
        if closing is not None:
            await closing
        _forced(app, run, why)


def _stopping(app: Any, source: Any, run: AppRun) -> tuple[str, Any] | None:
    """Ask the crawls still running to stop: why, and what to wait for (None:
    nothing was running)."""
    hosts = source.crawl_hosts()  # in this process (none when attached or a HAR)
    tasks = {h.task for h in hosts if h.task is not None and not h.finished}
    if not tasks and not app.stopped_on_signal:  # several crawlers: every one, whatever the scope
        return None  # (a crawl the signal stopped may have closed already: it is still said)
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
    _say_countdown(source)

    async def closed() -> None:
        forced = asyncio.ensure_future(run.force.wait())
        every = asyncio.ensure_future(asyncio.wait(tasks))
        await asyncio.wait({every, forced}, return_when=asyncio.FIRST_COMPLETED)
        forced.cancel()
        every.cancel()

    return why, (closed() if tasks else None)


def _forced(app: Any, run: AppRun, why: str) -> None:
    if run.force.is_set():
        app.forced = True
        logger.warning("Forced shutdown after %s.", why)


def _say_countdown(source: Any) -> None:
    """Requests on the wire: how long the graceful stop may wait for them."""
    from workbench.core.control.in_flight import closing_text

    try:
        transfers = source.snapshot().status.transfers
    except Exception:  # the stop goes on whatever the figures say
        return
    if transfers is not None and transfers.count:
        say(f"workbench: {closing_text(transfers)}.")


def run_app(
    source: Any,
    theme: str | None = None,
    panel: str = "flows",
    loop: asyncio.AbstractEventLoop | None = None,
) -> int:
    code = _run_app(source, theme, panel, loop)
    path = os.environ.get(WEB_SUMMARY_ENV)
    if path:  # first line: the exit status, for the server to exit with
        sys.stdout.flush()
        text = Path(path).read_text(encoding="utf-8")
        Path(path).write_text(f"{code}\n{text}", encoding="utf-8")
    return code


def _run_app(
    source: Any,
    theme: str | None = None,
    panel: str = "flows",
    loop: asyncio.AbstractEventLoop | None = None,
) -> int:
    from workbench.ui.app import WorkbenchApp

    app = WorkbenchApp(source, theme=theme, panel=panel)
    run = AppRun(app, loop)
    try:
        try:
            run.run()
        finally:
            _web_output()
            if not app.forced:
                stop_after_app(app, source, run)
            _shutdown_grace()
    finally:
        _release(run, source)
    return _after_app(app, source)


async def run_app_async(source: Any, theme: str | None = None, panel: str = "flows") -> int:
    """``run_app`` on the loop that runs already (a script's ``await``)."""
    from workbench.ui.app import WorkbenchApp

    app = WorkbenchApp(source, theme=theme, panel=panel)
    run = AppRun(app, asyncio.get_running_loop())
    try:
        try:
            await run.run_async()
        finally:
            if not app.forced:
                await stop_after_app_async(app, source, run)
            _shutdown_grace()
    finally:
        _release(run, source)
    return _after_app(app, source)


def _shutdown_grace() -> None:
    from workbench.core.control.watchdog import SHUTDOWN_GRACE, WATCHDOG

    # the crawl is over and the app gone: the rest takes seconds, or is stuck
    WATCHDOG.arm(SHUTDOWN_GRACE, "the crawl finished")


def _release(run: AppRun, source: Any) -> None:
    from workbench.core.control.host import stop_reactor_threads

    run.remove()
    stop_reactor_threads()
    source.close()


def _after_app(app: Any, source: Any) -> int:
    """What is printed once the app has gone; the exit status."""
    print_leftovers(app)
    if not source.capabilities.own_report:  # a saved session, checks: their own
        say(summary(source), err=False)
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


def _web_output() -> Any:
    """Under --web the terminal is a browser page: what follows the app (the
    graceful stop, the summary) goes to the file the server prints from."""
    path = os.environ.get(WEB_SUMMARY_ENV)
    if not path:
        return None
    sys.stdout = sys.stderr = out = open(path, "w", encoding="utf-8", buffering=1)  # noqa: SIM115
    return out


def run_headless(source: Any, loop: asyncio.AbstractEventLoop | None = None) -> int:
    """The same crawl without the UI.  ``inspect_response`` and breakpoints open
    the shell in the plain terminal; on a breakpoint, leaving the shell continues.
    ``loop``: the one a script's crawls were set going on."""
    from workbench.core.control.host import stop_reactor_threads

    if source.breakpoints() and not sys.stdin.isatty():
        raise CliError("--break and --pdb need a terminal to open the shell in")
    try:
        if loop is None:
            asyncio.run(headless_crawl(source))
        else:
            loop.run_until_complete(headless_crawl(source))
    finally:
        stop_reactor_threads()
        source.close()
    return _after_headless(source)


async def run_headless_async(source: Any) -> int:
    """``run_headless`` on the loop that runs already (a script's ``await``)."""
    from workbench.core.control.host import stop_reactor_threads

    try:
        await headless_crawl(source)
    finally:
        stop_reactor_threads()
        source.close()
    return _after_headless(source)


def _after_headless(source: Any) -> int:
    if not source.capabilities.own_report:  # parse: its report follows, alone
        say(summary(source), err=False)
    return 1 if source.snapshot().status.state == "failed" else 0


async def headless_crawl(source: Any) -> None:
    """Run the source's crawls to their end; a breakpoint opens the shell."""
    from workbench.shell.session import ShellManager, attach

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


WEB_SUMMARY_ENV = "WORKBENCH_WEB_SUMMARY"  # where a --web session's crawl writes its summary


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


def run_web(name: str, argv: list[str], port: int) -> int:
    """``--web``: serve ``workbench NAME ARGV`` (without the web options) to a
    browser; each page runs the command in a process of its own."""
    import tempfile

    from workbench.ui.web import serve

    if os.environ.get("WORKBENCH_NO_UI"):
        raise CliError("--web serves the UI; unset WORKBENCH_NO_UI")
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
        raise CliError(f"cannot serve: {exc}") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        written = path.read_text(encoding="utf-8").strip() if path.exists() else ""
        path.unlink(missing_ok=True)
        directory.rmdir()
    code = 0
    if written:
        first, _, text = written.partition("\n")
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
