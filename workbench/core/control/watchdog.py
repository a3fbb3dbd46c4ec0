"""No workbench process outlives its purpose: a watchdog for the way out.

Once the crawl has finished (or the app has been asked to exit), the process
has a few seconds to be gone.  If it is still there at the deadline (a thread
or the UI stuck), the watchdog writes why — every thread's stack — to the log
file when there is one (and to stderr, which may be nowhere by then) and ends
the process with :data:`EXIT_STUCK`.

It is a daemon thread that sleeps on a condition: no polling, no cost while
unarmed, and it keeps running while the interpreter joins other threads at
exit, which is where a stuck non-daemon thread would otherwise hang it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import os
import sys
import threading
import time
from collections.abc import Iterator

EXIT_STUCK = 70  # EX_SOFTWARE: the process was stuck on its way out and was ended


def _grace(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, default))
    except ValueError:
        return default
    return value if value > 0 else default


# seconds the app has to close once asked to; the process, once the crawl is over
APP_EXIT_GRACE = _grace("WORKBENCH_APP_EXIT_GRACE", 10.0)
SHUTDOWN_GRACE = _grace("WORKBENCH_SHUTDOWN_GRACE", 10.0)
# after a second SIGTERM or SIGINT: the forced stop's own time, then the end
FORCE_GRACE = _grace("WORKBENCH_FORCE_GRACE", 5.0)


class Watchdog:
    """``arm(seconds, why)`` sets a deadline; ``disarm()`` lifts it.  At the
    deadline the process is ended, with the stacks of its threads written first."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._deadline: float | None = None
        self._why = ""
        self._thread: threading.Thread | None = None
        self.log_file: str | None = None  # LOG_FILE of the crawl, where stacks go too
        self.exit = os._exit  # tests replace it

    def arm(self, seconds: float, why: str) -> None:
        """End the process unless it is gone within ``seconds`` (an earlier
        deadline already set is kept)."""
        with self._cond:
            deadline = time.monotonic() + seconds
            if self._deadline is None or deadline < self._deadline:
                self._deadline, self._why = deadline, why
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="workbench-watchdog", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def disarm(self) -> None:
        with self._cond:
            self._deadline = None
            self._cond.notify()

    @property
    def armed(self) -> bool:
        return self._deadline is not None

    @contextlib.contextmanager
    def paused(self, grace: float | None = None) -> Iterator[None]:
        """Lift the deadline for a step that may rightly take long (saving a
        large HAR file); set it again, from now, afterwards."""
        with self._cond:
            deadline, why = self._deadline, self._why
        if deadline is None:
            yield
            return
        self.disarm()
        try:
            yield
        finally:
            self.arm(SHUTDOWN_GRACE if grace is None else grace, why)

    def _run(self) -> None:
        with self._cond:
            while True:
                if self._deadline is None:
                    self._cond.wait()
                    continue
                left = self._deadline - time.monotonic()
                if left > 0:
                    self._cond.wait(left)
                    continue
                break
            why = self._why
        self._report(why)
        self.exit(EXIT_STUCK)

    def _report(self, why: str) -> None:
        line = (
            f"workbench: still running after {why}; ending the process (exit status "
            f"{EXIT_STUCK}). The threads' stacks follow.\n"
        )
        targets: list[int] = []
        log = None
        if self.log_file:
            with contextlib.suppress(OSError):
                log = open(self.log_file, "a", encoding="utf-8")  # noqa: SIM115
                targets.append(log.fileno())
        with contextlib.suppress(OSError, ValueError, AttributeError):
            targets.append(sys.__stderr__.fileno())  # type: ignore[union-attr]
        for fd in targets:
            with contextlib.suppress(OSError, ValueError):
                os.write(fd, line.encode())
                faulthandler.dump_traceback(fd, all_threads=True)
        if log is not None:
            with contextlib.suppress(OSError):
                log.close()


WATCHDOG = Watchdog()
