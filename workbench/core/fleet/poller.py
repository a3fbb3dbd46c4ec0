"""The fleet poller: every source listed and every crawl probed concurrently,
in one bounded pool, each within a deadline; the rates; the snapshot.

A poll never waits longer than ``timeout`` for the sources' listings and
``timeout`` again for the crawls' probes.  A source or crawl that has not
answered by then is shown ``unreachable`` with the reason, and is not asked
again until its call returns (a stuck host never fills the pool); tasks
that had not started by the deadline are cancelled.  The UI reads
:meth:`FleetPoller.snapshot`, which never blocks: the polls run in the
poller's thread (:meth:`FleetPoller.start`), or one at a time
(:meth:`FleetPoller.poll_once`, for ``--json`` and the tests).

Sources (:class:`FleetSource`) list; a :class:`~.local.Prober` reads each
crawl a source lists (a :class:`~.local.ProbeTarget`); a running Scrapyd job
is a :class:`Claim` on the crawl of the same pid on the same machine, whose
row then carries the node's project, job id and log.  Annotators, callables
``(rows) -> rows``, run last, in the poller's thread: a Redis source sets
``queue_shared`` there (they should be quick; they are not bounded here).
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from workbench.core.fleet.local import Prober, ProbeTarget
from workbench.core.fleet.model import (
    UNREACHABLE,
    FleetRow,
    FleetSnapshot,
    SourceStatus,
)
from workbench.core.fleet.probe import Reading

RATE_WINDOW = 60.0  # seconds of readings the rates are taken over
REASON = 300  # characters of a reason kept


@dataclass
class Claim:
    """A running Scrapyd job: its row, for the crawl of ``pid`` on ``machine``."""

    machine: str | None
    pid: int
    row: FleetRow


@dataclass
class Listing:
    """What a source answered: crawls to probe, rows as they are, claims, problems."""

    targets: list[ProbeTarget] = field(default_factory=list)
    rows: list[FleetRow] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


class FleetSource(Protocol):
    name: str  # shown in the host column when it does not answer
    kind: str  # LOCAL, SSH, SCRAPYD (or a kind of its own)

    def list(self, timeout: float) -> Listing: ...

    def close(self) -> None: ...


Annotator = Callable[[list[FleetRow]], list[FleetRow]]


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[-1] if text else type(exc).__name__
    return line[:REASON]


@dataclass
class _History:
    samples: deque[tuple[float, int, int]] = field(default_factory=lambda: deque(maxlen=120))
    grew_at: float | None = None  # the crawl's time when its pages count last grew


class FleetPoller:
    def __init__(
        self,
        sources: Sequence[Any],
        prober: Prober | None = None,
        *,
        interval: float = 2.0,
        timeout: float = 5.0,
        workers: int = 8,
        annotators: Sequence[Annotator] = (),
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.sources = list(sources)
        self.prober = prober
        self.interval = interval
        self.timeout = timeout
        self.workers = workers
        self.annotators = list(annotators)
        self.wall = wall
        self._pool = cf.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fleet")
        self._busy: dict[str, cf.Future[Any]] = {}  # a source's or crawl's call still running
        self._history: dict[str, _History] = {}
        self._snapshot = FleetSnapshot()
        self._polls = 0
        self._stop = threading.Event()
        self._paused = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._poll_lock = threading.Lock()

    # -- the thread --------------------------------------------------------------

    def snapshot(self) -> FleetSnapshot:
        """The latest poll (never blocks)."""
        return self._snapshot

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="fleet-poller", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self._paused.is_set():
                with contextlib.suppress(Exception):  # a poll that fails shows next time
                    self.poll_once()
            self._wake.wait(self.interval)
            self._wake.clear()

    def pause(self) -> None:
        """No polls until :meth:`resume` (while a crawl of the fleet is attached)."""
        self._paused.set()

    def resume(self) -> None:
        self._paused.clear()
        self._wake.set()

    def poll_now(self) -> None:
        """Ask the thread for a poll at once (r in the table)."""
        self._wake.set()

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(self.timeout * 2 + 1)
        self._pool.shutdown(wait=False, cancel_futures=True)
        if self.prober is not None:
            self.prober.close()
        for source in self.sources:
            with contextlib.suppress(Exception):
                source.close()

    # -- one poll ----------------------------------------------------------------

    def _submit(self, key: str, call: Callable[..., Any], *args: Any) -> cf.Future[Any] | None:
        """The call in the pool, unless the previous one for ``key`` still runs."""
        previous = self._busy.get(key)
        if previous is not None and not previous.done():
            return None
        future = self._pool.submit(call, *args)
        self._busy[key] = future
        return future

    def _wait(self, futures: Sequence[cf.Future[Any]]) -> None:
        cf.wait(futures, timeout=self.timeout)
        for future in futures:
            future.cancel()  # not started by the deadline: not run at all

    def poll_once(self) -> FleetSnapshot:
        with self._poll_lock:
            return self._poll()

    def _poll(self) -> FleetSnapshot:
        started = time.monotonic()
        wall = self.wall()
        statuses: list[SourceStatus] = []
        listings: list[tuple[Any, Listing]] = []
        rows: list[FleetRow] = []
        calls = {}
        for source in self.sources:
            calls[id(source)] = (
                source,
                self._submit(f"source:{source.name}", self._timed, source.list, self.timeout),
            )
        self._wait([f for _, f in calls.values() if f is not None])
        for source, future in calls.values():
            status, listing = self._listing(source, future)
            statuses.append(status)
            if listing is None:
                rows.append(
                    FleetRow(
                        key=f"source:{source.kind}:{source.name}",
                        host=_host_label(source),
                        source=source.kind,
                        state=UNREACHABLE,
                        reason=status.reason,
                        node=source.name if source.kind == "scrapyd" else None,
                    )
                )
            else:
                listings.append((source, listing))
        targets = [t for _, listing in listings for t in listing.targets]
        probed = self._probe_all(targets)
        by_pid: dict[tuple[str | None, int], int] = {
            (t.machine, t.job.pid): i for i, t in enumerate(targets)
        }
        claimed: set[int] = set()
        for _, listing in listings:
            for claim in listing.claims:
                index = by_pid.get((claim.machine, claim.pid))
                if index is None or index in claimed:
                    rows.append(_unmatched(claim))
                    continue
                claimed.add(index)
                probed[index] = _merge_claim(probed[index], claim.row)
        rows.extend(probed)
        for _, listing in listings:
            rows.extend(listing.rows)
        for annotate in self.annotators:
            with contextlib.suppress(Exception):  # an annotator's failure leaves the rows
                rows = list(annotate(rows))
        if self.prober is not None:
            self.prober.forget({t.key for t in targets})
        keep = {r.key for r in rows} | {t.key for t in targets}
        for key in [k for k in self._history if k not in keep]:
            del self._history[key]
        self._polls += 1
        snapshot = FleetSnapshot(
            rows=tuple(rows),
            sources=tuple(statuses),
            taken_at=wall,
            seconds=time.monotonic() - started,
            polls=self._polls,
        )
        self._snapshot = snapshot
        return snapshot

    @staticmethod
    def _timed(call: Callable[[float], Listing], timeout: float) -> tuple[Listing, float]:
        start = time.monotonic()
        listing = call(timeout)
        return listing, time.monotonic() - start

    def _listing(
        self, source: Any, future: cf.Future[Any] | None
    ) -> tuple[SourceStatus, Listing | None]:
        def failed(reason: str) -> tuple[SourceStatus, None]:
            return SourceStatus(source.name, source.kind, False, reason[:REASON]), None

        if future is None:
            return failed(f"still answering an earlier poll (more than {self.timeout:g} s)")
        if future.cancelled():
            return failed("not asked: the pool was busy")
        if not future.done():
            return failed(f"did not answer in {self.timeout:g} s")
        exc = future.exception()
        if exc is not None:
            return failed(one_line(exc))
        listing, seconds = future.result()
        status = SourceStatus(
            source.name,
            source.kind,
            True,
            None,
            seconds,
            tuple(p[:REASON] for p in listing.problems),
        )
        return status, listing

    def _probe_all(self, targets: list[ProbeTarget]) -> list[FleetRow]:
        if not targets:
            return []
        prober = self.prober
        futures: list[cf.Future[Any] | None] = [
            self._submit(t.key, prober.probe, t) if prober is not None else None for t in targets
        ]
        self._wait([f for f in futures if f is not None])
        rows = []
        for target, future in zip(targets, futures, strict=True):
            if prober is None:
                rows.append(_unreached(target, "not probed"))
            elif future is None:
                rows.append(
                    _unreached(target, f"still answering an earlier poll (> {self.timeout:g} s)")
                )
            elif future.cancelled():
                rows.append(_unreached(target, "not probed: the pool was busy (--workers)"))
            elif not future.done():
                rows.append(_unreached(target, f"did not answer in {self.timeout:g} s"))
            elif (exc := future.exception()) is not None:
                rows.append(_unreached(target, one_line(exc)))
            else:
                rows.append(self._row(target, future.result()))
        return rows

    def _row(self, target: ProbeTarget, reading: Reading) -> FleetRow:
        job = target.job
        history = self._history.setdefault(target.key, _History())
        samples = history.samples
        if samples and reading.pages > samples[-1][1]:
            history.grew_at = reading.time
        samples.append((reading.time, reading.pages, reading.items))
        while len(samples) > 2 and reading.time - samples[1][0] >= RATE_WINDOW:
            samples.popleft()
        start = reading.start_time or job.start_time
        uptime = max(0.0, reading.time - start) if start else None
        first_time, first_pages, first_items = samples[0]
        span = reading.time - first_time
        pages_rate: float | None
        items_rate: float | None
        if len(samples) >= 2 and span > 0:
            pages_rate = (reading.pages - first_pages) / span * 60
            items_rate = (reading.items - first_items) / span * 60
        elif uptime:  # one reading: the average since the crawl started
            pages_rate = reading.pages / uptime * 60
            items_rate = reading.items / uptime * 60
        else:
            pages_rate = items_rate = None
        age = reading.time - history.grew_at if history.grew_at is not None else None
        return FleetRow(
            key=target.key,
            host=target.host,
            source=target.source,
            state=reading.state,
            pid=job.pid,
            project=job.project,
            spider=job.spider,
            job_id=job.job_id,
            started=start,
            uptime=uptime,
            pages=reading.pages,
            items=reading.items,
            pages_per_min=pages_rate,
            items_per_min=items_rate,
            errors=reading.errors,
            retries=reading.retries,
            in_flight=reading.in_flight,
            queue=reading.queue,
            rss=reading.rss,
            last_response_age=age,
            reason=reading.finish_reason,
            scheduler=reading.scheduler,
            queue_key=reading.queue_key,
            ssh_host=target.ssh_host,
            job=job,
        )


def _host_label(source: Any) -> str:
    node = getattr(source, "node", None)
    label = getattr(node, "label", None)
    return label if isinstance(label, str) else str(source.name)


def _unreached(target: ProbeTarget, reason: str) -> FleetRow:
    job = target.job
    start = job.start_time
    return FleetRow(
        key=target.key,
        host=target.host,
        source=target.source,
        state=UNREACHABLE,
        pid=job.pid,
        project=job.project,
        spider=job.spider,
        job_id=job.job_id,
        started=start,
        uptime=max(0.0, time.time() - start) if start else None,  # by this host's clock
        reason=reason[:REASON],
        ssh_host=target.ssh_host,
        job=job,
    )


def _merge_claim(row: FleetRow, claim: FleetRow) -> FleetRow:
    """The probed crawl under the Scrapyd job's names (project, job id, node, log)."""
    return row.with_(
        key=claim.key,
        host=claim.host,
        source=claim.source,
        project=claim.project or row.project,
        spider=claim.spider or row.spider,
        job_id=claim.job_id,
        node=claim.node,
        log_url=claim.log_url,
        items_url=claim.items_url,
        started=row.started or claim.started,
    )


def _unmatched(claim: Claim) -> FleetRow:
    where = "here" if claim.machine == "localhost" else f"on {claim.machine}"
    if claim.machine is None:
        reason = "no job file to read it: give --ssh HOST for the node's machine"
    else:
        reason = f"no job file {where} for pid {claim.pid} (RemoteControl off?)"
    return claim.row.with_(reason=reason)
