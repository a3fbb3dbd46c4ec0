"""Output while the app has the terminal, and after it has lost it."""

from __future__ import annotations

import collections
import contextlib
import io
import os


class LeftoverOutput(io.StringIO):
    """What logging printed while the app had the terminal: the last lines, kept
    to be printed after the app (bounded: a flood keeps its end)."""

    LIMIT = 200

    def __init__(self) -> None:
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=self.LIMIT)
        self.dropped = 0

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if len(self.lines) == self.LIMIT:
                self.dropped += 1
            self.lines.append(line[:2000])
        return len(text)


def leave_terminal() -> None:
    """The terminal is gone (SIGHUP): what is still written goes nowhere, not to EIO."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
