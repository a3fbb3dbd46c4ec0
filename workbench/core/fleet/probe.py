"""What the fleet reads from a running crawl: one fixed piece of code sent
through RemoteControl's ``/execute`` every poll, and its answer checked.

The code installs nothing (no receiver, no hook, nothing in the stash): it
reads Scrapy's stats, the engine's slot and scheduler lengths and the
process's RSS, and prints one JSON line.  Its cost to the crawl is one
``/execute`` per poll (see ``benchmarks/README.md``, "The fleet").

The answer is untrusted: :func:`read_probe` keeps only the fields it names,
of the types it expects (numbers finite and bounded, text short); anything
else is a :class:`ProbeError` with one line that shows none of the answer.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

# Fixed text: no value from the user or a job file is ever formatted into it.
PROBE_CODE = r"""
import json as _j, os as _o, time as _t
_s = getattr(crawler, "stats", None)
_v = _s.get_stats() if _s is not None else {}
_e = getattr(crawler, "engine", None)
_slot = getattr(_e, "_slot", None) if _e is not None else None
_sch = getattr(_slot, "scheduler", None) if _slot is not None else None
_r = {"pid": _o.getpid(), "time": _t.time(), "in_flight": None, "queue": None}
if _slot is not None:
    _r["in_flight"] = len(_slot.inprogress)
try:
    _r["queue"] = len(_sch) if _sch is not None else None
except Exception:
    pass
if _sch is not None:
    _r["scheduler"] = type(_sch).__module__ + "." + type(_sch).__qualname__
    _q = getattr(_sch, "queue", None)
    _k = getattr(_q, "key", None)
    if isinstance(_k, str):
        _r["queue_key"] = _k
if _e is None or not getattr(_e, "running", False):
    _r["state"] = "closing" if _v.get("finish_reason") else "starting"
elif _slot is not None and getattr(_slot, "closing", None) is not None:
    _r["state"] = "closing"
elif getattr(_e, "paused", False):
    _r["state"] = "paused"
else:
    _r["state"] = "running"
_st = _v.get("start_time")
_r["start_time"] = _st.timestamp() if hasattr(_st, "timestamp") else None
for _n, _k in (("pages", "response_received_count"), ("items", "item_scraped_count"),
               ("errors", "log_count/ERROR"), ("retries", "retry/count")):
    _r[_n] = _v.get(_k, 0)
_r["finish_reason"] = _v.get("finish_reason")
try:
    with open("/proc/self/statm") as _f:
        _r["rss"] = int(_f.read().split()[1]) * _o.sysconf("SC_PAGE_SIZE")
except Exception:
    try:
        import resource as _res, sys as _sys
        _m = _res.getrusage(_res.RUSAGE_SELF).ru_maxrss
        _r["rss"] = _m if _sys.platform == "darwin" else _m * 1024
    except Exception:
        _r["rss"] = None
print(_j.dumps(_r, default=str))
"""

MAX_COUNT = 2**53  # a count no crawl reaches
MAX_TEXT = 200
STATES = ("running", "paused", "closing", "starting")


class ProbeError(ValueError):
    """The crawl's answer to the probe is not what the probe prints."""


@dataclass(frozen=True)
class Reading:
    """A crawl's counters at one moment (its own clock in ``time``)."""

    pid: int
    time: float
    state: str
    start_time: float | None
    pages: int
    items: int
    errors: int
    retries: int
    in_flight: int | None
    queue: int | None
    rss: int | None
    finish_reason: str | None = None
    scheduler: str | None = None
    queue_key: str | None = None


def _count(data: dict[str, Any], key: str, optional: bool = False) -> int | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_COUNT:
        raise ProbeError(f"the crawl's {key} is not a count")
    return value


def _time(data: dict[str, Any], key: str, optional: bool = False) -> float | None:
    value = data.get(key)
    if value is None and optional:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value < 1e11
    ):
        raise ProbeError(f"the crawl's {key} is not a time")
    return float(value)


def _text(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ProbeError(f"the crawl's {key} is not text")
    return value[:MAX_TEXT]


def read_probe(result: dict[str, Any]) -> Reading:
    """The probe's reading from an ``/execute`` result, checked field by field."""
    status = result.get("status")
    if status == "timeout":
        raise ProbeError("the crawl did not run the probe in time (its loop may be busy)")
    if status != "ok":
        raise ProbeError(f"the crawl could not run the probe ({str(status)[:40]})")
    output = result.get("output")
    if not isinstance(output, str) or len(output) > 64 * 1024:
        raise ProbeError("the crawl's answer to the probe is not one short line")
    try:
        data = json.loads(output)
    except (ValueError, RecursionError):
        raise ProbeError("the crawl's answer to the probe is not JSON") from None
    if not isinstance(data, dict):
        raise ProbeError("the crawl's answer to the probe is not a JSON object")
    state = data.get("state")
    if state not in STATES:
        raise ProbeError("the crawl's state is not one the probe reports")
    pid = _count(data, "pid")
    assert pid is not None
    return Reading(
        pid=pid,
        time=_time(data, "time") or 0.0,
        state=str(state),
        start_time=_time(data, "start_time", optional=True),
        pages=_count(data, "pages") or 0,
        items=_count(data, "items") or 0,
        errors=_count(data, "errors") or 0,
        retries=_count(data, "retries") or 0,
        in_flight=_count(data, "in_flight", optional=True),
        queue=_count(data, "queue", optional=True),
        rss=_count(data, "rss", optional=True),
        finish_reason=_text(data, "finish_reason"),
        scheduler=_text(data, "scheduler"),
        queue_key=_text(data, "queue_key"),
    )
