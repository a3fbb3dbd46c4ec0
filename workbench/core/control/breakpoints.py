"""Breakpoints: pause the crawl on a response, a callback error or an item.

A breakpoint is a kind plus a flow-filter expression (``workbench.core.inspection.filters``):

``response``  a response, before the spider middlewares and its callback see it
              (after the downloader middlewares: redirects followed, retries done,
              body decompressed).  The response is *held* until the user
              continues, so the shell sees it before the callback runs.
``error``     a callback raised (``spider_error``); the shell gets ``failure``.
``item``      an item was scraped; ``~f FIELD`` / ``~it CLASS`` test the item.
``dropped``   a pipeline dropped an item.

An empty expression matches everything (``error`` alone is ``--pdb``).  Text
forms, as typed on the command line (``--break``) or in the UI::

    ~s 404                 response: ~s 404   (a bare expression is a response breakpoint)
    error                  any callback exception
    error: ~u /product/
    item: !~f price        an item without a price

A hit pauses the engine, and is queued: the UI shows the first one; *continue*
releases it (and resumes the crawl when no other hit waits), *step* releases it
and breaks again on the next response.  Requests sent by the shell's ``fetch``
carry ``SHELL_META`` and never break.

Headless: no textual import.  Live objects of a hit (response, failure, item)
stay in this process (``Hit.context``); the UI only reads the data fields.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scrapy import signals

from workbench.core.control.host import resume_engine
from workbench.core.inspection.filters import FLOWS, ITEMS, FilterError, FlowFilter, parse_filter
from workbench.core.recording.extension import tap_for
from workbench.core.recording.records import Flow

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response
    from twisted.python.failure import Failure

logger = logging.getLogger(__name__)

KINDS = ("response", "error", "item", "dropped")
KIND_HELP = {
    "response": "a response, before its callback runs (held until you continue)",
    "error": "a callback raised an exception",
    "item": "an item was scraped (~f FIELD, ~it CLASS test the item)",
    "dropped": "a pipeline dropped an item",
}
SHELL_META = "_workbench_shell"  # requests from the shell never break
BREAKPOINTS_ATTR = "workbench_breakpoints"
SETTING = "WORKBENCH_BREAKPOINTS"


def filter_target(kind: str) -> str:
    """What a breakpoint's filter tests: an item (with its flow), or a flow."""
    return ITEMS if kind in ("item", "dropped") else FLOWS


def parse_breakpoint(text: str) -> tuple[str, str]:
    """``"item: !~f price"`` -> ``("item", "!~f price")``; validates the expression.

    Raises ValueError (FilterError for a bad expression, with its position).
    """
    text = text.strip()
    kind, expression = "response", text
    head, sep, rest = text.partition(":")
    word = head.strip().lower()
    if sep and word in KINDS and not rest.startswith("//"):
        kind, expression = word, rest.strip()
    elif sep and word.isalpha() and (not rest or rest[0].isspace()):
        raise ValueError(f"unknown breakpoint kind {head.strip()!r}; kinds: {', '.join(KINDS)}")
    elif text.lower() in KINDS:
        kind, expression = text.lower(), ""
    if kind == "response" and not expression:
        raise ValueError(
            "a response breakpoint needs an expression (for example '~s 404' or '~a'); "
            f"kinds: {', '.join(KINDS)}"
        )
    try:
        parse_filter(expression, filter_target(kind))
    except FilterError as exc:  # the column in what the user typed
        offset = text.find(expression) if expression else 0
        raise FilterError(exc.message, exc.position + max(offset, 0), text) from None
    return kind, expression


@dataclass(slots=True)
class Breakpoint:
    id: int
    kind: str
    expression: str
    enabled: bool = True
    hits: int = 0
    one_shot: bool = False  # the "step" breakpoint
    filter: FlowFilter | None = field(default=None, repr=False)

    @property
    def text(self) -> str:
        if self.one_shot:
            return "step: next response"
        return f"{self.kind}: {self.expression}" if self.expression else self.kind

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "expression": self.expression,
            "enabled": self.enabled,
            "hits": self.hits,
            "one_shot": self.one_shot,
        }


@dataclass(slots=True, eq=False)
class Hit:
    """A breakpoint that fired.  Data fields are safe to send anywhere."""

    id: int
    breakpoint_id: int
    kind: str
    description: str  # e.g. "response: ~s 404"
    flow_id: int | None
    item_id: int | None
    time: float
    error: str | None = None
    url: str | None = None
    # live objects for the shell (local only): response, request, failure, item
    context: dict[str, Any] = field(default_factory=dict, repr=False)
    release: asyncio.Future[None] | None = field(default=None, repr=False)


class _ItemSubject:
    """What an item breakpoint's filter sees: the producing flow plus the item."""

    __slots__ = ("_flow", "item_class", "item_fields")

    def __init__(self, flow: Flow | None, item_class: str, fields: tuple) -> None:
        self._flow = flow
        self.item_class = item_class
        self.item_fields = fields

    def __getattr__(self, name: str) -> Any:
        flow = object.__getattribute__(self, "_flow")
        if flow is None:
            if name in ("status", "error", "callback_error", "latency"):
                return None
            if name in ("url", "method", "callback"):
                return ""
            return None
        return getattr(flow, name)


class Breakpoints:
    """The breakpoints of one crawler and the queue of hits waiting for the user."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.tap = tap_for(crawler)
        self._ids = itertools.count(1)
        self._hit_ids = itertools.count(1)
        self.items: list[Breakpoint] = []
        self.pending: deque[Hit] = deque()
        self.hits_total = 0
        self.version = 0  # bumped on every change, so the UI redraws only then
        for text in crawler.settings.getlist(SETTING):
            kind, expression = parse_breakpoint(text)
            self.add(kind, expression)

    # -- editing -------------------------------------------------------------

    def add(self, kind: str, expression: str = "", *, one_shot: bool = False) -> Breakpoint:
        if kind not in KINDS:
            raise ValueError(f"unknown breakpoint kind {kind!r}; kinds: {', '.join(KINDS)}")
        bp = Breakpoint(
            next(self._ids),
            kind,
            expression.strip(),
            one_shot=one_shot,
            filter=parse_filter(expression, filter_target(kind)),
        )
        self.items.append(bp)
        self.version += 1
        return bp

    def get(self, bp_id: int) -> Breakpoint:
        for bp in self.items:
            if bp.id == bp_id:
                return bp
        raise KeyError(f"no breakpoint {bp_id}")

    def edit(self, bp_id: int, kind: str, expression: str) -> Breakpoint:
        if kind not in KINDS:
            raise ValueError(f"unknown breakpoint kind {kind!r}")
        bp = self.get(bp_id)
        bp.filter = parse_filter(expression, filter_target(kind))
        bp.kind, bp.expression = kind, expression.strip()
        self.version += 1
        return bp

    def remove(self, bp_id: int) -> None:
        """Delete a breakpoint; its hits waiting behind the current one are let go."""
        self.items = [bp for bp in self.items if bp.id != bp_id]
        current = self.current
        for hit in [h for h in self.pending if h.breakpoint_id == bp_id and h is not current]:
            self.pending.remove(hit)
            self._release(hit)
        self.version += 1

    def toggle(self, bp_id: int) -> bool:
        bp = self.get(bp_id)
        bp.enabled = not bp.enabled
        self.version += 1
        return bp.enabled

    # -- hits ------------------------------------------------------------------

    @property
    def current(self) -> Hit | None:
        return self.pending[0] if self.pending else None

    def _active(self, kind: str) -> list[Breakpoint]:
        return [bp for bp in self.items if bp.enabled and bp.kind == kind]

    def _hit(self, bp: Breakpoint, flow: Flow | None, **data: Any) -> Hit:
        bp.hits += 1
        self.hits_total += 1
        if bp.one_shot:
            self.items = [b for b in self.items if b is not bp]
        hit = Hit(
            id=next(self._hit_ids),
            breakpoint_id=bp.id,
            kind=bp.kind,
            description=bp.text,
            flow_id=flow.id if flow is not None else None,
            item_id=data.pop("item_id", None),
            time=time.time(),
            error=data.pop("error", None),
            url=flow.url if flow is not None else None,
            context=data,
        )
        self.pending.append(hit)
        self.version += 1
        engine = getattr(self.crawler, "_engine", None)
        if engine is not None and not engine.paused:
            engine.pause()
        logger.info("Breakpoint %s (%s) hit%s", bp.id, bp.text, f" on {hit.url}" if hit.url else "")
        return hit

    def check_response(self, response: Response, request: Request) -> Hit | None:
        """Called for every response (downloader middleware); cheap when nothing is set."""
        active = self._active("response")
        if not active or request.meta.get(SHELL_META):
            return None
        flow = self.tap.flow_of_request.get(request)
        if flow is None:
            return None
        body = response.body
        for bp in active:
            assert bp.filter is not None
            if bp.filter(flow, lambda _flow: body):
                self.tap.received(response, request)  # keep the decoded body for the UI
                hit = self._hit(bp, flow, response=response, request=request)
                hit.release = asyncio.get_running_loop().create_future()
                return hit
        return None

    def check_error(self, failure: Failure, response: Response | None) -> Hit | None:
        active = self._active("error")
        if not active:
            return None
        request = getattr(response, "request", None)
        if request is not None and request.meta.get(SHELL_META):
            return None
        flow = self.tap.flow_for(response)
        for bp in active:
            assert bp.filter is not None
            if not bp.expression or (
                flow is not None and bp.filter(flow, self.tap.recorder.body_bytes)
            ):
                return self._hit(
                    bp,
                    flow,
                    error=f"{type(failure.value).__name__}: {failure.value}",
                    failure=failure,
                    exception=failure.value,
                    response=response,
                    request=response.request if response is not None else None,
                )
        return None

    def check_item(
        self, kind: str, item: Any, response: Response | None, record_id: int | None
    ) -> Hit | None:
        active = self._active(kind)
        if not active:
            return None
        from workbench.core.recording.recorder import _item_fields

        flow = self.tap.flow_for(response)
        subject = _ItemSubject(flow, type(item).__name__, _item_fields(item))
        for bp in active:
            assert bp.filter is not None
            if bp.filter(subject, self.tap.recorder.body_bytes):
                return self._hit(
                    bp,
                    flow,
                    item_id=record_id,
                    item=item,
                    response=response,
                    request=response.request if response is not None else None,
                )
        return None

    def _release(self, hit: Hit) -> None:
        if hit.release is not None and not hit.release.done():
            hit.release.set_result(None)
        hit.context.clear()

    def continue_(self) -> bool:
        """Release the current hit; resume the crawl when no other hit waits.

        Returns False when there was no hit."""
        if not self.pending:
            return False
        self._release(self.pending.popleft())
        self.version += 1
        if not self.pending:
            self._resume()
        return True

    def step(self) -> bool:
        """Continue, and break again on the next response."""
        if not self.pending:
            return False
        if not any(bp.one_shot for bp in self.items):
            self.add("response", "", one_shot=True)
        return self.continue_()

    def release_all(self) -> None:
        """Let every held response go (the crawl is stopping)."""
        while self.pending:
            self._release(self.pending.popleft())
        self.items = [bp for bp in self.items if not bp.one_shot]
        self.version += 1

    def _resume(self) -> None:
        resume_engine(getattr(self.crawler, "_engine", None))


def breakpoints_for(crawler: Crawler) -> Breakpoints:
    bps = getattr(crawler, BREAKPOINTS_ATTR, None)
    if bps is None:
        bps = Breakpoints(crawler)
        setattr(crawler, BREAKPOINTS_ATTR, bps)
    return bps


class BreakpointMiddleware:
    """Downloader middleware next to the engine: holds responses that hit a breakpoint."""

    def __init__(self, crawler: Crawler) -> None:
        self.breakpoints = breakpoints_for(crawler)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BreakpointMiddleware:
        return cls(crawler)

    def process_response(self, request: Request, response: Response, spider: Any = None) -> Any:
        # Sync on the fast path; Scrapy awaits the coroutine returned on a hit.
        try:
            hit = self.breakpoints.check_response(response, request)
        except Exception:  # a breakpoint must never break the crawl
            logger.exception("Checking response breakpoints failed")
            return response
        if hit is None:
            return response
        return self._hold(hit, response)

    async def _hold(self, hit: Hit, response: Response) -> Response:
        assert hit.release is not None
        await hit.release
        return response


class BreakpointExtension:
    """Error and item breakpoints (signals); releases held responses on close."""

    def __init__(self, crawler: Crawler) -> None:
        self.breakpoints = breakpoints_for(crawler)
        self.recorder = self.breakpoints.tap.recorder
        crawler.signals.connect(self.spider_error, signal=signals.spider_error)
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> BreakpointExtension:
        return cls(crawler)

    def _last_item_id(self) -> int | None:
        items = self.recorder.items
        return items[-1].id if len(items) else None

    def spider_error(self, failure: Failure, response: Response | None, spider: Any) -> None:
        try:
            self.breakpoints.check_error(failure, response)
        except Exception:
            logger.exception("Checking breakpoints failed")

    def item_scraped(self, item: Any, response: Response | None, spider: Any) -> None:
        try:
            self.breakpoints.check_item("item", item, response, self._last_item_id())
        except Exception:
            logger.exception("Checking breakpoints failed")

    def item_dropped(
        self, item: Any, response: Response | None, exception: BaseException, spider: Any
    ) -> None:
        try:
            self.breakpoints.check_item("dropped", item, response, self._last_item_id())
        except Exception:
            logger.exception("Checking breakpoints failed")

    def spider_closed(self, spider: Any, reason: str) -> None:
        self.breakpoints.release_all()

    def engine_stopped(self) -> None:
        self.breakpoints.release_all()
