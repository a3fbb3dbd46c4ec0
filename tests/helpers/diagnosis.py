"""Evidence for the diagnosis rules, built by hand: engine readings, slots, snapshots."""

from __future__ import annotations

import dataclasses
from typing import Any

from workbench.core.control.host import CrawlStatus
from workbench.core.control.pace import PacePoint, SlotRow
from workbench.core.control.pace.engine import EnginePoint, EngineReading
from workbench.core.inspection.diagnosis import Evidence, gather
from workbench.core.sources.base import Snapshot

T0 = 1_790_000_000.0
NOW = T0 + 65


def point(i: int, n: int = 20, **kw: Any) -> EnginePoint:
    """The engine's reading ``n - i`` seconds before NOW (responses: 5 a second)."""
    base = dict(
        time=NOW - (n - 1 - i),
        queued=40,
        active=4,
        transferring=4,
        scraping=0,
        scraper_bytes=0,
        backout=False,
        responses=5 * i,
        lag=0.01,
        cpu=0.3,
        blocked=0.02,
    )
    base.update(kw)
    return EnginePoint(**base)


def points(n: int = 20, **kw: Any) -> tuple[EnginePoint, ...]:
    return tuple(point(i, n, **kw) for i in range(n))


def slot_points(n: int = 20, **kw: Any) -> tuple[PacePoint, ...]:
    base = dict(delay=0.0, concurrency=8, active=4, transferring=4, responses=5, rate=5.0,
                latency=0.05)  # fmt: skip
    base.update(kw)
    return tuple(PacePoint(time=NOW - (n - 1 - i), **base) for i in range(n))


def slot_row(key: str = "127.0.0.1", **kw: Any) -> SlotRow:
    base = dict(
        key=key,
        live=True,
        concurrency=8,
        active=4,
        queued=0,
        transferring=4,
        delay=0.0,
        target_delay=None,
        latency_last=0.05,
        latency_mean=0.05,
        latency_p95=0.08,
        responses=300,
        errors=0,
        non200=0,
        rate=5.0,
        last_seen=NOW - 0.2,
        autothrottle="-",
        overrides="",
    )
    base.update(kw)
    return SlotRow(**base)


def reading(
    engine_points: tuple[EnginePoint, ...] | None = None,
    slots: dict[str, tuple[SlotRow, tuple[PacePoint, ...]]] | None = None,
    last_response: float = NOW - 0.2,
    **settings: Any,
) -> EngineReading:
    """A healthy crawl's reading unless told otherwise: 4 of 16 on the wire, 40 queued."""
    if slots is None:
        slots = {"127.0.0.1": (slot_row(), slot_points())}
    base = dict(
        concurrent_requests=16,
        per_domain=8,
        per_ip=0,
        download_delay=0.0,
        autothrottle=False,
        target_concurrency=1.0,
        max_delay=60.0,
        scraper_max_bytes=5_000_000,
        download_timeout=180.0,
        priority_queue="DownloaderAwarePriorityQueue",
    )
    base.update(settings)
    return EngineReading(
        time=NOW,
        points=engine_points if engine_points is not None else points(),
        slots=tuple(row for row, _ in slots.values()),
        slot_points=tuple((key, series) for key, (_, series) in slots.items()),
        last_response=last_response,
        **base,
    )


def snapshot(
    state: str = "running",
    stats: dict[str, Any] | None = None,
    fates: dict[str, int] | None = None,
    elapsed: float = 60.0,
    finish_reason: str | None = None,
    **kw: Any,
) -> Snapshot:
    base_stats = {
        "downloader/request_count": 300,
        "downloader/response_count": 300,
        "response_received_count": 300,
        "downloader/response_status_count/200": 300,
    }
    base_stats.update(stats or {})  # fmt: skip
    snap = Snapshot(
        time=NOW,
        spider="shop",
        status=CrawlStatus(state, 4, 40, finish_reason, None),
        stats=base_stats,
        started=NOW - elapsed,
        finished=NOW if state == "finished" else None,
        flows_total=300,
        flows_kept=300,
        items_scraped=100,
        items_dropped=0,
        items_failed=0,
        items_total=100,
        items_kept=100,
        log_total=10,
        log_kept=10,
        log_counts={},
        bodies_kept=0,
        body_bytes=0,
        bodies_evicted=0,
        history=(),
        fates=fates or {},
    )
    return dataclasses.replace(snap, **kw) if kw else snap


def evidence(
    snap: Snapshot | None = None,
    engine: EngineReading | None = None,
    flows: list[Any] | None = None,
    items: Any = None,
) -> Evidence:
    return gather(snap if snap is not None else snapshot(), engine, flows, items)


def delay_bound() -> EngineReading:
    """A crawl's engine readings: slot 127.0.0.1 held by a 1 s DOWNLOAD_DELAY."""
    series = slot_points(delay=1.0, active=16, transferring=0)
    row = slot_row(active=16, queued=16, transferring=0, delay=1.0)
    return reading(points(active=16, transferring=0), {"127.0.0.1": (row, series)},
                   download_delay=1.0)  # fmt: skip


def fake_source(engine: bool = True, fates: bool = True) -> Any:
    """The fake source, with the delay-bound readings (``engine``) and its fates."""
    from tests.fakes import FakeSource

    fake = FakeSource(fates=fates)
    if engine:
        fake.engine = delay_bound()
    return fake
