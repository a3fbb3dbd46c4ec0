"""What bounds the crawl's speed: the rules of Scrapy's "Finding the bottleneck",
"Speeding up broad crawls" and AutoThrottle docs, on the engine's readings.

Each rule judges the last :data:`~.evidence.WINDOW` seconds of readings (one
a second, as the docs' "take a few readings at different points of the
crawl"), and speaks only when what it looks for held in :data:`SUSTAINED` of
them.  They need the engine's readings and a running crawl.

This module holds what the pace rules share (the docs they cite,
:data:`SUSTAINED`, :func:`full_window`, :func:`seconds_held`) and the rules on
the process and the downloader as a whole: the CPU and the event loop, and the
downloader full (the network).  The others are :mod:`.pace_slot_rules` (one
slot: its concurrency, its delay or AutoThrottle's, one slot holding the crawl)
and :mod:`.pace_stall_rules` (a starved scheduler, stalled downloads).
"""

from __future__ import annotations

from workbench.core.inspection.diagnosis.evidence import (
    MIN_READINGS,
    WINDOW,
    Evidence,
    mean,
    share,
)
from workbench.core.inspection.diagnosis.verdicts import LIMIT, Target, Verdict, rule

BOTTLENECK = "Scrapy docs, Optimization: Finding the bottleneck"
BROAD = "Scrapy docs, Optimization: Speeding up broad crawls"
AUTOTHROTTLE = "Scrapy docs, AutoThrottle extension: Throttling algorithm"

SUSTAINED = 0.8
"""Share of the window's readings in which a condition must hold to make a verdict
("stays at", "stays below" in "Finding the bottleneck": not one reading)."""

CPU_BOUND = 0.9
"""Share of one core above which the process is CPU-bound.  "Finding the
bottleneck", Reading resource usage, CPU: "One CPU core is the ceiling; a process
sitting at 100% of a core is CPU-bound no matter how many cores the machine has."
0.9 leaves room for the time the process waits on the kernel."""

BLOCKED_SHARE = 0.5
"""Share of the window the event loop spent blocked (its 0.1 s timers late, the
lateness summed) that makes a blocked loop: CPU-bound code in a callback delays
every other callback and I/O for as long as it runs (what Scrapy's event loop lag
monitor warns about).  A blocked loop also takes fewer readings, so this test
needs only :data:`MIN_SPAN` seconds of them, not :data:`MIN_READINGS`.  On a
machine whose cores are shared the process may get half a core while its loop
never rests: the lag shows what the CPU share does not."""

MIN_SPAN = 5.0  # seconds of readings the blocked-loop test needs

WIRE_FULL = 0.8
"""Share of CONCURRENT_REQUESTS on the wire for the downloader to count as full.
"Finding the bottleneck": "len(engine.downloader.active) stays at
CONCURRENT_REQUESTS: the downloader is the limit. You are waiting on the network
or on the target website."  Requests waiting in a slot's queue (a delay, a
per-domain limit) are active too, so the rule counts those on the wire."""


def full_window(ev: Evidence) -> tuple | None:
    """The last :data:`~.evidence.WINDOW` seconds of readings, or None when there are
    fewer than :data:`~.evidence.MIN_READINGS` of them."""
    points = ev.recent(WINDOW)
    return points if len(points) >= MIN_READINGS else None


def seconds_held(points: tuple, holds_share: float) -> str:
    """How long a condition held, in words: "12 of the last 15 s"."""
    span = len(points)
    return f"{round(holds_share * span)} of the last {span} s"


@rule("cpu", "CPU and the event loop (reactor lag)", needs=("engine", "running"))
def cpu_bound(ev: Evidence) -> Verdict | None:
    """A process at a core's worth of CPU, a blocked loop, or a scraper backing
    out: the bottleneck is the crawl's own code."""
    points = ev.recent(WINDOW)
    if len(points) < 2:
        return None
    span = points[-1].time - points[0].time
    enough = len(points) >= MIN_READINGS
    cpu = mean(p.cpu for p in points[1:])
    late = sum(p.blocked or 0.0 for p in points[1:])  # the first one's lies before the span
    backout = share(points, lambda p: p.backout)
    worst_lag = max((p.lag for p in points[1:] if p.lag is not None), default=None)
    busy = enough and cpu is not None and cpu >= CPU_BOUND
    blocked = span >= MIN_SPAN and late >= BLOCKED_SHARE * span
    backing = enough and backout >= SUSTAINED
    if not (busy or blocked or backing):
        return None
    figures = []
    if cpu is not None:
        figures.append(("CPU", f"{cpu:.0%} of one core (mean of the last {span:.0f} s)"))
    if worst_lag is not None:
        figures.append(
            (
                "event loop blocked",
                f"{min(late, span):.1f} of the last {span:.0f} s (at most {worst_lag:.2f} s "
                "at a time)",
            )
        )
    if not enough:
        figures.append(("readings", f"{len(points)} in {span:.0f} s (one a second when free)"))
    last = points[-1]
    engine = ev.engine
    assert engine is not None
    figures.append(("responses waiting for callbacks", f"{last.scraping}"))
    if backing:
        figures.append(
            (
                "scraper backing out",
                f"{seconds_held(points, backout)}: {last.scraper_bytes:,} bytes of responses "
                f"≥ SCRAPER_SLOT_MAX_ACTIVE_SIZE {engine.scraper_max_bytes:,}",
            )
        )
    if backing and not busy:
        finding = (
            "Responses arrive faster than the callbacks and item pipelines handle them: "
            "the bottleneck is the crawl's own code."
        )
        headline = "bound by the callbacks (scraper backing out)"
    elif blocked and not busy:
        finding = (
            "The event loop is blocked for long stretches: code in a callback or pipeline "
            "runs without yielding, and every download waits for it."
        )
        headline = f"event loop blocked {min(1.0, late / span):.0%} of the time"
    else:
        finding = (
            "The process uses a whole CPU core: the crawl is CPU-bound, and no concurrency "
            "setting makes it faster."
        )
        headline = f"CPU-bound ({cpu:.0%} of a core)"
    return Verdict(
        "cpu",
        LIMIT,
        headline,
        finding,
        tuple(figures),
        "none: profile the callbacks and pipelines (py-spy; selectors and item pipelines "
        "are the usual answer), move blocking work to a thread, LOG_LEVEL = 'INFO'; "
        "to use more cores, split the crawl across processes",
        BOTTLENECK + " (Reading resource usage: CPU; needs_backout)",
        Target("slots", label="the crawl's rate and latency (Slots)"),
        weight=cpu or 0.0,
    )


def _on_wire_full(ev: Evidence, points: tuple) -> float:
    engine = ev.engine
    assert engine is not None
    limit = engine.concurrent_requests
    if limit <= 0:
        return 0.0
    return share(points, lambda p: p.transferring >= WIRE_FULL * limit)


@rule("network", "the downloader full (CONCURRENT_REQUESTS)", needs=("engine", "running"))
def network_bound(ev: Evidence) -> Verdict | None:
    """Every place of CONCURRENT_REQUESTS on the wire: the network or the site is
    the limit (or CONCURRENT_REQUESTS itself)."""
    points = full_window(ev)
    if points is None:
        return None
    engine = ev.engine
    assert engine is not None
    full = _on_wire_full(ev, points)
    if full < SUSTAINED:
        return None
    latency = mean(r.latency_mean for r in engine.slots if r.live and r.responses)
    figures = [
        (
            "on the wire",
            f"{points[-1].transferring} of CONCURRENT_REQUESTS {engine.concurrent_requests} "
            f"({seconds_held(points, full)} at ≥ {WIRE_FULL:.0%})",
        ),
        ("in the scheduler", f"{points[-1].queued:,}"),
    ]
    if latency is not None:
        figures.append(("mean latency", f"{latency:.2f} s"))
    return Verdict(
        "network",
        LIMIT,
        f"bound by the network or the site ({engine.concurrent_requests} on the wire)",
        "The downloader stays full: every place of CONCURRENT_REQUESTS is waiting on "
        "the network or the target website.",
        tuple(figures),
        f"CONCURRENT_REQUESTS (now {engine.concurrent_requests}): raise it if the site "
        "tolerates more; 429 or 503 responses, more retries or a climbing latency mean "
        "you went past its limit",
        BOTTLENECK + " (Reading the engine status)",
        Target("slots", label="the slots and their latency"),
        weight=full,
    )
