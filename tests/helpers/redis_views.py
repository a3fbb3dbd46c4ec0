"""A fixed Redis view for the Redis screen's Pilot and snapshot tests: a
:class:`FakeWatch` (what ``RedisWatch`` gives the screen: ``view()`` and
``peek()``) and :class:`RedisHostApp`, an app that shows the screen alone."""

from __future__ import annotations

from typing import Any

from textual.app import App

from workbench.core.fleet.model import RUNNING
from workbench.core.fleet.redis_history import Rates
from workbench.core.fleet.redis_queue import (
    PRIORITY,
    QueueEntry,
    QueuePage,
    QueueReading,
    RedisClient,
    RedisKeys,
)
from workbench.core.fleet.redis_warnings import QueueWarning
from workbench.core.fleet.redis_watch import WORKERS, RedisView, WorkerRow
from workbench.core.fleet.redis_workers import WorkerReport

T0 = 1_800_000_000.0
HOSTILE_URL = "http://evil.test/\x1b[2J\x1b]0;pwned\x07[bold]x[/bold]"


def report(pid: int, *, persist: bool = True, dequeued: int = 100) -> WorkerReport:
    return WorkerReport(
        pid=pid, scrapy_version="2.19.0", spider="demo",
        scheduler="scrapy_redis.scheduler.Scheduler",
        queue_class="scrapy_redis.queue.PriorityQueue", queue_key="demo:requests",
        dupefilter_key="demo:dupefilter", persist=persist, serializer=None,
        stats_class="scrapy.statscollectors.MemoryStatsCollector", redis="127.0.0.1:6379/0",
        client_addrs=(f"127.0.0.1:5{pid}",), enqueued=dequeued + 20, dequeued=dequeued,
        filtered=3, items=dequeued // 2,
    )  # fmt: skip


def entries(offset: int, count: int, total: int) -> tuple[QueueEntry, ...]:
    out = []
    for n in range(offset, min(offset + count, total)):
        if n == 2:
            out.append(QueueEntry(n, 88, refused="the pickle names posix.system: not plain "
                                  "data, not loaded"))  # fmt: skip
            continue
        url = HOSTILE_URL if n == 3 else f"http://127.0.0.1:8000/product/{100 + n}.html"
        out.append(
            QueueEntry(
                n,
                310,
                url=url,
                method="GET",
                callback="parse_product",
                priority=0,
                meta_keys=("depth", "download_slot"),
                format="pickle",
            )
        )
    return tuple(out)


class FakeWatch:
    """A RedisWatch's face: a fixed view, a fixed queue of ``total`` entries."""

    def __init__(self, total: int = 120, warnings: bool = True) -> None:
        self.total = total
        self.peeks: list[tuple[int, int]] = []
        keys = RedisKeys.for_spider("demo")
        reading = QueueReading(
            taken_at=T0, ok=True, queue_type=PRIORITY, queue_size=total,
            dupefilter_size=4_210, start_urls_size=0, items_size=1_204,
            clients=tuple(RedisClient(str(n), f"127.0.0.1:5{n}", "", 30, 0, "zrange", 0)
                          for n in (101, 102, 103, 999)),
            server_version="7.0.15",
        )  # fmt: skip
        workers = (
            WorkerRow(101, "localhost", "a", RUNNING, 4, 310.0, 400, report(101, persist=False),
                      clients=("127.0.0.1:5101",), span=30.0, dequeued_growth=40),
            WorkerRow(102, "localhost", "b", RUNNING, 3, 295.0, 380, report(102),
                      clients=("127.0.0.1:5102",), span=30.0, dequeued_growth=38),
            WorkerRow(103, "localhost", "c", RUNNING, 0, 0.0, 12, report(103, dequeued=9),
                      clients=("127.0.0.1:5103",), span=30.0, dequeued_growth=0),
        )  # fmt: skip
        found = (
            QueueWarning("persist", "SCHEDULER_PERSIST is False: the first worker to finish "
                         "deletes the queue and the dupefilter every worker shares",
                         ("pid 101 (1 of 3 workers on this queue) run with SCHEDULER_PERSIST "
                          "False", "fix: SCHEDULER_PERSIST = True in the settings every worker "
                          "uses")),
            QueueWarning("stuck", "A worker takes nothing from the queue while requests wait",
                         ("pid 103 (running): took nothing from demo:requests in 30 s",)),
        ) if warnings else ()  # fmt: skip
        self._view = RedisView(
            shown_url="redis://:***@127.0.0.1:6379/0", keys=keys, reading=reading,
            rates=Rates(enqueued=640.0, dequeued=605.0, dupefilter=640.0, items=300.0,
                        exact=True),
            sizes=tuple(float(total + 40 - n) for n in range(40)),
            enqueued=tuple(600.0 for _ in range(40)),
            dequeued=tuple(500.0 + (n % 7) * 30 for n in range(40)),
            counters=WORKERS, workers=workers, other_clients=0, warnings=found, polls=5,
        )  # fmt: skip

    def view(self) -> RedisView:
        return self._view

    def peek(self, offset: int = 0, limit: int = 50) -> QueuePage:
        self.peeks.append((offset, limit))
        return QueuePage(offset, self.total, entries(offset, limit, self.total),
                         "lowest score first (score = -priority)")  # fmt: skip


class RedisHostApp(App[None]):
    """The Redis screen alone, over a fake watch."""

    def __init__(self, watch: Any) -> None:
        super().__init__()
        self.redis_watch = watch

    def on_mount(self) -> None:
        from workbench.ui.screens.redis_queue import RedisQueueScreen

        self.push_screen(RedisQueueScreen(self.redis_watch, clock=lambda: 0.0))
