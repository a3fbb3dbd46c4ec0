"""Run a command in a real pseudo-terminal, read its screen output, type keys."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import termios
import time

ANSI = re.compile(
    rb"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>]"
)


SHELL_SIGNALS = (signal.SIGINT, signal.SIGHUP, signal.SIGTERM, signal.SIGQUIT)


def default_signals() -> None:
    """In a child before exec: the signals a shell leaves a command, handled by
    default and not blocked, whatever the test process inherited or set (an
    ignored SIGINT or SIGHUP survives exec, and workbench keeps a signal ignored
    as nohup leaves it)."""
    for sig in SHELL_SIGNALS:
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, SHELL_SIGNALS)


def _controlling_tty() -> None:
    default_signals()
    os.setsid()
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)


class PtyProcess:
    def __init__(self, argv: list[str], cwd: str, env: dict[str, str], size=(45, 160)) -> None:
        self.master, slave = os.openpty()
        rows, cols = size
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = {**env, "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
        self.proc = subprocess.Popen(
            argv,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=cwd,
            env=env,
            # a session of its own, with the pty as its controlling terminal, as
            # in a real terminal: Ctrl-C typed in cooked mode becomes SIGINT
            preexec_fn=_controlling_tty,
            close_fds=True,
        )
        os.close(slave)
        self.raw = bytearray()

    def _pump(self, timeout: float) -> None:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if ready:
            try:
                data = os.read(self.master, 65536)
            except OSError:
                return
            self.raw.extend(data)

    @property
    def text(self) -> str:
        return ANSI.sub(b"", bytes(self.raw)).decode("utf-8", "replace")

    def tail(self, size: int = 20_000) -> str:
        """The last ``size`` bytes of output, without escape sequences (cheap)."""
        return ANSI.sub(b"", bytes(self.raw[-size:])).decode("utf-8", "replace")

    def drain(self, timeout: float, keep: int = 200_000) -> None:
        """Read what is there; keep only the last ``keep`` bytes (long runs)."""
        self._pump(timeout)
        if len(self.raw) > 2 * keep:
            del self.raw[:-keep]

    def expect(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        while time.monotonic() < deadline:
            match = regex.search(self.text)
            if match:
                return match
            if self.proc.poll() is not None:
                self._pump(0.2)
                match = regex.search(self.text)
                if match:
                    return match
                raise AssertionError(f"process exited before {pattern!r}:\n{self.text[-3000:]}")
            self._pump(0.1)
        raise AssertionError(
            f"timed out waiting for {pattern!r}:\n{self.text[-3000:]}\n"
            f"last bytes: {bytes(self.raw[-600:])!r}"
        )

    def send(self, data: str) -> None:
        os.write(self.master, data.encode())

    def wait(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None and time.monotonic() < deadline:
            self._pump(0.1)
        if self.proc.poll() is None:
            self.kill()
            raise AssertionError(f"process did not exit:\n{self.text[-3000:]}")
        for _ in range(20):  # drain what is left
            self._pump(0.05)
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def close(self) -> None:
        self.kill()
        os.close(self.master)
