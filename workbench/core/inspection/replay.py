"""Replay a flow's callback on its stored response and compare with the original.

:func:`replay_flow` rebuilds the flow's response and request
(:mod:`workbench.core.inspection.rebuild`), runs the callback through the spider
middlewares exactly as Scrapy's scraper does
(``scraper.spidermw.scrape_response_async(scraper.call_spider_async, ...)``)
and *collects* the output: items and requests never reach the engine, the
scheduler or the item pipelines.  What the spider middlewares and the
callback do besides yielding (a stat they increment, a log line) does happen.

The original output is what the recorder saw for that flow: its items as the
pipelines returned them (dropped ones included, marked), and the requests it
scheduled.  :func:`reload_spider` re-imports the spider's module so an edited
callback can be replayed without restarting the crawl.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import os
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scrapy import Request, Spider

from workbench.core.inspection.rebuild import (
    RebuildError,
    rebuild_meta,
    rebuild_request,
    rebuild_response,
)
from workbench.core.recording.recorder import Recorder, _item_fields
from workbench.core.recording.records import Flow, ItemRecord
from workbench.core.recording.tap import callback_name

SAME, ADDED, REMOVED, CHANGED = "same", "added", "removed", "changed"
KEY_FIELDS = ("url", "id", "key", "sku", "upc")
MAX_OUTPUT = 10_000  # items + requests collected at most from one replay
DEFAULT_TIMEOUT = 60.0


class ReplayRefused(RebuildError):
    """The flow cannot be replayed (the message says why)."""


class ReloadError(ValueError):
    """The spider's module could not be reloaded; the running spider is unchanged."""


@dataclass(frozen=True, slots=True)
class ReplayError:
    type: str
    message: str
    traceback: str

    def __str__(self) -> str:
        return f"{self.type}: {self.message}" if self.message else self.type


@dataclass(frozen=True, slots=True)
class OutputItem:
    item_class: str
    fields: Sequence[tuple[str, Any]]  # like ItemRecord.fields
    note: str = ""  # for an original item: "dropped: ..." / "pipeline error: ..."


@dataclass(frozen=True, slots=True)
class OutputRequest:
    method: str
    url: str
    callback: str | None  # None when unknown (an original request never downloaded)


@dataclass(frozen=True, slots=True)
class DiffRow:
    kind: str  # "item" or "request"
    mark: str  # same | added | removed | changed
    original: OutputItem | OutputRequest | None
    replayed: OutputItem | OutputRequest | None
    changed: tuple[str, ...] = ()  # the fields (or "class", "callback") that differ


@dataclass(frozen=True, slots=True)
class ReplayResult:
    flow_id: int
    url: str
    callback: str
    items: tuple[OutputItem, ...]
    requests: tuple[OutputRequest, ...]
    error: ReplayError | None
    original_error: str | None  # the callback error recorded for the original run
    rows: tuple[DiffRow, ...]
    item_rule: str  # how items were matched, in words
    notes: tuple[str, ...]
    took: float  # seconds

    def count(self, mark: str, kind: str | None = None) -> int:
        return sum(1 for r in self.rows if r.mark == mark and (kind is None or r.kind == kind))

    @property
    def identical(self) -> bool:
        """Same output, and an error exactly when the original had one."""
        same_error = (self.error is None) == (self.original_error is None)
        return same_error and all(r.mark == SAME for r in self.rows)


# -- comparing ------------------------------------------------------------------


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:
        return repr(a) == repr(b)


def _changed_fields(a: OutputItem, b: OutputItem) -> tuple[str, ...]:
    changed = [] if a.item_class == b.item_class else ["class"]
    fa, fb = dict(a.fields), dict(b.fields)
    missing = object()
    names = list(fa) + [n for n in fb if n not in fa]
    changed += [n for n in names if not _equal(fa.get(n, missing), fb.get(n, missing))]
    return tuple(changed)


def _key_field(original: Sequence[OutputItem], replayed: Sequence[OutputItem]) -> str | None:
    """The first of KEY_FIELDS that every item has, with values unique on each side."""
    for name in KEY_FIELDS:
        ok = True
        for side in (original, replayed):
            values = []
            for item in side:
                fields = dict(item.fields)
                if name not in fields:
                    ok = False
                    break
                values.append(fields[name])
            try:
                if not ok or len(set(values)) != len(values):
                    ok = False
            except TypeError:  # unhashable values
                ok = False
            if not ok:
                break
        if ok:
            return name
    return None


def diff_items(
    original: Sequence[OutputItem], replayed: Sequence[OutputItem]
) -> tuple[list[DiffRow], str]:
    """Pair the original and the replayed items; returns (rows, the rule used).

    The rule: when both sides have at most one item, or no key field works,
    items are paired by position (the first with the first...).  Otherwise
    they are paired by the first of ``url``, ``id``, ``key``, ``sku``,
    ``upc`` that every item on both sides has, with unique values on each
    side.  A pair with equal class and fields is *same*, else *changed* (the
    differing fields are listed); an original without a partner is
    *removed*, a replayed one *added*.  Rows follow the original's order;
    added ones come last, in the replay's order.
    """
    key = None
    if len(original) > 1 or len(replayed) > 1:
        key = _key_field(original, replayed)
    pairs: list[tuple[OutputItem | None, OutputItem | None]] = []
    if key is None:
        rule = "items matched by position"
        for index in range(max(len(original), len(replayed))):
            a = original[index] if index < len(original) else None
            b = replayed[index] if index < len(replayed) else None
            pairs.append((a, b))
        pairs.sort(key=lambda p: p[0] is None)  # stable: added ones last
    else:
        rule = f"items matched by their {key!r} field"
        by_key = {dict(b.fields)[key]: b for b in replayed}
        used: set[Any] = set()
        for a in original:
            k = dict(a.fields)[key]
            b = by_key.get(k)
            if b is not None:
                used.add(k)
            pairs.append((a, b))
        pairs += [(None, b) for b in replayed if dict(b.fields)[key] not in used]
    rows = []
    for a, b in pairs:
        if a is None:
            rows.append(DiffRow("item", ADDED, None, b))
        elif b is None:
            rows.append(DiffRow("item", REMOVED, a, None))
        else:
            changed = _changed_fields(a, b)
            rows.append(DiffRow("item", CHANGED if changed else SAME, a, b, changed))
    return rows, rule


def diff_requests(
    original: Sequence[OutputRequest], replayed: Sequence[OutputRequest]
) -> list[DiffRow]:
    """Pair requests by (method, URL), each used once.

    A pair is *changed* when both callbacks are known and differ.  Rows follow
    the original's order; added ones come last, in the replay's order.
    """
    pending: dict[tuple[str, str], list[OutputRequest]] = {}
    for b in replayed:
        pending.setdefault((b.method, b.url), []).append(b)
    rows = []
    for a in original:
        partners = pending.get((a.method, a.url))
        if not partners:
            rows.append(DiffRow("request", REMOVED, a, None))
            continue
        b = partners.pop(0)
        differs = a.callback is not None and b.callback is not None and a.callback != b.callback
        if differs:
            rows.append(DiffRow("request", CHANGED, a, b, ("callback",)))
        else:
            rows.append(DiffRow("request", SAME, a, b))
    left = {id(b) for partners in pending.values() for b in partners}
    rows += [DiffRow("request", ADDED, None, b) for b in replayed if id(b) in left]
    return rows


# -- the original output ------------------------------------------------------------


def original_items(recorder: Recorder, flow: Flow) -> tuple[list[OutputItem], list[str]]:
    """Items recorded for a flow (scraped, dropped and failed), and notes."""
    records: list[ItemRecord] = [r for r in recorder.items if r.flow_id == flow.id]
    items = []
    for r in records:
        note = ""
        if r.dropped is not None:
            note = f"dropped by a pipeline: {r.dropped}"
        elif r.error is not None:
            note = f"pipeline error: {r.error}"
        items.append(OutputItem(r.item_class, r.fields, note))
    notes = []
    kept = sum(1 for r in records if r.dropped is None and r.error is None)
    if kept < len(flow.items):
        notes.append(
            f"{len(flow.items) - kept} of the original's items are no longer kept "
            "(WORKBENCH_MAX_ITEMS): they cannot be compared"
        )
    return items, notes


def original_requests(recorder: Recorder, flow: Flow) -> tuple[list[OutputRequest], list[str]]:
    """Requests the flow's callback scheduled, with the callback of those downloaded."""
    callbacks: dict[tuple[str, str], str | None] = {}
    retries: dict[tuple[str, str], int] = {}
    for child in recorder.flows:
        if child.parent_id == flow.id:
            key = (child.method, child.url)
            callbacks.setdefault(key, child.callback)
            if any(name == "retry_times" for name, _ in child.meta):
                retries[key] = retries.get(key, 0) + 1
    requests: list[OutputRequest] = []
    seen: set[tuple[str, str]] = set()
    for method, url in flow.requests:
        key = (method, url)
        # a retry is scheduled again with the same Referer: not the callback's output
        if key in seen and retries.get(key):
            retries[key] -= 1
            continue
        seen.add(key)
        requests.append(OutputRequest(method, url, callbacks.get((method, url))))
    notes = []
    if len(flow.requests) >= 1000:
        notes.append("only the original's first 1000 requests were recorded")
    return requests, notes


# -- running the callback ---------------------------------------------------------------


def _error_of(exc: BaseException) -> ReplayError:
    return ReplayError(type(exc).__name__, str(exc), "".join(traceback.format_exception(exc)))


async def run_callback(
    crawler: Any,
    response: Any,
    request: Request,
    *,
    limit: int = MAX_OUTPUT,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[list[OutputItem], list[OutputRequest], ReplayError | None, list[str]]:
    """Run ``request``'s callback on ``response`` through the spider middlewares.

    The output is collected, never sent to the engine or the pipelines.
    Returns (items, requests, error, notes); what was yielded before an
    exception is kept.
    """
    scraper = crawler._engine.scraper
    items: list[OutputItem] = []
    requests: list[OutputRequest] = []
    notes: list[str] = []

    async def collect() -> None:
        output = await scraper.spidermw.scrape_response_async(
            scraper.call_spider_async, response, request
        )
        async for result in output:
            if isinstance(result, Request):
                requests.append(OutputRequest(result.method, result.url, callback_name(result)))
            elif result is not None:
                items.append(OutputItem(type(result).__name__, _item_fields(result)))
            if len(items) + len(requests) >= limit:
                notes.append(f"stopped after {limit} outputs")
                break

    error = None
    try:
        await asyncio.wait_for(collect(), timeout)
    except asyncio.TimeoutError:
        error = ReplayError("TimeoutError", f"the replay took longer than {timeout:g} s", "")
    except Exception as exc:
        error = _error_of(exc)
    return items, requests, error, notes


async def replay_flow(
    crawler: Any,
    recorder: Recorder,
    flow_id: int,
    *,
    timeout: float = DEFAULT_TIMEOUT,
) -> ReplayResult:
    """Replay flow ``flow_id``'s callback and diff it with the original.

    Raises :class:`ReplayRefused` when it cannot be replayed faithfully.
    """
    flow = recorder.flow(flow_id)
    if flow is None:
        raise ReplayRefused(f"flow #{flow_id} is no longer kept (WORKBENCH_MAX_FLOWS)")
    spider = getattr(crawler, "spider", None) if crawler is not None else None
    engine = getattr(crawler, "_engine", None) if spider is not None else None
    if spider is None or engine is None:
        raise ReplayRefused("the crawl has not started: there is no spider to replay with")
    try:
        request = rebuild_request(flow, spider)
        skipped = rebuild_meta(flow)[1]
        response = rebuild_response(flow, recorder.body(flow.id), request)
    except ReplayRefused:
        raise
    except RebuildError as exc:
        raise ReplayRefused(f"flow #{flow.id} cannot be replayed: {exc}") from None
    notes = [f"meta keys left out (not literals): {', '.join(skipped)}"] if skipped else []
    began = time.perf_counter()
    items, requests, error, run_notes = await run_callback(
        crawler, response, request, timeout=timeout
    )
    took = time.perf_counter() - began
    old_items, item_notes = original_items(recorder, flow)
    old_requests, request_notes = original_requests(recorder, flow)
    item_rows, rule = diff_items(old_items, items)
    rows = item_rows + diff_requests(old_requests, requests)
    return ReplayResult(
        flow_id=flow.id,
        url=flow.url,
        callback=flow.callback or "parse",
        items=tuple(items),
        requests=tuple(requests),
        error=error,
        original_error=flow.callback_error,
        rows=tuple(rows),
        item_rule=rule,
        notes=tuple(notes + run_notes + item_notes + request_notes),
        took=took,
    )


# -- reloading the spider ----------------------------------------------------------------------


def _reload(module: Any) -> Any:
    """importlib.reload, with the module's directory on sys.path for a top-level
    module imported from a file (``runspider`` removes it after importing)."""
    name = module.__name__
    path = getattr(module, "__file__", None)
    if path and path.endswith(".py"):
        # an edit within the same second that keeps the size would look fresh
        # to the bytecode cache: drop the cache, it is rebuilt on import
        with contextlib.suppress(OSError, ValueError, NotImplementedError):
            os.remove(importlib.util.cache_from_source(path))
    if "." in name or not path:
        return importlib.reload(module)
    directory = str(Path(path).resolve().parent)
    sys.path.insert(0, directory)
    try:
        return importlib.reload(module)
    finally:
        sys.path.remove(directory)


def reload_spider(crawler: Any) -> str:
    """Re-import the running spider's module and switch the spider to the new class.

    The spider instance keeps its state (attributes); its methods now come
    from the reloaded code.  Requests already queued keep the callbacks they
    were created with.  On a SyntaxError or an import error the running
    spider is left unchanged and :class:`ReloadError` says what went wrong.
    """
    spider = getattr(crawler, "spider", None) if crawler is not None else None
    if spider is None:
        raise ReloadError("the crawl has not started: there is no spider to reload")
    cls = type(spider)
    module = sys.modules.get(cls.__module__)
    if module is None or cls.__module__ == "__main__":
        raise ReloadError(f"{cls.__name__} is defined in {cls.__module__!r}: it cannot be reloaded")
    where = getattr(module, "__file__", None) or cls.__module__
    try:
        new_module = _reload(module)
    except SyntaxError as exc:
        line = f", line {exc.lineno}" if exc.lineno else ""
        raise ReloadError(
            f"SyntaxError in {exc.filename or where}{line}: {exc.msg}; the spider is unchanged"
        ) from None
    except Exception as exc:
        detail = _last_frame(exc)
        raise ReloadError(
            f"reloading {where} failed: {type(exc).__name__}: {exc}{detail}; "
            "the spider is unchanged"
        ) from None
    new_cls = getattr(new_module, cls.__name__, None)
    # reload() keeps the module's old names: an old class left over is not a new one
    if new_cls is cls or not (isinstance(new_cls, type) and issubclass(new_cls, Spider)):
        raise ReloadError(
            f"{where} no longer defines a spider class {cls.__name__}; the spider is unchanged"
        )
    try:
        spider.__class__ = new_cls
    except TypeError as exc:
        raise ReloadError(f"cannot switch the spider to the reloaded class: {exc}") from None
    if getattr(crawler, "spidercls", None) is cls:
        crawler.spidercls = new_cls
    return (
        f"Reloaded {cls.__name__} from {where}. Replays and new requests use the new code; "
        "requests already queued keep their callbacks."
    )


def _last_frame(exc: BaseException) -> str:
    frames: Iterable[traceback.FrameSummary] = traceback.extract_tb(exc.__traceback__)
    last = list(frames)[-1:]
    return f" ({last[0].filename}, line {last[0].lineno})" if last else ""
