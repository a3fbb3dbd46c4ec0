"""The code ``workbench attach`` runs inside the crawl it attaches to.

This file is sent as it is (fixed text, never built from remote data) to the
crawl's RemoteControl ``/execute`` and run there once; the :class:`Agent` it
makes lives in the server's ``stash``.  It imports only the standard library
and Scrapy at the top, because the crawl's environment may not have
workbench.

Two modes:

- ``full``: the crawl can import the same version of workbench.  The agent
  installs workbench's own recorder (signals, the download-error hook, a log
  handler) and pace monitor, or reuses them when the crawl runs under
  ``workbench crawl``; every panel works.
- ``probe``: only Scrapy (or ``workbench attach --probe``, which asks for
  it: about 0.3% of a crawl's CPU per page, where the recorder costs 4% or
  more).  Recent responses, the log, stats, slots, queue sizes and trackref
  counts; no bodies, items or leak tools.

Every call returns one line: the JSON answer, zlib-compressed and base64
encoded, kept under the server's output limit.  Whatever the agent installed
is removed on detach, or when no client has polled for :data:`LEASE`
seconds (a client killed without detaching).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gc
import itertools
import json
import logging
import os
import sys
import time
import zlib
from collections import deque
from collections.abc import Sequence
from typing import Any

from scrapy import signals

LEASE = 60.0  # seconds without a poll before the agent removes itself
# on sys: {"holders": agents holding the heap's freeze, "count": gc.get_freeze_count()}
FREEZE_ATTR = "_workbench_agent_freeze"
RECENT_FLOWS = 2000  # what a new client gets first
PROBE_FLOWS = 5000  # flows a probe keeps
PROBE_LOG = 5000
TEXT_LIMIT = 8192  # a traceback, a log line
BODY_CHUNK = 32 * 1024
HEALTH_ROWS = 300  # item fields sent with their examples (the worst)
ERROR_GROUPS = 100  # error groups sent, the most frequent (each without its traceback)
UPDATE_WINDOW = 3.0  # seconds after sending a flow in which its callback's results follow


class AgentError(Exception):
    """A refusal whose message is shown to the user."""


def _cap(text: Any, limit: int = TEXT_LIMIT) -> Any:
    if isinstance(text, str) and len(text) > limit:
        return text[:limit] + f"… [{len(text) - limit} more characters]"
    return text


def _cap_traceback(text: Any, limit: int = TEXT_LIMIT) -> Any:
    """A traceback's start and end: the user's frame and the exception are last."""
    if isinstance(text, str) and len(text) > limit:
        half = limit // 2
        cut = len(text) - 2 * half
        return f"{text[:half]}\n… [{cut} characters]\n{text[-half:]}"
    return text


def _headers(headers: Any) -> tuple[tuple[str, str], ...]:
    """(name, value) text pairs of scrapy Headers or workbench's frozen pairs (bounded)."""
    if not headers:
        return ()
    out = []
    pairs = headers.items() if hasattr(headers, "items") else headers  # Headers or frozen pairs
    for key, values in pairs:
        name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
        for value in values or ():
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            out.append((name, _cap(text, 4096)))
    return tuple(out[:200])


def _jsonable(value: Any, depth: int = 0) -> Any:
    """A JSON form of an item field or a stat (repr() for anything else)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return _cap(value, 4096)
    if depth < 3 and isinstance(value, (list, tuple)):
        return [_jsonable(v, depth + 1) for v in list(value)[:200]]
    if depth < 3 and isinstance(value, dict):
        return {str(k): _jsonable(v, depth + 1) for k, v in list(value.items())[:200]}
    if hasattr(value, "timestamp") and hasattr(value, "isoformat"):
        return {"__datetime__": value.timestamp()}
    return {"__repr__": _cap(repr(value), 1024)}


def flow_to_wire(flow: Any) -> dict[str, Any]:
    data = flow.to_dict()
    data["requests"] = data["requests"][:100]
    data["requests_total"] = len(flow.requests)
    data["request_headers"] = _headers(flow.request_headers)
    data["response_headers"] = _headers(flow.response_headers)
    data["meta"] = [list(p) for p in flow.meta]
    data["cb_kwargs"] = [list(p) for p in flow.cb_kwargs]
    data["response_class"] = flow.response_class
    data["error_traceback"] = _cap_traceback(flow.error_traceback)
    data["callback_traceback"] = _cap_traceback(flow.callback_traceback)
    body = flow.request_body
    data["request_body"] = base64.b64encode(body[:65536]).decode() if body else None
    return data


def _mutable(flow: Any) -> tuple[int, int, bool, Any]:
    # what a flow's callback adds after it was sent, and a fate decided later (a retry)
    return (
        len(flow.items),
        len(flow.requests),
        flow.callback_error is not None,
        getattr(flow, "fate", None),
    )


FATE_FIELDS = ("fate", "fate_by", "fate_reason", "fate_n", "fate_limit", "duplicate_of")


def _fate_fields(flow: Any) -> dict[str, Any]:
    return {name: getattr(flow, name, None) for name in FATE_FIELDS}


def _late(crawler: Any, name: str) -> Any:
    """``crawler.<name>``, or None before the crawl sets it (Scrapy 2.19 raises
    RuntimeError then). The agent imports nothing of workbench's."""
    try:
        return getattr(crawler, name, None)
    except RuntimeError:
        return None


def _engine(crawler: Any) -> Any:
    return _late(crawler, "engine")


def crawl_status(crawler: Any) -> dict[str, Any]:
    engine = _engine(crawler)
    stats = _late(crawler, "stats")
    finish_reason = stats.get_value("finish_reason") if stats is not None else None
    in_flight = queued = 0
    slot = getattr(engine, "_slot", None) if engine is not None else None
    if slot is not None:
        in_flight = len(slot.inprogress)
        with contextlib.suppress(TypeError):
            queued = len(slot.scheduler)
    if engine is None or not engine.running:
        state = "closing" if finish_reason else "starting"
        if finish_reason and getattr(crawler, "crawling", True) is False:
            state = "finished"
    elif slot is not None and slot.closing is not None:
        state = "closing"
    elif engine.paused:
        state = "paused"
    else:
        state = "running"
    return {
        "state": state,
        "in_flight": in_flight,
        "queued": queued,
        "finish_reason": finish_reason,
        "error": None,
    }


def dataclass_to_wire(obj: Any) -> Any:
    """A workbench view (frozen dataclasses, tuples) as JSON-ready data."""
    import dataclasses

    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: dataclass_to_wire(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, dict):
        return {str(k): dataclass_to_wire(v) for k, v in obj.items()}
    if isinstance(obj, Sequence) and not isinstance(obj, (str, bytes)):  # packed pairs too
        return [dataclass_to_wire(v) for v in obj]
    return _jsonable(obj)


class _ProbeRecorder:
    """What a probe keeps when workbench is not importable: recent responses, log."""

    def __init__(self) -> None:
        self.flows: deque[dict[str, Any]] = deque(maxlen=PROBE_FLOWS)
        self.log: deque[dict[str, Any]] = deque(maxlen=PROBE_LOG)
        self.flow_ids = itertools.count(1)
        self.log_ids = itertools.count(1)
        self.log_counts: dict[str, int] = {}
        self.flows_total = 0
        self.log_total = 0

    def response(self, response: Any, request: Any, spider: Any = None) -> None:
        meta = request.meta
        callback = request.callback
        self.flows.append(
            {
                "id": next(self.flow_ids),
                "time": time.time(),
                "method": request.method,
                "url": response.url,
                "status": response.status,
                "error": None,
                "size": len(response.body),
                "latency": meta.get("download_latency"),
                "callback": "parse"
                if callback is None
                else getattr(callback, "__name__", str(callback)),
                "depth": meta.get("depth", 0),
                "priority": request.priority,
                "slot": meta.get("download_slot"),
                "response_class": type(response).__name__,
                "request_headers": _headers(request.headers),
                "response_headers": _headers(response.headers),
            }
        )
        self.flows_total += 1

    def log_record(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string in someone's log call
            message = str(record.msg)
        if record.exc_info and record.exc_info[0] is not None:
            message += "\n" + logging.Formatter().formatException(record.exc_info)
        self.log.append(
            {
                "id": next(self.log_ids),
                "time": record.created,
                "level": record.levelno,
                "levelname": record.levelname,
                "logger": record.name,
                "message": _cap(message),
            }
        )
        self.log_total += 1
        self.log_counts[record.levelname] = self.log_counts.get(record.levelname, 0) + 1


class _ProbeLogHandler(logging.Handler):
    def __init__(self, probe: _ProbeRecorder, level: int | str) -> None:
        super().__init__(level)
        self.probe = probe

    def emit(self, record: logging.LogRecord) -> None:
        with contextlib.suppress(Exception):
            self.probe.log_record(record)


class Agent:
    def __init__(
        self,
        crawler: Any,
        stash: dict[str, Any],
        version: str,
        lease: float = LEASE,
        probe: bool = False,
    ) -> None:
        self.crawler = crawler
        self.probe_asked = probe  # a probe even where workbench's recorder could run
        self.lease = lease
        self.stash = stash
        self.version = version
        self.clients: dict[str, float] = {}  # client id -> monotonic time of its last call
        self.sent: dict[str, dict[int, tuple[float, tuple[int, int, bool, Any]]]] = {}
        self.undo: list[Any] = []
        self.existing = False
        self.installed_at = time.time()
        self.mode = "probe"
        self.recorder: Any = None
        self.monitor: Any = None
        self.memprobe: Any = None
        self.probe: _ProbeRecorder | None = None
        self._lease: Any = None
        self.removed = False
        self._stopping: Any = None
        self.shells: list[dict[str, Any]] = []
        limit = crawler.settings.getint("REMOTE_CONTROL_OUTPUT_MAX_BYTES", 64 * 1024)
        self.budget = max(1024, int(limit * 0.95) - 64)  # encoded answer, under the server's cap
        self._install()

    # -- installing and removing ---------------------------------------------

    def _workbench(self) -> bool:
        try:
            import workbench
        except ImportError:
            return False
        return getattr(workbench, "__version__", None) == self.version

    def _install(self) -> None:
        crawler = self.crawler
        if self._workbench() and (not self.probe_asked or self._has_recorder()):
            self.mode = "full"
            self._install_full(crawler)
        else:
            self._install_probe(crawler)
        self._freeze_heap()
        self._lease = asyncio.get_running_loop().call_later(self.lease / 4, self._check_lease)

    def _has_recorder(self) -> bool:
        """The crawl runs under ``workbench crawl``: reading its recorder costs nothing."""
        from workbench.core.recording import extension

        return getattr(self.crawler, extension.RECORDER_ATTR, None) is not None

    def _install_full(self, crawler: Any) -> None:
        from workbench.core.control import in_flight
        from workbench.core.leaks.memprobe import MemoryProbe
        from workbench.core.recording import extension
        from workbench.core.recording.logcapture import RecorderLogHandler
        from workbench.core.recording.recorder import Limits, Recorder

        ATTACHED_LIMITS = Limits(
            flows=5000, dropped=2000, items=5000, log=5000, bodies=500, body_bytes=16 << 20
        )

        self.existing = getattr(crawler, extension.RECORDER_ATTR, None) is not None
        if not self.existing:
            # The client keeps its own copy of every record it fetched: here
            # only a buffer between polls, and the bodies the detail view asks
            # for.  Less kept is less for the crawl's garbage collector to walk.
            recorder = Recorder(ATTACHED_LIMITS)
            setattr(crawler, extension.RECORDER_ATTR, recorder)
            ext = extension.RecorderExtension(crawler)
            self.undo.append(ext.disconnect)
            attrs = (extension.RECORDER_ATTR, extension.TAP_ATTR, in_flight.CLOCK_ATTR)
            self.undo.append(lambda: _delattrs(crawler, *attrs))
            self._hook_download_errors(extension.ErrorRecorderMiddleware(crawler))
            handler = RecorderLogHandler(recorder, _log_level(crawler))
            self._add_log_handler(handler)
        self.recorder = extension.recorder_for(crawler)
        self.memprobe = MemoryProbe(lambda: crawler)

    def _freeze_heap(self) -> None:
        """Move what the crawl holds now (and the modules just imported) out of the
        garbage collector's way, as ``workbench crawl`` does for its own at start.

        A full collection walks every tracked object; the crawl's long-lived
        heap (settings, components, queued requests), walked again and again,
        is most of what attaching costs a CPU-bound crawl.  Frozen objects are
        still freed by reference counting; only a reference cycle among them
        waits for the detach, which unfreezes.  A crawl that froze its own heap
        (``workbench crawl``) is left as it is.

        The freeze is the process's, and several agents may share it (one per
        crawler with RemoteControl): a count on ``sys`` says how many hold it;
        the last to leave unfreezes, unless the crawl has frozen more since.
        """
        state = getattr(sys, FREEZE_ATTR, None)
        if state is None:
            if gc.get_freeze_count():
                return  # the crawl's own freeze: not ours to undo
            gc.collect()  # what is garbage now is not frozen
            gc.freeze()
            state = {"holders": 0, "count": gc.get_freeze_count()}
            setattr(sys, FREEZE_ATTR, state)
        state["holders"] += 1
        self.undo.append(_release_heap)

    def _refreeze(self) -> None:
        """A heap summary or a referrer search unfroze the heap (frozen objects are
        invisible to them): freeze it again while an agent holds the freeze."""
        state = getattr(sys, FREEZE_ATTR, None)
        if state is not None and not gc.get_freeze_count():
            gc.freeze()
            state["count"] = gc.get_freeze_count()

    def _pace_monitor(self) -> Any:
        """The crawl's pace monitor, installed when the Slots panel first asks for it."""
        if self.monitor is not None:
            return self.monitor
        from workbench.core.control.pace import PACE_ATTR, PaceExtension

        crawler = self.crawler
        if getattr(crawler, PACE_ATTR, None) is None:
            pace = PaceExtension(crawler)
            if getattr(crawler, "spider", None) is not None:
                pace.spider_opened(crawler.spider)
            self.undo.append(pace.detach)
            self.undo.append(lambda: _delattrs(crawler, PACE_ATTR))
        self.monitor = getattr(crawler, PACE_ATTR)
        return self.monitor

    def _install_probe(self, crawler: Any) -> None:
        probe = self.probe = _ProbeRecorder()
        crawler.signals.connect(probe.response, signal=signals.response_received)
        self.undo.append(
            lambda: crawler.signals.disconnect(probe.response, signal=signals.response_received)
        )
        self._add_log_handler(_ProbeLogHandler(probe, _log_level(crawler)))

    def _hook_download_errors(self, middleware: Any) -> None:
        engine = _engine(self.crawler)
        downloader = getattr(engine, "downloader", None)
        methods = getattr(getattr(downloader, "middleware", None), "methods", None)
        if methods is None:
            return
        chain = methods["process_exception"]
        hook = middleware.process_exception
        chain.appendleft(hook)  # next to the downloader: every download exception

        def unhook() -> None:
            with contextlib.suppress(ValueError):
                chain.remove(hook)

        self.undo.append(unhook)

    def _add_log_handler(self, handler: logging.Handler) -> None:
        root = logging.getLogger()
        root.addHandler(handler)
        self.undo.append(lambda: root.removeHandler(handler))

    def remove(self) -> None:
        """Undo everything the agent installed (newest first); idempotent."""
        if self.removed:
            return
        self.removed = True
        if self._lease is not None:
            self._lease.cancel()
        while self.undo:
            undo = self.undo.pop()
            with contextlib.suppress(Exception):
                undo()
        if self.stash.get(STASH_KEY) is self:
            del self.stash[STASH_KEY]
        for namespace in self.shells:  # the objects shell_target put there
            for name in ("request", "response"):
                namespace.pop(name, None)

    def _check_lease(self) -> None:
        now = time.monotonic()
        for client, seen in list(self.clients.items()):
            if now - seen > self.lease:
                self._forget(client)
        if not self.clients:
            logging.getLogger(__name__).info(
                "workbench: no attached client for %d s; removing the attach agent", self.lease
            )
            self.remove()
            return
        self._lease = asyncio.get_running_loop().call_later(self.lease / 4, self._check_lease)

    def _forget(self, client: str) -> None:
        self.clients.pop(client, None)
        self.sent.pop(client, None)

    # -- calls -----------------------------------------------------------------

    async def call(self, client: str, name: str, args: str) -> str:
        """Run one allowed method; returns the encoded answer (never raises)."""
        budget = self.budget
        if name not in CALLS:
            return _encode({"error": f"unknown call {name!r}"}, budget)
        if self.removed and name != "detach":
            return _encode({"error": "the agent was removed (no poll for a minute)"}, budget)
        self.clients[client] = time.monotonic()
        try:
            result = getattr(self, "do_" + name)(client, **json.loads(args))
            if asyncio.iscoroutine(result):
                result = await result
            return _encode({"ok": result}, budget)
        except (AgentError, ValueError) as exc:  # workbench's refusals are ValueErrors
            return _encode({"error": str(exc)}, budget)
        except Exception as exc:
            return _encode({"error": f"{type(exc).__name__}: {_cap(str(exc), 1000)}"}, budget)

    def _full(self, what: str) -> None:
        if self.mode != "full":
            raise AgentError(
                f"{what} needs workbench {self.version} installed in the crawl's environment "
                "(attached as a probe: only Scrapy is there)"
            )

    def do_hello(self, client: str) -> dict[str, Any]:
        spider = getattr(self.crawler, "spider", None)
        return {
            "mode": self.mode,
            "existing": self.existing,
            "pid": os.getpid(),
            "spider": getattr(spider, "name", None) or "?",
            "installed_at": self.installed_at,
            "started": _start_time(self.crawler),
        }

    def do_detach(self, client: str) -> bool:
        self._forget(client)
        if not self.clients:
            self.remove()
        return True

    def _stats(self) -> dict[str, Any]:
        stats = _late(self.crawler, "stats")
        if stats is None:
            return {}
        return {str(k): _jsonable(v) for k, v in list(stats.get_stats().items())[:2000]}

    def do_poll(
        self, client: str, flows: int, items: int, log: int, views: dict[str, Any], size: int
    ) -> dict[str, Any]:
        """The snapshot, what is new since the cursors (ids), and the views asked for."""
        status = crawl_status(self.crawler)
        if self.mode == "full":  # what is on the wire (an older client ignores it)
            status["transfers"] = self._transfers()
        stats = self._stats()
        answer: dict[str, Any] = {"status": status, "stats": stats, "time": time.time()}
        # bytes of JSON for the records (shared); zlib makes them 5-10 times smaller
        budget = [max(4096, min(size, self.budget * 4))]
        if self.mode == "full":
            rec = self.recorder
            pages = int(stats.get("response_received_count", 0) or 0)
            self.memprobe.sample(pages, status["in_flight"], status["queued"])
            answer["counts"] = {
                "flows_total": rec.flows.total,
                "items_scraped": rec.items_scraped,
                "items_dropped": rec.items_dropped,
                "items_failed": rec.items_failed,
                "items_total": rec.items.total,
                "log_total": rec.log.total,
                "log_counts": dict(rec.log_counts),
                "bodies_kept": len(rec.bodies),
                "body_bytes": rec.bodies.bytes,
                "bodies_evicted": rec.bodies.evicted,
                # what became of the requests (older workbench: absent, read as none)
                "fates": dict(getattr(rec, "fate_counts", {})),
                "dropped_unkept": getattr(rec, "dropped_unkept", 0),
            }
            new_flows = _since(rec.flows, flows)
            answer["flows"] = taken = _take(new_flows, flow_to_wire, budget)
            answer["updates"] = self._updates(client, new_flows[: len(taken.parts)])
            answer["items"] = _take(_since(rec.items, items), _item_to_wire, budget)
            answer["log"] = _take(_since(rec.log, log), _log_to_wire, budget)
        else:
            probe = self.probe
            assert probe is not None
            answer["counts"] = {
                "flows_total": probe.flows_total,
                "items_scraped": int(stats.get("item_scraped_count", 0) or 0),
                "items_dropped": int(stats.get("item_dropped_count", 0) or 0),
                "items_failed": 0,
                "items_total": 0,
                "log_total": probe.log_total,
                "log_counts": dict(probe.log_counts),
                "bodies_kept": 0,
                "body_bytes": 0,
                "bodies_evicted": 0,
            }
            answer["flows"] = _take(_since(probe.flows, flows), dict, budget)
            answer["updates"] = []
            answer["items"] = _Raw([])
            answer["log"] = _take(_since(probe.log, log), dict, budget)
        answer["views"] = {}
        for name, kwargs in (views or {}).items():
            try:
                answer["views"][name] = {"ok": self._view(name, **kwargs)}
            except AgentError as exc:
                answer["views"][name] = {"error": str(exc)}
            except Exception as exc:
                answer["views"][name] = {"error": f"{type(exc).__name__}: {_cap(str(exc), 500)}"}
        return answer

    def _updates(self, client: str, sent_now: list[Any]) -> list[Any]:
        """Flows sent earlier whose callback has since added items, requests or an error."""
        sent = self.sent.setdefault(client, {})
        rec = self.recorder
        now = time.monotonic()
        updates = []
        while sent:  # oldest first: forget what the callback has had time to finish
            oldest = next(iter(sent))
            if now - sent[oldest][0] <= UPDATE_WINDOW:
                break
            del sent[oldest]
        for flow_id, (when, seen) in list(sent.items()):
            flow = rec.flow(flow_id)
            if flow is None:
                continue
            state = _mutable(flow)
            if state != seen:
                sent[flow_id] = (when, state)
                updates.append(
                    {
                        "id": flow_id,
                        "items": list(flow.items),
                        "requests": [list(r) for r in flow.requests[:100]],
                        "requests_total": len(flow.requests),
                        "callback_error": flow.callback_error,
                        "callback_traceback": _cap_traceback(flow.callback_traceback),
                        **_fate_fields(flow),
                    }
                )
        for flow in sent_now:
            sent[flow.id] = (now, _mutable(flow))
        return updates

    def _view(self, name: str, **kwargs: Any) -> Any:
        crawler = self.crawler
        if name == "queue":
            return self._queue(**kwargs)
        if name == "pace":
            if self.mode != "full":
                return self._probe_pace()
            monitor = self._pace_monitor()
            return dataclass_to_wire(monitor.view(kwargs.get("selected"), kwargs["points"]))
        if name == "engine":  # Diagnose: the engine's readings (the pace monitor samples them)
            self._full("Diagnosing the pace")
            return dataclass_to_wire(self._pace_monitor().engine_view())
        if name == "refs":
            if self.mode != "full":
                return _trackref_counts()
            return dataclass_to_wire(self.memprobe.refs())
        if name == "item_health":  # every item the crawl recorded, its declared fields
            self._full("Items health")
            return dataclass_to_wire(self.recorder.item_health.view().bounded(HEALTH_ROWS))
        if name == "errors":  # every error the crawl recorded, grouped there
            self._full("Errors grouped")
            return dataclass_to_wire(
                self.recorder.errors.view(tracebacks=False).bounded(ERROR_GROUPS)
            )
        if name == "memory":
            self._full("The Memory panel")
            stats = dict(crawler.stats.get_stats()) if crawler.stats is not None else {}
            return dataclass_to_wire(self.memprobe.memory(crawler.settings, stats))
        raise AgentError(f"unknown view {name!r}")

    def _transfers(self) -> Any:
        from workbench.core.control.in_flight import installed_clock

        clock = installed_clock(_engine(self.crawler))
        return dataclass_to_wire(clock.summary()) if clock is not None else None

    def _queue(self, offset: int, limit: int) -> Any:
        engine = _engine(self.crawler)
        if self.mode == "full":
            from workbench.core.control.scheduler_view import queue_view

            return dataclass_to_wire(queue_view(engine, offset, min(limit, 500)))
        slot = getattr(engine, "_slot", None)
        total = 0
        if slot is not None:
            with contextlib.suppress(TypeError):
                total = len(slot.scheduler)
        return {
            "total": total,
            "groups": [],
            "page": [],
            "offset": 0,
            "slots": [
                {
                    "key": str(key),
                    "concurrency": s.concurrency,
                    "delay": s.delay,
                    "active": len(s.active),
                    "queued": len(s.queue),
                    "transferring": len(s.transferring),
                    "lastseen": s.lastseen,
                    "in_flight": [r.url for r in list(s.transferring)[:20]],
                }
                for key, s in list(getattr(engine.downloader, "slots", {}).items())[:500]
            ]
            if engine is not None
            else [],
            "in_flight": len(engine.downloader.active) if engine is not None else 0,
            "took": 0.0,
            "shared": _shared_queue(getattr(slot, "scheduler", None)),
        }

    def _probe_pace(self) -> Any:
        queue = self._queue(0, 0)
        return {"slots": queue["slots"], "in_flight": queue["in_flight"]}

    # -- controls --------------------------------------------------------------

    def do_pause(self, client: str) -> bool:
        engine = _engine(self.crawler)
        if engine is None or not engine.running:
            raise AgentError("the crawl is not running")
        engine.pause()
        return True

    def do_resume(self, client: str) -> bool:
        # as workbench.core.control.host.resume_engine, which a probe cannot import
        engine = _engine(self.crawler)
        if engine is None or not engine.paused:
            return False
        engine.unpause()
        slot = getattr(engine, "_slot", None)
        if slot is not None:
            slot.nextcall.schedule()  # unpause() alone waits for the 5 s heartbeat
        return True

    def do_stop(self, client: str) -> bool:
        engine = _engine(self.crawler)
        if engine is None or not engine.running:
            return False
        slot = getattr(engine, "_slot", None)
        if slot is not None and slot.closing is not None:
            return False
        if engine.paused:
            self.do_resume(client)
        logging.getLogger(__name__).info(
            "Stop requested from an attached workbench, shutting down gracefully."
        )
        stop = getattr(self.crawler, "stop_async", None)
        if stop is not None:
            self._stopping = asyncio.ensure_future(stop())
        else:
            self.crawler.stop()
        return True

    def _monitor(self) -> Any:
        self._full("Changing a slot")
        return self._pace_monitor()

    def do_set_delay(self, client: str, key: str | None, value: float) -> str:
        return self._monitor().set_delay(key, value)

    def do_set_concurrency(self, client: str, key: str | None, value: int) -> str:
        return self._monitor().set_concurrency(key, value)

    def do_set_autothrottle(self, client: str, key: str | None, value: bool) -> str:
        return self._monitor().set_autothrottle(key, value)

    def do_refs_baseline(self, client: str, clear: bool) -> bool:
        self._full("A baseline")
        self.memprobe.set_baseline(clear)
        return True

    def do_refs_ignore(self, client: str, key: str, ignored: bool) -> bool:
        self._full("Ignoring a class")
        self.memprobe.ignore(key, ignored)
        return True

    def do_prefs_text(self, client: str) -> str:
        from scrapy.utils.trackref import format_live_refs

        return format_live_refs()

    def do_live_objects(self, client: str, key: str, limit: int) -> Any:
        self._full("Listing live objects")
        return dataclass_to_wire(self.memprobe.live_objects(key, min(limit, 500)))

    async def do_referrers(self, client: str, key: int) -> Any:
        self._full("Referrers")
        try:
            return dataclass_to_wire(await self.memprobe.referrers(key))
        finally:
            self._refreeze()

    async def do_leak_paths(self, client: str, keys: list[str]) -> Any:
        self._full("Leak paths")
        try:
            return await self.memprobe.leak_paths(keys)
        finally:
            self._refreeze()

    async def do_heap_summary(self, client: str) -> Any:
        self._full("A heap summary")
        try:
            return dataclass_to_wire(await self.memprobe.heap_summary())
        finally:
            self._refreeze()

    def do_body(self, client: str, flow: int, offset: int) -> Any:
        self._full("Response bodies")
        stored = self.recorder.body(flow)
        if stored is None:
            return None
        chunk = stored.body[offset : offset + BODY_CHUNK]
        return {
            "size": stored.size,
            "kept": len(stored.body),
            "truncated": stored.truncated,
            "chunk": base64.b64encode(zlib.compress(chunk, 1)).decode(),
        }

    def do_error_traceback(self, client: str, key: str) -> str | None:
        """The traceback of an error group's first error (the view leaves them out)."""
        self._full("Errors grouped")
        return _cap_traceback(self.recorder.errors.traceback(str(key)), 4 * TEXT_LIMIT)

    def do_callbacks(self, client: str) -> list[str]:
        self._full("Injecting a request")
        from workbench.core.inspection.curl import spider_callbacks

        spider = getattr(self.crawler, "spider", None)
        return spider_callbacks(spider) if spider is not None else ["parse"]

    def do_inject_curl(self, client: str, text: str, callback: str) -> str:
        self._full("Injecting a request")
        from workbench.core.inspection.curl import CurlError, inject_curl

        try:
            return inject_curl(self.crawler, text, callback)
        except (CurlError, ValueError) as exc:
            raise AgentError(str(exc)) from None

    def do_shell_target(self, client: str, flow: int | None, namespace: str) -> str:
        """Put the flow's request and response into the remote shell's namespace."""
        ns = self.stash.setdefault(namespace, {"crawler": self.crawler, "stash": self.stash})
        if not any(ns is known for known in self.shells):
            self.shells.append(ns)
        if flow is None:
            return "no flow selected"
        if self.mode != "full":
            ns["request"] = ns["response"] = None
            return "attached as a probe: no request or response objects"
        from workbench.core.inspection.rebuild import (
            RebuildError,
            rebuild_request,
            rebuild_response,
        )

        record = self.recorder.flow(flow)
        if record is None:
            raise AgentError(f"flow #{flow} is no longer kept")
        spider = getattr(self.crawler, "spider", None)
        try:
            request = rebuild_request(record, spider)
        except RebuildError:
            request = rebuild_request(record)
        ns["request"] = request
        ns["response"] = None
        if record.status is None:
            return f"request is flow #{flow}; it has no response ({record.error})"
        try:
            ns["response"] = rebuild_response(
                record, self.recorder.body(flow), request, allow_truncated=True
            )
        except RebuildError as exc:
            return f"request is flow #{flow}; no response: {exc}"
        return f"request and response are flow #{flow}, rebuilt from the recorded body"


# what a client may call: the Agent's do_* methods, and nothing else
CALLS = frozenset(name[3:] for name in vars(Agent) if name.startswith("do_"))
STASH_KEY = "workbench_agent"  # where the agent lives in RemoteControl's stash


def _shared_queue(scheduler: Any) -> str | None:
    """A scrapy-redis scheduler's Redis key and where (host, port, db: never the
    password), in words; the probe's half of core/fleet/redis_workers.shared_queue_note."""
    cls = type(scheduler)
    if scheduler is None or not cls.__module__.startswith("scrapy_redis"):
        return None
    key = getattr(getattr(scheduler, "queue", None), "key", None)
    pool = getattr(getattr(scheduler, "server", None), "connection_pool", None)
    kw = getattr(pool, "connection_kwargs", None) or {}
    where = f"{kw.get('host', '?')}:{kw.get('port', '?')}/{kw.get('db', 0)}"
    spider = getattr(getattr(scheduler, "spider", None), "name", None) or "NAME"
    return (
        f"{cls.__module__}.{cls.__qualname__}: the pending requests wait in Redis, "
        f"{key or '?'} at {where}, shared by every worker of this crawl; see them "
        f"with workbench fleet --redis redis://…@{where} --spider {spider}, then Q"
    )


def _release_heap() -> None:
    state = getattr(sys, FREEZE_ATTR, None)
    if state is None:
        return
    state["holders"] -= 1
    if state["holders"] > 0:
        return
    delattr(sys, FREEZE_ATTR)
    if gc.get_freeze_count() <= state["count"]:  # the crawl has frozen nothing since
        gc.unfreeze()


def _delattrs(obj: Any, *names: str) -> None:
    for name in names:
        with contextlib.suppress(AttributeError):
            delattr(obj, name)


def _log_level(crawler: Any) -> Any:
    settings = crawler.settings
    return settings.get("LOG_LEVEL") if settings.getbool("LOG_ENABLED") else logging.WARNING


def _start_time(crawler: Any) -> float | None:
    stats = _late(crawler, "stats")
    start = stats.get_value("start_time") if stats is not None else None
    return start.timestamp() if start is not None else None


def _since(ring: Any, cursor: int) -> list[Any]:
    """Records with an id above ``cursor``, oldest first (a new client: the recent ones)."""
    items = ring._items if hasattr(ring, "_items") else ring
    if not items:
        return []
    last = items[-1]
    last_id = last["id"] if isinstance(last, dict) else last.id
    if cursor <= 0:
        cursor = max(0, last_id - RECENT_FLOWS)
    new = min(last_id - cursor, len(items))
    if new <= 0:
        return []
    return list(itertools.islice(reversed(items), new))[::-1]


class _Raw:
    """Records already encoded as JSON, spliced into the answer by :func:`_encode`."""

    __slots__ = ("parts",)

    def __init__(self, parts: list[str]) -> None:
        self.parts = parts


def _take(records: list[Any], encode: Any, budget: list[int]) -> _Raw:
    """JSON of the records, oldest first, until the shared budget (bytes) is spent."""
    parts: list[str] = []
    dumps = json.dumps
    for record in records:
        text = dumps(encode(record), default=str, separators=(",", ":"))
        if len(text) > budget[0] and parts:
            break
        budget[0] -= len(text)
        parts.append(text)
        if budget[0] <= 0:
            break
    return _Raw(parts)


def _item_to_wire(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "time": record.time,
        "flow_id": record.flow_id,
        "item_class": record.item_class,
        "fields": [[k, _jsonable(v)] for k, v in record.fields[:200]],
        "dropped": record.dropped,
        "error": record.error,
    }


def _log_to_wire(record: Any) -> dict[str, Any]:
    return {
        "id": record.id,
        "time": record.time,
        "level": record.level,
        "levelname": record.levelname,
        "logger": record.logger,
        "message": _cap(record.message),
    }


def _trackref_counts() -> dict[str, Any]:
    from scrapy.utils.trackref import live_refs

    now = time.time()
    out = {}
    for cls, refs in list(live_refs.items()):
        ages = list(refs.values())
        key = f"{cls.__module__}.{cls.__qualname__}"
        out[key] = [cls.__name__, len(ages), now - min(ages) if ages else 0.0]
    return out


def _encode(answer: dict[str, Any], budget: int) -> str:
    """The answer as one line: JSON, zlib, base64 (records are encoded only once)."""
    raws: list[_Raw] = []
    nonce = os.urandom(8).hex()  # a placeholder no stat or log line can spell

    def default(value: Any) -> Any:
        if isinstance(value, _Raw):
            raws.append(value)
            return f"\x00{nonce}{len(raws) - 1}\x00"
        return str(value)

    text = json.dumps(answer, default=default, separators=(",", ":"))
    for index, found in enumerate(raws):
        text = text.replace(f'"\\u0000{nonce}{index}\\u0000"', "[" + ",".join(found.parts) + "]", 1)
    raw = text.encode()
    packed = base64.b64encode(zlib.compress(raw, 1)).decode()
    if len(packed) > budget:
        return base64.b64encode(
            zlib.compress(json.dumps({"error": "answer too large", "retry_smaller": True}).encode())
        ).decode()
    return packed


def agent_for(
    crawler: Any, stash: dict[str, Any], version: str, lease: float = LEASE, probe: bool = False
) -> Agent:
    """The crawl's agent: the one installed already (another client's), or a new one."""
    agent = stash.get(STASH_KEY)
    if agent is None or agent.removed:
        agent = stash[STASH_KEY] = Agent(crawler, stash, version, lease, probe)
    elif agent.version != version:
        raise AgentError(
            f"another workbench ({agent.version}) is attached to this crawl; this is {version}"
        )
    return agent
