"""What bounds the crawl's speed, slot by slot: a slot's concurrency full
(CONCURRENT_REQUESTS_PER_DOMAIN), a slot over its concurrency, a slot's delay
(DOWNLOAD_DELAY or AutoThrottle's), and one slot holding the whole crawl.

Pace rules like those of :mod:`.pace_rules`, whose window and thresholds they
share; each reads the busiest slots' own readings (``Evidence.busy_slots``,
``slot_recent``) and opens the slot it names in the Slots panel.
"""

from __future__ import annotations

from typing import Any

from workbench.core.inspection.diagnosis.evidence import MIN_READINGS, Evidence, mean, share
from workbench.core.inspection.diagnosis.pace_rules import (
    AUTOTHROTTLE,
    BOTTLENECK,
    BROAD,
    SUSTAINED,
    full_window,
    seconds_held,
)
from workbench.core.inspection.diagnosis.verdicts import LIMIT, PROBLEM, Target, Verdict, rule

HOLDING_SHARE = 0.75
"""Share of the downloader's requests one slot must hold, waiting on its own
limit while other slots have room, to be holding the whole crawl.  "Speeding up
broad crawls": set CONCURRENT_REQUESTS close to CONCURRENT_REQUESTS_PER_DOMAIN ×
the number of domains."""


def _waiting(p: object) -> int:
    return max(0, p.active - p.transferring)  # type: ignore[attr-defined]


def _slot_limit_name(ev: Evidence) -> str:
    engine = ev.engine
    assert engine is not None
    return "CONCURRENT_REQUESTS_PER_IP" if engine.per_ip else "CONCURRENT_REQUESTS_PER_DOMAIN"


def _most_waiting(ev: Evidence, state: Any) -> tuple[str, tuple[Any, ...], float, float] | None:
    """Of the busy slots read often enough, the one with most requests waiting
    among those in ``state`` for at least SUSTAINED of their readings: (its key,
    its readings, the mean waiting, the share of readings in that state)."""
    best = None
    for key in ev.busy_slots:
        points = ev.slot_recent(key)
        if len(points) < MIN_READINGS:
            continue
        held = share(points, state)
        if held >= SUSTAINED:
            waiting = mean(_waiting(p) for p in points) or 0.0
            if best is None or waiting > best[2]:
                best = (key, points, waiting, held)
    return best


@rule("slots-full", "a slot full (CONCURRENT_REQUESTS_PER_DOMAIN)", needs=("engine", "running"))
def slots_full(ev: Evidence) -> Verdict | None:
    """A slot with every place on the wire and requests waiting behind them: its
    concurrency is the limit ("Finding the bottleneck": requests throttled before
    the downloader, usually CONCURRENT_REQUESTS_PER_DOMAIN)."""
    engine = ev.engine
    assert engine is not None
    best = _most_waiting(ev, lambda p: p.transferring >= p.concurrency > 0 and _waiting(p) > 0)
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
            f"({seconds_held(points, full)} full)",
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
    best = _most_waiting(
        ev, lambda p: p.delay > 0 and _waiting(p) > 0 and p.transferring < p.concurrency
    )
    if best is None:
        return None
    key, points, waiting, held = best
    last = points[-1]
    row = ev.slot_row(key)
    throttled = row is not None and row.autothrottle == "on"
    figures = [
        ("slot", key),
        ("delay", f"{last.delay:.2f} s between requests (≤ {1 / last.delay:.1f} requests/s)"),
        ("waiting in the slot", f"{waiting:.0f} on average ({seconds_held(points, held)})"),
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
    points = full_window(ev)
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
