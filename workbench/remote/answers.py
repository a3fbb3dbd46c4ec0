"""What :class:`~workbench.remote.source.RemoteSource` makes of the agent's
answers: a poll's records merged into the local :class:`Recorder` copy, a view
decoded once per answer, the Slots and Refs rows of a probe (which sends less
than the full agent), and a body fetched in chunks.

:mod:`workbench.remote.wire` turns one JSON value into one record or view;
this module puts them where the panels read them.  Everything here runs on the
UI's thread (or, for a body, in the caller's), never on the poll thread.
"""

from __future__ import annotations

import base64
import time
import zlib
from collections.abc import Callable, Iterable
from typing import Any, Generic, TypeVar

from workbench.core.control.pace import PaceView, SlotRow
from workbench.core.control.scheduler_view import QueueView, SlotState
from workbench.core.leaks.liverefs import RefRow, RefsView
from workbench.core.recording.recorder import Recorder, StoredBody
from workbench.core.recording.records import Flow
from workbench.remote import wire

MAX_BODY = 8 * 1024 * 1024  # bytes of a remote body fetched for the detail view

T = TypeVar("T")


def merge_records(rec: Recorder, answer: dict[str, Any]) -> None:
    """A poll's new flows, flow updates, items and log lines into ``rec``, with the
    errors grouped and the items' fields counted here too (what an agent without
    the errors or item_health view leaves to the attaching side)."""
    for data in answer.get("flows") or ():
        if rec.flow(int(data["id"])) is None:
            flow = wire.flow(data)
            rec.add_flow(flow)
            rec.errors.add_flow(flow)
    for data in answer.get("updates") or ():
        target = rec.flow(int(data["id"]))
        if target is not None:
            had_error = target.callback_error is not None
            wire.update_flow(target, data)
            if not had_error and target.callback_error:
                rec.errors.add_callback(target)
    for data in answer.get("items") or ():
        record = wire.item(data)
        rec.items.append(record)
        rec.errors.add_item(record)
        target = rec.flow(record.flow_id) if record.flow_id is not None else None
        # what an agent without the item_health view leaves to count here
        rec.item_health.add(
            record.id,
            record.flow_id,
            target.url if target is not None else None,
            record.item_class,
            record.fields,
            outcome=1 if record.dropped is not None else 2 if record.error else 0,
        )
        kept = record.dropped is None and record.error is None
        if target is not None and kept and record.id not in target.items:
            target.add_item_id(record.id)
    for data in answer.get("log") or ():
        rec.log.append(wire.log(data))


class DecodedView(Generic[T]):
    """A view decoded once per answer: the same data (the same object, until the
    next poll brings another) is not decoded again; data that does not decode
    gives None, so the caller falls back on what it counts itself."""

    def __init__(self, tp: type[T]) -> None:
        self.tp = tp
        self._data: Any = None
        self._decoded: T | None = None

    def get(self, data: Any) -> T | None:
        if self._data is not data:
            try:
                decoded: T | None = wire.decode(self.tp, data)
            except (ValueError, TypeError, KeyError):
                decoded = None
            self._data, self._decoded = data, decoded
        return self._decoded


def empty_queue() -> QueueView:
    return QueueView(0, (), (), 0, (), 0, 0.0)


def empty_refs() -> RefsView:
    return RefsView(time.time(), (), None, (), 0.0, 0.0)


def probe_refs(data: dict[str, Any]) -> RefsView:
    """A probe's live-object counts (``{key: [name, count, oldest age]}``) as rows."""
    rows = tuple(
        RefRow(key, str(name), int(count), 0, None, 0.0, float(age), (), False, None)
        for key, (name, count, age) in sorted(data.items())
    )
    return RefsView(time.time(), rows, None, (), 0.0, 0.0)


def probe_pace(data: dict[str, Any], flows: Iterable[Flow], selected: str | None) -> PaceView:
    """A probe's Slots rows: the crawl's slots, with the rates and latencies of the
    responses fetched (no AutoThrottle detail)."""
    slots = [wire.decode(SlotState, s) for s in data.get("slots") or ()]
    by_slot: dict[str, list[Flow]] = {}
    for flow in flows:
        if flow.slot is not None:
            by_slot.setdefault(flow.slot, []).append(flow)
    now = time.time()
    rows = []
    for slot in slots:
        slot_flows = by_slot.get(slot.key, [])
        latencies = [f.latency for f in slot_flows[-200:] if f.latency is not None]
        recent = [f for f in slot_flows if now - f.time <= 10]
        rows.append(
            SlotRow(
                key=slot.key,
                live=True,
                concurrency=slot.concurrency,
                active=slot.active,
                queued=slot.queued,
                transferring=slot.transferring,
                delay=slot.delay,
                target_delay=None,
                latency_last=latencies[-1] if latencies else None,
                latency_mean=sum(latencies) / len(latencies) if latencies else None,
                latency_p95=sorted(latencies)[int(len(latencies) * 0.95) - 1]
                if latencies
                else None,
                responses=len(slot_flows),
                errors=0,
                non200=sum(1 for f in slot_flows if f.status != 200),
                rate=len(recent) / 10,
                last_seen=slot_flows[-1].time if slot_flows else None,
                autothrottle="-",
                overrides="",
            )
        )
    return PaceView(
        time=now,
        rows=tuple(rows),
        settings=(("attached as a probe", "only Scrapy in the crawl's environment"),),
        autothrottle=None,
        selected=selected,
        series=(),
        adjustments=(),
        adjustments_total=0,
        in_flight=int(data.get("in_flight") or 0),
        total_concurrency=0,
    )


def fetch_body(call: Callable[..., Any], flow_id: int) -> StoredBody | None:
    """A flow's body from the crawl, chunk by chunk (``call``: the agent's
    ``body``), at most :data:`MAX_BODY` bytes; None when the crawl no longer
    keeps it.  Raises what ``call`` raises."""
    chunks: list[bytes] = []
    got = 0
    while True:
        part = call("body", flow=flow_id, offset=got)
        if part is None:
            return None
        chunk = zlib.decompressobj().decompress(base64.b64decode(part["chunk"]), MAX_BODY)
        chunks.append(chunk)
        got += len(chunk)
        if not chunk or got >= part["kept"] or got >= MAX_BODY:
            break
    body = b"".join(chunks)
    return StoredBody(body, int(part["size"]), bool(part["truncated"]) or got < part["kept"])
