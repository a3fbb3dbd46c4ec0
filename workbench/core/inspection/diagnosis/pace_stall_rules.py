"""What bounds the crawl's speed when requests stop moving: the scheduler
starved (the spider does not produce requests fast enough) and stalled
downloads (requests on the wire, no response).

Pace rules like those of :mod:`.pace_rules`, whose window and thresholds they
share; both open the Queue panel.
"""

from __future__ import annotations

from workbench.core.inspection.diagnosis.evidence import Evidence, mean, share
from workbench.core.inspection.diagnosis.pace_rules import (
    BOTTLENECK,
    BROAD,
    SUSTAINED,
    full_window,
    seconds_held,
)
from workbench.core.inspection.diagnosis.verdicts import LIMIT, PROBLEM, Target, Verdict, rule

STARVED_SHARE = 0.25
"""At most this share of CONCURRENT_REQUESTS in the downloader, with an empty
scheduler, is a starved crawl.  "Finding the bottleneck": "Both the downloader and
the scheduler queues stay near empty: your spider is not producing requests fast
enough."  """

STALL_AFTER = 30.0
"""Seconds without a response, with requests on the wire, that make a stall.
"Speeding up broad crawls": lower DOWNLOAD_TIMEOUT to discard stuck requests
more quickly."""


@rule("starved", "the scheduler starved", needs=("engine", "running"))
def starved(ev: Evidence) -> Verdict | None:
    """Downloader and scheduler near empty while the crawl goes on: the spider does
    not produce requests fast enough."""
    points = full_window(ev)
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
            ("in the scheduler", f"0 in {seconds_held(points, low)}"),
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
