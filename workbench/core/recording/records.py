"""The records the recorder keeps: one per request outcome, item, log line.

They are created in Scrapy's signal handlers, so they are cheap to build:
slots, no formatting, references to the bytes and header objects Scrapy
already made.  Rendering happens in the UI, on the records that are visible.
"""

from __future__ import annotations

import marshal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload
from urllib.parse import urlsplit


class Packed(Sequence[Any]):
    """A flow's headers or meta reprs: a tuple of pairs kept as one marshal blob.

    As nested tuples, a flow's request and response headers and its meta took
    2.9 of its 3.3 KB (pympler, the demo crawl): a tuple and two bytes objects
    per header. One bytes object of the same pairs takes about a quarter of
    that, and is never walked by the garbage collector. Reading it (the detail
    view, a header filter, HAR, replay) unpacks it: a microsecond or two.
    Only pairs of plain ``bytes``/``str`` and tuples of them are packed; the
    recorder makes nothing else, and ``pack`` returns anything else as it is.
    """

    __slots__ = ("_blob",)

    def __init__(self, blob: bytes) -> None:
        self._blob = blob

    def unpack(self) -> tuple[Any, ...]:
        return marshal.loads(self._blob)  # type: ignore[no-any-return,unused-ignore]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.unpack())

    def __len__(self) -> int:
        return len(self.unpack())

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Any, ...]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self.unpack()[index]

    def __bool__(self) -> bool:
        return self._blob != _EMPTY

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Packed):
            return self._blob == other._blob
        if isinstance(other, (tuple, list)):
            return self.unpack() == tuple(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._blob)

    def __repr__(self) -> str:
        return f"Packed({self.unpack()!r})"

    def __reduce__(self) -> tuple[Any, ...]:  # copy and pickle (slots, on 3.10 too)
        return (Packed, (self._blob,))


_EMPTY = marshal.dumps(())

# Packed values by their blob, shared between the records that have the same: a
# site's response headers differ by their Date, and the requests of one page by
# their Referer, so consecutive flows mostly repeat them (on the catalogue crawl
# each pair of headers is kept once for several flows). Bounded: emptied when full.
_SHARED: dict[bytes, Packed] = {}
SHARED_MAX = 1024


def pack(pairs: tuple[Any, ...], share: bool = False) -> Any:
    """``pairs`` as a ``Packed``, or as they are when marshal cannot keep them (a
    value of another type, a subclass of ``str``; a subclass of ``bytes`` comes
    back as ``bytes``, equal to it). ``share``: the same object as the last
    equal pairs packed with ``share`` (Packed is immutable), for values that
    repeat from one record to the next."""
    try:
        blob = marshal.dumps(pairs)
    except (ValueError, RecursionError):  # another type; a structure too deep
        return pairs
    if not share:
        return Packed(blob)
    packed = _SHARED.get(blob)
    if packed is None:
        if len(_SHARED) >= SHARED_MAX:
            _SHARED.clear()
        packed = _SHARED[blob] = Packed(blob)
    return packed


HeaderPairs = Sequence[tuple[bytes, tuple[bytes, ...]]]


def freeze_headers(headers: Any) -> HeaderPairs | None:
    """Scrapy ``Headers`` as nested tuples of bytes.

    A crawl keeps tens of thousands of flows.  Scrapy's ``Headers`` is a dict
    of lists: about six objects the cyclic garbage collector walks on every
    full collection, for each set of headers, for as long as the flow is
    kept.  Tuples of bytes are untracked by the collector once it has seen
    them, so the records cost the crawl's collections next to nothing.
    """
    if not headers:
        return None
    return pack(tuple([(k, tuple(v)) for k, v in dict.items(headers)]), share=True)


def header_items(headers: Any) -> Iterator[tuple[Any, Any]]:
    """(name, values) of frozen pairs, a scrapy ``Headers`` or a mapping."""
    if not headers:
        return iter(())
    if isinstance(headers, (tuple, Packed)):
        return iter(headers)
    return iter(headers.items())


def as_headers(headers: Any) -> Any:
    """A scrapy ``Headers`` (for code that wants one) from frozen pairs, or None."""
    if not headers:
        return None
    from scrapy.http.headers import Headers

    return headers if isinstance(headers, Headers) else Headers(headers)


def _appended(seq: Any, value: Any) -> Any:
    """``seq`` with ``value`` at the end: a few stay in a tuple, which the garbage
    collector stops tracking; a list from the ninth on, so thousands stay linear."""
    if isinstance(seq, list):
        seq.append(value)
        return seq
    return (*seq, value) if len(seq) < 8 else [*seq, value]


@dataclass(slots=True, eq=False)
class Flow:
    """One request outcome: a response from the network, a download error, or a
    request that never reached the network (its ``fate`` says why).

    A flow is written once when the outcome is known; afterwards only the
    ``items``, ``requests`` and ``callback_error`` fields grow as the callback
    runs on that response (same thread, same loop), and the ``fate`` fields
    are set when a later event decides it (the retry that follows, a
    middleware that drops the response).  :mod:`.fates` says what each fate is.
    """

    id: int
    time: float  # wall-clock time (time.time()) when the outcome was known
    method: str
    url: str
    status: int | None  # None when the download failed
    error: str | None  # "ExceptionType: message" for a download error
    size: int  # bytes of response body (0 for errors)
    latency: float | None  # request.meta["download_latency"], seconds
    callback: str | None  # name of the callback the response goes to
    depth: int
    priority: int
    slot: str | None  # downloader slot key
    # (name, (value, ...)) pairs of bytes: freeze_headers(); as_headers() makes Headers
    request_headers: HeaderPairs | None = None
    response_headers: HeaderPairs | None = None
    meta: Sequence[tuple[str, str]] = ()  # short reprs, packed: no references kept
    cb_kwargs: Sequence[tuple[str, str]] = ()
    parent_id: int | None = None  # the flow whose callback produced this request
    response_class: str | None = None  # e.g. "HtmlResponse"
    error_traceback: str | None = None
    # filled while the callback runs (a list from the first one on: add_item_id, add_request)
    items: list[int] | tuple[int, ...] = ()  # item record ids
    requests: list[tuple[str, str]] | tuple[tuple[str, str], ...] = ()  # (method, url)
    callback_error: str | None = None
    callback_traceback: str | None = None
    request_body: bytes | None = None  # request.body (reference; bytes are immutable)
    # a files/images pipeline's download: where it stored the file, e.g.
    # "/data/files/full/3f1c….png (downloaded)", set when its item is scraped
    stored: str | None = None
    # the spider of the crawler that made it (several crawlers in one process)
    spider: str | None = None
    # what became of the request when not a plain download (None): a code of
    # fates.FATES, the component that decided (its class path), why in its own
    # words, and small numbers read with the code (fates.fate_text formats them)
    fate: str | None = None
    fate_by: str | None = None
    fate_reason: str | None = None
    fate_n: int | None = None  # the retry number (retried, gave up)
    fate_limit: int | None = None  # the limit: max retries, DEPTH_LIMIT, DOWNLOAD_MAXSIZE
    duplicate_of: int | None = None  # a duplicate: the flow with the same fingerprint
    # downloaded inline: the callback that awaited it (engine.download_async in a
    # callback, e.g. "parse"); its response went back there, to no callback of its own
    inline: str | None = None

    def add_item_id(self, item_id: int) -> None:
        self.items = _appended(self.items, item_id)

    def add_request(self, method: str, url: str) -> None:
        self.requests = _appended(self.requests, (method, url))

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    @property
    def failed(self) -> bool:
        return self.error is not None or self.callback_error is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-friendly form (for remote sources and exports)."""
        return {
            "id": self.id,
            "time": self.time,
            "method": self.method,
            "url": self.url,
            "status": self.status,
            "error": self.error,
            "size": self.size,
            "latency": self.latency,
            "callback": self.callback,
            "depth": self.depth,
            "priority": self.priority,
            "slot": self.slot,
            "parent_id": self.parent_id,
            "items": list(self.items),
            "requests": [list(r) for r in self.requests],
            "callback_error": self.callback_error,
            "stored": self.stored,
            "spider": self.spider,
            "fate": self.fate,
            "fate_by": self.fate_by,
            "fate_reason": self.fate_reason,
            "fate_n": self.fate_n,
            "fate_limit": self.fate_limit,
            "duplicate_of": self.duplicate_of,
            "inline": self.inline,
        }


@dataclass(slots=True, frozen=True)
class ItemRecord:
    id: int
    time: float
    flow_id: int | None
    item_class: str
    # the item's fields: packed (records.pack) when their values are plain data
    # (text, numbers, lists, dicts...), else a shallow copy holding references
    fields: Sequence[tuple[str, Any]]
    dropped: str | None = None  # the DropItem message when a pipeline dropped it
    error: str | None = None  # the exception when a pipeline failed on it
    spider: str | None = None  # the spider of the crawler that scraped it


@dataclass(slots=True, frozen=True)
class LogRecord:
    id: int
    time: float
    level: int
    levelname: str
    logger: str
    message: str  # formatted message, including the traceback if any
    spider: str | None = None  # the record's spider (Scrapy's extra={"spider": ...}), if any
