"""The terminal can go away at any moment: a driver that notices, and never hangs.

A closed terminal window, a killed tmux session or a dropped SSH connection
take the pty away.  The kernel's SIGHUP does not always reach us (it goes to
the session leader, say the shell that ran ``workbench``), so the pty itself
must tell: a read returns EOF or EIO, a write fails with EIO.

Textual's ``LinuxDriver`` handles neither.  Its input thread treats an empty
read as "stdin is a pipe" and goes round again at once, so it spins at full
CPU for ever; its writer thread dies on the first EIO, after which the next
thirty writes fill its queue and the thirty-first (the shutdown's own
``stop()``) blocks for ever.  ``GuardedLinuxDriver`` fixes both, and reports
the loss once to ``on_lost`` (called on the app's loop), which exits the app
as SIGHUP does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import selectors
import signal
import threading
from codecs import getincrementaldecoder
from collections.abc import Callable
from typing import Any, TextIO

from textual._parser import ParseError
from textual._xterm_parser import XTermParser
from textual.drivers.linux_driver import LinuxDriver

# How long a write may wait for room in the writer's queue before we look again
# whether the writer is still there (a live writer is always waited for).
_PUT_POLL = 0.5


class TerminalFile:
    """The terminal's output stream, for Textual's writer thread: a write that
    fails (EIO: the terminal is gone; or text it cannot encode) never kills the
    thread.  After an OSError everything is dropped and the loss is reported."""

    def __init__(self, file: TextIO, lost: Callable[[], None]) -> None:
        self._file = file
        self._lost = lost
        self.gone = False

    def write(self, text: str) -> int:
        if self.gone:
            return len(text)
        try:
            self._file.write(text)
        except OSError:
            self._gone()
        except (UnicodeError, ValueError):  # a lone surrogate; a closed file
            with contextlib.suppress(Exception):
                self._file.write(text.encode("utf-8", "replace").decode("utf-8"))
        return len(text)

    def flush(self) -> None:
        if self.gone:
            return
        try:
            self._file.flush()
        except OSError:
            self._gone()
        except ValueError:
            pass

    def fileno(self) -> int:
        return self._file.fileno()

    def isatty(self) -> bool:
        return True

    def _gone(self) -> None:
        self.gone = True
        self._lost()


class GuardedLinuxDriver(LinuxDriver):
    """``LinuxDriver`` that survives its terminal: EOF or EIO on input, EIO on
    output end the input thread and the output (no spin, no blocked queue), and
    ``app.terminal_lost()`` is called once on the app's loop."""

    def __init__(self, app: Any, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        # ours, not Driver._loop: Textual's send_message() posts the input thread's
        # events to that one, set in Driver.__init__
        self._app_loop: asyncio.AbstractEventLoop | None = None
        self._lost = threading.Event()
        file = self._file
        assert file is not None  # sys.__stderr__, which LinuxDriver writes to as well
        # Textual types its private _file as the TextIOWrapper it puts there; its writer
        # thread only calls write(), flush() and fileno()
        self._file = TerminalFile(file, self._report_lost)  # type: ignore[assignment]

    @property
    def lost(self) -> bool:
        return self._lost.is_set()

    def start_application_mode(self) -> None:
        self._app_loop = asyncio.get_running_loop()
        if self._lost.is_set():  # resuming after a shell, with no terminal left
            self._report_lost()
            return
        super().start_application_mode()

    def _report_lost(self) -> None:
        first = not self._lost.is_set()
        self._lost.set()
        self.exit_event.set()  # the input thread ends
        loop = self._app_loop
        handler = getattr(self._app, "terminal_lost", None)
        if first and loop is not None and handler is not None:
            with contextlib.suppress(RuntimeError):  # the loop has closed: we are done anyway
                loop.call_soon_threadsafe(handler)

    # -- output ---------------------------------------------------------------------

    def write(self, data: str) -> None:
        writer = self._writer_thread
        if writer is None or self._lost.is_set():
            return
        # Textual's own put() blocks for ever once the writer thread has died
        while writer.is_alive() and not self._lost.is_set():
            try:
                writer._queue.put(data, timeout=_PUT_POLL)
                return
            except queue.Full:
                continue

    def close(self) -> None:
        writer = self._writer_thread
        if writer is None:
            return
        while writer.is_alive():
            try:
                writer._queue.put(None, timeout=_PUT_POLL)
                break
            except queue.Full:
                continue
        writer.join(timeout=5)

    def stop_application_mode(self) -> None:
        if self._lost.is_set():  # nothing to restore on a terminal that is gone
            with contextlib.suppress(ValueError, OSError):
                signal.signal(signal.SIGWINCH, signal.SIG_DFL)
            self.exit_event.set()
            if self._key_thread is not None:
                self._key_thread.join(timeout=5)
            self.exit_event.clear()
            return
        super().stop_application_mode()
        self.exit_event.clear()

    # -- input: Textual's loop, with EOF and EIO ending it ----------------------------

    def run_input_thread(self) -> None:
        from workbench.core.control.lanes import UI_LANE

        UI_LANE.set(True)  # keys go first on the loop (core/control/lanes.py)
        selector = selectors.SelectSelector()
        selector.register(self.fileno, selectors.EVENT_READ)
        fileno = self.fileno
        parser = XTermParser(self._debug)
        decode = getincrementaldecoder("utf-8")().decode
        try:
            while not self.exit_event.is_set():
                ready = selector.select(0.1)
                if ready:
                    try:
                        data = os.read(fileno, 4096)
                    except OSError:  # EIO: the terminal has hung up
                        data = b""
                    if not data:  # EOF: nobody will ever type here again
                        self._report_lost()
                        break
                    for event in parser.feed(decode(data)):
                        self.process_message(event)
                for event in parser.tick():
                    self.process_message(event)
            else:  # asked to stop: what was typed last still counts
                if not self._lost.is_set() and selector.select(0.1):
                    with contextlib.suppress(OSError):
                        data = os.read(fileno, 4096)
                        for event in parser.feed(decode(data, final=True)):
                            self.process_message(event)
        finally:
            selector.close()
            with contextlib.suppress(EOFError, ParseError):
                for _event in parser.feed(""):
                    pass
