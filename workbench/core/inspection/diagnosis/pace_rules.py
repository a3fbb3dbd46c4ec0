"""What bounds the crawl's speed: the rules of Scrapy's "Finding the bottleneck",
"Speeding up broad crawls" and AutoThrottle docs, on the engine's readings.

Each rule judges the last :data:`~.evidence.WINDOW` seconds of readings (one
a second, as the docs' "take a few readings at different points of the
crawl"), and speaks only when what it looks for held in :data:`SUSTAINED` of
them.  They need the engine's readings and a running crawl.
"""

from __future__ import annotations

from workbench.core.inspection.diagnosis.evidence import (
    MIN_READINGS,
    WINDOW,
    Evidence,
    mean,
    share,
)
from workbench.core.inspection.diagnosis.verdicts import LIMIT, PROBLEM, Target, Verdict, rule

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

STARVED_SHARE = 0.25
"""At most this share of CONCURRENT_REQUESTS in the downloader, with an empty
scheduler, is a starved crawl.  "Finding the bottleneck": "Both the downloader and
the scheduler queues stay near empty: your spider is not producing requests fast
enough."  """

HOLDING_SHARE = 0.75
"""Share of the downloader's requests one slot must hold, waiting on its own
limit while other slots have room, to be holding the whole crawl.  "Speeding up
broad crawls": set CONCURRENT_REQUESTS close to CONCURRENT_REQUESTS_PER_DOMAIN ×
the number of domains."""

STALL_AFTER = 30.0
"""Seconds without a response, with requests on the wire, that make a stall.
"Speeding up broad crawls": lower DOWNLOAD_TIMEOUT to discard stuck requests
more quickly."""


def _window(ev: Evidence) -> tuple | None:
    points = ev.recent(WINDOW)
    return points if len(points) >= MIN_READINGS else None


def _seconds(points: tuple, holds_share: float) -> str:
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
                f"{_seconds(points, backout)}: {last.scraper_bytes:,} bytes of responses "
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
    points = _window(ev)
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
            f"({_seconds(points, full)} at ≥ {WIRE_FULL:.0%})",
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


def _waiting(p: object) -> int:
    return max(0, p.active - p.transferring)  # type: ignore[attr-defined]


def _slot_limit_name(ev: Evidence) -> str:
    engine = ev.engine
    assert engine is not None
    return "CONCURRENT_REQUESTS_PER_IP" if engine.per_ip else "CONCURRENT_REQUESTS_PER_DOMAIN"


@rule("slots-full", "a slot full (CONCURRENT_REQUESTS_PER_DOMAIN)", needs=("engine", "running"))
def slots_full(ev: Evidence) -> Verdict | None:
    """A slot with every place on the wire and requests waiting behind them: its
    concurrency is the limit ("Finding the bottleneck": requests throttled before
    the downloader, usually CONCURRENT_REQUESTS_PER_DOMAIN)."""
    engine = ev.engine
    assert engine is not None
    best = None
    for key in ev.busy_slots:
        points = ev.slot_recent(key)
        if len(points) < MIN_READINGS:
            continue
        full = share(points, lambda p: p.transferring >= p.concurrency > 0 and _waiting(p) > 0)
        if full >= SUSTAINED:
            waiting = mean(_waiting(p) for p in points) or 0.0
            if best is None or waiting > best[2]:
                best = (key, points, waiting, full)
    if best is None:
        return None
    key, points, waiting, full = best
    last = points[-1]
    name = _slot_limit_name(ev)
    setting_now = engine.per_ip or engine.per_domain
    row = ev.slot_row(key)
    figures = [
        ("slot", key),
        (
            "on the wire",
            f"{last.transferring} of its concurrency {last.concurrency} "
            f"({_seconds(points, full)} full)",
        ),
        ("waiting in the slot", f"{waiting:.0f} on average"),
        ("rate", f"{row.rate:.1f} responses/s" if row is not None else "?"),
    ]
    if row is not None and row.latency_mean is not None:
        figures.append(("mean latency", f"{row.latency_mean:.2f} s"))
    own = (
        f" (this slot's concurrency is {last.concurrency}: DOWNLOAD_SLOTS or set in workbench)"
        if last.concurrency != setting_now
        else ""
    )
    return Verdict(
        "slots-full",
        LIMIT,
        f"bound by {name} ({key}: {last.concurrency} at a time)",
        f"Slot {key} has all {last.concurrency} of its places on the wire and requests "
        f"waiting behind them: {name} is the limit.",
        tuple(figures),
        f"{name} (now {setting_now}){own}: raise it if the site tolerates more; "
        "try it live with C in the Slots panel",
        BOTTLENECK + " (Reading the engine status)",
        Target("slots", slot=key, label=f"slot {key}"),
        weight=waiting,
    )


@rule("over-concurrency", "a slot over its concurrency", needs=("engine", "running"))
def over_concurrency(ev: Evidence) -> Verdict | None:
    """More requests on a slot's wire than its concurrency allows.  Scrapy 2.19's
    downloader (on asyncio) counts a request as transferring only once its task
    runs, so ``_process_queue`` starts every request waiting in the slot at once
    when there is no delay: CONCURRENT_REQUESTS_PER_DOMAIN is not enforced.  With
    any DOWNLOAD_DELAY it sends one request per pass and the limit holds."""
    engine = ev.engine
    assert engine is not None
    worst = None
    for key in ev.busy_slots:
        points = ev.slot_recent(key)
        over = [p for p in points if p.transferring > p.concurrency > 0]
        if len(over) >= 2:  # seen twice, not a reading caught mid-change
            peak = max(over, key=lambda p: p.transferring)
            if worst is None or peak.transferring > worst[1].transferring:
                worst = (key, peak, len(over), len(points))
    if worst is None:
        return None
    key, peak, seconds, span = worst
    name = _slot_limit_name(ev)
    setting_now = engine.per_ip or engine.per_domain
    return Verdict(
        "over-concurrency",
        PROBLEM,
        f"{key}: {peak.transferring} on the wire for a concurrency of {peak.concurrency}",
        f"Slot {key} had {peak.transferring} requests on the wire at once although its "
        f"concurrency is {peak.concurrency}: {name} is not enforced, and the site gets "
        "more parallel requests than the settings say.",
        (
            ("slot", key),
            ("on the wire", f"up to {peak.transferring} ({seconds} of the last {span} s over)"),
            ("its concurrency", f"{peak.concurrency} ({name} {setting_now})"),
            ("DOWNLOAD_DELAY", f"{engine.download_delay:g} s"),
        ),
        "DOWNLOAD_DELAY above 0 (even 0.01): Scrapy 2.19's downloader then starts one "
        "request per pass and the concurrency holds; without a delay it starts every "
        "request waiting in the slot at once",
        BOTTLENECK + " (Sending more requests at a time)",
        Target("slots", slot=key, label=f"slot {key}"),
        weight=peak.transferring / peak.concurrency,
    )


@rule("delay", "a slot's delay (DOWNLOAD_DELAY, AutoThrottle)", needs=("engine", "running"))
def delay_bound(ev: Evidence) -> Verdict | None:
    """A slot with requests waiting and room on the wire, and a delay: the delay
    is the limit (DOWNLOAD_DELAY, or AutoThrottle's: latency /
    AUTOTHROTTLE_TARGET_CONCURRENCY, between DOWNLOAD_DELAY and AUTOTHROTTLE_MAX_DELAY)."""
    engine = ev.engine
    assert engine is not None
    best = None
    for key in ev.busy_slots:
        points = ev.slot_recent(key)
        if len(points) < MIN_READINGS:
            continue
        held = share(
            points, lambda p: p.delay > 0 and _waiting(p) > 0 and p.transferring < p.concurrency
        )
        if held >= SUSTAINED:
            waiting = mean(_waiting(p) for p in points) or 0.0
            if best is None or waiting > best[2]:
                best = (key, points, waiting, held)
    if best is None:
        return None
    key, points, waiting, held = best
    last = points[-1]
    row = ev.slot_row(key)
    throttled = row is not None and row.autothrottle == "on"
    figures = [
        ("slot", key),
        ("delay", f"{last.delay:.2f} s between requests (≤ {1 / last.delay:.1f} requests/s)"),
        ("waiting in the slot", f"{waiting:.0f} on average ({_seconds(points, held)})"),
        ("on the wire", f"{last.transferring} of its concurrency {last.concurrency}"),
    ]
    if row is not None and row.latency_mean is not None:
        figures.append(("mean latency", f"{row.latency_mean:.2f} s"))
    doc = BOTTLENECK + " (Reading the engine status)"
    if throttled:
        target = row.target_delay if row is not None else None
        at_max = last.delay >= engine.max_delay * 0.999
        at_floor = engine.download_delay > 0 and last.delay <= engine.download_delay * 1.001
        if target is not None:
            figures.append(
                (
                    "AutoThrottle's target",
                    f"{target:.2f} s (latency / AUTOTHROTTLE_TARGET_CONCURRENCY "
                    f"{engine.target_concurrency:g})",
                )
            )
        if at_max:
            setting = (
                f"AUTOTHROTTLE_MAX_DELAY (now {engine.max_delay:g} s): the delay is at the "
                "maximum, the site answers slowly; raise AUTOTHROTTLE_TARGET_CONCURRENCY "
                "only if it tolerates more"
            )
        elif at_floor:
            setting = (
                f"DOWNLOAD_DELAY (now {engine.download_delay:g} s): AutoThrottle never goes "
                "below it; lower it to let AutoThrottle go faster"
            )
        else:
            setting = (
                f"AUTOTHROTTLE_TARGET_CONCURRENCY (now {engine.target_concurrency:g}): "
                "AutoThrottle aims at this many requests in parallel per slot; raise it for "
                "a faster crawl if the site tolerates it"
            )
        headline = f"bound by AutoThrottle ({key}: {last.delay:.2f} s delay)"
        finding = (
            f"AutoThrottle holds slot {key} to one request every {last.delay:.2f} s while "
            "requests wait: its delay is the limit."
        )
        doc = AUTOTHROTTLE
    else:
        setting = (
            f"DOWNLOAD_DELAY (now {engine.download_delay:g} s): lower it if the site "
            "allows; try it live with d in the Slots panel"
        )
        headline = f"bound by DOWNLOAD_DELAY ({key}: {last.delay:.2f} s)"
        finding = (
            f"Slot {key} sends one request every {last.delay:.2f} s while requests wait "
            "in it: the download delay is the limit."
        )
    return Verdict(
        "delay",
        LIMIT,
        headline,
        finding,
        tuple(figures),
        setting,
        doc,
        Target("slots", slot=key, label=f"slot {key}"),
        weight=waiting,
    )


@rule("one-slot", "one slot holding the crawl", needs=("engine", "running"))
def one_slot(ev: Evidence) -> Verdict | None:
    """One slot holds most of CONCURRENT_REQUESTS with its requests waiting on
    its own limit, while other slots have room: the crawl goes at that slot's pace."""
    points = _window(ev)
    if points is None:
        return None
    engine = ev.engine
    assert engine is not None
    limit = engine.concurrent_requests
    if limit <= 0 or share(points, lambda p: p.active >= limit) < SUSTAINED:
        return None
    live = [r for r in engine.slots if r.live]
    if len(live) < 2:
        return None
    for key in ev.busy_slots[:1]:
        slot_points = ev.slot_recent(key)
        if len(slot_points) < MIN_READINGS:
            return None
        holding = share(
            slot_points, lambda p: p.active >= HOLDING_SHARE * limit and _waiting(p) > 0
        )
        if holding < SUSTAINED:
            return None
        last = slot_points[-1]
        others = [r for r in live if r.key != key]
        room = [r for r in others if r.transferring < r.concurrency]
        if not room:
            return None
        dapq = engine.priority_queue == "DownloaderAwarePriorityQueue"
        setting = (
            f"CONCURRENT_REQUESTS (now {limit}): set it near CONCURRENT_REQUESTS_PER_DOMAIN "
            f"× the number of domains, so one slow slot cannot take every place"
        )
        if not dapq:
            setting = (
                "SCHEDULER_PRIORITY_QUEUE = 'scrapy.pqueues.DownloaderAwarePriorityQueue' "
                "(now " + (engine.priority_queue or "?") + "); and " + setting
            )
        return Verdict(
            "one-slot",
            LIMIT,
            f"slot {key} holds the crawl ({last.active} of {limit})",
            f"Slot {key} holds {last.active} of the {limit} places of CONCURRENT_REQUESTS, "
            f"its requests waiting on its own limit, while {len(room)} other slot(s) have room.",
            (
                ("slot", key),
                (
                    "its requests in the downloader",
                    f"{last.active} ({last.transferring} on the wire)",
                ),
                ("its delay", f"{last.delay:.2f} s"),
                ("other live slots", f"{len(others)}, {len(room)} with room"),
                ("in the scheduler", f"{points[-1].queued:,}"),
            ),
            setting,
            BROAD,
            Target("slots", slot=key, label=f"slot {key}"),
            weight=holding,
        )
    return None


@rule("starved", "the scheduler starved", needs=("engine", "running"))
def starved(ev: Evidence) -> Verdict | None:
    """Downloader and scheduler near empty while the crawl goes on: the spider does
    not produce requests fast enough."""
    points = _window(ev)
    if points is None:
        return None
    engine = ev.engine
    assert engine is not None
    limit = engine.concurrent_requests or 16
    low = share(points, lambda p: p.queued == 0 and p.active <= STARVED_SHARE * limit)
    if low < SUSTAINED:
        return None
    got = points[-1].responses - points[0].responses
    if got <= 0:
        return None  # nothing arrives: a stall or the end, not starvation
    used = mean(p.active for p in points) or 0.0
    return Verdict(
        "starved",
        LIMIT,
        f"scheduler starved ({used:.1f} of {limit} places used)",
        "The scheduler is empty and the downloader almost idle: the spider does not "
        "produce requests fast enough to use the concurrency it has.",
        (
            ("in the scheduler", f"0 in {_seconds(points, low)}"),
            ("in the downloader", f"{used:.1f} on average, of CONCURRENT_REQUESTS {limit}"),
            ("responses", f"{got} in {len(points)} s"),
        ),
        "none: produce requests sooner (request every page at once from a page count, "
        "read a sitemap, give pagination requests a higher priority)",
        BOTTLENECK + " (Producing requests faster)",
        Target("queue", label="the queue"),
        weight=low,
    )


@rule("stalled", "stalled downloads", needs=("engine", "running"))
def stalled(ev: Evidence) -> Verdict | None:
    """Requests on the wire and no response for :data:`STALL_AFTER` seconds (or,
    when the source has the in-flight clock, its own ``WORKBENCH_STALL_AFTER``
    verdict and figures, so the status line and Diagnose agree)."""
    engine = ev.engine
    assert engine is not None
    points = engine.points
    if not points:
        return None
    last = points[-1]
    transfers = ev.snapshot.status.transfers
    extra: list[tuple[str, str]] = []
    if transfers is not None:  # what is on the wire, timed request by request
        if not transfers.stalled:
            return None
        count, quiet = transfers.count, transfers.quiet
        if transfers.oldest_url:
            extra.append(("oldest", f"{transfers.oldest_age:.0f} s: {transfers.oldest_url}"))
        if transfers.oldest_left is not None:
            extra.append(("it times out in", f"{max(0.0, transfers.oldest_left):.0f} s"))
    else:
        count = last.transferring
        if count <= 0:
            return None
        since = None
        for earlier, later in zip(reversed(points[:-1]), reversed(points), strict=False):
            if later.responses > earlier.responses:
                since = later.time
                break
        if since is None:
            since = engine.last_response or ev.snapshot.started or points[0].time
        quiet = last.time - since
        if quiet < STALL_AFTER:
            return None
    wire = sorted(((r.transferring, r.key) for r in engine.slots if r.transferring), reverse=True)
    slots = ", ".join(f"{k}: {n}" for n, k in wire[:3])
    return Verdict(
        "stalled",
        PROBLEM,
        f"stalled {quiet:.0f} s: {count} on the wire, no response",
        f"No response for {quiet:.0f} s although {count} request(s) are on "
        "the wire: the site does not answer them.",
        (
            ("no response for", f"{quiet:.0f} s"),
            ("on the wire", f"{count}" + (f" ({slots})" if slots else "")),
            *extra,
            ("DOWNLOAD_TIMEOUT", f"{engine.download_timeout:g} s"),
        ),
        f"DOWNLOAD_TIMEOUT (now {engine.download_timeout:g} s): lower it to give up on "
        "stuck requests sooner (a request's own download_timeout meta overrides it)",
        BROAD,
        Target("queue", label="the requests in flight (Queue)"),
        weight=quiet,
    )
