"""``workbench parse URL``: ``scrapy parse``'s crawl, kept as a tree by depth.

Scrapy's own parse command does the work: it picks the spider (``--spider``,
or the one whose allowed domains match the URL), chooses each response's
callback (``-c``, ``--rules``, or the request's own), follows the requests a
callback returns down to ``--depth``, and collects items and requests per
level for its report.  :class:`ParseCommand` is that command with two hooks,
where a response's callback is chosen and where its output is collected, that
keep a :class:`ParseTree`: one node per response, with its flow, its items,
and the requests it returned, each linked to the node of its own response.

A request's node is found through a meta key set on it when its parent's
output is collected (meta follows redirects and retries); a request that never
got a response says why: beyond ``--depth``, dropped by the scheduler as a
duplicate (``request_dropped``), a download error (an errback records it, then
re-raises so Scrapy logs it as usual), or filtered as offsite.  Scrapy's
``OffsiteMiddleware`` filters a request in its own ``request_scheduled``
receiver (it raises ``IgnoreRequest``, which the engine keeps quiet, and counts
``offsite/filtered``); two receivers of ours around it, one connected before
the crawl and one after the engine built its middlewares, see that count move
for exactly that request.  The URL itself can be filtered so too (``--spider``
names a spider whose ``allowed_domains`` leave it out): it then has no node,
and ``ParseTree.root_error`` says why.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from weakref import WeakKeyDictionary

from itemadapter import ItemAdapter
from scrapy import Request, signals
from scrapy.commands.parse import Command as ScrapyParseCommand
from scrapy.http import Response
from scrapy.utils.httpobj import urlparse_cached

from workbench.core.control.late import late
from workbench.core.recording.extension import tap_for
from workbench.core.recording.tap import callback_label, callback_name

PARENT_KEY = "workbench_parse"  # (node id, index among the node's requests)


@dataclass
class ParseRequest:
    """A request a callback returned."""

    method: str
    url: str
    callback: str
    followed: bool  # within --depth: scheduled, so it gets a node of its own
    child: int | None = None  # the node of its response
    error: str | None = None  # its download failed
    dropped: str | None = None  # it was never downloaded


@dataclass
class ParseNode:
    """A response and what its callback returned."""

    id: int
    depth: int
    parent: int | None  # the node whose callback returned this request
    index: int | None  # its place among the parent's requests
    method: str
    url: str
    status: int
    flow_id: int | None
    callback: str = ""
    items: list[dict[str, Any]] = field(default_factory=list)
    item_classes: list[str] = field(default_factory=list)
    requests: list[ParseRequest] = field(default_factory=list)
    error: str | None = None  # choosing or running the callback failed
    done: bool = False  # the callback's output is in


class ParseTree:
    """The nodes of a parse, in the order their responses arrived."""

    def __init__(self, url: str, depth: int) -> None:
        self.url = url
        self.depth = depth
        self.nodes: list[ParseNode] = []
        self.version = 0  # bumped on every change, for views
        self.finished = False
        self.root_error: str | None = None  # why the URL itself got no response (no node then)
        self.root_dropped = False  # root_error: it was dropped (offsite), not an error
        self._of_response: WeakKeyDictionary[Response, ParseNode] = WeakKeyDictionary()

    def node(self, node_id: int) -> ParseNode | None:
        return self.nodes[node_id - 1] if 0 < node_id <= len(self.nodes) else None

    def request_of(self, link: Any) -> ParseRequest | None:
        """The entry of a (node id, index) meta link."""
        if not isinstance(link, tuple) or len(link) != 2:
            return None
        parent = self.node(link[0])
        if parent is None or not 0 <= link[1] < len(parent.requests):
            return None
        return parent.requests[link[1]]

    def enter(self, response: Response, flow_id: int | None) -> ParseNode:
        link = response.meta.get(PARENT_KEY)
        parent, index = link if isinstance(link, tuple) and len(link) == 2 else (None, None)
        request = response.request
        node = ParseNode(
            id=len(self.nodes) + 1,
            depth=int(response.meta.get("_depth", 1)),
            parent=parent,
            index=index,
            method=request.method if request is not None else "GET",
            url=response.url,
            status=response.status,
            flow_id=flow_id,
        )
        self.nodes.append(node)
        self._of_response[response] = node
        entry = self.request_of(link)
        if entry is not None:
            entry.child = node.id
        self.version += 1
        return node

    def node_of(self, response: Response) -> ParseNode | None:
        return self._of_response.get(response)

    def collected(self, node: ParseNode, output: list[Any]) -> list[Request]:
        """The callback's output is in: keep its items and requests (returned)."""
        requests: list[Request] = []
        for value in output:
            if isinstance(value, Request):
                value.meta[PARENT_KEY] = (node.id, len(requests))
                followed = node.depth < self.depth
                node.requests.append(
                    ParseRequest(value.method, value.url, callback_name(value) or "", followed)
                )
                requests.append(value)
            else:
                node.item_classes.append(type(value).__name__)
                node.items.append(_as_dict(value))
        node.done = True
        self.version += 1
        return requests

    def failed(self, node: ParseNode, error: str, done: bool = True) -> None:
        """The callback failed (``done``: and nothing more will come of it)."""
        node.error = error
        node.done = node.done or done
        self.version += 1

    def mark(self, link: Any, *, error: str | None = None, dropped: str | None = None) -> None:
        """Why the request of a (node id, index) link got no node of its own
        (``link`` None: the URL itself, while it has no node)."""
        if link is None and (error or dropped) and not self.nodes:
            self.root_error = error or dropped
            self.root_dropped = not error
            self.version += 1
            return
        entry = self.request_of(link)
        if entry is None or entry.child is not None:
            return
        entry.error = error or entry.error
        entry.dropped = dropped or entry.dropped
        self.version += 1

    # -- figures -----------------------------------------------------------------

    @property
    def items(self) -> int:
        return sum(len(n.items) for n in self.nodes)

    @property
    def requests(self) -> int:
        return sum(len(n.requests) for n in self.nodes)

    @property
    def errors(self) -> int:
        return (
            bool(self.root_error and not self.root_dropped)
            + sum(1 for n in self.nodes if n.error)
            + sum(1 for n in self.nodes for r in n.requests if r.error)
        )


def _as_dict(value: Any) -> dict[str, Any]:
    if ItemAdapter.is_item(value):
        return ItemAdapter(value).asdict()
    return {"value": value}  # not an item (scrapy parse would fail printing it)


def request_state(tree: ParseTree, entry: ParseRequest) -> str:
    """Why a request has no node (yet): what the tree shows next to it."""
    if entry.child is not None:
        return "downloaded"
    if entry.error:
        return f"failed: {entry.error}"
    if entry.dropped:
        return entry.dropped
    if not entry.followed:
        return f"not followed: beyond --depth {tree.depth}"
    if tree.finished:
        return "not downloaded: a middleware or an extension dropped it"
    return "waiting"


class ParseCommand(ScrapyParseCommand):
    """Scrapy's parse command, recording a :class:`ParseTree` as it goes."""

    def __init__(self) -> None:
        super().__init__()
        # per instance: Scrapy's are class attributes (ClassVar), shared by every command
        self.items = {}  # type: ignore[misc]
        self.requests = {}  # type: ignore[misc]
        self.tree: ParseTree | None = None
        self.recorder: Any = None
        self._tap: Any = None
        self._record_items = True
        self._running: ParseNode | None = None  # the node whose callback is being called
        self._offsite_before = 0  # offsite/filtered before the request being scheduled

    def attach(self, crawler: Any, url: str, opts: Any) -> ParseTree:
        """Record the crawl of ``crawler``: a tree of ``url`` to ``opts.depth``."""
        self.pcrawler = crawler  # scrapy parse's --pipelines reads it
        self.tree = ParseTree(url, opts.depth)
        self._tap = tap_for(crawler)
        self.recorder = self._tap.recorder
        self._record_items = not opts.output  # with -o, items go the usual way (and signal)
        crawler.signals.connect(self._request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(self._spider_closed, signal=signals.spider_closed)
        # before the offsite middleware's request_scheduled receiver (made with the
        # engine, when the crawl starts), and after it: see _request_scheduled
        crawler.signals.connect(self._before_scheduled, signal=signals.request_scheduled)
        crawler.signals.connect(self._engine_started, signal=signals.engine_started)
        return self.tree

    def start_for(self, spidercls: type, url: str, opts: Any) -> None:
        """Make the spider start with the one request, as ``scrapy parse`` does."""
        command = self

        async def start(spider: Any) -> Any:
            try:
                request = command.prepare_request(spider, Request(url), opts)
            except Exception as exc:  # e.g. -c names no callback of the spider
                if command.tree is not None:
                    command.tree.root_error = f"{type(exc).__name__}: {exc}"
                    command.tree.version += 1
                raise
            if command.tree is not None:
                request.errback = _recording_errback(command.tree, None, request.errback)
            yield request

        spidercls.start = start  # type: ignore[attr-defined]

    # -- scrapy parse's hooks ----------------------------------------------------

    def _get_callback(self, *, spider: Any, opts: Any, response: Response | None = None) -> Any:
        if response is None or self.tree is None:
            return super()._get_callback(spider=spider, opts=opts, response=response)
        flow = self._tap.flow_for(response)
        node = self.tree.enter(response, flow.id if flow is not None else None)
        try:
            callback = super()._get_callback(spider=spider, opts=opts, response=response)
        except Exception as exc:
            self.tree.failed(node, f"{type(exc).__name__}: {exc}")
            raise
        node.callback = getattr(callback, "__name__", None) or type(callback).__name__
        if flow is not None:
            flow.callback = node.callback  # not the name of parse's wrapper
        return callback

    def run_callback(
        self, response: Response, callback: Any, cb_kwargs: dict[str, Any] | None = None
    ) -> Any:
        tree = self.tree
        node = tree.node_of(response) if tree is not None else None
        if tree is None or node is None:
            return super().run_callback(response, callback, cb_kwargs)
        self._running = node
        try:
            result = super().run_callback(response, callback, cb_kwargs)
        except Exception as exc:  # a plain (not generator) callback raised
            tree.failed(node, f"{type(exc).__name__}: {exc}")
            raise
        finally:
            self._running = None
        return result.addCallbacks(
            functools.partial(self._collected, node), functools.partial(self._failed, node)
        )

    def iterate_spider_output(self, result: Any) -> Any:
        node = self._running
        if node is not None and self.tree is not None and inspect.isasyncgen(result):
            # scrapy parse logs an async generator's error and keeps what it yielded:
            # the node notes the error too
            result = _noting_errors(result, self.tree, node)
        return super().iterate_spider_output(result)

    # -- recording ---------------------------------------------------------------

    def _collected(self, node: ParseNode, output: Any) -> list[Any]:
        assert self.tree is not None
        try:
            values = list(output)
        except Exception as exc:
            self.tree.failed(node, f"{type(exc).__name__}: {exc}")
            raise
        for request in self.tree.collected(node, values):
            if node.depth < self.tree.depth:
                link = request.meta[PARENT_KEY]
                request.errback = _recording_errback(self.tree, link, request.errback)
        flow = self.recorder.flow(node.flow_id) if node.flow_id is not None else None
        if self._record_items:
            for value in values:
                if not isinstance(value, Request):
                    self.recorder.add_item(value, node.flow_id)
        if flow is not None:
            for entry in node.requests:
                if not entry.followed:  # the followed ones are noted when scheduled
                    flow.add_request(entry.method, entry.url)
        return values

    def _failed(self, node: ParseNode, failure: Any) -> Any:
        assert self.tree is not None
        self.tree.failed(node, f"{failure.type.__name__}: {failure.value}")
        return failure

    def scraped_data(self, args: Any) -> list[Any]:
        output = super().scraped_data(args)
        for value in output:  # the followed requests: parse's wrapper as their callback
            if (
                isinstance(value, Request)
                and PARENT_KEY in value.meta
                and value.callback is not None  # it is: scrapy parse set its wrapper
            ):
                name = callback_label(value.meta.get("_callback")) or "parse"
                value.callback = _Named(value.callback, name)
        return output

    def _request_dropped(self, request: Request, spider: Any) -> None:
        self._dropped(request, "dropped by the scheduler: a duplicate")

    def _dropped(self, request: Request, why: str) -> None:
        if self.tree is None:
            return
        link = request.meta.get(PARENT_KEY)
        entry = self.tree.request_of(link)
        asked = entry.url if entry is not None else self.tree.url if link is None else None
        if asked is not None and asked != request.url:
            why = f"redirected to {request.url}, {why}"
        self.tree.mark(link, dropped=why)

    def _offsite_filtered(self) -> int:
        stats = late(self.pcrawler, "stats")
        return int(stats.get_value("offsite/filtered", 0) or 0) if stats is not None else 0

    def _engine_started(self) -> None:
        # the engine's downloader middlewares exist now, OffsiteMiddleware's
        # request_scheduled receiver among them: ours goes after it
        self.pcrawler.signals.connect(self._request_scheduled, signal=signals.request_scheduled)

    def _before_scheduled(self, request: Request, spider: Any) -> None:
        self._offsite_before = self._offsite_filtered()

    def _request_scheduled(self, request: Request, spider: Any) -> None:
        """After OffsiteMiddleware saw ``request``: it counted it in
        ``offsite/filtered`` when it filtered it (the engine then drops it quietly)."""
        if self._offsite_filtered() > self._offsite_before:
            domain = urlparse_cached(request).hostname or ""
            allowed = list(getattr(spider, "allowed_domains", None) or [])
            why = f"{domain!r} is not in the spider's allowed_domains {allowed!r}"
            self._dropped(request, f"filtered as offsite: {why}")

    def _spider_closed(self, spider: Any) -> None:
        if self.tree is None:
            return
        self.tree.finished = True
        self.tree.version += 1


async def _noting_errors(output: Any, tree: ParseTree, node: ParseNode) -> Any:
    try:
        async for value in output:
            yield value
    except Exception as exc:
        tree.failed(node, f"{type(exc).__name__}: {exc}", done=False)  # what it yielded follows
        raise


class _Named:
    """A callable under another name: parse's wrapper, named after the callback it
    runs, so flows show the spider's callback rather than the wrapper's."""

    __slots__ = ("__name__", "function")

    def __init__(self, function: Callable[..., Any], name: str) -> None:
        self.function = function
        self.__name__ = name

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.function(*args, **kwargs)


def _recording_errback(tree: ParseTree, link: Any, errback: Callable[..., Any] | None) -> Any:
    """An errback that notes the error (a download error, an HTTP error status) in
    the tree, then does what the request would have done without it: its own
    errback, or Scrapy's logging of the error."""

    def recording_errback(failure: Any) -> Any:
        tree.mark(link, error=f"{failure.type.__name__}: {failure.value}")
        if errback is not None:
            return errback(failure)
        failure.raiseException()

    return recording_errback
