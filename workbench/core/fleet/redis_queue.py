"""A scrapy-redis queue read from Redis: its keys, sizes, rates and head.

scrapy-redis (``scrapy_redis.scheduler.Scheduler``) keeps the queue every
worker of a distributed crawl shares in Redis, under keys named from the
spider (:class:`RedisKeys`, the same defaults and settings as scrapy-redis).
:class:`RedisQueueReader` reads them in one round trip per poll
(:class:`QueueReading`), never popping: sizes with ``ZCARD``/``LLEN``/``SCARD``,
the head with ``ZRANGE``/``LRANGE`` (:meth:`RedisQueueReader.peek`), entries
decoded with :mod:`.unpickle` (never ``pickle.loads``).  The readings over
time, the rates and the chart's series are :mod:`.redis_history`'s.

The URL is the one ``REDIS_URL`` takes (``redis://:PASSWORD@HOST:PORT/DB``);
its password never leaves this module: :func:`redact_url` is what is shown,
and every error text is scrubbed of it.  redis-py is imported lazily (the
``redis`` extra); :class:`RedisUnavailable` says how to install it.
"""

from __future__ import annotations

import contextlib
import time
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from workbench.core.fleet.unpickle import Refused, decode_entry

QUEUE_KEY = "%(spider)s:requests"  # SCHEDULER_QUEUE_KEY
DUPEFILTER_KEY = "%(spider)s:dupefilter"  # SCHEDULER_DUPEFILTER_KEY
START_URLS_KEY = "%(name)s:start_urls"  # REDIS_START_URLS_KEY
ITEMS_KEY = "%(spider)s:items"  # REDIS_ITEMS_KEY
STATS_KEY = "%(spider)s:stats"  # STATS_KEY (RedisStatsCollector)

PRIORITY = "priority"  # a sorted set: scrapy_redis.queue.PriorityQueue (the default)
LIST = "list"  # FifoQueue or LifoQueue: Redis cannot tell which
FIFO = "fifo"
LIFO = "lifo"
MISSING = "none"  # no such key (an empty queue, or a queue never made)

MAX_STATS = 300  # fields of the stats hash kept
MAX_CLIENTS = 500
PAGE = 50  # entries peeked at once
SAMPLE = 500  # entries sampled for the per-domain counts


class RedisUnavailable(RuntimeError):
    """redis-py is missing, or the server cannot be reached: one line, no password."""


def redact_url(url: str) -> str:
    """The URL without its password (``redis://:***@host:port/db``)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return "(an unreadable Redis URL)"
    if ":" in host:
        host = f"[{host}]"
    netloc = host + (f":{port}" if port else "")
    if parts.password is not None:
        netloc = f"{parts.username or ''}:***@{netloc}"
    elif parts.username:
        netloc = f"{parts.username}@{netloc}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def _password(url: str) -> str | None:
    try:
        password = urlsplit(url).password
    except ValueError:
        return None
    return unquote(password) if password else None


def scrub(text: str, url: str) -> str:
    """``text`` with the URL's password (raw and percent-encoded) cut out."""
    secret = _password(url)
    if secret:
        raw = urlsplit(url).password or ""
        for value in {secret, raw}:
            if value:
                text = text.replace(value, "***")
    return text


def _fill(template: str, spider: str) -> str:
    try:
        return template % {"spider": spider, "name": spider}
    except (KeyError, ValueError, TypeError):
        return template


@dataclass(frozen=True)
class RedisKeys:
    """The keys of one spider's queue, as scrapy-redis names them."""

    queue: str
    dupefilter: str
    start_urls: str
    items: str
    stats: str

    @classmethod
    def for_spider(
        cls,
        spider: str,
        *,
        queue: str | None = None,
        dupefilter: str | None = None,
        start_urls: str | None = None,
        items: str | None = None,
        stats: str | None = None,
    ) -> RedisKeys:
        """The keys for ``spider``: scrapy-redis's defaults, or the templates given
        (``%(spider)s`` / ``%(name)s`` filled in, as the settings take them)."""
        return cls(
            queue=_fill(queue or QUEUE_KEY, spider),
            dupefilter=_fill(dupefilter or DUPEFILTER_KEY, spider),
            start_urls=_fill(start_urls or START_URLS_KEY, spider),
            items=_fill(items or ITEMS_KEY, spider),
            stats=_fill(stats or STATS_KEY, spider),
        )


@dataclass(frozen=True)
class RedisClient:
    """One connection in ``CLIENT LIST``: the worker side's address and what it does."""

    id: str
    addr: str  # the client's host:port (the worker's end of the socket)
    name: str
    age: int  # seconds connected
    idle: int  # seconds since its last command
    cmd: str  # its last command
    db: int


@dataclass(frozen=True)
class QueueReading:
    """The keys of one queue at one moment (``ok`` False: ``error`` says why)."""

    taken_at: float
    ok: bool
    error: str | None = None
    queue_type: str = MISSING  # PRIORITY, LIST, MISSING, or another Redis type
    queue_size: int = 0
    dupefilter_size: int = 0
    start_urls_type: str = MISSING
    start_urls_size: int = 0
    items_size: int = 0
    stats: tuple[tuple[str, str], ...] = ()  # the shared stats hash (RedisStatsCollector)
    clients: tuple[RedisClient, ...] = ()
    server_version: str | None = None

    def stat(self, name: str) -> int | None:
        for key, value in self.stats:
            if key == name:
                with contextlib.suppress(ValueError):
                    return int(float(value))
        return None


@dataclass(frozen=True)
class QueueEntry:
    """One queued request, decoded as plain data (or refused, with the reason)."""

    position: int
    size: int  # bytes in Redis
    url: str = ""
    method: str = ""
    callback: str | None = None
    errback: str | None = None
    priority: int | None = None
    meta_keys: tuple[str, ...] = ()
    dont_filter: bool = False
    format: str = ""  # "pickle" or "json"
    refused: str | None = None  # why it was not decoded

    @property
    def domain(self) -> str:
        try:
            return urlsplit(self.url).hostname or "?"
        except ValueError:
            return "?"


@dataclass(frozen=True)
class QueuePage:
    """Entries ``offset``..``offset+len(entries)`` of the queue, head first."""

    offset: int
    total: int
    entries: tuple[QueueEntry, ...] = ()
    order: str = ""  # how the head was read ("lowest score first", "right end first"...)
    error: str | None = None


def _text(value: Any, limit: int = 2000) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value)[:limit]


def entry_of(position: int, data: bytes, serializer: str | None = None) -> QueueEntry:
    """A queue entry decoded safely (``Request.to_dict()``'s fields)."""
    size = len(data)
    try:
        value, fmt = decode_entry(data, serializer)
    except Refused as exc:
        return QueueEntry(position, size, refused=str(exc))
    if not isinstance(value, dict):
        return QueueEntry(position, size, format=fmt, refused="not a request: not a dict")
    url = value.get("url")
    if not isinstance(url, (str, bytes)):
        return QueueEntry(position, size, format=fmt, refused="not a request: no url")
    meta = value.get("meta")
    priority = value.get("priority")
    return QueueEntry(
        position=position,
        size=size,
        url=_text(url),
        method=_text(value.get("method") or "GET", 20),
        callback=_text(value["callback"], 200) if value.get("callback") else None,
        errback=_text(value["errback"], 200) if value.get("errback") else None,
        priority=priority if isinstance(priority, int) and not isinstance(priority, bool) else None,
        meta_keys=tuple(_text(k, 100) for k in list(meta)[:50]) if isinstance(meta, dict) else (),
        dont_filter=bool(value.get("dont_filter")),
        format=fmt,
    )


def domain_counts(entries: tuple[QueueEntry, ...] | list[QueueEntry]) -> list[tuple[str, int]]:
    """How many of these entries go to each host, most first."""
    return Counter(e.domain for e in entries if not e.refused).most_common()


def _redis_module() -> Any:
    try:
        import redis
    except ImportError:
        raise RedisUnavailable(
            "redis-py is not installed: pip install 'scrapy-workbench[redis]'"
        ) from None
    return redis


class RedisQueueReader:
    """Reads one spider's scrapy-redis keys; never pops, never writes."""

    def __init__(
        self,
        url: str,
        keys: RedisKeys,
        *,
        serializer: str | None = None,
        queue_class: str | None = None,
        timeout: float = 2.0,
    ) -> None:
        self._url = url  # the password stays here
        self.shown_url = redact_url(url)
        self.keys = keys
        self.serializer = serializer
        self.queue_class = queue_class  # scrapy_redis.queue.FifoQueue... when a worker said
        self.timeout = timeout
        self._client: Any = None
        self._seen_type: str | None = None

    def __repr__(self) -> str:
        return f"RedisQueueReader({self.shown_url!r}, {self.keys.queue!r})"

    def _connect(self) -> Any:
        if self._client is None:
            redis = _redis_module()
            try:
                self._client = redis.Redis.from_url(
                    self._url, socket_timeout=self.timeout, socket_connect_timeout=self.timeout
                )
            except ValueError as exc:
                raise RedisUnavailable(f"not a Redis URL ({scrub(str(exc), self._url)})") from None
        return self._client

    def _error(self, exc: BaseException) -> str:
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return scrub(f"{self.shown_url}: {text[:300]}", self._url)

    def close(self) -> None:
        if self._client is not None:
            with contextlib.suppress(Exception):
                self._client.close()
            self._client = None

    @property
    def list_order(self) -> str:
        """FIFO or LIFO when a worker said which queue class it uses."""
        name = (self.queue_class or "").rsplit(".", 1)[-1]
        if name in ("LifoQueue", "SpiderStack"):
            return LIFO
        if name in ("FifoQueue", "SpiderQueue"):
            return FIFO
        return LIST

    def read(self) -> QueueReading:
        """One reading of every key (one pipelined round trip, then CLIENT LIST)."""
        now = time.time()
        try:
            client = self._connect()
            k = self.keys
            pipe = client.pipeline(transaction=False)
            for key in (k.queue, k.start_urls, k.dupefilter, k.items):
                pipe.type(key)
            pipe.hlen(k.stats)
            types = [_text(t, 20) for t in pipe.execute()[:4]]
            sizes = client.pipeline(transaction=False)
            for key, kind in zip(
                (k.queue, k.start_urls, k.dupefilter, k.items), types, strict=True
            ):
                _size(sizes, key, kind)
            sizes.hscan(k.stats, 0, count=MAX_STATS)
            answers = sizes.execute()
            stats_items = list(answers[-1][1].items())[:MAX_STATS] if answers[-1] else []
            info = client.info("server")
            clients = client.client_list()[:MAX_CLIENTS]
        except RedisUnavailable as exc:
            return QueueReading(now, False, error=str(exc))
        except Exception as exc:
            return QueueReading(now, False, error=self._error(exc))
        queue_type = {"zset": PRIORITY, "list": self.list_order, "none": MISSING}.get(
            types[0], types[0]
        )
        if queue_type == MISSING and self._seen_type:  # emptied (Redis drops empty keys)
            queue_type = self._seen_type
        elif queue_type != MISSING:
            self._seen_type = queue_type
        return QueueReading(
            taken_at=now,
            ok=True,
            queue_type=queue_type,
            queue_size=int(answers[0] or 0),
            start_urls_type=types[1],
            start_urls_size=int(answers[1] or 0),
            dupefilter_size=int(answers[2] or 0),
            items_size=int(answers[3] or 0),
            stats=tuple(sorted((_text(a, 200), _text(b, 200)) for a, b in stats_items)),
            clients=tuple(_client_of(c) for c in clients if isinstance(c, dict)),
            server_version=_text(info.get("redis_version", ""), 40) or None,
        )

    def peek(self, offset: int = 0, limit: int = PAGE) -> QueuePage:
        """Entries from ``offset`` of the queue's head, decoded; nothing popped."""
        offset, limit = max(0, offset), max(1, min(limit, 1000))
        try:
            client = self._connect()
            key = self.keys.queue
            kind = _text(client.type(key), 20)
            raw: list[tuple[Any, int | None]]
            if kind == "zset":
                total = int(client.zcard(key))
                rows = client.zrange(key, offset, offset + limit - 1, withscores=True)
                order = "lowest score first (score = -priority)"
                raw = [(d, -int(score)) for d, score in rows]
            elif kind == "list":
                total = int(client.llen(key))
                if self.list_order == LIFO:  # lpush + lpop: the left end is next
                    raw = [(d, None) for d in client.lrange(key, offset, offset + limit - 1)]
                    order = "left end first (LIFO)"
                else:  # lpush + rpop (FIFO, the usual list queue): the right end is next
                    stop, start = -1 - offset, -offset - limit
                    raw = [(d, None) for d in reversed(client.lrange(key, start, stop))]
                    order = (
                        "right end first (FIFO)"
                        if self.list_order == FIFO
                        else ("right end first (FIFO; LIFO reads from the left)")
                    )
            elif kind == "none":
                return QueuePage(offset, 0, order="the queue key does not exist (empty)")
            else:
                return QueuePage(offset, 0, error=f"{key} is a Redis {kind}, not a queue")
        except RedisUnavailable as exc:
            return QueuePage(offset, 0, error=str(exc))
        except Exception as exc:
            return QueuePage(offset, 0, error=self._error(exc))
        entries = []
        for n, (data, score_priority) in enumerate(raw):
            entry = entry_of(offset + n, bytes(data), self.serializer)
            if entry.priority is None and score_priority is not None:
                entry = _with_priority(entry, score_priority)
            entries.append(entry)
        return QueuePage(offset, total, tuple(entries), order)

    def sample(self, size: int = SAMPLE) -> list[QueueEntry]:
        """The first ``size`` entries (for the per-domain counts)."""
        return list(self.peek(0, size).entries)


def _with_priority(entry: QueueEntry, priority: int) -> QueueEntry:
    from dataclasses import replace

    return replace(entry, priority=priority)


def _size(pipe: Any, key: str, kind: str) -> None:
    if kind == "zset":
        pipe.zcard(key)
    elif kind == "list":
        pipe.llen(key)
    elif kind == "set":
        pipe.scard(key)
    elif kind == "hash":
        pipe.hlen(key)
    else:
        pipe.exists(key)  # none: 0; a string: 1 (not a queue: the type says so)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _client_of(data: dict[str, Any]) -> RedisClient:
    return RedisClient(
        id=_text(data.get("id", ""), 20),
        addr=_text(data.get("addr", ""), 60),
        name=_text(data.get("name", ""), 100),
        age=_int(data.get("age")),
        idle=_int(data.get("idle")),
        cmd=_text(data.get("cmd", ""), 40),
        db=_int(data.get("db")),
    )
