"""Rebuild Scrapy requests and responses from recorded flows.

A :class:`~workbench.core.recording.records.Flow` keeps references to the bytes and
headers Scrapy made, and only short reprs of ``meta`` and ``cb_kwargs`` (so
that no live object is kept alive).  Replaying a callback or exporting a
request needs real :class:`~scrapy.Request` / :class:`~scrapy.http.Response`
objects again; this module makes them, and refuses (:class:`RebuildError`)
when what was recorded is not enough: a body no longer kept or only a prefix
of it, a ``meta``/``cb_kwargs`` value that is not a Python literal (or was
shortened when it was recorded), a callback the spider does not have.
"""

from __future__ import annotations

import ast
from typing import Any

import scrapy.http
from scrapy import Request
from scrapy.http import Headers, Response

from workbench.core.inspection.body import response_class as body_response_class
from workbench.core.recording.recorder import StoredBody
from workbench.core.recording.records import Flow
from workbench.core.recording.tap import _short as recorded_repr

# Downloader-side meta keys a callback does not need: when their recorded repr
# is not a literal they are left out instead of refusing the replay.
DOWNLOADER_META = frozenset(
    {
        "download_slot",
        "download_latency",
        "download_timeout",
        "download_maxsize",
        "download_warnsize",
        "download_fail_on_dataloss",
        "proxy",
        "redirect_urls",
        "redirect_reasons",
    }
)


class RebuildError(ValueError):
    """The flow cannot be turned back into a request/response (the message says why)."""


def _shortened(tree: ast.AST, text: str) -> bool:
    """Whether a parsed repr shows the marks of :mod:`reprlib` shortening.

    ``reprlib`` replaces what it leaves out with ``...``: an ``Ellipsis`` in a
    container, or ``'abc...xyz'`` inside a string/bytes repr that is then
    exactly ``maxstring`` (``maxother`` for bytes) characters long.
    """
    limit = min(recorded_repr.maxstring, recorded_repr.maxother)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant):
            continue
        if node.value is Ellipsis:
            return True
        if isinstance(node.value, (str, bytes)):
            segment = ast.get_source_segment(text, node) or ""
            if len(segment) >= limit and "..." in segment:
                return True
    return False


def literal_value(what: str, name: str, text: str) -> Any:
    """The value of a recorded repr, or :class:`RebuildError` naming it."""
    shown = text if len(text) <= 80 else text[:77] + "..."
    try:
        tree = ast.parse(text, mode="eval")
        value = ast.literal_eval(tree)
    except (SyntaxError, ValueError, TypeError, MemoryError, RecursionError):
        raise RebuildError(
            f"{what} {name!r} cannot be rebuilt: {shown} is not a Python literal "
            "(or it was shortened when recorded)"
        ) from None
    if _shortened(tree, text):
        raise RebuildError(
            f"{what} {name!r} cannot be rebuilt: its recorded value {shown} was shortened"
        )
    return value


def rebuild_meta(flow: Flow) -> tuple[dict[str, Any], list[str]]:
    """``meta`` from its recorded reprs; returns (meta, keys left out)."""
    meta: dict[str, Any] = {}
    skipped: list[str] = []
    for key, text in flow.meta:
        try:
            meta[key] = literal_value("meta key", key, text)
        except RebuildError:
            if key.startswith("_") or key in DOWNLOADER_META:
                skipped.append(key)
                continue
            raise
    return meta, skipped


def rebuild_cb_kwargs(flow: Flow) -> dict[str, Any]:
    return {key: literal_value("cb_kwargs", key, text) for key, text in flow.cb_kwargs}


def spider_callback(spider: Any, name: str | None) -> Any:
    """The bound method ``name`` of the running spider (default ``parse``)."""
    name = name or "parse"
    if not name.isidentifier():
        raise RebuildError(
            f"the callback {name!r} is not a spider method (a lambda or a partial?): "
            "it cannot be found again by name"
        )
    method = getattr(spider, name, None)
    if not callable(method):
        raise RebuildError(f"the spider has no method {name!r}")
    return method


def rebuild_request(flow: Flow, spider: Any | None = None) -> Request:
    """The request of a flow: method, URL, headers, body, and, with a spider,
    its callback (by name), ``cb_kwargs`` and ``meta`` (from literal reprs)."""
    headers = Headers(flow.request_headers) if flow.request_headers else None
    kwargs: dict[str, Any] = {}
    if spider is not None:
        kwargs["callback"] = spider_callback(spider, flow.callback)
        kwargs["cb_kwargs"] = rebuild_cb_kwargs(flow)
        kwargs["meta"] = rebuild_meta(flow)[0]
    return Request(
        flow.url,
        method=flow.method,
        headers=headers,
        body=flow.request_body,
        dont_filter=True,
        **kwargs,
    )


def response_class(flow: Flow, headers: Headers, body: bytes) -> type[Response]:
    """The recorded response class if Scrapy has it, else by Content-Type as body.py does."""
    recorded = getattr(scrapy.http, flow.response_class or "", None)
    if isinstance(recorded, type) and issubclass(recorded, Response):
        return recorded
    return body_response_class(flow.url, headers, body)


def rebuild_response(
    flow: Flow, stored: StoredBody | None, request: Request, *, allow_truncated: bool = False
) -> Response:
    """The response of a flow, with its stored body; refuses when the body is not
    whole, unless ``allow_truncated`` (the shell: a prefix is still worth a look)."""
    if flow.status is None:
        raise RebuildError("the download failed: there is no response to replay")
    if stored is None:
        if flow.size:
            raise RebuildError(
                "the response body is no longer kept (WORKBENCH_MAX_BODIES / "
                "WORKBENCH_MAX_BODY_BYTES): it cannot be replayed"
            )
        body = b""
    elif stored.truncated and not allow_truncated:
        raise RebuildError(
            f"only the first {len(stored.body)} of {stored.size} bytes of the body were kept "
            "(WORKBENCH_MAX_BODY_BYTES): replaying on part of a body would mislead"
        )
    else:
        body = stored.body
    headers = Headers(flow.response_headers) if flow.response_headers else Headers()
    cls = response_class(flow, headers, body)
    return cls(url=flow.url, status=flow.status, headers=headers, body=body, request=request)
