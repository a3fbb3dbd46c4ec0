"""Turning the agent's JSON back into workbench's records and views.

Only the types named here are built, field by field from their annotations:
nothing from the wire picks a class or runs code.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import types
import typing
from functools import cache
from typing import Any

from workbench.core.recording.records import Flow, HeaderPairs, ItemRecord, LogRecord


class Shown:
    """A value the crawl could only send as its repr()."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text

    __str__ = __repr__


def value(data: Any) -> Any:
    """A stat or an item field: JSON, plus datetimes and repr() stand-ins."""
    if isinstance(data, dict):
        if set(data) == {"__datetime__"}:
            return datetime.datetime.fromtimestamp(data["__datetime__"], tz=datetime.timezone.utc)
        if set(data) == {"__repr__"}:
            return Shown(str(data["__repr__"]))
        return {k: value(v) for k, v in data.items()}
    if isinstance(data, list):
        return [value(v) for v in data]
    return data


@cache
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def decode(tp: Any, data: Any) -> Any:
    """Build ``tp`` (a workbench dataclass or a type expression) from JSON data."""
    if tp is Any or data is None:
        return value(data) if tp is Any else None
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        members = [a for a in typing.get_args(tp) if a is not type(None)]
        return decode(members[0], data) if len(members) == 1 else value(data)
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):  # a class, not an instance
        if not isinstance(data, dict):
            raise ValueError(f"{tp.__name__}: expected an object")
        hints = _hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in data:
                kwargs[f.name] = decode(hints[f.name], data[f.name])
        return tp(**kwargs)
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(data, list):
            raise ValueError("expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(decode(args[0], v) for v in data)
        return tuple(decode(a, v) for a, v in zip(args, data, strict=False))
    if origin in (list, set, frozenset):
        (arg,) = typing.get_args(tp)
        return origin(decode(arg, v) for v in data)
    if origin is dict:
        _, arg = typing.get_args(tp)
        return {str(k): decode(arg, v) for k, v in data.items()}
    if tp is float and isinstance(data, int):
        return float(data)
    if tp in (int, float, str, bool):
        if not isinstance(data, tp):
            raise ValueError(f"expected {tp.__name__}, got {type(data).__name__}")
        return data
    return value(data)


def headers(pairs: list[list[str]] | None) -> HeaderPairs | None:
    """The agent's (name, value) text pairs as workbench's frozen header pairs."""
    if not pairs:
        return None
    grouped: dict[bytes, list[bytes]] = {}
    for name, text in pairs:
        grouped.setdefault(str(name).encode("latin-1", "replace"), []).append(
            str(text).encode("latin-1", "replace")
        )
    return tuple((k, tuple(v)) for k, v in grouped.items())


def _pairs(data: Any) -> tuple[tuple[str, str], ...]:
    return tuple((str(k), str(v)) for k, v in data or ())


def flow(data: dict[str, Any]) -> Flow:
    body = data.get("request_body")
    return Flow(
        id=int(data["id"]),
        time=float(data["time"]),
        method=str(data["method"]),
        url=str(data["url"]),
        status=data.get("status"),
        error=data.get("error"),
        size=int(data.get("size") or 0),
        latency=data.get("latency"),
        callback=data.get("callback"),
        depth=int(data.get("depth") or 0),
        priority=int(data.get("priority") or 0),
        slot=data.get("slot"),
        request_headers=headers(data.get("request_headers")),
        response_headers=headers(data.get("response_headers")),
        meta=_pairs(data.get("meta")),
        cb_kwargs=_pairs(data.get("cb_kwargs")),
        parent_id=data.get("parent_id"),
        response_class=data.get("response_class"),
        error_traceback=data.get("error_traceback"),
        items=[int(i) for i in data.get("items") or ()],
        requests=[(str(m), str(u)) for m, u in data.get("requests") or ()],
        callback_error=data.get("callback_error"),
        callback_traceback=data.get("callback_traceback"),
        request_body=base64.b64decode(body) if body else None,
        spider=_text(data.get("spider")),  # its errors' groups are keyed by it
        inline=_text(data.get("inline")),
        **_fate(data),
    )


def _text(data: Any) -> str | None:
    return data if isinstance(data, str) else None


def _int(data: Any) -> int | None:
    return data if isinstance(data, int) and not isinstance(data, bool) else None


def _fate(data: dict[str, Any]) -> dict[str, Any]:
    """What became of the request; an agent of an older workbench sends none of it."""
    return {
        "fate": _text(data.get("fate")),
        "fate_by": _text(data.get("fate_by")),
        "fate_reason": _text(data.get("fate_reason")),
        "fate_n": _int(data.get("fate_n")),
        "fate_limit": _int(data.get("fate_limit")),
        "duplicate_of": _int(data.get("duplicate_of")),
    }


def update_flow(target: Flow, data: dict[str, Any]) -> None:
    target.items = [int(i) for i in data.get("items") or ()]
    target.requests = [(str(m), str(u)) for m, u in data.get("requests") or ()]
    target.callback_error = data.get("callback_error")
    target.callback_traceback = data.get("callback_traceback")
    if "fate" in data:  # decided after the flow was sent (a retry followed)
        for name, value in _fate(data).items():
            setattr(target, name, value)


def item(data: dict[str, Any]) -> ItemRecord:
    return ItemRecord(
        id=int(data["id"]),
        time=float(data["time"]),
        flow_id=data.get("flow_id"),
        item_class=str(data.get("item_class") or "?"),
        fields=tuple((str(k), value(v)) for k, v in data.get("fields") or ()),
        dropped=data.get("dropped"),
        error=data.get("error"),
    )


def log(data: dict[str, Any]) -> LogRecord:
    return LogRecord(
        id=int(data["id"]),
        time=float(data["time"]),
        level=int(data["level"]),
        levelname=str(data["levelname"]),
        logger=str(data["logger"]),
        message=str(data["message"]),
    )
