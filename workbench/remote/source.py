"""A Source whose crawl runs in another process: ``workbench attach``.

On :meth:`RemoteSource.start` the fixed agent code (``agent.py``) is sent to
the crawl's RemoteControl ``/execute``.  A background thread then polls it at
most twice a second: one call brings the status, the stats, the flows, items
and log lines after the cursors (bounded by the agent), and the views the
visible panel asked for.  The answers are merged into local rings on the UI's
thread, in :meth:`snapshot`, so panels see the same :class:`Snapshot` and
records as with a local crawl and cannot tell the difference.

Controls (pause, stop, slot changes) are direct calls.  :meth:`close`
detaches: the agent removes what it installed and the crawl goes on.
(The calls themselves, and the agent's answers, are
:mod:`workbench.remote.agent_client`'s; what the answers become here, records
merged, views decoded, a probe's rows, a body, :mod:`workbench.remote.answers`'s.)
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, ClassVar

from workbench.core.control.host import CrawlStatus
from workbench.core.control.pace import PaceView
from workbench.core.control.pace.engine import EngineReading
from workbench.core.control.scheduler_view import QueueView
from workbench.core.leaks.chains import ReferrerReport
from workbench.core.leaks.heap import HeapSummary, MemoryView
from workbench.core.leaks.liverefs import RefsView
from workbench.core.leaks.memprobe import ObjectList
from workbench.core.recording.errors import ErrorsView
from workbench.core.recording.item_health import ItemHealth
from workbench.core.recording.recorder import Recorder, StoredBody
from workbench.core.sources.base import Capabilities, RecorderReads, Snapshot, StatsHistory
from workbench.remote import wire
from workbench.remote.agent_client import AgentClient, AgentGone, Refused
from workbench.remote.answers import (
    DecodedView,
    empty_queue,
    empty_refs,
    fetch_body,
    merge_records,
    probe_pace,
    probe_refs,
)
from workbench.remote.client import CrawlGone, RemoteControlClient, RemoteError

logger = logging.getLogger(__name__)

POLL_INTERVAL = 0.5  # seconds: at most two polls a second
VIEW_TTL = 3.0  # a view nobody asked for since is no longer fetched
RECORD_BUDGET = 256 * 1024  # bytes of record JSON asked for per poll
SHELL_NAMESPACE = "workbench_shell"
NOT_ATTACHED = "not available when attached to a crawl in another process"


class RemoteSource(RecorderReads):
    """Reads a crawl running in another process through its RemoteControl server."""

    # breakpoints, replay, reloading and a shell in this process need the
    # crawl's objects here: only under workbench crawl
    capabilities: ClassVar[Capabilities] = Capabilities(
        live=True, attached=True, inject=True, pace=True, refs=True, heap=True, remote_shell=True
    )
    unavailable: ClassVar[str] = f"{NOT_ATTACHED}; run the spider with workbench crawl"

    def __init__(
        self,
        client: RemoteControlClient,
        poll_interval: float = POLL_INTERVAL,
        job_file_local: bool = True,  # False through SSH: the job file is on that machine
        probe: bool = False,  # the light agent, even where workbench could record
    ) -> None:
        self.client = client
        self.job_file_local = job_file_local
        self.job = client.job
        self.agent = AgentClient(client, probe)
        self.poll_interval = max(POLL_INTERVAL, poll_interval)
        self.recorder = Recorder()
        self.history = StatsHistory()
        self.hello: dict[str, Any] = {}
        self.mode = "?"
        self.polls = 0
        self.error: str | None = None  # why the last poll failed
        self.gone = False  # the crawl's server stopped answering
        self.detached = False
        self._status = CrawlStatus("starting", 0, 0, None, None)
        self._stats: dict[str, Any] = {}
        self._counts: dict[str, Any] = {}
        self._views: dict[str, Any] = {}  # name -> {"ok": ...} or {"error": ...}
        self._wanted: dict[str, tuple[float, dict[str, Any]]] = {}
        self._pending: list[dict[str, Any]] = []
        self._cursors = {"flows": 0, "items": 0, "log": 0}
        self._budget = RECORD_BUDGET
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._bodies: dict[int, StoredBody] = {}
        self._errors = DecodedView(ErrorsView)
        self._health = DecodedView(ItemHealth)

    def __repr__(self) -> str:
        return f"<RemoteSource pid={self.job.pid} mode={self.mode}>"

    # -- lifecycle -----------------------------------------------------------------

    def attach(self) -> dict[str, Any]:
        """Install the agent (blocking); returns what it says of itself."""
        self.hello = self.agent.install()
        self.mode = str(self.hello.get("mode"))
        return self.hello

    async def start(self) -> None:
        if not self.hello:
            await asyncio.to_thread(self.attach)
        self._thread = threading.Thread(target=self._run, name="workbench-attach", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Detach: stop polling and let the agent remove what it installed."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=15)
        if self.detached or self.gone or not self.hello:
            return
        self.detached = True
        try:
            self.agent.call("detach")
        except RemoteError as exc:
            logger.warning("Detaching from pid %s: %s", self.job.pid, exc)

    # -- the poll thread -------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self.poll_once()
            if self.gone:
                return
            self._stop.wait(max(0.05, self.poll_interval - (time.monotonic() - began)))

    def poll_once(self) -> None:
        now = time.monotonic()
        with self._lock:
            for name, (asked, _) in list(self._wanted.items()):
                if now - asked > VIEW_TTL:
                    del self._wanted[name]
            views = {name: kwargs for name, (_, kwargs) in self._wanted.items()}
        try:
            answer = self.agent.call(
                "poll", timeout=10.0, views=views, size=self._budget, **self._cursors
            )
        except AgentGone:
            try:  # it timed out (no poll for a minute): install it again
                self.attach()
                self.error = None
                if not self.hello.get("existing"):  # a new recorder numbers from 1 again
                    self._cursors = {"flows": 0, "items": 0, "log": 0}
            except RemoteError as exc:
                self.error = str(exc)
            return
        except Refused as exc:
            if "too large" in str(exc):
                self._budget = max(8 * 1024, self._budget // 2)
            self.error = str(exc)
            return
        except CrawlGone as exc:
            self.error = str(exc)
            self.gone = True
            return
        except RemoteError as exc:
            self.error = str(exc)
            return
        self.error = None
        self.polls += 1
        for name in ("flows", "items", "log"):
            records = answer.get(name) or ()
            if records:
                self._cursors[name] = int(records[-1]["id"])
        with self._lock:
            self._pending.append(answer)
            del self._pending[:-50]  # a UI that stopped reading does not grow this

    # -- merging (on the UI's thread) ------------------------------------------------

    def _merge(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        rec = self.recorder
        for answer in pending:
            # field by field: an older agent's status lacks the newer fields
            self._status = wire.decode(CrawlStatus, answer["status"])
            self._stats = {k: wire.value(v) for k, v in answer["stats"].items()}
            self._counts = answer.get("counts") or {}
            merge_records(rec, answer)  # errors grouped, fields counted here too
            self._views.update(answer.get("views") or {})

    def _want(self, name: str, **kwargs: Any) -> Any:
        """Ask the poll thread for a view; returns the latest one fetched (or None)."""
        with self._lock:
            self._wanted[name] = (time.monotonic(), kwargs)
        got = self._views.get(name)
        if got is None:
            return None
        if "error" in got:
            raise Refused(got["error"])
        return got["ok"]

    # -- the Source protocol -----------------------------------------------------------

    def snapshot(self) -> Snapshot:
        self._merge()
        now = time.time()
        status = self._status
        if self.gone:
            status = self._ended(status)
        stats = self._stats
        counts = self._counts
        pages = int(stats.get("response_received_count", 0) or 0)
        items = int(counts.get("items_scraped", 0) or 0)
        if status.state in ("running", "paused", "closing"):
            self.history.sample(now, pages, items)
        rec = self.recorder
        started = self.hello.get("started")
        return Snapshot(
            time=now,
            spider=str(self.hello.get("spider") or self.job.spider),
            status=status,
            stats=stats,
            started=started if isinstance(started, (int, float)) else self.job.start_time,
            finished=now if self.gone else None,
            flows_total=rec.flows.total,
            flows_kept=len(rec.flows),
            items_scraped=items,
            items_dropped=int(counts.get("items_dropped", 0) or 0),
            items_failed=int(counts.get("items_failed", 0) or 0),
            items_total=rec.items.total,
            items_kept=len(rec.items),
            log_total=rec.log.total,
            log_kept=len(rec.log),
            log_counts=dict(counts.get("log_counts") or {}),
            bodies_kept=int(counts.get("bodies_kept", 0) or 0),
            body_bytes=int(counts.get("body_bytes", 0) or 0),
            bodies_evicted=int(counts.get("bodies_evicted", 0) or 0),
            history=tuple(self.history.samples),
            fates={str(k): v for k, v in (counts.get("fates") or {}).items() if type(v) is int},
            dropped_unkept=int(counts.get("dropped_unkept", 0) or 0),
            attached=f"attached to pid {self.job.pid}"
            + (" (probe)" if self.mode == "probe" else ""),
            warning="" if self.gone or not self.error else f"not answering: {self.error}",
        )

    def item_health(self) -> ItemHealth:
        """The crawl's own counts (every item, its declared fields); from an
        older agent, or before its first answer, those of the items fetched."""
        try:
            data = self._want("item_health")
        except Refused:
            data = None
        health = self._health.get(data) if data is not None else None
        return health if health is not None else self.recorder.item_health.view()

    def error_groups(self) -> ErrorsView:
        """The crawl's own groups (every error it recorded); from an older agent, a
        probe, or before its first answer, the groups of the records fetched."""
        try:
            data = self._want("errors")
        except Refused:
            data = None
        groups = self._errors.get(data) if data is not None else None
        return groups if groups is not None else self.recorder.errors.view()

    def error_traceback(self, key: str) -> str | None:
        """A group's first traceback: from the crawl (its view leaves them out), else
        from the groups of the records fetched."""
        if self.mode == "full" and not self.gone:
            try:
                text = self._control("error_traceback", key=key)
            except (RemoteError, Refused) as exc:
                logger.debug("The traceback of error group %s: %s", key, exc)
            else:
                if isinstance(text, str):
                    return text
        return self.recorder.errors.traceback(key)

    def _ended(self, last: CrawlStatus) -> CrawlStatus:
        """The state once the crawl's server has closed, from what was seen before.

        RemoteControl removes the job file and then closes its server when the
        engine stops: a job file left behind means the process died instead."""
        died = self.job_file_local and self.job.path.exists()
        if died and last.state not in ("closing", "finished"):
            error = f"the crawl went away without closing (killed?): {self.error}"
            return CrawlStatus("failed", 0, last.queued, last.finish_reason, error)
        reason = last.finish_reason or "ended; the figures are from its last answer"
        return CrawlStatus("finished", 0, last.queued, reason, None)

    def body(self, flow_id: int) -> StoredBody | None:
        """The flow's body, fetched from the crawl in chunks (cached; at most
        :data:`~workbench.remote.answers.MAX_BODY`)."""
        if flow_id in self._bodies:
            return self._bodies[flow_id]
        if self.mode != "full" or self.gone:
            return None
        try:
            stored = fetch_body(self.agent.call, flow_id)
        except RemoteError as exc:
            logger.warning("Fetching the body of flow #%s: %s", flow_id, exc)
            return None
        if stored is None:
            return None
        if len(self._bodies) > 20:
            self._bodies.pop(next(iter(self._bodies)))
        self._bodies[flow_id] = stored
        return stored

    def queue(self, offset: int = 0, limit: int = 100) -> QueueView:
        data = self._want("queue", offset=offset, limit=limit)
        return wire.decode(QueueView, data) if data is not None else empty_queue()

    def _control(self, name: str, **args: Any) -> Any:
        if self.gone:
            raise Refused("the crawl is no longer running")
        return self.agent.call(name, **args)

    def toggle_pause(self) -> bool | None:
        state = self.snapshot().status.state
        try:
            if state == "paused":
                self._control("resume")
                self._status = CrawlStatus("running", *self._status_tail())
                return False
            if state == "running":
                self._control("pause")
                self._status = CrawlStatus("paused", *self._status_tail())
                return True
        except RemoteError as exc:
            logger.warning("Pause/resume: %s", exc)
        return None

    def _status_tail(self) -> tuple[int, int, str | None, str | None]:
        s = self._status
        return (s.in_flight, s.queued, s.finish_reason, s.error)

    def stop(self) -> bool:
        try:
            stopping = bool(self._control("stop"))
        except (RemoteError, Refused) as exc:
            logger.warning("Stop: %s", exc)
            return False
        if stopping:
            self._status = CrawlStatus("closing", *self._status_tail())
        return stopping

    def inject_curl(self, text: str, callback: str = "parse") -> str:
        return str(self._control("inject_curl", text=text, callback=callback))

    def callbacks(self) -> list[str]:
        try:
            return [str(c) for c in self._control("callbacks")]
        except (RemoteError, Refused):
            return ["parse"]

    # -- leak hunting --------------------------------------------------------------------

    def refs(self) -> RefsView:
        data = self._want("refs")
        if data is None:
            return empty_refs()
        if self.mode == "full":
            return wire.decode(RefsView, data)
        return probe_refs(data)

    def set_refs_baseline(self, clear: bool = False) -> None:
        self._control("refs_baseline", clear=clear)

    def ignore_ref_class(self, class_key: str, ignored: bool) -> None:
        self._control("refs_ignore", key=class_key, ignored=ignored)

    def prefs_text(self) -> str:
        return str(self._control("prefs_text"))

    def live_objects(self, class_key: str, limit: int = 500) -> ObjectList:
        return wire.decode(ObjectList, self._control("live_objects", key=class_key, limit=limit))

    async def referrers(self, object_key: int) -> ReferrerReport:
        data = await asyncio.to_thread(self._control, "referrers", key=object_key)
        return wire.decode(ReferrerReport, data)

    async def leak_paths(self, class_keys: list[str]) -> dict[str, str | None]:
        data = await asyncio.to_thread(self._control, "leak_paths", keys=class_keys)
        return {str(k): (str(v) if v is not None else None) for k, v in (data or {}).items()}

    def leak_path_due(self, class_key: str) -> bool:
        return False  # a search stops the crawl's loop meanwhile: only on request

    def memory(self) -> MemoryView:
        try:
            data = self._want("memory")
        except Refused as exc:
            return MemoryView((), (), (), (), False, 0.0, "", str(exc))
        if data is None:
            return MemoryView((), (), (), (), False, 0.0, "", None)
        return wire.decode(MemoryView, data)

    async def heap_summary(self) -> HeapSummary:
        data = await asyncio.to_thread(self._control, "heap_summary", timeout=120.0)
        return wire.decode(HeapSummary, data)

    # -- pace ----------------------------------------------------------------------------

    def engine_reading(self) -> EngineReading | None:
        """The crawl's engine readings (full mode; a probe or an older agent: None)."""
        try:
            data = self._want("engine")
        except Refused:
            return None
        if data is None:
            return None
        try:
            return wire.decode(EngineReading, data)
        except (ValueError, TypeError, KeyError):
            return None

    def pace(self, selected: str | None = None, points: int = 900) -> PaceView | None:
        data = self._want("pace", selected=selected, points=min(points, 900))
        if data is None:
            return None
        if self.mode == "full":
            return wire.decode(PaceView, data)
        return probe_pace(data, self.recorder.flows, selected)

    def set_slot_delay(self, key: str | None, seconds: float) -> str:
        return str(self._control("set_delay", key=key, value=seconds))

    def set_slot_concurrency(self, key: str | None, value: int) -> str:
        return str(self._control("set_concurrency", key=key, value=value))

    def set_slot_autothrottle(self, key: str | None, on: bool) -> str:
        return str(self._control("set_autothrottle", key=key, value=on))

    # -- the remote shell ---------------------------------------------------------------

    def prepare_remote_shell(self, flow_id: int | None) -> str:
        """Put the flow's request and response in the remote shell; returns a note."""
        return str(self._control("shell_target", flow=flow_id, namespace=SHELL_NAMESPACE))
