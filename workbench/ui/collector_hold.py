"""A key is answered before the garbage collector runs.

During a crawl bound by its CPU the collector's older generations take tens
of milliseconds (the second, with ``WORKBENCH_GC_THRESHOLD``'s 10,000 young
objects) to hundreds (a full collection of a crawl with a long queue): when
one came due while a key was on its way to the screen, the key waited for
it. ``CollectorHold`` turns the collector off from a key's arrival until the
screen has been painted after it (at most ``LIMIT`` seconds); what came due
then runs right after the paint, in the crawl's time rather than the key's.
"""

from __future__ import annotations

import gc
from typing import Any

LIMIT = 0.3  # seconds: the collector is never held longer (a key a widget kept)


class CollectorHold:
    def __init__(self, app: Any) -> None:
        self.app = app
        self.held = False
        self._timer: Any = None

    def hold(self) -> None:
        """The collector off (when it was on and nothing holds it already)."""
        if self.held or not gc.isenabled():
            return
        gc.disable()
        self.held = True
        self._timer = self.app.set_timer(LIMIT, self.release)

    def until_painted(self) -> None:
        """Release after the next paint (the key's action has run: what it changed
        is marked for that paint)."""
        if self.held:
            self.app.call_after_refresh(self.release)

    def release(self) -> None:
        if not self.held:
            return
        self.held = False
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        gc.enable()
