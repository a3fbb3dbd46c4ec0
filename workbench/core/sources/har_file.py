"""A saved session: a HAR file (workbench's own or a browser's), read-only.

The entries become flows in a recorder, so the Flows panel, the flow detail,
the selector playground, curl export and HAR export read them as they read a
crawl.  What needs a live crawl (pause, stop, breakpoints, replay, live
objects, the heap, the pace) says so.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import time
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlsplit

from workbench.core.control.host import CrawlStatus
from workbench.core.recording.fates import FATES, NEVER_DOWNLOADED, count_fates
from workbench.core.recording.recorder import Limits, Recorder
from workbench.core.recording.records import Flow, HeaderPairs
from workbench.core.sources.base import Capabilities, RecorderReads, Snapshot

MAX_FILE = 2 * 1024**3  # a HAR larger than this is refused (it is read whole)
# Bounds past which a number is not a real value of its field, but a hostile or
# broken file's: such a field is read as absent (the app must never meet inf, NaN
# or a 4000-digit int later, when it formats or adds them).
MAX_SIZE = 2**53  # bytes
MAX_MS = 1e10  # ~115 days of wait or total time
MAX_INT = 2**63  # depth, priority
LATEST = 1e11  # a start time after the year 5000 is not one
LONE_SURROGATE = re.compile("[\ud800-\udfff]")
TRACEBACK_LIMIT = 20_000  # characters of a traceback read (workbench writes them compact)
READ_ONLY = "not available in a saved session (a HAR file): it needs a live crawl"


class HarError(ValueError):
    """A file that is not a HAR this can read; the message says where."""


def _valid(text: str) -> str:
    """``text`` without lone surrogates (JSON can write them; UTF-8 cannot carry them)."""
    return LONE_SURROGATE.sub("\ufffd", text) if not text.isascii() else text


def _text(value: Any, limit: int = 1_000_000) -> str:
    return _valid(value[:limit]) if isinstance(value, str) else ""


def _object(value: Any) -> dict[str, Any]:
    """A JSON object, or an empty one for anything else."""
    return value if isinstance(value, dict) else {}


def _short_repr(value: Any) -> str:
    try:
        return _valid(repr(value)[:200])
    except (RecursionError, ValueError):  # nested too deeply; an int past 4300 digits
        return "…"


def _pairs(headers: Any) -> HeaderPairs | None:
    if not isinstance(headers, list):
        return None
    grouped: dict[bytes, list[bytes]] = {}
    for header in headers:
        if isinstance(header, dict) and isinstance(header.get("name"), str):
            name = _text(header["name"], 10_000).encode("utf-8")
            grouped.setdefault(name, []).append(_text(header.get("value")).encode("utf-8"))
    return tuple((k, tuple(v)) for k, v in grouped.items()) or None


def _when(text: Any, default: float) -> float:
    if not isinstance(text, str):
        return default
    try:
        when = datetime.fromisoformat(text[:100].replace("Z", "+00:00")).timestamp()
    except (ValueError, OverflowError, OSError):
        return default
    return when if 0 <= when < LATEST else default


def _number(value: Any, default: float = -1, limit: float = MAX_SIZE) -> float:
    """A finite number of at most ``limit`` (inf, NaN, 1e999, huge ints: ``default``)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return default
    if isinstance(value, int):
        return float(value) if -limit <= value <= limit else default
    return value if math.isfinite(value) and -limit <= value <= limit else default


def _body(content: Any) -> bytes | None:
    if not isinstance(content, dict) or not isinstance(content.get("text"), str):
        return None
    if content.get("encoding") == "base64":
        try:
            return base64.b64decode(content["text"], validate=False)
        except (binascii.Error, ValueError):
            return None
    return _valid(content["text"]).encode("utf-8")


def _flow(number: int, entry: Any, where: str) -> tuple[Flow, bytes | None]:
    if not isinstance(entry, dict):
        raise HarError(f"{where}: entry {number} is not an object")
    request = _object(entry.get("request"))
    response = _object(entry.get("response"))
    url = _text(request.get("url"), 100_000)
    if not url:
        raise HarError(f"{where}: entry {number} has no request URL")
    status = response.get("status")
    ok = isinstance(status, int) and not isinstance(status, bool) and 0 < status < 1000
    error = None
    browser_error = _text(entry.get("_error") or response.get("_error"), 2000)
    body = _body(response.get("content")) if ok else None
    ours = _object(entry.get("_workbench"))
    fate = ours.get("fate") if ours.get("fate") in FATES[1:] else None  # workbench's own
    if fate in NEVER_DOWNLOADED:
        ok, body = False, None  # never sent: its _error says why, in words
    elif not ok:
        error = browser_error or "no response (status 0)"
    elif browser_error and not body and not isinstance(entry.get("_workbench"), dict):
        # a browser's: the headers came, then the load failed (Chrome: net::ERR_ABORTED)
        error = f"{browser_error} (after a {status} response: its body was not read)"
    elif browser_error:  # workbench's own: a response dropped once downloaded
        error = browser_error
    content = _object(response.get("content"))
    size = int(_number(content.get("size"), len(body) if body is not None else 0))
    timings = _object(entry.get("timings"))
    wait = _number(timings.get("wait"), limit=MAX_MS)
    total = _number(entry.get("time"), limit=MAX_MS)
    latency = (wait if wait >= 0 else total) / 1000 if max(wait, total) >= 0 else None
    started = _when(entry.get("startedDateTime"), 0.0)
    post = _object(request.get("postData"))

    def pairs_of(value: Any) -> tuple[tuple[str, str], ...]:
        if not isinstance(value, dict):
            return ()
        return tuple((_text(k, 200), _text(v, 2000) or _short_repr(v)) for k, v in value.items())

    def integer(value: Any, default: int = 0) -> int:
        ok = isinstance(value, int) and not isinstance(value, bool) and -MAX_INT <= value <= MAX_INT
        return value if ok else default

    try:
        host = urlsplit(url).hostname
    except ValueError:  # "http://[" and the like
        host = None

    flow = Flow(
        id=number,
        time=started + (latency or 0.0),
        method=_text(request.get("method"), 20) or "GET",
        url=url,
        status=status if ok else None,
        error=error,
        size=max(0, size),
        latency=latency,
        callback=_text(ours.get("callback"), 200) or None,
        depth=integer(ours.get("depth")),
        priority=integer(ours.get("priority")),
        slot=_text(ours.get("slot"), 200) or host,
        request_headers=_pairs(request.get("headers")),
        response_headers=_pairs(response.get("headers")) if ok else None,
        meta=pairs_of(ours.get("meta")),
        cb_kwargs=pairs_of(ours.get("cb_kwargs")),
        parent_id=None,
        response_class=_text(ours.get("response_class"), 100) or None,
        callback_error=_text(ours.get("callback_error"), 2000) or None,
        callback_traceback=_text(ours.get("callback_traceback"), TRACEBACK_LIMIT) or None,
        error_traceback=_text(ours.get("error_traceback"), TRACEBACK_LIMIT) or None,
        request_body=_text(post.get("text")).encode("utf-8") or None,
        fate=fate,
        inline=_text(ours.get("inline"), 200) or None,
    )
    if fate is not None:
        flow.fate_by = _text(ours.get("fate_by"), 300) or None
        flow.fate_reason = _text(ours.get("fate_reason"), 2000) or None
        flow.fate_n = integer(ours.get("fate_n"), -1) if ours.get("fate_n") is not None else None
        limit = ours.get("fate_limit")
        flow.fate_limit = integer(limit, -1) if limit is not None else None
    return flow, body


def _links(flows: list[tuple[Flow, bytes | None]], entries: list[Any]) -> None:
    """workbench's own HAR: the parent and duplicated flows by their new ids (an
    entry's number), from the ids the crawl gave them (``_workbench.id``)."""
    ours = [_object(e.get("_workbench")) if isinstance(e, dict) else {} for e in entries]
    new_id: dict[Any, int] = {}
    for (flow, _), own in zip(flows, ours, strict=True):
        old = own.get("id")
        if isinstance(old, int) and not isinstance(old, bool):
            new_id.setdefault(old, flow.id)
    if not new_id:
        return
    for (flow, _), own in zip(flows, ours, strict=True):
        parent, duplicated = own.get("parent_id"), own.get("duplicate_of")
        if isinstance(parent, int) and not isinstance(parent, bool):
            flow.parent_id = new_id.get(parent)
        if isinstance(duplicated, int) and not isinstance(duplicated, bool):
            flow.duplicate_of = new_id.get(duplicated)


def read_har(path: Path) -> tuple[dict[str, Any], list[tuple[Flow, bytes | None]]]:
    """The HAR's log and its entries as flows (with their bodies), in file order."""
    try:
        if path.stat().st_size > MAX_FILE:
            raise HarError(f"{path}: larger than {MAX_FILE // 1024**3} GiB")
        with open(path, "rb") as f:
            # NaN, Infinity and -Infinity (not JSON, but Python writes them) read as absent
            data = json.load(f, parse_constant=lambda name: None)
    except FileNotFoundError:
        raise HarError(f"{path}: no such file") from None
    except OSError as exc:
        raise HarError(f"{path}: cannot read it: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HarError(f"{path}: not JSON: {exc}") from None
    except ValueError:  # Python's limit on the digits of an int
        raise HarError(f"{path}: a number of more than 4300 digits: not a HAR") from None
    except RecursionError:
        raise HarError(f"{path}: JSON nested too deeply to read: not a HAR") from None
    log = data.get("log") if isinstance(data, dict) else None
    if not isinstance(log, dict) or not isinstance(log.get("entries"), list):
        raise HarError(f"{path}: not a HAR file (no log.entries)")
    flows = [_checked_flow(n, e, str(path)) for n, e in enumerate(log["entries"], 1)]
    _links(flows, log["entries"])
    return log, flows


def _checked_flow(number: int, entry: Any, where: str) -> tuple[Flow, bytes | None]:
    """:func:`_flow`, any surprise in the entry as a one-line :class:`HarError`."""
    try:
        return _flow(number, entry, where)
    except HarError:
        raise
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise HarError(f"{where}: entry {number} cannot be read ({type(exc).__name__})") from None


class HarSource(RecorderReads):
    """A HAR file's entries, read-only, through the same interface as a crawl."""

    capabilities: ClassVar[Capabilities] = Capabilities(own_report=True)  # no crawl to sum up
    unavailable: ClassVar[str] = READ_ONLY

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.log, flows = read_har(self.path)
        total = sum(len(body) for _, body in flows if body is not None)
        self.recorder = Recorder(
            Limits(
                flows=max(1, len(flows)),
                items=1,
                log=1,
                bodies=max(1, len(flows)),
                body_bytes=4 * total + 4,  # a body over a quarter would keep only a prefix
            )
        )
        for flow, body in flows:
            self.recorder.add_flow(flow, body)
            self.recorder.errors.add_flow(flow)  # grouped from their text
        creator = _object(self.log.get("creator"))
        self.creator = f"{_text(creator.get('name'), 60)} {_text(creator.get('version'), 30)}"
        times = [f.time for f, _ in flows if f.time > 0]
        self.started = min(times) if times else None
        self.finished = max(times) if times else None
        self.fates = count_fates(f for f, _ in flows)
        self.stats = self._stats([f for f, _ in flows], total)

    def _stats(self, flows: list[Flow], body_bytes: int) -> dict[str, Any]:
        statuses = Counter(f.status for f in flows if f.status is not None)
        sent = [f for f in flows if f.fate not in NEVER_DOWNLOADED]
        stats: dict[str, Any] = {
            "downloader/request_count": len(sent),
            "downloader/response_count": sum(statuses.values()),
            "downloader/response_bytes": body_bytes,
            "downloader/exception_count": sum(1 for f in sent if f.status is None),
            "response_received_count": sum(statuses.values()),
            "har/file": str(self.path),
            "har/creator": self.creator.strip(),
        }
        for status, count in sorted(statuses.items()):
            stats[f"downloader/response_status_count/{status}"] = count
        return stats

    # -- what panels read ------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        recorder = self.recorder
        return Snapshot(
            time=time.time(),
            spider=self.path.name,
            status=CrawlStatus("finished", 0, 0, "read-only HAR", None),
            stats=self.stats,
            started=self.started,
            finished=self.finished,
            flows_total=recorder.flows.total,
            flows_kept=len(recorder.flows),
            items_scraped=0,
            items_dropped=0,
            items_failed=0,
            items_total=0,
            items_kept=0,
            log_total=0,
            log_kept=0,
            log_counts={},
            bodies_kept=len(recorder.bodies),
            body_bytes=recorder.bodies.bytes,
            bodies_evicted=0,
            history=(),
            fates=dict(self.fates),
        )
