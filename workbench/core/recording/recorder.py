"""Bounded, in-process record of a crawl: flows, items, log lines, bodies.

Everything here is appended to from Scrapy's signal handlers on the crawl's
thread, and read by the UI on the same thread (one asyncio loop), so no
locking is needed.  Every buffer is bounded; what falls off is counted.
"""

from __future__ import annotations

import itertools
import os
import time
import zlib
from collections import OrderedDict, deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from scrapy import Item

from workbench.core.recording.errors import ErrorGroups
from workbench.core.recording.fates import NEVER_DOWNLOADED
from workbench.core.recording.item_health import ItemHealthCounter
from workbench.core.recording.records import Flow, ItemRecord, LogRecord, pack

DEFAULT_LIMITS = {
    "WORKBENCH_MAX_FLOWS": 50_000,
    # of those, rows for requests that never reached the network (duplicates,
    # offsite...): past this many kept, more are only counted
    "WORKBENCH_MAX_DROPPED": 10_000,
    "WORKBENCH_MAX_ITEMS": 50_000,
    "WORKBENCH_MAX_LOG": 20_000,
    "WORKBENCH_MAX_BODIES": 5_000,
    "WORKBENCH_MAX_BODY_BYTES": 64 * 1024 * 1024,
}


@dataclass(frozen=True, slots=True)
class Limits:
    flows: int = DEFAULT_LIMITS["WORKBENCH_MAX_FLOWS"]
    dropped: int = DEFAULT_LIMITS["WORKBENCH_MAX_DROPPED"]
    items: int = DEFAULT_LIMITS["WORKBENCH_MAX_ITEMS"]
    log: int = DEFAULT_LIMITS["WORKBENCH_MAX_LOG"]
    bodies: int = DEFAULT_LIMITS["WORKBENCH_MAX_BODIES"]
    body_bytes: int = DEFAULT_LIMITS["WORKBENCH_MAX_BODY_BYTES"]

    @classmethod
    def from_settings(cls, settings: Any) -> Limits:
        def get(name: str) -> int:
            value = settings.getint(name, DEFAULT_LIMITS[name])
            if value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value}")
            return value

        return cls(
            flows=get("WORKBENCH_MAX_FLOWS"),
            dropped=get("WORKBENCH_MAX_DROPPED"),
            items=get("WORKBENCH_MAX_ITEMS"),
            log=get("WORKBENCH_MAX_LOG"),
            bodies=get("WORKBENCH_MAX_BODIES"),
            body_bytes=get("WORKBENCH_MAX_BODY_BYTES"),
        )


@dataclass(frozen=True, slots=True)
class StoredBody:
    body: bytes
    size: int  # the size of the original body
    truncated: bool  # True when only a prefix of the body was kept


class _Chunk:
    """Up to ``CHUNK_BODIES`` bodies, compressed together once the chunk is full.

    Until then (and until the compressing thread is done) ``raw`` holds the
    bodies themselves; afterwards ``data`` holds them compressed, ``ends`` where
    each ends, and ``raw`` is None. ``live`` counts the bodies still kept.
    """

    __slots__ = ("data", "ends", "live", "nbytes", "raw", "stored")

    def __init__(self) -> None:
        self.raw: list[bytes] | None = []
        self.data: bytes | None = None  # set by the compressing thread, then final
        self.stored = False  # data is the bodies as they are (compressing did not pay)
        self.ends: tuple[int, ...] = ()
        self.live = 0
        self.nbytes = 0  # what the chunk takes, as counted in BodyStore.bytes

    def body(self, index: int, cache: list[Any]) -> bytes:
        raw = self.raw
        if raw is not None:
            return raw[index]
        if cache[0] is self:
            whole = cache[1]
        else:
            assert self.data is not None
            whole = self.data if self.stored else zlib.decompress(self.data)
            cache[0], cache[1] = self, whole
        start = self.ends[index - 1] if index else 0
        return bytes(whole[start : self.ends[index]])


def _compress(chunk: _Chunk, pieces: list[bytes]) -> None:
    """On the compressing thread: zlib lets go of the GIL while it works, so the
    crawl's thread runs on meanwhile (on another core when there is one)."""
    whole = b"".join(pieces)
    data = zlib.compress(whole, 1)
    if len(data) >= len(whole):  # images, archives: already compressed
        chunk.stored = True
        data = whole
    chunk.data = data  # last: the crawl's thread takes the chunk when it sees data


class BodyStore:
    """Response bodies by flow id, bounded by count and by the bytes they take.

    A body is kept by reference (Scrapy's bytes are immutable) until
    ``CHUNK_BODIES`` of them, or ``CHUNK_BYTES``, are waiting; then a thread
    compresses them together (zlib, the fastest level: the pages of one site
    share most of their markup, so a chunk of HTML takes a tenth or less of its
    size) and reading one decompresses its chunk (a fraction of a millisecond;
    the last chunk read is cached). ``bytes`` is what the kept bodies take in
    memory, compressed or not, and ``max_bytes`` bounds it; a body larger than
    a quarter of ``max_bytes`` keeps only a prefix.
    """

    CHUNK_BODIES = 32
    CHUNK_BYTES = 256 * 1024

    def __init__(self, max_count: int, max_bytes: int) -> None:
        self.max_count = max_count
        self.max_bytes = max_bytes
        # a chunk never takes more than an eighth of the budget
        self._chunk_bytes = max(1, min(self.CHUNK_BYTES, max_bytes // 8))
        # flow id -> (chunk, index in it, original size, truncated)
        self._bodies: OrderedDict[int, tuple[_Chunk, int, int, bool]] = OrderedDict()
        self._open = _Chunk()
        self._compressing: deque[_Chunk] = deque()
        self._cache: list[Any] = [None, b""]  # the chunk last decompressed, its bytes
        self.bytes = 0
        self.evicted = 0

    def put(self, flow_id: int, body: bytes) -> None:
        size = len(body)
        truncated = False
        limit = self.max_bytes // 4
        if size > limit:
            body = bytes(body[:limit])
            truncated = True
        if flow_id in self._bodies:  # the same flow's body again: the newer one is kept
            self._forget(flow_id)
        chunk = self._open
        raw = chunk.raw
        assert raw is not None
        self._bodies[flow_id] = (chunk, len(raw), size, truncated)
        raw.append(body)
        chunk.live += 1
        chunk.nbytes += len(body)
        self.bytes += len(body)
        if self._compressing and self._compressing[0].data is not None:
            self._compressed()
        if len(raw) >= self.CHUNK_BODIES or chunk.nbytes >= self._chunk_bytes:
            self._seal(chunk)
        while self._bodies and (len(self._bodies) > self.max_count or self.bytes > self.max_bytes):
            self._forget(next(iter(self._bodies)))
            self.evicted += 1

    def _forget(self, flow_id: int) -> None:
        chunk, index, _, _ = self._bodies.pop(flow_id)
        chunk.live -= 1
        raw = chunk.raw
        if raw is not None:  # not compressed yet: the body goes now
            size = len(raw[index])
            raw[index] = b""
            chunk.nbytes -= size
            self.bytes -= size
        elif chunk.live == 0:  # compressed: the chunk goes with its last body
            self.bytes -= chunk.nbytes
            chunk.nbytes = 0
            chunk.data = None
            if self._cache[0] is chunk:
                self._cache[0], self._cache[1] = None, b""

    def _seal(self, chunk: _Chunk) -> None:
        raw = chunk.raw
        assert raw is not None
        ends = []
        total = 0
        for piece in raw:
            total += len(piece)
            ends.append(total)
        chunk.ends = tuple(ends)
        self._open = _Chunk()
        self._compressing.append(chunk)
        try:
            _compressor().submit(_compress, chunk, list(raw))
        except RuntimeError:  # the interpreter is shutting down: no new threads
            _compress(chunk, list(raw))

    def _compressed(self) -> None:
        """Take the chunks the thread has compressed: their bodies now take what
        their compressed bytes do."""
        compressing = self._compressing
        while compressing and compressing[0].data is not None:
            chunk = compressing.popleft()
            if chunk.live == 0:  # every body of it forgotten meanwhile
                self.bytes -= chunk.nbytes
                chunk.nbytes = 0
                chunk.raw = chunk.data = None
                continue
            data = chunk.data
            assert data is not None
            self.bytes += len(data) - chunk.nbytes
            chunk.nbytes = len(data)
            chunk.raw = None

    def flush(self, timeout: float = 10.0) -> None:
        """Wait for the chunks being compressed (tests; nothing needs it)."""
        deadline = time.monotonic() + timeout
        while self._compressing and time.monotonic() < deadline:
            if self._compressing[0].data is None:
                time.sleep(0.001)
            self._compressed()

    def get(self, flow_id: int) -> StoredBody | None:
        entry = self._bodies.get(flow_id)
        if entry is None:
            return None
        chunk, index, size, truncated = entry
        return StoredBody(chunk.body(index, self._cache), size, truncated)

    def __len__(self) -> int:
        return len(self._bodies)


_executor: tuple[int, ThreadPoolExecutor] | None = None


def _compressor() -> ThreadPoolExecutor:
    """The one thread that compresses bodies, for every recorder in the process
    (a new one in a forked child, which has no threads)."""
    global _executor
    if _executor is None or _executor[0] != os.getpid():
        _executor = (os.getpid(), ThreadPoolExecutor(1, thread_name_prefix="workbench-bodies"))
    return _executor[1]


class Ring:
    """A deque with a maximum length that counts what it dropped."""

    def __init__(self, maxlen: int) -> None:
        self._items: deque[Any] = deque(maxlen=maxlen)
        self.maxlen = maxlen
        self.total = 0  # ever appended

    def append(self, record: Any) -> None:
        self._items.append(record)
        self.total += 1

    @property
    def dropped(self) -> int:
        return self.total - len(self._items)

    def since(self, cursor: int) -> list[Any]:
        """Records appended after the first ``cursor`` ones (those still kept)."""
        new = self.total - cursor
        if new <= 0:
            return []
        new = min(new, len(self._items))
        return list(itertools.islice(reversed(self._items), new))[::-1]

    def newest(self, match: Any, within: int) -> Any:
        """The newest of the last ``within`` records that ``match`` accepts, or None."""
        for record in itertools.islice(reversed(self._items), within):
            if match(record):
                return record
        return None

    def __iter__(self) -> Any:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: int) -> Any:
        return self._items[index]


class Recorder:
    """What the workbench knows about one crawl."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self.flows = Ring(self.limits.flows)
        self.items = Ring(self.limits.items)
        self.log = Ring(self.limits.log)
        self.bodies = BodyStore(self.limits.bodies, self.limits.body_bytes)
        self._flow_ids = itertools.count(1)
        self._item_ids = itertools.count(1)
        self._log_ids = itertools.count(1)
        self._flows_by_id: dict[int, Flow] = {}
        self.started = time.time()
        self.items_scraped = 0
        self.items_dropped = 0
        self.items_failed = 0
        # spider -> [scraped, dropped, failed], when several crawlers share the recorder
        self.items_by_spider: dict[str, list[int]] = {}
        self.spider_errors = 0
        # per item type and field: how often filled, None, empty or missing
        self.item_health = ItemHealthCounter()
        self.log_counts: dict[str, int] = {}
        # fates: every one counted (kept as a row or not); rows of requests that
        # never reached the network kept in the ring now, and those only counted
        self.fate_counts: dict[str, int] = {}
        self.dropped_kept = 0
        self.dropped_unkept = 0
        # errors grouped by type, message pattern and the user's code (bounded)
        self.errors = ErrorGroups()

    # -- writing (hot path: keep it cheap) ---------------------------------

    def body_bytes(self, flow: Flow) -> bytes | None:
        """The stored body of a flow (a filter's body provider)."""
        stored = self.bodies.get(flow.id)
        return stored.body if stored is not None else None

    def next_flow_id(self) -> int:
        return next(self._flow_ids)

    def add_flow(self, flow: Flow, body: bytes | None = None) -> None:
        flows = self.flows
        if len(flows) == flows.maxlen:
            old = flows[0]
            self._flows_by_id.pop(old.id, None)
            if old.fate is not None and old.fate in NEVER_DOWNLOADED:
                self.dropped_kept -= 1
        if flow.fate is not None and flow.fate in NEVER_DOWNLOADED:
            self.dropped_kept += 1
        flows.append(flow)
        self._flows_by_id[flow.id] = flow
        if body:
            self.bodies.put(flow.id, body)

    def room_for_dropped(self) -> bool:
        """Whether one more row of a request that never reached the network is
        kept (``WORKBENCH_MAX_DROPPED``); past that, :meth:`count_unkept`."""
        return self.dropped_kept < self.limits.dropped

    def count_fate(self, fate: str) -> None:
        counts = self.fate_counts
        counts[fate] = counts.get(fate, 0) + 1

    def count_unkept(self, fate: str, n: int = 1) -> None:
        """Requests that never reached the network, counted without a row."""
        counts = self.fate_counts
        counts[fate] = counts.get(fate, 0) + n
        self.dropped_unkept += n

    def add_item(
        self,
        item: Any,
        flow_id: int | None,
        dropped: str | None = None,
        error: str | None = None,
        spider: str | None = None,
    ) -> ItemRecord:
        fields = _item_fields(item)
        flow = self._flows_by_id.get(flow_id) if flow_id is not None else None
        record = ItemRecord(
            id=next(self._item_ids),
            time=time.time(),
            flow_id=flow_id,
            item_class=type(item).__name__,
            fields=pack(fields),  # a copy in one blob when the values are plain data
            dropped=dropped,
            error=error,
            spider=spider,
        )
        self.items.append(record)
        kind = 1 if dropped is not None else 2 if error is not None else 0
        if kind == 1:
            self.items_dropped += 1
        elif kind == 2:
            self.items_failed += 1
        else:
            self.items_scraped += 1
        if spider is not None:
            counts = self.items_by_spider.get(spider)
            if counts is None:
                counts = self.items_by_spider[spider] = [0, 0, 0]
            counts[kind] += 1
        self.item_health.add(
            record.id,
            flow_id,
            flow.url if flow is not None else None,
            record.item_class,
            fields,
            type(item),
            spider,
            kind,
        )
        if flow is not None and dropped is None and error is None:
            flow.add_item_id(record.id)
        return record

    def add_log(
        self,
        level: int,
        levelname: str,
        logger: str,
        message: str,
        when: float,
        spider: str | None = None,
    ) -> None:
        record = LogRecord(next(self._log_ids), when, level, levelname, logger, message, spider)
        self.log.append(record)
        self.log_counts[levelname] = self.log_counts.get(levelname, 0) + 1

    # -- reading ----------------------------------------------------------

    def flow(self, flow_id: int) -> Flow | None:
        return self._flows_by_id.get(flow_id)

    def body(self, flow_id: int) -> StoredBody | None:
        return self.bodies.get(flow_id)

    def items_of(self, flow: Flow) -> list[ItemRecord]:
        wanted = set(flow.items)
        if not wanted:
            return []
        return [r for r in self.items if r.id in wanted]


def _item_fields(item: Any) -> tuple[tuple[str, Any], ...]:
    """A shallow copy of an item's fields (dict, scrapy.Item, dataclass, attrs)."""
    kind = type(item)
    if kind is dict:  # the common cases, without ItemAdapter's per-field dispatch
        return tuple([(k if type(k) is str else str(k), v) for k, v in item.items()])
    if isinstance(item, Item):
        return tuple([(str(k), v) for k, v in item._values.items()])
    try:
        from itemadapter import ItemAdapter

        adapter = ItemAdapter(item)
        return tuple((str(k), v) for k, v in adapter.items())
    except Exception:
        if isinstance(item, dict):
            return tuple((str(k), v) for k, v in item.items())
        return (("value", item),)
