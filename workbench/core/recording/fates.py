"""What became of a request: the fates a flow can have, named and explained.

Every request a crawl schedules, or a callback produces, ends as one flow
(:class:`~workbench.core.recording.records.Flow`).  A plain download has no
fate (``flow.fate is None``: "downloaded").  The others:

==============  ============================================================
``duplicate``   the scheduler's dupefilter had seen its fingerprint
``scheduler``   the scheduler refused it for another reason (request_dropped)
``offsite``     OffsiteMiddleware: its host is not in ``allowed_domains``
``depth``       DepthMiddleware: deeper than ``DEPTH_LIMIT``
``robots``      RobotsTxtMiddleware: robots.txt disallows it
``ignored``     another component raised ``IgnoreRequest`` (``fate_by`` names it)
``pending``     still in the scheduler's queue when the crawl ended
``maxsize``     downloaded in part, or whole and decompressed, over ``DOWNLOAD_MAXSIZE``
``retried``     downloaded, failed, and retried (attempt ``fate_n`` of ``fate_limit``)
``gave-up``     the last attempt after ``fate_n`` retries of ``fate_limit``: given up
==============  ============================================================

The first seven never reached the network (:data:`NEVER_DOWNLOADED`): they
are the rows the recorder bounds apart (``WORKBENCH_MAX_DROPPED``).  The
recorder stores codes, component paths and small numbers only; the words are
made here, when a row or a detail is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

DOWNLOADED = "downloaded"  # what ``~fate`` matches for a flow without a fate
DUPLICATE = "duplicate"
SCHEDULER = "scheduler"
OFFSITE = "offsite"
DEPTH = "depth"
ROBOTS = "robots"
IGNORED = "ignored"
PENDING = "pending"
MAXSIZE = "maxsize"
RETRIED = "retried"
GAVE_UP = "gave-up"

FATES = (
    DOWNLOADED,
    DUPLICATE,
    SCHEDULER,
    OFFSITE,
    DEPTH,
    ROBOTS,
    IGNORED,
    PENDING,
    MAXSIZE,
    RETRIED,
    GAVE_UP,
)
# never sent to the network: rows of their own kind, bounded apart
NEVER_DOWNLOADED = frozenset({DUPLICATE, SCHEDULER, OFFSITE, DEPTH, ROBOTS, IGNORED, PENDING})

_WHAT = {
    DUPLICATE: "dropped as a duplicate",
    SCHEDULER: "dropped by the scheduler",
    OFFSITE: "filtered offsite",
    DEPTH: "beyond DEPTH_LIMIT",
    ROBOTS: "disallowed by robots.txt",
    IGNORED: "ignored",
    PENDING: "still pending when the crawl ended",
    MAXSIZE: "over DOWNLOAD_MAXSIZE",
    RETRIED: "retried",
    GAVE_UP: "retried, then given up",
}


def fate_code(flow: Any) -> str:
    """The flow's fate code ("downloaded" for a plain download)."""
    return flow.fate or DOWNLOADED


def never_downloaded(flow: Any) -> bool:
    return flow.fate in NEVER_DOWNLOADED


def short_name(path: str | None) -> str:
    """A component's class name from its path ("OffsiteMiddleware")."""
    return (path or "").rsplit(".", 1)[-1]


def fate_label(flow: Any) -> str:
    """A few characters for the Fate column: "" for a plain download."""
    fate = flow.fate
    if fate is None:
        return ""
    if fate in (RETRIED, GAVE_UP) and flow.fate_n is not None:
        of = f"/{flow.fate_limit}" if flow.fate_limit is not None else ""
        return f"{'retry' if fate == RETRIED else 'gave up'} {flow.fate_n}{of}"
    return fate


def _size(n: int) -> str:
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if n >= factor:
            return f"{n / factor:.3g} {unit}"
    return f"{n} B"


def fate_text(flow: Any) -> str:
    """One line: what became of the request, who decided and why."""
    fate = flow.fate
    if fate is None:
        return DOWNLOADED
    what = _WHAT.get(fate, fate)
    n, limit = flow.fate_n, flow.fate_limit
    if fate == DEPTH and limit is not None:
        what += f": depth {flow.depth} > {limit}"
    elif fate == RETRIED and n is not None:
        what += f": retry {n}" + (f" of {limit}" if limit is not None else "") + " followed"
    elif fate == GAVE_UP and n is not None:
        what = f"retried {n}" + (f" of {limit}" if limit is not None else "") + " times"
        what += ", then given up"
    elif fate == MAXSIZE and limit:
        what += f" ({_size(limit)})"
    elif fate == DUPLICATE and flow.duplicate_of is not None:
        what += f" of flow #{flow.duplicate_of}"
    if flow.fate_by:
        what += f" by {short_name(flow.fate_by)}"
    reason = flow.fate_reason
    if reason and fate == IGNORED and limit is not None:
        reason += f" ({limit})"  # URLLENGTH_LIMIT
    if reason:
        what += f": {reason}"
    return what


def count_fates(flows: Iterable[Any]) -> dict[str, int]:
    """How many flows have each fate (plain downloads not counted)."""
    counts: dict[str, int] = {}
    for flow in flows:
        if flow.fate is not None:
            counts[flow.fate] = counts.get(flow.fate, 0) + 1
    return counts


def duplicated_flow(flows: Iterable[Any], dropped: Any) -> Any:
    """The flow a duplicate duplicates: the one it names, or else the first earlier
    flow that reached the network with the same method and URL, or failing that the
    same canonical URL (Scrapy's fingerprint: method, canonical URL, body)."""
    if dropped.duplicate_of is not None:
        for flow in flows:
            if flow.id == dropped.duplicate_of:
                return flow
        return None
    from w3lib.url import canonicalize_url

    candidates = [
        f
        for f in flows
        if f.id != dropped.id
        and f.method == dropped.method
        and f.fate not in NEVER_DOWNLOADED
        and (f.request_body or b"") == (dropped.request_body or b"")
    ]
    for flow in candidates:
        if flow.url == dropped.url:
            return flow
    try:
        wanted = canonicalize_url(dropped.url)
    except ValueError:
        return None
    for flow in candidates:
        try:
            if canonicalize_url(flow.url) == wanted:
                return flow
        except ValueError:
            continue
    return None


def produced(flows: Iterable[Any], parent: Any) -> list[tuple[str, str, Any]]:
    """(method, url, its flow or None) for each request the parent produced (a
    redirect's target, a callback's requests), in order, with their fates: the same
    URL twice is two flows (the second a duplicate), a retried one its last attempt."""
    outcomes: dict[tuple[str, str], list[Any]] = {}
    for flow in flows:
        if flow.parent_id == parent.id:
            attempts = outcomes.setdefault((flow.method, flow.url), [])
            if attempts and attempts[-1].fate == RETRIED:
                attempts[-1] = flow  # the next attempt of a retried request
            else:
                attempts.append(flow)
    taken: dict[tuple[str, str], int] = {}
    out = []
    for method, url in parent.requests:
        key = (method, url)
        n = taken[key] = taken.get(key, -1) + 1
        attempts = outcomes.get(key, [])
        out.append((method, url, attempts[n] if n < len(attempts) else None))
    return out
