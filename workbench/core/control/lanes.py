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
callback scheduled with a context that carries ``UI_LANE`` is put after the
interface's callbacks already waiting at the front of the queue, every other
at the back, so the loop's own ``popleft`` serves the interface's first, each
lane in the order its callbacks came. Every handle is routed: ``call_soon``'s
and every future's and task's callbacks in ``LanesLoop._call_soon``, what the
loop appends itself (a timer come due, an I/O callback) in
``ReadyLanes.append``: Textual paints the screen from a timer of the
interface's, which, appended behind a turn's crawl callbacks, waited for all
of them. The interface's hops then run one after the other, within the turn,
and a key is answered in the time its own work takes.

Only the interface's callbacks pay for the routing. The crawl's go to the back
of the deque and leave it by the deque's own ``popleft``, as on an ordinary
loop: a crawl schedules hundreds a page (Scrapy's ``_parallel_asyncio`` starts
``CONCURRENT_ITEMS`` tasks for each response's output), and a queue of two
deques, popped by a Python method, had cost each of them about 120 ns more.
The interface's callbacks are few and run first: the crawl waits for them as
it waits for a paint, and an interface that scheduled without end would hold
it as any busy loop would.

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
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

UI_LANE: contextvars.ContextVar[bool] = contextvars.ContextVar("workbench_ui_lane", default=False)
ENABLED = os.environ.get("WORKBENCH_LANES", "1") not in ("0", "off", "no", "false")

F = TypeVar("F", bound=Callable[..., Any])

_append = collections.deque.append


class ReadyLanes(collections.deque):
    """A loop's ready queue in two lanes, in one deque: the interface's callbacks
    at the front, in the order they came, then the crawl's. ``append`` routes
    by the handle's context; ``popleft``, ``len`` and truth are the deque's own."""

    __slots__ = ()

    def append(self, handle: Any) -> None:
        if handle._context.get(UI_LANE, False):  # asyncio.Handle's (3.10 to 3.13)
            self.push_ui(handle)
        else:
            _append(self, handle)

    def push_ui(self, handle: Any) -> None:
        """After the interface's callbacks waiting at the front, before the crawl's.
        (From another thread, call_soon_threadsafe, a pop may come between the
        count and the insert: the handle then goes one place later, behind one
        crawl callback, and the order with a callback of the loop's own thread
        scheduled at that moment is a race in any case.)"""
        waiting = 0
        try:
            while self[waiting]._context.get(UI_LANE, False):
                waiting += 1
        except IndexError:  # every handle waiting is the interface's
            pass
        self.insert(waiting, handle)

    @property
    def ui(self) -> list[Any]:
        """The interface's callbacks waiting (the front of the queue)."""
        out = []
        for handle in self:
            if not handle._context.get(UI_LANE, False):
                break
            out.append(handle)
        return out


class LanesLoop(asyncio.SelectorEventLoop):
    """The selector loop with its ready queue in two lanes (see the module)."""

    def __init__(self) -> None:
        super().__init__()
        self._ready = ReadyLanes()

    def _call_soon(
        self, callback: Any, args: Any, context: Any, _handle: Any = asyncio.Handle
    ) -> Any:
        """``BaseEventLoop._call_soon`` (the same in 3.10 to 3.13), routing: the
        path of call_soon, call_soon_threadsafe and every future's and task's
        callbacks. A crawl's handle is appended by the deque's own method."""
        handle = _handle(callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        if handle._context.get(UI_LANE, False):
            self._ready.push_ui(handle)
        else:
            _append(self._ready, handle)
        return handle


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
