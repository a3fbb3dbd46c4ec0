"""Recorded flows as HAR 1.2 (http://www.softwareishard.com/blog/har-12-spec/).

Each flow is an entry: the request and response as Scrapy saw them, the
body the recorder kept (text as text, anything else base64), the download
latency as the ``wait`` timing, and workbench's own fields (callback, depth,
priority, slot, meta, cb_kwargs, parent flow, errors) under ``_workbench``,
as HAR allows custom fields that start with an underscore.  A failed
download has status 0 and its error in ``_error``, as browsers write it.  A
request that never reached the network (a duplicate, offsite...) is an entry
too: status 0, what became of it in ``_error`` (in words) and in
``_workbench`` (``fate``, ``fate_by``, ``fate_reason``... for scripts).  A
callback's or a download's traceback is in ``_workbench`` too, each run of
library frames folded into one line (``[28 frames: scrapy]``).

Credentials are not written unless asked: the values of Authorization,
Proxy-Authorization, Cookie and Set-Cookie headers become "[redacted]", as
browsers' sanitized HAR export does.
"""

from __future__ import annotations

import base64
import json
import math
import os
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from workbench.core.formats.sanitize import clean_line
from workbench.core.recording.fates import fate_text, never_downloaded
from workbench.core.recording.recorder import StoredBody
from workbench.core.recording.records import Flow, HeaderPairs
from workbench.core.recording.tracebacks import compact

SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
REDACTED = "[redacted]"
TEXT_TYPES = ("text/", "json", "xml", "javascript", "ecmascript", "x-www-form-urlencoded")


def _decode(value: bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _headers(pairs: HeaderPairs | None, secrets: bool) -> list[dict[str, str]]:
    out = []
    for name, values in pairs or ():
        text = _decode(name)
        redact = not secrets and text.lower() in SECRET_HEADERS
        for value in values:
            out.append({"name": text, "value": REDACTED if redact else _decode(value)})
    return out


def _header(pairs: HeaderPairs | None, wanted: str) -> str:
    for name, values in pairs or ():
        if _decode(name).lower() == wanted and values:
            return _decode(values[0])
    return ""


def _content(stored: StoredBody | None, size: int, mime: str) -> dict[str, Any]:
    content: dict[str, Any] = {"size": size, "mimeType": mime or "x-unknown"}
    if stored is None:
        return content
    body = stored.body
    if stored.truncated:
        content["comment"] = f"truncated: the first {len(body)} of {stored.size} bytes were kept"
    lowered = mime.lower()
    if any(kind in lowered for kind in TEXT_TYPES):
        try:
            content["text"] = body.decode("utf-8")
            return content
        except UnicodeDecodeError:
            pass
    content["text"] = base64.b64encode(body).decode("ascii")
    content["encoding"] = "base64"
    return content


def _phrase(status: int | None) -> str:
    try:
        return HTTPStatus(status).phrase if status else ""
    except ValueError:
        return ""


def _iso(when: float) -> str:
    try:
        moment = datetime.fromtimestamp(when, timezone.utc)
    except (OverflowError, ValueError, OSError):  # inf, NaN, past the year 9999
        moment = datetime.fromtimestamp(0, timezone.utc)
    return moment.isoformat(timespec="milliseconds")


def _seconds(value: float | None) -> float:
    return value if value is not None and math.isfinite(value) and value >= 0 else 0.0


def har_entry(flow: Flow, body: StoredBody | None, secrets: bool = False) -> dict[str, Any]:
    latency = _seconds(flow.latency)
    latency_ms = round(latency * 1000, 3)
    try:
        query = urlsplit(flow.url).query
    except ValueError:  # "http://[" and the like: a URL read from a broken HAR
        query = ""
    request_body = flow.request_body or b""
    request: dict[str, Any] = {
        "method": flow.method,
        "url": flow.url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": _headers(flow.request_headers, secrets),
        "queryString": [{"name": k, "value": v} for k, v in parse_qsl(query, True)],
        "headersSize": -1,
        "bodySize": len(request_body),
    }
    if request_body:
        mime = _header(flow.request_headers, "content-type")
        request["postData"] = {"mimeType": mime, "text": _decode(request_body)}
    mime = _header(flow.response_headers, "content-type")
    response: dict[str, Any] = {
        "status": flow.status or 0,
        "statusText": _phrase(flow.status),
        "httpVersion": "HTTP/1.1" if flow.status is not None else "",
        "cookies": [],
        "headers": _headers(flow.response_headers, secrets),
        "content": _content(body, flow.size, mime),
        "redirectURL": _header(flow.response_headers, "location"),
        "headersSize": -1,
        "bodySize": flow.size if flow.status is not None else -1,
    }
    entry: dict[str, Any] = {
        "startedDateTime": _iso(flow.time - latency),
        "time": latency_ms,
        "request": request,
        "response": response,
        "cache": {},
        "timings": {"send": 0, "wait": latency_ms, "receive": 0},
        "_workbench": {
            "id": flow.id,
            "callback": flow.callback,
            "depth": flow.depth,
            "priority": flow.priority,
            "slot": flow.slot,
            "meta": dict(flow.meta),
            "cb_kwargs": dict(flow.cb_kwargs),
            "parent_id": flow.parent_id,
            "response_class": flow.response_class,
            "callback_error": flow.callback_error,
            "items": len(flow.items),
            "requests": len(flow.requests),
        },
    }
    if flow.inline is not None:  # awaited in this callback, not scheduled
        entry["_workbench"]["inline"] = flow.inline
    if flow.fate is not None:
        entry["_workbench"].update(
            fate=flow.fate,
            fate_by=flow.fate_by,
            fate_reason=flow.fate_reason,
            fate_n=flow.fate_n,
            fate_limit=flow.fate_limit,
            duplicate_of=flow.duplicate_of,
            fate_text=fate_text(flow),
        )
    # the tracebacks with each run of library frames as one line: the user's code
    # stays, which groups the errors when the file is read back (workbench open)
    for name in ("callback_traceback", "error_traceback"):
        text = getattr(flow, name)
        if text:
            entry["_workbench"][name] = compact(text)
    if flow.error:
        entry["_error"] = flow.error
    elif never_downloaded(flow):
        entry["_error"] = fate_text(flow)
    return entry


def har_from_flows(
    flows: Iterable[Flow],
    body_of: Callable[[Flow], StoredBody | None],
    *,
    version: str = "",
    comment: str = "",
    secrets: bool = False,
) -> dict[str, Any]:
    """A HAR 1.2 document of ``flows`` (in their order)."""
    return {
        "log": {
            "version": "1.2",
            "creator": {"name": "workbench", "version": version},
            "pages": [],
            "entries": [har_entry(flow, body_of(flow), secrets) for flow in flows],
            "comment": comment,
        }
    }


def write_har(path: str | os.PathLike[str], har: dict[str, Any]) -> Path:
    """Write atomically (a temporary file renamed over ``path``); the path written."""
    target = Path(path).expanduser()
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        # a lone surrogate (UTF-8 cannot carry it) is written as its JSON escape \udxxx
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace") as f:
            json.dump(har, f, ensure_ascii=False, indent=1)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def har_path(spider: str, directory: Path | None = None) -> Path:
    """``workbench-<spider>-<YYYYmmdd-HHMMSS>.har`` in ``directory`` (the current one)."""
    name = "".join(c if c.isalnum() or c in "-_" else "_" for c in clean_line(spider, 60))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return (directory or Path.cwd()) / f"workbench-{name or 'crawl'}-{stamp}.har"


def save_har(source: Any, flows: list[Flow], path: Path | str, bodies: bool = True) -> Path:
    """Write ``flows`` of ``source`` (bodies from ``source.body``) as HAR to ``path``."""
    from workbench import __version__

    har = har_from_flows(
        flows,
        (lambda flow: source.body(flow.id)) if bodies else (lambda flow: None),
        version=__version__,
        comment="saved by workbench; credentials redacted",
    )
    return write_har(path, har)
