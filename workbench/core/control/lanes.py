"""Two lanes on the one event loop: the interface's callbacks before the crawl's.

The crawl and the terminal interface share one asyncio loop. Each turn of
the loop runs every callback that was ready when the turn began, in order;
a crawl bound by its CPU has hundreds ready (responses to parse, requests to
schedule), so a turn takes 50 to 200 ms. A key press travels through several
of Textual's message queues, and each hop waits for the next turn: typing
``4`` during ``workbench bench`` took 0.7 s to change the screen (1.3 s at
p95), whatever the interface itself cost.

``new_event_loop()`` makes a ``LanesLoop``, whose ready queue (``loop._ready``,
the deque ``BaseEventLoop._run_once`` pops from) is a ``ReadyLanes``: a
callback scheduled with a context that carries ``UI_LANE`` goes into the
interface's lane, every other into the crawl's, and the loop pops the
interface's first. Every handle goes through ``ReadyLanes.append``, the
loop's own appends too (a timer come due, an I/O callback): Textual paints
the screen from a timer of the interface's, which, appended behind a turn's
crawl callbacks, waited for all of them. The interface's hops then run one
after the other, within the turn, and a key is answered in the time its own
work takes. The crawl keeps its order (each lane is first in, first out),
and it cannot starve: after ``FAIR_EVERY`` interface callbacks in a row one
of the crawl's runs.

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


class ReadyLanes(collections.deque):
    """A loop's ready queue in two lanes. The deque itself is the crawl's lane;
    the interface's callbacks wait in ``ui``, which ``popleft`` serves first.
    ``append`` routes a handle by its context: call_soon, call_soon_threadsafe,
    every future's and task's callbacks, and what the loop appends itself."""

    __slots__ = ("_streak", "ui")

    def __init__(self) -> None:
        super().__init__()
        self.ui: collections.deque[Any] = collections.deque()
        self._streak = 0

    @property
    def crawl(self) -> collections.deque[Any]:
        return self

    def append(self, handle: Any, _append: Any = collections.deque.append) -> None:
        if handle._context.get(UI_LANE, False):  # asyncio.Handle's (3.10 to 3.13)
            self.ui.append(handle)
        else:
            _append(self, handle)

    def popleft(self, _popleft: Any = collections.deque.popleft) -> Any:
        ui = self.ui
        if not ui:  # nearly always: the crawl's, at a C call's cost and one test
            return _popleft(self)
        # the interface's first; the crawl's one in FAIR_EVERY + 1 while both wait
        if self._streak < FAIR_EVERY or not collections.deque.__len__(self):
            self._streak += 1
            handle = ui.popleft()
            if not ui:
                self._streak = 0
            return handle
        self._streak = 0
        return _popleft(self)

    def clear(self) -> None:
        self.ui.clear()
        super().clear()

    def __len__(self) -> int:
        return collections.deque.__len__(self) + len(self.ui)

    def __bool__(self) -> bool:
        return bool(self.ui) or collections.deque.__len__(self) > 0

    def __iter__(self) -> Iterator[Any]:
        yield from self.ui
        yield from collections.deque.__iter__(self)


class LanesLoop(asyncio.SelectorEventLoop):
    """The selector loop with its ready queue in two lanes (see the module): the
    loop's own ``_call_soon`` and ``_run_once`` append to it, and it routes."""

    def __init__(self) -> None:
        super().__init__()
        self._ready = ReadyLanes()


def new_event_loop() -> asyncio.AbstractEventLoop:
    """A new loop whose ready callbacks run interface first (see the module)."""
    if ENABLED:
        return LanesLoop()
    return asyncio.new_event_loop()


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
