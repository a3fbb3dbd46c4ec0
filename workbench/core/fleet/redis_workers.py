"""Which worker is which on a scrapy-redis queue: each crawl's own report of its
scheduler, and Redis ``CLIENT LIST`` connections matched to processes.

:data:`REPORT_CODE` is fixed text sent through RemoteControl's ``/execute``
(it installs nothing): the scheduler's class, its queue and dupefilter keys,
``SCHEDULER_PERSIST``, the serializer, where its Redis is (host, port and db;
never the password), the local addresses of its Redis connections, its
``scheduler/enqueued/redis`` and ``dequeued`` counters, the Scrapy version and
the settings it overrides (passwords and URL credentials cut out *in the
crawl*, before the answer leaves it).  :func:`read_report` checks the answer
field by field.

:func:`pids_by_address` matches ``CLIENT LIST``'s client addresses to local
processes through ``/proc`` (the socket whose local address is the client's
is one of the process's file descriptors): no attach needed, Linux only.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Fixed text: nothing from the user, a job file or Redis is formatted into it.
REPORT_CODE = r"""
import json as _j, os as _o, re as _re
import scrapy as _sc
_st = crawler.settings
_e = getattr(crawler, "engine", None)
_sl = getattr(_e, "_slot", None) if _e is not None else None
_sch = getattr(_sl, "scheduler", None) if _sl is not None else None
def _path(_x):
    return None if _x is None else type(_x).__module__ + "." + type(_x).__qualname__
def _hide(_n, _v):
    if _re.search(r"PASS|SECRET|TOKEN|CREDENTIAL|AUTH", str(_n), _re.I):
        return "***"
    if hasattr(_v, "copy_to_dict"):
        _v = _v.copy_to_dict()
    if isinstance(_v, (str, int, float, bool, type(None))):
        _t = _v
    else:
        try:
            _t = _j.dumps(_v, sort_keys=True, default=str)
        except Exception:
            _t = repr(_v)
        _t = _re.sub(r" at 0x[0-9a-fA-F]+", "", _t)
    if isinstance(_t, str):
        _t = _re.sub(r"(://)[^/@\s]*@", r"\1***@", _t)[:160]
    return _t
_r = {"pid": _o.getpid(), "scrapy_version": _sc.__version__,
      "spider": getattr(getattr(crawler, "spider", None), "name", None),
      "scheduler": _path(_sch) or str(_st.get("SCHEDULER"))}
_q = getattr(_sch, "queue", None)
_df = getattr(_sch, "df", None)
_r["queue_class"] = _path(_q) if _q is not None else _st.get("SCHEDULER_QUEUE_CLASS")
_r["queue_key"] = getattr(_q, "key", None)
_r["dupefilter_key"] = getattr(_df, "key", None)
_p = getattr(_sch, "persist", None)
_r["persist"] = _p if isinstance(_p, bool) else _st.getbool("SCHEDULER_PERSIST")
_ser = getattr(_sch, "serializer", None)
_r["serializer"] = getattr(_ser, "__name__", None) or _st.get("SCHEDULER_SERIALIZER")
_r["stats_class"] = _path(getattr(crawler, "stats", None))
_servers = [getattr(_sch, "server", None), getattr(_df, "server", None),
            getattr(getattr(crawler, "spider", None), "server", None)]
try:
    for _m in _e.scraper.itemproc.middlewares:
        _servers.append(getattr(_m, "server", None))
except Exception:
    pass
_addrs, _where = set(), None
for _s in _servers:
    _pool = getattr(_s, "connection_pool", None)
    if _pool is None:
        continue
    _kw = getattr(_pool, "connection_kwargs", {}) or {}
    if _where is None:
        _where = {"host": str(_kw.get("host", "")), "port": _kw.get("port"), "db": _kw.get("db")}
    _conns = list(getattr(_pool, "_available_connections", []) or [])
    _conns += list(getattr(_pool, "_in_use_connections", []) or [])
    for _c in _conns:
        try:
            _a = _c._sock.getsockname()
            _addrs.add("%s:%s" % (_a[0], _a[1]))
        except Exception:
            pass
_r["redis"] = _where
_r["client_addrs"] = sorted(_addrs)[:50]
_v = crawler.stats.get_stats() if getattr(crawler, "stats", None) is not None else {}
for _n, _k in (("enqueued", "scheduler/enqueued/redis"), ("dequeued", "scheduler/dequeued/redis"),
               ("filtered", "dupefilter/filtered"), ("items", "item_scraped_count")):
    _x = _v.get(_k, 0)
    _r[_n] = int(_x) if isinstance(_x, (int, float)) else 0
_ov = {}
for _n in list(_st)[:2000]:
    try:
        if (_st.getpriority(_n) or 0) > 0:
            _ov[str(_n)[:80]] = _hide(_n, _st.get(_n))
    except Exception:
        pass
_r["settings"] = dict(sorted(_ov.items())[:400])
print(_j.dumps(_r, default=str))
"""

MAX_TEXT = 200
# settings that differ between workers of one crawl on purpose (their own log,
# their own RemoteControl server...): not worth a warning
PER_PROCESS = (
    "LOG_", "REMOTE_CONTROL_", "TELNETCONSOLE_", "JOBDIR", "FEEDS", "FEED_URI",
    "FEED_FORMAT", "STATS_DUMP", "MEMUSAGE_NOTIFY", "WORKBENCH_",
)  # fmt: skip


class ReportError(ValueError):
    """The crawl's answer to the report is not what the report prints."""


@dataclass(frozen=True)
class WorkerReport:
    """One crawl's scheduler, as it said (checked; never a password)."""

    pid: int
    scrapy_version: str
    spider: str | None
    scheduler: str
    queue_class: str | None
    queue_key: str | None
    dupefilter_key: str | None
    persist: bool
    serializer: str | None
    stats_class: str | None
    redis: str | None  # "host:port/db"
    client_addrs: tuple[str, ...]
    enqueued: int
    dequeued: int
    filtered: int
    items: int
    settings: tuple[tuple[str, str], ...] = field(default=())

    @property
    def uses_redis(self) -> bool:
        return self.scheduler.startswith("scrapy_redis.")

    def shared_settings(self) -> dict[str, str]:
        """Its overridden settings but those that differ per process on purpose."""
        return {k: v for k, v in self.settings if not k.startswith(PER_PROCESS)}


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ReportError(f"the crawl's {key} is not text")
    return value[:MAX_TEXT]


def _count(data: dict[str, Any], key: str) -> int:
    value = data.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**53:
        raise ReportError(f"the crawl's {key} is not a count")
    return value


def read_report(result: dict[str, Any]) -> WorkerReport:
    """The report from an ``/execute`` result, checked field by field."""
    if result.get("status") != "ok":
        raise ReportError(f"the crawl could not run the report ({str(result.get('status'))[:40]})")
    output = result.get("output")
    if not isinstance(output, str) or len(output) > 256 * 1024:
        raise ReportError("the crawl's report is not one short line")
    try:
        data = json.loads(output)
    except (ValueError, RecursionError):
        raise ReportError("the crawl's report is not JSON") from None
    if not isinstance(data, dict):
        raise ReportError("the crawl's report is not an object")
    where = data.get("redis")
    redis = None
    if isinstance(where, dict):
        host, port, db = where.get("host"), where.get("port"), where.get("db")
        if isinstance(host, str) and isinstance(port, (int, str)):
            redis = f"{host[:100]}:{str(port)[:6]}/{db if isinstance(db, int) else 0}"
    addrs = data.get("client_addrs")
    settings = data.get("settings")
    if not isinstance(settings, dict):
        settings = {}
    scheduler = _str(data, "scheduler") or "?"
    return WorkerReport(
        pid=_count(data, "pid"),
        scrapy_version=_str(data, "scrapy_version") or "?",
        spider=_str(data, "spider"),
        scheduler=scheduler,
        queue_class=_str(data, "queue_class"),
        queue_key=_str(data, "queue_key"),
        dupefilter_key=_str(data, "dupefilter_key"),
        persist=data.get("persist") is True,
        serializer=_str(data, "serializer"),
        stats_class=_str(data, "stats_class"),
        redis=redis,
        client_addrs=tuple(
            a[:60] for a in (addrs if isinstance(addrs, list) else [])[:50] if isinstance(a, str)
        ),
        enqueued=_count(data, "enqueued"),
        dequeued=_count(data, "dequeued"),
        filtered=_count(data, "filtered"),
        items=_count(data, "items"),
        settings=tuple((str(k)[:80], _setting_text(v)) for k, v in list(settings.items())[:400]),
    )


def _setting_text(value: Any) -> str:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return str(value)[:MAX_TEXT]


# -- CLIENT LIST addresses to local processes -----------------------------------


def _hex_addr(text: str) -> str | None:
    """``0100007F:D431`` (/proc/net/tcp's little-endian IPv4) as ``127.0.0.1:54321``."""
    try:
        ip_hex, port_hex = text.split(":")
        port = int(port_hex, 16)
        if len(ip_hex) == 8:
            octets = bytes.fromhex(ip_hex)[::-1]
            return f"{'.'.join(str(b) for b in octets)}:{port}"
        if len(ip_hex) == 32:  # IPv6: four little-endian words
            raw = b"".join(bytes.fromhex(ip_hex[i : i + 8])[::-1] for i in range(0, 32, 8))
            if raw[:12] == b"\x00" * 10 + b"\xff\xff":  # v4-mapped
                return f"{'.'.join(str(b) for b in raw[12:])}:{port}"
            import ipaddress

            return f"{ipaddress.IPv6Address(raw)}:{port}"
    except ValueError:
        return None
    return None


def _socket_table(proc: Path) -> dict[str, str]:
    """Local address -> socket inode, from /proc/net/tcp and tcp6."""
    table: dict[str, str] = {}
    for name in ("tcp", "tcp6"):
        with contextlib.suppress(OSError):
            for line in (proc / "net" / name).read_text().splitlines()[1:]:
                parts = line.split()
                if len(parts) > 9:
                    addr = _hex_addr(parts[1])
                    if addr:
                        table[addr] = parts[9]
    return table


def _inodes(proc: Path, pid: int) -> set[str]:
    found = set()
    with contextlib.suppress(OSError):
        for fd in (proc / str(pid) / "fd").iterdir():
            with contextlib.suppress(OSError):
                link = os.readlink(fd)
                if link.startswith("socket:["):
                    found.add(link[8:-1])
    return found


def pids_by_address(
    addrs: list[str] | tuple[str, ...], pids: list[int] | set[int], proc: Path = Path("/proc")
) -> dict[str, int]:
    """Client address ("127.0.0.1:54321") -> which of ``pids`` holds that socket."""
    if not addrs or not pids:
        return {}
    table = _socket_table(proc)
    wanted = {table[a]: a for a in addrs if a in table}
    found: dict[str, int] = {}
    for pid in pids:
        for inode in _inodes(proc, pid) & wanted.keys():
            found[wanted[inode]] = pid
    return found


def shared_queue_note(scheduler: Any) -> str | None:
    """Where a scrapy-redis scheduler keeps its pending requests, in words (for
    the Queue panel of the crawl, local or attached); None for another scheduler.
    Never the password: the host, port and db of its connection only."""
    cls = type(scheduler)
    if not cls.__module__.startswith("scrapy_redis"):
        return None
    queue = getattr(scheduler, "queue", None)
    key = getattr(queue, "key", None)
    kwargs = getattr(getattr(getattr(scheduler, "server", None), "connection_pool", None),
                     "connection_kwargs", None) or {}  # fmt: skip
    where = f"{kwargs.get('host', '?')}:{kwargs.get('port', '?')}/{kwargs.get('db', 0)}"
    persist = getattr(scheduler, "persist", None)
    spider = getattr(getattr(scheduler, "spider", None), "name", None) or "NAME"
    return (
        f"{cls.__module__}.{cls.__qualname__}: the pending requests wait in Redis, "
        f"{key or '?'} at {where}, shared by every worker of this crawl"
        f"{'' if persist is None else f' (SCHEDULER_PERSIST {bool(persist)})'}; "
        f"see them with workbench fleet --redis redis://…@{where} --spider {spider}, then Q"
    )


# Fixed text: the counters alone, each poll (the full report is asked for once a
# minute: its settings walk costs more than the counters).
COUNTERS_CODE = r"""
import json as _j, os as _o
_v = crawler.stats.get_stats() if getattr(crawler, "stats", None) is not None else {}
_r = {"pid": _o.getpid()}
for _n, _k in (("enqueued", "scheduler/enqueued/redis"), ("dequeued", "scheduler/dequeued/redis"),
               ("filtered", "dupefilter/filtered"), ("items", "item_scraped_count")):
    _x = _v.get(_k, 0)
    _r[_n] = int(_x) if isinstance(_x, (int, float)) else 0
print(_j.dumps(_r))
"""


def read_counters(result: dict[str, Any], report: WorkerReport) -> WorkerReport:
    """``report`` with the counters of a COUNTERS_CODE answer (checked)."""
    from dataclasses import replace

    if result.get("status") != "ok":
        raise ReportError(f"the crawl could not run the report ({str(result.get('status'))[:40]})")
    output = result.get("output")
    if not isinstance(output, str) or len(output) > 4096:
        raise ReportError("the crawl's counters are not one short line")
    try:
        data = json.loads(output)
    except (ValueError, RecursionError):
        raise ReportError("the crawl's counters are not JSON") from None
    if not isinstance(data, dict) or _count(data, "pid") != report.pid:
        raise ReportError("the crawl's counters are not this crawl's")
    return replace(
        report,
        enqueued=_count(data, "enqueued"),
        dequeued=_count(data, "dequeued"),
        filtered=_count(data, "filtered"),
        items=_count(data, "items"),
    )
