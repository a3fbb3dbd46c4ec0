"""The Redis view: a scrapy-redis queue that the fleet's workers share.

:class:`RedisQueueScreen` reads a :class:`~workbench.core.fleet.redis_watch.RedisWatch`'s
last view on a timer (the fleet's poller polls it, as an annotator) and shows
the sizes and rates, a chart of the queue and of what leaves it, the
warnings with their evidence, the workers on the queue (their Redis
connections matched), and the head of the queue, paged, peeked in a thread
(never popped).  Everything from Redis or a crawl is cleaned before drawing.
"""

from __future__ import annotations

import time
from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Sparkline, Static

from workbench.core.fleet.redis_queue import (
    LIST,
    MISSING,
    PAGE,
    PRIORITY,
    QueuePage,
    domain_counts,
)
from workbench.core.fleet.redis_watch import RedisView
from workbench.core.formats.sanitize import clean_line
from workbench.ui.screens.help import HelpScreen, bindings_table

REFRESH = 1.0  # seconds between looks at the watch's last view
HEAD_EVERY = 5.0  # seconds between fresh peeks at the head

QUEUE_TYPES = {
    PRIORITY: "priority queue (sorted set)",
    LIST: "list (FIFO or LIFO)",
    "fifo": "FIFO list",
    "lifo": "LIFO list",
    MISSING: "empty (no key)",
}


def _rate(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}/min"


def _growth(value: float | None) -> str:
    if not value:
        return ""
    return f"{'+' if value > 0 else '−'}{abs(value):,.0f}/min"


def sizes_text(view: RedisView) -> Text:
    """The keys and their sizes, with the rates."""
    text = Text()
    reading = view.reading
    keys = view.keys
    if reading is None:
        return Text("waiting for the first reading of Redis…", style="dim")
    if not reading.ok:
        return Text(clean_line(f"Redis does not answer: {reading.error}", 400), style="bold red")
    rates = view.rates

    def line(label: str, value: str, key: str, extra: str = "") -> None:
        text.append(f"{label:<11}", style="bold")
        text.append(value)
        text.append(f"  {clean_line(key, 80)}", style="dim")
        if extra:
            text.append(f"  {extra}")
        text.append("\n")

    kind = QUEUE_TYPES.get(reading.queue_type, f"a Redis {reading.queue_type}: not a queue")
    line("Queue", f"{reading.queue_size:,} requests", keys.queue, clean_line(kind, 60))
    text.append(" " * 11)
    text.append(f"in {_rate(rates.enqueued)}  out {_rate(rates.dequeued)}", style="bold")
    text.append(f"  ({view.counters})\n", style="dim")
    line(
        "Dupefilter",
        f"{reading.dupefilter_size:,} fingerprints",
        keys.dupefilter,
        _growth(rates.dupefilter),
    )
    line("Start URLs", f"{reading.start_urls_size:,} waiting", keys.start_urls)
    line("Items", f"{reading.items_size:,} pushed", keys.items, _growth(rates.items))
    if reading.stats:
        shown = [(k, v) for k, v in reading.stats if "/" in k or k.endswith("_count")][:6]
        text.append(f"{'Stats hash':<11}", style="bold")
        text.append(clean_line(", ".join(f"{k} {v}" for k, v in shown), 300))
        text.append(f"  {clean_line(keys.stats, 80)} ({len(reading.stats)} fields)\n", style="dim")
    text.append(f"{'Clients':<11}", style="bold")
    matched = sum(len(w.clients) for w in view.workers)
    text.append(f"{len(reading.clients)} connected, {matched} matched to workers")
    if reading.server_version:
        text.append(f"  Redis {clean_line(reading.server_version, 20)}", style="dim")
    return text


def warnings_text(view: RedisView) -> Text:
    if not view.warnings:
        if view.reading is not None and view.reading.ok:
            return Text("No warnings.", style="dim")
        return Text()
    text = Text()
    for n, warning in enumerate(view.warnings):
        if n:
            text.append("\n")
        text.append("⚠ ", style="bold yellow")
        text.append(clean_line(warning.title, 300), style="bold")
        for line in warning.evidence:
            text.append("\n    ")
            text.append(clean_line(line, 500))
    return text


WORKER_COLUMNS = ("pid", "host", "state", "in flight", "pages/min", "took", "queued",
                  "persist", "Scrapy", "Redis conns")  # fmt: skip
HEAD_COLUMNS = ("#", "priority", "method", "url", "callback", "meta keys")


def worker_cells(worker: Any) -> list[Text]:
    report = worker.report
    persist = "–" if report is None else ("yes" if report.persist else "NO")
    return [
        Text(str(worker.pid or "?")),
        Text(clean_line(worker.host, 40)),
        Text(clean_line(worker.state, 20)),
        Text("–" if worker.in_flight is None else str(worker.in_flight)),
        Text("–" if worker.pages_per_min is None else f"{worker.pages_per_min:,.0f}"),
        Text("–" if report is None else f"{report.dequeued:,}"),
        Text("–" if report is None else f"{report.enqueued:,}"),
        Text(persist, style="bold red" if persist == "NO" else ""),
        Text(clean_line(report.scrapy_version, 20) if report else "–"),
        Text(
            clean_line(", ".join(worker.clients), 60) or clean_line(worker.report_error or "–", 60)
        ),
    ]


def head_cells(entry: Any) -> list[Text]:
    if entry.refused:
        return [
            Text(str(entry.position)),
            Text(""),
            Text(""),
            Text(clean_line(f"refused: {entry.refused}", 200), style="red"),
            Text(f"{entry.size:,} bytes", style="dim"),
            Text(""),
        ]
    return [
        Text(str(entry.position)),
        Text("" if entry.priority is None else str(entry.priority)),
        Text(clean_line(entry.method, 10)),
        Text(clean_line(entry.url, 200)),
        Text(clean_line(entry.callback or "parse", 60)),
        Text(clean_line(", ".join(entry.meta_keys), 80)),
    ]


REDIS_HELP = """\
What the Redis view reads (every few seconds, never popping, never writing):
  Queue       SCHEDULER_QUEUE_KEY: a sorted set (PriorityQueue, the default; score = -priority)
              or a list (FifoQueue: the right end is next; LifoQueue: the left end)
  Dupefilter  SCHEDULER_DUPEFILTER_KEY: one fingerprint per request ever queued
  Start URLs  REDIS_START_URLS_KEY: what RedisSpider workers read when idle
  Items       REDIS_ITEMS_KEY: what scrapy_redis.pipelines.RedisPipeline pushed
  Stats hash  STATS_KEY: RedisStatsCollector's shared stats, when the project uses it
In and out per minute come from the shared stats hash or the workers' own
scheduler/enqueued/redis and dequeued counters; otherwise they are estimated
from the dupefilter's growth (every queued request passed it).
Entries are decoded as plain data only: a pickle that names a function or a
class is refused and shown as such, never run."""


class RedisHelpScreen(HelpScreen):
    """The ? screen of the Redis view: its keys and what it reads."""

    HELP_APP = "fleet"  # a screen of FleetApp, not of WorkbenchApp (tests/test_bindings.py)

    def compose(self) -> Any:
        scroll = VerticalScroll()
        scroll.border_title = "Redis view keys  (q / Esc closes)"
        with scroll:
            yield Static(bindings_table(self.sections))
            yield Static(Text(REDIS_HELP))


class RedisQueueScreen(Screen[None]):
    """The shared queue of a scrapy-redis crawl (from the fleet: Q)."""

    HELP_TITLE = "The Redis queue"
    HELP_APP = "fleet"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back", tooltip="Back to the fleet"),
        Binding("n", "page(1)", "Next page", tooltip="The next page of the queue's head"),
        Binding("p", "page(-1)", "Prev page", tooltip="The previous page of the queue's head"),
        Binding("g", "first_page", "Head", show=False, tooltip="Back to the head of the queue"),
        Binding("r", "peek", "Re-read", tooltip="Read the head of the queue again now"),
        Binding("question_mark", "help", "Help", tooltip="Show every key"),
    ]

    DEFAULT_CSS = """
    RedisQueueScreen { layout: vertical; }
    #redis-title { height: 1; background: $boost; }
    #redis-top { height: auto; max-height: 12; }
    #redis-sizes { width: 1fr; height: auto; padding: 0 1; }
    #redis-charts { width: 46; height: auto; padding: 0 1; }
    #redis-charts Sparkline { height: 2; margin-bottom: 1; }
    .redis-label { height: 1; color: $text-muted; }
    #redis-warnings { height: auto; max-height: 10; border: round $warning; padding: 0 1; }
    #redis-warnings.-none { border: round $panel; }
    #redis-workers { height: auto; max-height: 9; border: round $secondary; }
    #redis-head { height: 1fr; min-height: 6; border: round $primary; }
    #redis-domains { height: 1; background: $panel; }
    """

    def __init__(self, watch: Any, *, clock: Any = time.monotonic) -> None:
        super().__init__()
        self.queue_watch = watch
        self.clock = clock
        self.head_offset = 0
        self.head_page: QueuePage | None = None
        self.domains: list[tuple[str, int]] = []
        self.seen_polls = -1
        self.last_peek = -HEAD_EVERY

    def compose(self) -> Any:
        yield Static("", id="redis-title")
        with Horizontal(id="redis-top"):
            yield Static("", id="redis-sizes")
            with Vertical(id="redis-charts"):
                yield Static("queue size", classes="redis-label", id="redis-size-label")
                yield Sparkline([], id="redis-size-chart")
                yield Static("taken from the queue per minute", classes="redis-label",
                             id="redis-out-label")  # fmt: skip
                yield Sparkline([], id="redis-out-chart")
        with VerticalScroll(id="redis-warnings"):
            yield Static("", id="redis-warnings-text")
        workers: DataTable[Text] = DataTable(
            id="redis-workers", cursor_type="row", zebra_stripes=True
        )
        workers.border_title = "Workers on this queue"
        yield workers
        yield DataTable(id="redis-head", cursor_type="row", zebra_stripes=True)
        yield Static("", id="redis-domains")
        yield Footer()

    def on_mount(self) -> None:
        workers = self.query_one("#redis-workers", DataTable)
        workers.add_columns(*WORKER_COLUMNS)
        head = self.query_one("#redis-head", DataTable)
        head.add_columns(*HEAD_COLUMNS)
        head.focus()
        self.refresh_view()
        self.set_interval(REFRESH, self.refresh_view)

    # -- the view -----------------------------------------------------------------

    def refresh_view(self) -> None:
        view: RedisView = self.queue_watch.view()
        if self.clock() - self.last_peek >= HEAD_EVERY:
            self.last_peek = self.clock()
            self.action_peek()
        if view.polls == self.seen_polls:
            return
        self.seen_polls = view.polls
        title = Text()
        title.append(" Redis queue ", style="bold reverse")
        title.append(f" {clean_line(view.shown_url, 120)}  queue ")
        title.append(clean_line(view.keys.queue, 80), style="bold")
        self.query_one("#redis-title", Static).update(title)
        self.query_one("#redis-sizes", Static).update(sizes_text(view))
        self.query_one("#redis-size-chart", Sparkline).data = list(view.sizes)
        self.query_one("#redis-out-chart", Sparkline).data = list(view.dequeued)
        last_size = f"{view.sizes[-1]:,.0f}" if view.sizes else "–"
        peak = f"{max(view.dequeued):,.0f}" if view.dequeued else "–"
        self.query_one("#redis-size-label", Static).update(
            Text(f"queue size over {len(view.sizes)} polls (now {last_size})")
        )
        self.query_one("#redis-out-label", Static).update(
            Text(f"taken from the queue per minute (peak {peak})")
        )
        box = self.query_one("#redis-warnings", VerticalScroll)
        box.border_title = f"Warnings ({len(view.warnings)})"
        box.set_class(not view.warnings, "-none")
        self.query_one("#redis-warnings-text", Static).update(warnings_text(view))
        workers = self.query_one("#redis-workers", DataTable)
        workers.clear()
        for worker in view.workers:
            workers.add_row(*worker_cells(worker))
        if not view.workers:
            workers.add_row(
                Text("–"), Text("no crawl of the fleet uses this queue", style="dim"),
                *[Text("") for _ in WORKER_COLUMNS[2:]],
            )  # fmt: skip

    def _show_page(self) -> None:
        head = self.query_one("#redis-head", DataTable)
        page = self.head_page
        head.clear()
        if page is None:
            head.border_title = "Head of the queue (reading…)"
            return
        if page.error:
            head.border_title = "Head of the queue"
            error = Text(clean_line(page.error, 300), style="red")
            head.add_row(Text(""), Text(""), Text(""), error, Text(""), Text(""))
            return
        last = page.offset + len(page.entries)
        head.border_title = (
            f"Head of the queue: {page.offset + 1 if page.entries else 0}–{last} of "
            f"{page.total:,}, {page.order}  (n/p pages; nothing is popped)"
        )
        for entry in page.entries:
            head.add_row(*head_cells(entry))
        domains = Text()
        domains.append(" Hosts in the first 500: ", style="bold")
        domains.append(
            clean_line(", ".join(f"{host} {count:,}" for host, count in self.domains[:8]), 300)
            or "–"
        )
        self.query_one("#redis-domains", Static).update(domains)

    @work(thread=True, exclusive=True, group="redis-peek")
    def _read_head(self, offset: int) -> None:
        page = self.queue_watch.peek(offset, PAGE)
        sample = self.queue_watch.peek(0, 500).entries if offset == 0 else None
        self.app.call_from_thread(self._got_page, page, sample)

    def _got_page(self, page: QueuePage, sample: Any) -> None:
        self.head_page = page
        if sample is not None:
            self.domains = domain_counts(sample)
        self._show_page()

    # -- the keys -----------------------------------------------------------------

    def action_peek(self) -> None:
        self._read_head(self.head_offset)

    def action_page(self, step: int) -> None:
        total = self.head_page.total if self.head_page else 0
        offset = max(0, self.head_offset + step * PAGE)
        if step > 0 and offset >= total:
            self.notify("That is the end of the queue.", timeout=2)
            return
        self.head_offset = offset
        self.last_peek = self.clock()
        self._read_head(offset)

    def action_first_page(self) -> None:
        self.head_offset = 0
        self.action_peek()

    def action_help(self) -> None:
        self.app.push_screen(
            RedisHelpScreen(
                [
                    (self.HELP_TITLE, list(self.BINDINGS)),
                    ("Tables", list(DataTable.BINDINGS)),
                ]
            )
        )
