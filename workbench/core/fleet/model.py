"""What the fleet table shows: one frozen :class:`FleetRow` per crawl, and a
:class:`FleetSnapshot` of all of them with what each source answered.

Every text field of a row may come from a crawl, a job file or a Scrapyd node
(untrusted): the UI and the JSON export clean it; nothing here formats.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

RUNNING = "running"
PAUSED = "paused"
CLOSING = "closing"
STARTING = "starting"
PENDING = "pending"  # Scrapyd: scheduled, not started
FINISHED = "finished"  # Scrapyd: over (finish reason in ``reason``)
UNREACHABLE = "unreachable"  # listed, but its crawl or its node did not answer
LIVE_STATES = (RUNNING, PAUSED, CLOSING, STARTING)

LOCAL = "local"
SSH = "ssh"
SCRAPYD = "scrapyd"


@dataclass(frozen=True)
class FleetRow:
    """One crawl of the fleet: a running process, or a Scrapyd job pending or finished.

    ``key`` is stable across polls (it keys the rates and the table's cursor).
    Counts are None when unknown (not a running crawl, or it did not answer).
    """

    key: str
    host: str  # "localhost", the ssh host, or the Scrapyd node's host:port
    source: str  # LOCAL, SSH or SCRAPYD
    state: str
    pid: int | None = None
    project: str | None = None
    spider: str | None = None
    job_id: str | None = None
    started: float | None = None  # epoch seconds
    uptime: float | None = None  # seconds
    pages: int | None = None
    items: int | None = None
    pages_per_min: float | None = None
    items_per_min: float | None = None
    errors: int | None = None
    retries: int | None = None
    in_flight: int | None = None
    queue: int | None = None  # the crawl's own scheduler (len(scheduler))
    # the shared queue it takes requests from, in words (e.g. "redis demo:requests
    # 1,204"), set by an annotator (a Redis source): the queue column shows it
    queue_shared: str | None = None
    rss: int | None = None  # bytes
    last_response_age: float | None = None  # seconds since its pages count last grew
    reason: str | None = None  # unreachable: why; finished: the finish reason
    scheduler: str | None = None  # the scheduler's class path, as the probe read it
    queue_key: str | None = None  # the scheduler's queue key, when it has one (scrapy-redis)
    node: str | None = None  # the Scrapyd node's URL (no credentials)
    log_url: str | None = None  # Scrapyd: the job's log (absolute, no credentials)
    items_url: str | None = None
    ended: float | None = None  # Scrapyd finished: epoch seconds
    notes: tuple[str, ...] = ()  # annotators' words for the row
    ssh_host: str | None = None  # attach over this host (a job file read there)
    # the job file behind the row (its token stays inside); not compared, not shown
    job: Any = field(default=None, repr=False, compare=False)

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    @property
    def attachable(self) -> bool:
        return self.job is not None and self.state != FINISHED

    def with_(self, **changes: Any) -> FleetRow:
        return replace(self, **changes)


@dataclass(frozen=True)
class SourceStatus:
    """What one source (this host, an ssh host, a Scrapyd node) answered this poll."""

    name: str
    kind: str  # LOCAL, SSH or SCRAPYD
    ok: bool
    reason: str | None = None  # why not (one line, no credentials)
    seconds: float = 0.0  # how long its listing took
    problems: tuple[str, ...] = ()  # job files refused, answers that made no sense


@dataclass(frozen=True)
class FleetTotals:
    running: int = 0  # live crawls
    unreachable: int = 0
    pending: int = 0
    finished: int = 0
    pages_per_min: float = 0.0
    items_per_min: float = 0.0
    errors: int = 0
    in_flight: int = 0
    queue: int = 0
    rss: int = 0


def totals_of(rows: tuple[FleetRow, ...] | list[FleetRow]) -> FleetTotals:
    live = [r for r in rows if r.live]
    return FleetTotals(
        running=len(live),
        unreachable=sum(r.state == UNREACHABLE for r in rows),
        pending=sum(r.state == PENDING for r in rows),
        finished=sum(r.state == FINISHED for r in rows),
        pages_per_min=sum(r.pages_per_min or 0.0 for r in live),
        items_per_min=sum(r.items_per_min or 0.0 for r in live),
        errors=sum(r.errors or 0 for r in live),
        in_flight=sum(r.in_flight or 0 for r in live),
        queue=sum(r.queue or 0 for r in live),
        rss=sum(r.rss or 0 for r in live),
    )


@dataclass(frozen=True)
class FleetSnapshot:
    """One poll of the whole fleet."""

    rows: tuple[FleetRow, ...] = ()
    sources: tuple[SourceStatus, ...] = ()
    taken_at: float = 0.0  # epoch seconds
    seconds: float = 0.0  # how long the poll took (wall clock)
    polls: int = 0  # how many polls so far (0: none yet)

    @property
    def totals(self) -> FleetTotals:
        return totals_of(self.rows)

    def row(self, key: str) -> FleetRow | None:
        for row in self.rows:
            if row.key == key:
                return row
        return None
