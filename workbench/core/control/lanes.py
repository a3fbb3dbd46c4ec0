"""Two lanes on the one event loop: the interface's callbacks before the crawl's.

The crawl and the terminal interface share one asyncio loop. Each turn of
the loop runs every callback that was ready when the turn began, in order;
a crawl bound by its CPU has hundreds ready (responses to parse, requests to
schedule), so a turn takes 50 to 200 ms. A key press travels through several
of Textual's message queues, and each hop waits for the next turn: typing
``4`` during ``workbench bench`` took 0.7 s to change the screen (1.3 s at
p95), whatever the interface itself cost.

``new_event_loop()`` makes a loop whose ready queue (``loop._ready``, the
deque ``BaseEventLoop._run_once`` pops from) is a ``ReadyLanes``: a callback
whose context carries ``UI_LANE`` goes into the first lane, every other into
the second; the loop pops the first lane first. The interface's hops then run
one after the other, within the turn, and a key is answered in the time its
own work takes. The crawl keeps its order (each lane is first in, first out),
and it cannot starve: after ``FAIR_EVERY`` interface callbacks in a row one of
the crawl's runs.

What is in which lane follows ``contextvars``, as asyncio does: the app runs
in a context with ``UI_LANE`` set (``ui_context()``), so its tasks, timers and
futures' callbacks carry it; the terminal driver's input thread sets it too.
What the interface asks of the crawl (start, pause, stop, continue, replay,
...) must not carry it, or the crawl's work it sets going (downloads, their
callbacks, the engine's next turn) would move into the interface's lane for
good: ``crawl_lane`` wraps those methods of the local sources so they run in
a context without it.

``WORKBENCH_LANES=0`` in the environment makes an ordinary loop.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import functools
import inspect
import os
from collections.abc import Callable, Iterable, Iterator
from typing import Any, TypeVar

UI_LANE: contextvars.ContextVar[bool] = contextvars.ContextVar("workbench_ui_lane", default=False)
FAIR_EVERY = 32  # interface callbacks in a row before one of the crawl's
ENABLED = os.environ.get("WORKBENCH_LANES", "1") not in ("0", "off", "no", "false")

F = TypeVar("F", bound=Callable[..., Any])


class ReadyLanes:
    """A loop's ready queue in two lanes; the deque operations the loop uses."""

    __slots__ = ("_streak", "crawl", "ui")

    def __init__(self) -> None:
        self.ui: collections.deque[Any] = collections.deque()
        self.crawl: collections.deque[Any] = collections.deque()
        self._streak = 0

    def append(self, handle: Any) -> None:
        context = getattr(handle, "_context", None)
        if context is not None and context.get(UI_LANE, False):
            self.ui.append(handle)
        else:
            self.crawl.append(handle)

    def popleft(self) -> Any:
        if self.ui and (self._streak < FAIR_EVERY or not self.crawl):
            self._streak += 1
            return self.ui.popleft()
        self._streak = 0
        if self.crawl:
            return self.crawl.popleft()
        return self.ui.popleft()  # IndexError when both are empty, as a deque's

    def clear(self) -> None:
        self.ui.clear()
        self.crawl.clear()

    def __len__(self) -> int:
        return len(self.ui) + len(self.crawl)

    def __bool__(self) -> bool:
        return bool(self.ui) or bool(self.crawl)

    def __iter__(self) -> Iterator[Any]:
        yield from self.ui
        yield from self.crawl


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop whose ready callbacks run interface first (see the module)."""
    loop = asyncio.new_event_loop()
    ready = getattr(loop, "_ready", None)
    if ENABLED and isinstance(ready, collections.deque) and not ready:
        loop._ready = ReadyLanes()  # type: ignore[attr-defined]
    return loop


def has_lanes(loop: asyncio.AbstractEventLoop) -> bool:
    return isinstance(getattr(loop, "_ready", None), ReadyLanes)


def ui_context() -> contextvars.Context:
    """A copy of the current context in the interface's lane."""
    context = contextvars.copy_context()
    context.run(UI_LANE.set, True)
    return context


def _crawl_context() -> contextvars.Context:
    context = contextvars.copy_context()
    context.run(UI_LANE.set, False)
    return context


def crawl_lane(method: F) -> F:
    """``method`` (plain or ``async``) run in the crawl's lane when called from
    the interface's: what it sets going stays in the crawl's lane."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def run_async(*args: Any, **kwargs: Any) -> Any:
            if not UI_LANE.get():
                return await method(*args, **kwargs)
            loop = asyncio.get_running_loop()
            task = _crawl_context().run(loop.create_task, method(*args, **kwargs))
            return await task

        run_async.__crawl_lane__ = True  # type: ignore[attr-defined]
        return run_async  # type: ignore[return-value]

    @functools.wraps(method)
    def run(*args: Any, **kwargs: Any) -> Any:
        if not UI_LANE.get():
            return method(*args, **kwargs)
        return _crawl_context().run(method, *args, **kwargs)

    run.__crawl_lane__ = True  # type: ignore[attr-defined]
    return run  # type: ignore[return-value]


def wrap_methods(cls: type, names: Iterable[str]) -> None:
    """Put each of ``names`` that ``cls`` itself defines in the crawl's lane."""
    for name in names:
        method = cls.__dict__.get(name)
        if callable(method) and not getattr(method, "__crawl_lane__", False):
            setattr(cls, name, crawl_lane(method))
