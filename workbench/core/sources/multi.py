"""Several crawlers in one process: ``workbench crawl SPIDER1 SPIDER2 …``.

As in Scrapy's docs ("Running multiple spiders in the same process"), the
crawlers run together on one reactor, each with its own engine, scheduler,
downloader and stats.  They share one recorder, whose records carry their
spider's name, so flows, items and log lines keep one cursor for the panels.

:class:`MultiSource` is what the panels read.  Its *scope* is one crawler or
all of them: scoped, every read and control goes to that crawler (its stats,
queue, slots, pause); with all, the stats are summed, the queues and slots
listed one crawler after another (slot keys as ``spider/slot``), and pause and
stop act on every crawler.  Flows, items and log lines are filtered by the
panels on the snapshot's ``scope``.  Live objects and memory are the process's.
How the readings of all of them become one (state, stats, pace, slot keys) is
:mod:`workbench.core.sources.multi_merge`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from workbench.core.control.breakpoints import Breakpoint
from workbench.core.control.host import CrawlHost, CrawlStatus, ensure_reactor
from workbench.core.control.in_flight import merge_summaries, oldest_first
from workbench.core.control.pace import PaceView
from workbench.core.control.pace.engine import EngineReading
from workbench.core.control.scheduler_view import QueuedRequest, QueueView
from workbench.core.inspection.replay import ReplayResult
from workbench.core.recording.errors import ErrorsView
from workbench.core.recording.item_health import ItemHealth
from workbench.core.recording.recorder import Recorder
from workbench.core.recording.run_changes import RunComparison
from workbench.core.sources.base import Capabilities, CrawlerLine, ShellTarget, Snapshot
from workbench.core.sources.local import LocalSource
from workbench.core.sources.multi_merge import (
    SEP,
    combined_state,
    merged_series,
    prefixed,
    summed_stats,
)


class CrawlerPart(LocalSource):
    """One of the crawlers, read on its own (its own stats, history, controls)."""

    sample_probe = False  # the process's: MultiSource samples it

    def __init__(self, host: CrawlHost, name: str) -> None:
        super().__init__(host)
        self.name = name

    def _item_counts(self, rec: Any, stats: dict[str, Any]) -> tuple[int, int, int]:
        scraped, dropped, failed = rec.items_by_spider.get(self.name, (0, 0, 0))
        return scraped, dropped, failed


class MultiSource(LocalSource):
    """Several crawlers of one process, as one source with a scope."""

    capabilities: ClassVar[Capabilities] = dataclasses.replace(
        LocalSource.capabilities, crawlers=True
    )

    def __init__(
        self,
        hosts: list[CrawlHost],
        prepare: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.hosts = hosts
        self.parts = [CrawlerPart(h, _name(h)) for h in hosts]
        self.scope: str | None = None  # the crawler shown, None: all of them
        super().__init__(hosts[0], prepare)  # its history: of all of them

    # -- which crawler -----------------------------------------------------------

    def crawlers(self) -> list[str]:
        return [p.name for p in self.parts]

    def select(self, name: str | None) -> None:
        if name is not None and name not in self.crawlers():
            raise ValueError(f"no crawler {name!r}")
        self.scope = name

    def cycle(self) -> str | None:
        """The next scope: all, then each crawler in turn."""
        names = [None, *self.crawlers()]
        self.scope = names[(names.index(self.scope) + 1) % len(names)]
        return self.scope

    def _part_named(self, name: str | None) -> CrawlerPart | None:
        return next((part for part in self.parts if part.name == name), None)

    @property
    def part(self) -> CrawlerPart | None:
        """The crawler in scope (None: all)."""
        return self._part_named(self.scope)

    def _part_of_flow(self, flow_id: int | None) -> CrawlerPart:
        flow = self.flow(flow_id) if flow_id is not None else None
        mine = self._part_named(flow.spider) if flow is not None else None
        return mine or self.part or self.parts[0]

    @property
    def host(self) -> CrawlHost:
        """The crawler in scope, or the first one (what is the process's anyway)."""
        part = self.part
        return part.host if part is not None else self.hosts[0]

    @property
    def recorder(self) -> Recorder:
        return self.parts[0].recorder  # shared

    def error_groups(self) -> ErrorsView:
        return self.recorder.errors.view(self.scope)

    def item_health(self) -> ItemHealth:
        return self.recorder.item_health.view(self.scope)

    def run_comparison(self) -> RunComparison | None:
        """The crawler in scope against its last run (all of them: none)."""
        part = self.part
        return part.run_comparison() if part is not None else None

    # -- lifecycle ---------------------------------------------------------------

    async def start(self) -> None:
        ensure_reactor(self.hosts[0].settings)
        if self.prepare is not None:
            await self.prepare()
        for host in self.hosts:
            await host.start()

    def close(self) -> None:
        for host in self.hosts:
            host.close()

    # -- reads ------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        snaps = [p.snapshot() for p in self.parts]
        lines = tuple(
            CrawlerLine(p.name, s.status.state, s.pages, s.items_scraped)
            for p, s in zip(self.parts, snaps, strict=True)
        )
        # live objects and memory are the process's: sampled once, for all crawlers
        self.probe.sample(
            sum(s.pages for s in snaps),
            sum(s.status.in_flight for s in snaps),
            sum(s.status.queued for s in snaps),
        )
        hit = next((s.hit for s in snaps if s.hit is not None), None)
        hits_waiting = sum(s.hits_waiting for s in snaps)
        for part, snap in zip(self.parts, snaps, strict=True):
            if part.name == self.scope:  # its hit first, else another crawler's
                return dataclasses.replace(
                    snap,
                    crawlers=lines,
                    scope=part.name,
                    hit=snap.hit or hit,
                    hits_waiting=hits_waiting,
                )
        now = time.time()
        statuses = [s.status for s in snaps]
        state = combined_state([s.state for s in statuses])
        finished = state in ("finished", "failed")
        reasons = sorted({s.finish_reason for s in statuses if s.finish_reason})
        status = CrawlStatus(
            state,
            sum(s.in_flight for s in statuses),
            sum(s.queued for s in statuses),
            ", ".join(reasons) if finished and reasons else None,
            "; ".join(s.error for s in statuses if s.error) or None,
            sum(s.held for s in statuses),
            merge_summaries([s.transfers for s in statuses]),
        )
        stats = summed_stats([s.stats for s in snaps])
        rec = self.recorder
        if not finished:
            pages = int(stats.get("response_received_count", 0))
            self.history.sample(now, pages, rec.items_scraped)
        started = [s.started for s in snaps if s.started is not None]
        ends = [s.finished for s in snaps if s.finished is not None]
        first = snaps[0]
        return dataclasses.replace(
            first,
            time=now,
            spider=" + ".join(self.crawlers()),
            status=status,
            stats=stats,
            started=min(started) if started else None,
            finished=max(ends) if finished and ends else None,
            items_scraped=rec.items_scraped,
            items_dropped=rec.items_dropped,
            items_failed=rec.items_failed,
            history=tuple(self.history.samples),
            hit=hit,
            hits_waiting=hits_waiting,
            breakpoints_version=sum(s.breakpoints_version for s in snaps),
            crawlers=lines,
            scope=None,
        )

    def queue(self, offset: int = 0, limit: int = 100) -> QueueView:
        part = self.part
        if part is not None:
            return part.queue(offset, limit)
        views: list[tuple[str, QueueView]] = []
        page: list[QueuedRequest] = []
        start = offset
        for part in self.parts:  # one crawler's queue after another
            view = part.queue(start, max(0, limit - len(page)))
            views.append((part.name, view))
            if start < view.total:
                page += [prefixed(r, part.name) for r in view.page]
                start = 0
            else:
                start -= view.total
        return QueueView(
            total=sum(v.total for _, v in views),
            groups=tuple(prefixed(g, n) for n, v in views for g in v.groups),
            page=tuple(page[:limit]),
            offset=offset,
            slots=tuple(
                dataclasses.replace(s, key=f"{n}{SEP}{s.key}") for n, v in views for s in v.slots
            ),
            in_flight=sum(v.in_flight for _, v in views),
            took=sum(v.took for _, v in views),
            requests=oldest_first(
                dataclasses.replace(r, slot=f"{n}{SEP}{r.slot}")
                for n, v in views
                for r in v.requests
            ),
        )

    # -- controls -----------------------------------------------------------------

    def _targets(self) -> list[CrawlerPart]:
        part = self.part
        return [part] if part is not None else self.parts

    def toggle_pause(self) -> bool | None:
        """Pause (or resume) the crawler in scope, or all of them: they pause when
        any of them runs, and resume otherwise."""
        targets = [p for p in self._targets() if not p.host.finished]
        if not targets:
            return None
        running = any(p.host.status().state == "running" for p in targets)
        for part in targets:
            if running:
                part.host.pause()
            else:
                part.host.resume()
        return running

    def stop(self) -> bool:
        stopping = [part.stop() for part in self._targets()]
        return any(stopping)

    # the process (quitting, a signal): every crawler, whatever the scope

    def process_state(self) -> str:
        """What quitting must deal with: "running" while any crawler runs or is
        paused (it is stopped gracefully), "closing" when the live ones all close."""
        states = [p.host.status().state for p in self.parts]
        if any(s in ("running", "paused") for s in states):
            return "running"
        return combined_state(states)

    def crawl_hosts(self) -> list[CrawlHost]:
        return list(self.hosts)

    def stop_all(self) -> bool:
        stopping = [part.stop() for part in self.parts]
        return any(stopping)

    # breakpoints: the crawler in scope's; with all, every crawler's, the first one's
    # list standing for them (a breakpoint is the same in each when its text is).
    # A hit of any crawler is shown, and continue/step go to the crawler that has it.

    def breakpoints(self) -> list[Breakpoint]:
        return (self.part or self.parts[0]).breakpoints()

    def add_breakpoint(self, text: str) -> Breakpoint:
        added = [part.add_breakpoint(text) for part in self._targets()]
        return added[0]

    def _each_like(self, bp_id: int) -> list[tuple[CrawlerPart, int]]:
        """(crawler, id) of the breakpoint ``bp_id`` and of its likes in the others."""
        first = self.part or self.parts[0]
        mine = next((b for b in first.breakpoints() if b.id == bp_id), None)
        if mine is None or self.part is not None:
            return [(first, bp_id)]
        found = [(first, bp_id)]
        for part in self.parts[1:]:
            like = next((b for b in part.breakpoints() if b.text == mine.text), None)
            if like is not None:
                found.append((part, like.id))
        return found

    def edit_breakpoint(self, bp_id: int, text: str) -> Breakpoint:
        edited = [part.edit_breakpoint(i, text) for part, i in self._each_like(bp_id)]
        return edited[0]

    def remove_breakpoint(self, bp_id: int) -> None:
        for part, i in self._each_like(bp_id):
            part.remove_breakpoint(i)

    def toggle_breakpoint(self, bp_id: int) -> bool:
        states = [part.toggle_breakpoint(i) for part, i in self._each_like(bp_id)]
        return states[0]

    def _hit_part(self) -> CrawlerPart:
        """The crawler whose hit is shown: the one in scope's, else the first held."""
        for part in [self.part, *self.parts] if self.part is not None else self.parts:
            if part.breakpoints_manager.current is not None:
                return part
        return self.part or self.parts[0]

    def continue_(self) -> bool:
        return self._hit_part().continue_()

    def step(self) -> bool:
        return self._hit_part().step()

    def shell_on_flow(self, flow_id: int | None) -> ShellTarget:
        part = self._hit_part() if flow_id is None else self._part_of_flow(flow_id)
        target = part.shell_on_flow(flow_id)
        return dataclasses.replace(target, extra={**target.extra, "crawler": part.host.crawler})

    async def replay(self, flow_id: int) -> ReplayResult:
        return await self._part_of_flow(flow_id).replay(flow_id)

    # -- pace ----------------------------------------------------------------------

    def pace(self, selected: str | None = None, points: int = 900) -> PaceView | None:
        part = self.part
        if part is not None:
            return part.pace(selected, points)
        owner, slot = self._slot_owner(selected)
        views = [(p, p.pace(slot if p is owner else None, points)) for p in self.parts]
        present = [(p, v) for p, v in views if v is not None]
        if not present:
            return None
        rows = tuple(
            dataclasses.replace(r, key=f"{p.name}{SEP}{r.key}") for p, v in present for r in v.rows
        )
        adjustments = sorted(
            (
                dataclasses.replace(a, slot=f"{p.name}{SEP}{a.slot}")
                for p, v in present
                for a in v.adjustments
            ),
            key=lambda a: a.time,
        )
        mine = next((v for p, v in present if p is owner), None)
        first = present[0][1]
        chosen = mine if mine is not None and mine.selected is not None else None
        return dataclasses.replace(
            first,
            rows=rows,
            selected=selected if chosen is not None else None,
            series=(
                chosen.series
                if chosen is not None
                else merged_series([v.series for _, v in present])
            ),
            adjustments=tuple(adjustments[-200:]),
            adjustments_total=sum(v.adjustments_total for _, v in present),
            in_flight=sum(v.in_flight for _, v in present),
            total_concurrency=sum(v.total_concurrency for _, v in present),
        )

    def engine_reading(self) -> EngineReading | None:
        """The crawler in scope's (each crawler has its own engine: none for all)."""
        part = self.part
        return part.engine_reading() if part is not None else None

    def _slot_owner(self, key: str | None) -> tuple[CrawlerPart | None, str | None]:
        """The crawler of a ``spider/slot`` key, and the slot's own key."""
        if key is None or self.part is not None:
            return self.part, key
        name, _, slot = key.partition(SEP)
        owner = self._part_named(name)
        return (owner, slot) if owner is not None else (None, None)

    def _slot_call(self, key: str | None, call: Callable[[CrawlerPart, str | None], str]) -> str:
        if key is None:
            live = [p for p in self._targets() if not p.host.finished]
            return "; ".join(f"{p.name}: {call(p, None)}" for p in live)
        owner, slot = self._slot_owner(key)
        if owner is None:
            raise ValueError(f"no slot {key!r}")
        return call(owner, slot)

    def set_slot_delay(self, key: str | None, seconds: float) -> str:
        return self._slot_call(key, lambda p, k: p.set_slot_delay(k, seconds))

    def set_slot_concurrency(self, key: str | None, value: int) -> str:
        return self._slot_call(key, lambda p, k: p.set_slot_concurrency(k, value))

    def set_slot_autothrottle(self, key: str | None, on: bool) -> str:
        return self._slot_call(key, lambda p, k: p.set_slot_autothrottle(k, on))


def _name(host: CrawlHost) -> str:
    crawler = host.create()
    return str(getattr(crawler.spidercls, "name", None) or crawler.spidercls.__name__)
