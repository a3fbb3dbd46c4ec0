"""An IPython shell on the running crawl, in the same terminal.

The shell runs in a worker thread while the UI is suspended (the UI hands in
a ``suspend`` context manager: this package never imports textual).  The
crawl's loop keeps running, so ``fetch()`` and top-level ``await`` work.

Two ways in:

- :meth:`ShellManager.open` from the loop (the UI's ``s`` key): awaits the
  shell's thread.
- :meth:`ShellManager.open_nested` from synchronous code already running on
  the loop: ``inspect_response(response, self)`` in a spider callback.  The
  callback cannot return before the shell closes, yet the loop must keep
  running (for ``fetch``, and for the UI to come back), so the loop is run
  *nested* until the shell's thread ends: the current task is set aside
  while other tasks run, as ``nest_asyncio`` does.  Scrapy's own
  ``inspect_response`` blocks the loop instead (no ``fetch``, a frozen UI).

Ctrl-C while shell code runs reaches the main thread as SIGINT; for the
duration of the shell it is forwarded to the shell's thread as
KeyboardInterrupt, so it interrupts that code and never the app.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import functools
import logging
import shutil
import signal
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from workbench.core.control.host import resume_engine
from workbench.core.formats.sanitize import clean
from workbench.shell.namespace import ShellNamespace

logger = logging.getLogger(__name__)

SHELL_ATTR = "workbench_shell"

Suspend = Callable[[], AbstractContextManager[Any]]
Console = Callable[[ShellNamespace, str, list[str], "ShellManager"], None]


def ipython_console(
    ns: ShellNamespace, banner: str, history: list[str], manager: ShellManager
) -> None:
    """Run a terminal IPython on ``ns.vars`` in the current (worker) thread."""
    namespace = ns.vars
    from IPython.terminal.embed import InteractiveShellEmbed
    from traitlets.config import Config

    try:
        from IPython.core.profiledir import ProfileDir  # noqa: F401
        from IPython.terminal.ipapp import load_default_config

        config = load_default_config()
    except Exception:  # a broken user profile must not prevent the shell
        config = Config()
    config.InteractiveShellEmbed = config.get("TerminalInteractiveShell", Config())
    InteractiveShellEmbed.clear_instance()
    shell = InteractiveShellEmbed.instance(
        banner1=banner,
        user_ns=namespace,
        config=config,
        exit_msg="Back to workbench.",
    )
    # IPython's own exit hook would hold the shell to the end of the process: ours
    # (see _close), dropped as the shell closes; it runs only if the process ends
    # with the shell open (SIGTERM, the terminal gone)
    for hook in _exit_hooks(shell):
        atexit.unregister(hook)
    at_exit = functools.partial(_close, shell)
    atexit.register(at_exit)
    # set after creation: traitlets deep-copies config values
    shell.loop_runner = manager.loop_runner
    shell.autoawait = True
    shell.confirm_exit = False  # Ctrl-D goes straight back to workbench
    ns.live = lambda: shell.user_ns  # embedding copies the namespace: fetch() rebinds there
    pt_history = getattr(getattr(shell, "pt_app", None), "history", None)
    if pt_history is not None:
        for line in history:
            pt_history.append_string(line)
    try:
        shell(local_ns=namespace, global_ns=namespace)
    finally:
        atexit.unregister(at_exit)
        _close(shell)
        InteractiveShellEmbed.clear_instance()


def _exit_hooks(shell: Any) -> list[Callable[[], Any]]:
    """The shell's own ``atexit`` hooks: ``atexit_operations`` and (IPython 8)
    the ``%%script`` magics' ``kill_bg_processes``, each holding the shell."""
    hooks = [shell.atexit_operations]
    registry = getattr(getattr(shell, "magics_manager", None), "registry", None) or {}
    kill = getattr(registry.get("ScriptMagics"), "kill_bg_processes", None)
    if callable(kill):
        hooks.append(kill)
    return hooks


def _close(shell: Any) -> None:
    """What IPython's ``atexit_operations`` does, less its ``reset``.

    IPython registers that hook per shell: it held the shell, and through its
    namespace the response and whatever the user made, alive until the process
    ended (a leak the Refs panel would show); and there its ``reset`` ran a full
    collection of the crawl's heap per shell ever opened (``DisplayHook.flush``:
    0.27 s of CPU measured after a SIGTERM ending a 3,000-page crawl).  Here, as
    the shell closes: the history session ended and its saving thread stopped,
    ``%%script --bg`` processes ended (IPython ends them when its magics go),
    IPython's temporary files removed; the shell is then garbage like any other."""
    history = shell.history_manager
    if history is not None:
        with contextlib.suppress(Exception):
            history.end_session()
        with contextlib.suppress(Exception):
            close = getattr(history, "close", None)  # IPython 9.x
            if close is not None:
                close()
            elif history.save_thread is not None:
                history.save_thread.stop()
        shell.history_manager = None
    for hook in _exit_hooks(shell)[1:]:
        with contextlib.suppress(Exception):
            hook()
    for path in getattr(shell, "tempfiles", ()):
        with contextlib.suppress(OSError):
            Path(path).unlink(missing_ok=True)
    for path in getattr(shell, "tempdirs", ()):
        shutil.rmtree(path, ignore_errors=True)


class ShellManager:
    """Opens shells on one crawl; one at a time, the next waits its turn."""

    def __init__(
        self,
        crawler_of: Callable[[], Any],
        loop: asyncio.AbstractEventLoop,
        *,
        suspend: Suspend | None = None,
        console: Console = ipython_console,
    ) -> None:
        self.crawler_of = crawler_of
        self.loop = loop
        self.suspend = suspend or contextlib.nullcontext
        self.console = console
        self.busy = False
        self.sessions = 0
        self.history: list[str] = []  # lines offered to the next shell's history
        self.offered: dict[str, Any] = {}  # names offered to the next shell
        self._thread: threading.Thread | None = None
        self._namespace: ShellNamespace | None = None
        self._crawler: Any = None  # the open shell's

    # -- what other parts of workbench hand to the shell -----------------------

    def offer(self, line: str, name: str | None = None, value: Any = None) -> None:
        """Put ``line`` in the next shell's history, and ``name = value`` in its namespace."""
        self.history.append(line)
        del self.history[:-100]
        if name:
            self.offered[name] = value

    # -- opening ---------------------------------------------------------------

    def _prepare(
        self,
        response: Any,
        request: Any,
        extra: dict[str, Any] | None,
        note: str,
    ) -> tuple[ShellNamespace, str, bool]:
        # a crawler named in ``extra`` (several in the process: the response's) or ours
        crawler = (extra or {}).get("crawler") or self.crawler_of()
        self._crawler = crawler
        ns = ShellNamespace(
            crawler,
            self.loop,
            response=response,
            request=request,
            extra={**self.offered, **(extra or {})},
        )
        self._namespace = ns
        engine = getattr(crawler, "_engine", None)
        was_running = engine is not None and engine.running and not engine.paused
        if engine is not None and was_running:
            engine.pause()
        banner = ns.help_text()
        if note:
            banner += f"[s] {note}\n"
        if was_running:
            banner += "[s] The crawl is paused; it resumes when you leave the shell.\n"
        # the note names a breakpoint's error, the names list reprs: text from the web
        return ns, clean(banner), was_running

    def _finish(self, was_running: bool) -> None:
        self.busy = False
        self._namespace = None
        self.sessions += 1
        crawler, self._crawler = self._crawler or self.crawler_of(), None
        if was_running:
            resume_engine(getattr(crawler, "_engine", None))

    def _thread_main(self, ns: ShellNamespace, banner: str, done: Callable[[], None]) -> None:
        try:
            self.console(ns, banner, list(self.history), self)
        except KeyboardInterrupt:
            pass
        except BaseException:
            logger.exception("The shell failed")
        finally:
            done()

    async def open(
        self,
        *,
        response: Any = None,
        request: Any = None,
        extra: dict[str, Any] | None = None,
        note: str = "",
    ) -> None:
        """Open the shell from the loop (a UI action) and wait until it is closed."""
        while self.busy:
            await asyncio.sleep(0.05)
        self.busy = True
        try:
            ns, banner, was_running = self._prepare(response, request, extra, note)
        except BaseException:
            self.busy = False
            raise
        finished = self.loop.create_future()

        def done() -> None:
            self.loop.call_soon_threadsafe(_set_done, finished)

        try:
            with self.suspend(), self._forward_sigint():
                self._start_thread(ns, banner, done)
                await finished
        finally:
            self._finish(was_running)

    def open_nested(
        self,
        *,
        response: Any = None,
        request: Any = None,
        extra: dict[str, Any] | None = None,
        note: str = "",
    ) -> None:
        """Open the shell from synchronous code on the loop; returns when it closes."""
        pump = _NestedPump(self.loop)
        pump.run_until(lambda: not self.busy)
        self.busy = True
        try:
            ns, banner, was_running = self._prepare(response, request, extra, note)
        except BaseException:
            self.busy = False
            raise
        finished = threading.Event()

        def done() -> None:
            finished.set()
            self.loop.call_soon_threadsafe(_noop)  # wake the loop's select()

        try:
            with self.suspend(), self._forward_sigint():
                self._start_thread(ns, banner, done)
                pump.run_until(finished.is_set)
        finally:
            self._finish(was_running)

    def _start_thread(self, ns: ShellNamespace, banner: str, done: Callable[[], None]) -> None:
        self._thread = threading.Thread(
            target=self._thread_main, args=(ns, banner, done), name="workbench-shell", daemon=True
        )
        self._thread.start()

    # -- Ctrl-C -------------------------------------------------------------------

    def loop_runner(self, coro: Any) -> Any:
        """IPython's loop runner: top-level ``await`` runs on the crawl's loop."""
        ns = self._namespace
        if ns is None:  # pragma: no cover - only while a shell is open
            raise RuntimeError("no shell is open")
        return ns.run(coro)

    @contextlib.contextmanager
    def _forward_sigint(self) -> Any:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.getsignal(signal.SIGINT)

        def handler(signum: int, frame: Any) -> None:
            # SIGINT only comes while the terminal is in cooked mode, that is
            # while shell code runs (prompt_toolkit reads keys in raw mode)
            thread = self._thread
            if thread is not None and thread.is_alive():
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(thread.ident or 0), ctypes.py_object(KeyboardInterrupt)
                )

        signal.signal(signal.SIGINT, handler)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)


def _set_done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _noop() -> None:
    pass


class _NestedPump:
    """Runs the loop's iterations from inside one of its callbacks.

    The outer iteration has already counted the ready callbacks it will pop
    after ours returns; iterations run here may consume them, so the ready
    queue is padded back with no-ops.  The current task, if any, is set aside
    so that other tasks can step.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def run_until(self, condition: Callable[[], bool]) -> None:
        if condition():
            return
        loop: Any = self.loop
        if not hasattr(loop, "_run_once") or not hasattr(loop, "_ready"):
            raise RuntimeError("this event loop cannot be run nested")
        owed = len(loop._ready)
        task = asyncio.current_task(loop)
        if task is not None:
            asyncio.tasks._leave_task(loop, task)
        try:
            while not condition():
                loop._run_once()
        finally:
            if task is not None:
                asyncio.tasks._enter_task(loop, task)
            for _ in range(owed - len(loop._ready)):
                loop.call_soon(_noop)


def manager_for(crawler: Any) -> ShellManager | None:
    return getattr(crawler, SHELL_ATTR, None)


def attach(crawler: Any, manager: ShellManager) -> None:
    setattr(crawler, SHELL_ATTR, manager)


def inspect_response(response: Any, spider: Any) -> None:
    """Open the workbench shell on ``response`` from a spider callback.

    Under workbench, ``scrapy.shell.inspect_response`` is this function.  The
    callback continues when the shell closes; the crawl and the UI keep
    running meanwhile.  Outside workbench it falls back to Scrapy's own.
    """
    crawler = getattr(spider, "crawler", None)
    manager = manager_for(crawler) if crawler is not None else None
    if manager is None:
        return _scrapy_inspect_response(response, spider)
    manager.open_nested(
        response=response,
        request=getattr(response, "request", None),
        extra={"crawler": crawler},  # several crawlers: this spider's
        note=f"inspect_response() called from {_caller()}; the callback continues on exit.",
    )
    return None


def _caller() -> str:
    frame = sys._getframe(2)
    return f"{frame.f_code.co_name}() in {frame.f_code.co_filename}:{frame.f_lineno}"


_scrapy_inspect_response: Callable[[Any, Any], None]


def install() -> None:
    """Make ``scrapy.shell.inspect_response`` open the workbench shell.

    Call before spider modules are imported, so ``from scrapy.shell import
    inspect_response`` in them gets this one too.
    """
    global _scrapy_inspect_response
    import scrapy.shell

    if scrapy.shell.inspect_response is not inspect_response:
        _scrapy_inspect_response = scrapy.shell.inspect_response
        scrapy.shell.inspect_response = inspect_response


def _init_fallback() -> None:
    global _scrapy_inspect_response
    import scrapy.shell

    _scrapy_inspect_response = scrapy.shell.inspect_response


_init_fallback()
