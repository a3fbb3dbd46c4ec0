"""Several crawlers' readings as one, for :class:`~workbench.core.sources.multi.MultiSource`
when its scope is all of them: one state (:func:`combined_state`), one set of
Scrapy stats (:func:`summed_stats`), one pace series second by second
(:func:`merged_series`), and a crawler's slot keys told apart as
``spider/slot`` (:data:`SEP`, :func:`prefixed`).

Pure functions on the core's views and plain dicts: no crawler, no host.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from workbench.core.control.pace import PacePoint

SEP = "/"  # between a crawler's spider and one of its slots: "books/127.0.0.1"

# the order in which the states of several crawlers sum up to one
_STATE_ORDER = ("running", "closing", "starting", "paused", "failed", "finished")


def combined_state(states: list[str]) -> str:
    """One state for several crawlers: running while any runs, paused when every
    live one is, finished when all are (failed when one failed)."""
    live = [s for s in states if s not in ("finished", "failed")]
    if not live:
        return "failed" if "failed" in states else "finished"
    return min(live, key=_STATE_ORDER.index)


def summed_stats(all_stats: list[dict[str, Any]]) -> dict[str, Any]:
    """Scrapy stats of several crawlers as one: counts summed; peaks and times the
    largest; start the earliest; anything else kept when all agree."""
    out: dict[str, Any] = {}
    for stats in all_stats:
        for key, value in stats.items():
            if key not in out:
                out[key] = value
                continue
            old = out[key]
            if key == "start_time":
                out[key] = min(old, value)
            elif key == "finish_time":
                out[key] = max(old, value)
            elif not _number(value) or not _number(old):
                if key == "finish_reason" and old != value:
                    out[key] = f"{old}, {value}"
                elif not _number(old) and _number(value):  # e.g. None: under a minute
                    out[key] = value
            elif _largest(key):
                out[key] = max(old, value)
            else:
                out[key] = old + value
    return out


def merged_series(series: list[tuple[PacePoint, ...]]) -> tuple[PacePoint, ...]:
    """Several crawlers' whole-crawl pace as one, second by second: responses and
    rates added, the delay the mean of the crawlers', the latency weighted by
    responses.  Each crawler samples on its own timer, so a second may hold two of
    its points (their responses add up, the rest is the later one's) or none (its
    last point stands in, with no responses)."""
    own: list[dict[int, PacePoint]] = []
    for points in series:
        seconds: dict[int, PacePoint] = {}
        for point in points:
            second = int(point.time)
            earlier = seconds.get(second)
            if earlier is not None:  # two samples in one second: keep every response
                responses = earlier.responses + point.responses
                latency = _weighted([earlier, point])
                point = dataclasses.replace(point, responses=responses, latency=latency)
            seconds[second] = point
        own.append(seconds)
    everything = sorted({second for seconds in own for second in seconds})
    last: list[PacePoint | None] = [None] * len(own)
    out = []
    for second in everything:
        current: list[PacePoint] = []
        for n, seconds in enumerate(own):
            here = seconds.get(second)
            before = last[n]
            if here is None and before is not None:  # no sample this second
                here = dataclasses.replace(before, responses=0, latency=None)
            if here is not None:
                last[n] = here
                current.append(here)
        out.append(
            PacePoint(
                time=second + 0.999,
                delay=sum(p.delay for p in current) / len(current),
                concurrency=sum(p.concurrency for p in current),
                active=sum(p.active for p in current),
                transferring=sum(p.transferring for p in current),
                responses=sum(p.responses for p in current),
                rate=sum(p.rate for p in current),
                latency=_weighted(current),
            )
        )
    return tuple(out)


def _weighted(points: list[PacePoint]) -> float | None:
    """The mean latency of these points' responses."""
    answered = [(p.latency, p.responses) for p in points if p.latency is not None and p.responses]
    weight = sum(responses for _, responses in answered)
    return sum(latency * responses for latency, responses in answered) / weight if weight else None


def _largest(key: str) -> bool:
    """Stats that are not added up: peaks, times, and the log counts (each
    crawler's LogCounterHandler sits on the root logger and counts every line)."""
    return "max" in key or "elapsed" in key or "startup" in key or key.startswith("log_count/")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def prefixed(record: Any, name: str) -> Any:
    """A record with a ``slot`` (a queued request, a queue's slot group) under its
    crawler's name: ``books/127.0.0.1``."""
    return dataclasses.replace(record, slot=f"{name}{SEP}{record.slot}")
