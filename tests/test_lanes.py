"""The interface's callbacks go first on the shared loop (core/control/lanes.py)."""

from __future__ import annotations

import asyncio
import collections
import threading
import time

import pytest

from workbench.core.control import lanes
from workbench.core.control.lanes import UI_LANE


def _noop(name: str) -> None:
    pass


@pytest.fixture
def loop():
    loop = lanes.LanesLoop()
    yield loop
    loop._ready.clear()
    loop.close()


def put(loop, name: str, ui: bool | None):
    """Schedule a callback as the loop's users do (call_soon), in the interface's
    context, the crawl's, or (None) none given: the current one's."""
    if ui is None:
        return loop.call_soon(_noop, name)
    context = lanes.ui_context() if ui else lanes._crawl_context()
    return loop.call_soon(_noop, name, context=context)


def names(handles) -> list[str]:
    return [h._args[0] for h in handles]


def test_the_interfaces_callbacks_pop_first_each_lane_in_order(loop):
    ready = loop._ready
    for name, ui in [("c1", False), ("u1", True), ("c2", False), ("u2", True)]:
        put(loop, name, ui)
    assert len(ready) == 4 and ready
    assert names(ready.popleft() for _ in range(4)) == ["u1", "u2", "c1", "c2"]
    assert not ready
    with pytest.raises(IndexError):
        ready.popleft()


def test_the_crawls_callbacks_stay_in_the_deque_itself(loop):
    """The crawl's callbacks cost what they cost on an ordinary loop: the ready
    queue's popleft, len and truth are the deque's own (C), not Python methods."""
    ready = loop._ready
    assert type(ready).popleft is collections.deque.popleft
    assert type(ready).__len__ is collections.deque.__len__
    put(loop, "c1", False)
    put(loop, "u1", True)
    put(loop, "c2", False)
    put(loop, "u2", True)
    assert names(ready) == ["u1", "u2", "c1", "c2"]
    assert names(ready.ui) == ["u1", "u2"]


def test_a_callback_from_another_thread_in_the_interfaces_context_goes_first():
    """The terminal's input thread hands a key over with call_soon_threadsafe, in
    the interface's context: it runs before the crawl's queued work."""
    order: list[str] = []

    async def main():
        loop = asyncio.get_running_loop()
        context = lanes._crawl_context()

        def key() -> None:
            lanes.ui_context().run(loop.call_soon_threadsafe, order.append, "key")

        def crawl_step(n: int) -> None:
            order.append(f"crawl{n}")
            if n == 0:  # busy: the key comes in meanwhile
                thread = threading.Thread(target=key)
                thread.start()
                thread.join()

        for n in range(5):
            loop.call_soon(crawl_step, n, context=context)
        await asyncio.sleep(0.05)

    run_on_lanes(main)
    assert order == ["crawl0", "key", "crawl1", "crawl2", "crawl3", "crawl4"]


def test_a_callback_given_no_context_takes_the_lane_of_the_one_it_is_scheduled_in(loop):
    put(loop, "plain", None)
    lanes.ui_context().run(put, loop, "from-ui", None)
    assert names(loop._ready.ui) == ["from-ui"]
    assert names(loop._ready.popleft() for _ in range(2)) == ["from-ui", "plain"]


def test_what_the_loop_appends_itself_goes_by_its_context_too(loop):
    """Timers come due and I/O callbacks are appended by the loop: a timer of the
    interface's (Textual's screen update) goes to its lane, one of the crawl's to
    the crawl's. With only the interface's callbacks waiting the queue is not
    empty, so the loop does not sleep in select()."""
    ready = loop._ready
    ui_timer = asyncio.TimerHandle(0.0, _noop, ("ui-timer",), loop, lanes.ui_context())
    crawl_timer = asyncio.TimerHandle(0.0, _noop, ("timer",), loop, lanes._crawl_context())
    ready.append(crawl_timer)
    ready.append(ui_timer)
    assert list(ready.ui) == [ui_timer]
    assert [ready.popleft(), ready.popleft()] == [ui_timer, crawl_timer]
    put(loop, "key", True)
    assert ready and len(ready) == 1
    ready.clear()
    assert not ready and len(ready) == 0


def test_an_interface_timer_come_due_runs_before_the_crawls_queued_work():
    """The interface's timer (a screen update) comes due while the crawl has a
    turn's worth of callbacks queued: it runs before them, not after."""
    order: list[str] = []

    async def main():
        loop = asyncio.get_running_loop()
        context = lanes._crawl_context()

        def crawl_step(n: int) -> None:
            order.append(f"crawl{n}")
            if n == 0:  # the crawl is busy: the timer comes due meanwhile
                time.sleep(0.02)
                for m in range(1, 10):
                    loop.call_soon(crawl_step, m, context=context)

        lanes.ui_context().run(loop.call_later, 0.01, order.append, "paint")
        loop.call_soon(crawl_step, 0, context=context)
        await asyncio.sleep(0.1)

    run_on_lanes(main)
    assert order[:2] == ["crawl0", "paint"], order
    assert order[2:] == [f"crawl{n}" for n in range(1, 10)]


def run_on_lanes(main):
    loop = lanes.new_event_loop()
    assert lanes.has_lanes(loop)
    try:
        return loop.run_until_complete(main())
    finally:
        loop.close()


def test_on_a_busy_loop_an_interface_callback_runs_before_the_crawls_queued_work():
    """The crawl has ten callbacks ready; the interface schedules one from the
    first of them: it runs second, not eleventh (a key press's next hop)."""
    order: list[str] = []

    async def main():
        loop = asyncio.get_running_loop()

        def crawl_step(n: int) -> None:
            order.append(f"crawl{n}")
            if n == 0:
                lanes.ui_context().run(loop.call_soon, order.append, "ui")

        context = lanes._crawl_context()
        for n in range(10):
            loop.call_soon(crawl_step, n, context=context)
        await asyncio.sleep(0.05)

    run_on_lanes(main)
    assert order[:2] == ["crawl0", "ui"]
    assert order[2:] == [f"crawl{n}" for n in range(1, 10)]


def test_what_the_interface_asks_of_the_crawl_runs_in_the_crawls_lane():
    seen: dict[str, bool] = {}

    class Source:
        @lanes.crawl_lane
        def stop(self) -> bool:
            seen["stop"] = UI_LANE.get()
            return True

        @lanes.crawl_lane
        async def start(self) -> str:
            seen["start"] = UI_LANE.get()

            async def download() -> None:  # a task the crawl sets going inherits it
                seen["task"] = UI_LANE.get()

            await asyncio.get_running_loop().create_task(download())
            return "started"

    async def interface() -> tuple[bool, str]:
        source = Source()
        assert UI_LANE.get() is True
        stopped = source.stop()
        started = await source.start()
        assert UI_LANE.get() is True  # the interface is still in its own
        return stopped, started

    async def main():
        loop = asyncio.get_running_loop()
        return await lanes.ui_context().run(loop.create_task, interface())

    assert run_on_lanes(main) == (True, "started")
    assert seen == {"stop": False, "start": False, "task": False}


def test_the_local_sources_controls_are_in_the_crawls_lane():
    from workbench.core.sources.local import CRAWL_LANE_METHODS, LocalSource
    from workbench.core.sources.multi import MultiSource

    for cls in (LocalSource, MultiSource):
        for name in CRAWL_LANE_METHODS:
            method = cls.__dict__.get(name)
            if method is not None:
                assert getattr(method, "__crawl_lane__", False), (cls.__name__, name)
    assert LocalSource.start.__name__ == "start"  # wrapped, not renamed


def test_workbench_lanes_0_makes_an_ordinary_loop(monkeypatch):
    monkeypatch.setattr(lanes, "ENABLED", False)
    loop = lanes.new_event_loop()
    try:
        assert not lanes.has_lanes(loop)
    finally:
        loop.close()


async def test_a_busy_process_halves_the_interfaces_share():
    """The refresh period follows what a refresh costs: 4% of the time, 2% when the
    process used most of a core since the last refresh (a crawl bound by its CPU)."""
    import time

    from tests.fakes import FakeSource
    from workbench.ui import app as app_module
    from workbench.ui.app import WorkbenchApp

    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        began = time.perf_counter() - 0.02  # a refresh of 20 ms
        app._load_since = (time.perf_counter() - 1.0, time.process_time())  # idle
        app._painted(began, False)
        idle = app.interval
        # 0.9 s of CPU in the last second: a crawl bound by its CPU
        app._load_since = (time.perf_counter() - 1.0, time.process_time() - 0.9)
        began = time.perf_counter() - 0.02
        app._painted(began, False)
        busy = app.interval
    assert idle == pytest.approx(0.02 * app_module.COST_FACTOR, rel=0.5)
    assert busy == pytest.approx(0.02 * app_module.BUSY_COST_FACTOR, rel=0.5)
    assert busy > idle
