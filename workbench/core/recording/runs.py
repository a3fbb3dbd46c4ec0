"""What each run left behind: a :class:`RunSummary` per finished crawl, so the
next run of the same spider can say what changed
(:mod:`workbench.core.recording.run_changes`) and ``workbench runs`` can list them.

A summary holds the figures a user compares between two runs: the times and the
finish reason, Scrapy's numeric stats, the fates (``fates``), each item type's
per-field fill rate (``item_health``, when the recorder counts it) and the error
groups (type, message pattern, where in the user's code, count; when the
recorder groups them).  Nothing else: no URL, no body, no item.

This module holds the summary (its JSON form, read back strictly), how one is
made from a crawl in this process (:func:`summary_of_crawl`), whose it is
(:func:`project_of`, :func:`run_key`: a spider *and* its project, so two
projects' ``myspider`` do not mix) and :func:`when`, a run's time for a person.
Where summaries are kept, and how, is :mod:`workbench.core.recording.run_store`.
"""

from __future__ import annotations

import hashlib
import inspect
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.core.control.late import late

VERSION = 1
MAX_STATS = 400  # numeric stats kept per run
MAX_FIELDS = 200  # item fields (all types) kept per run
MAX_ERRORS = 50  # error groups kept per run
MAX_TEXT = 300  # characters of a stats key, a field name, an error pattern

# the stats a summary names (Scrapy's own keys)
PAGES = "response_received_count"
ITEMS = "item_scraped_count"
ITEMS_DROPPED = "item_dropped_count"
ERRORS = "log_count/ERROR"
REQUESTS = "downloader/request_count"


# -- what a summary holds ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldRate:
    """How often one field of one item type was filled in a run."""

    item_type: str
    field: str
    total: int  # items of the type
    filled: int

    @property
    def fill_rate(self) -> float:
        return self.filled / self.total if self.total else 1.0


@dataclass(frozen=True, slots=True)
class ErrorCount:
    """One group of errors of a run (:mod:`workbench.core.recording.errors`): the
    same exception type, message pattern and place in the user's code."""

    origin: str  # what raised: "callback", "download" or "item" (a pipeline)
    exc_type: str  # the exception's class name, e.g. "KeyError"
    pattern: str  # the message with its varying parts made placeholders
    where: str  # the user's frame ("spiders/shop.py:42 in parse"), or ""
    count: int

    @property
    def key(self) -> tuple[str, str, str, str]:
        return self.origin, self.exc_type, self.pattern, self.where

    def label(self) -> str:
        text = self.exc_type + (f": {self.pattern}" if self.pattern else "")
        if self.where:
            text += f" at {self.where}"
        return text + (f" ({self.origin})" if self.origin and self.origin != "callback" else "")


@dataclass(frozen=True, slots=True)
class RunSummary:
    """One run of one spider, as kept (see the module)."""

    spider: str
    project: str  # the project's directory, or the spider's file outside a project
    started: float  # epoch seconds
    finished: float | None  # None while the crawl runs
    finish_reason: str | None
    stats: dict[str, float] = field(default_factory=dict)  # numeric stats only
    fates: dict[str, int] = field(default_factory=dict)
    fields: tuple[FieldRate, ...] = ()
    errors: tuple[ErrorCount, ...] = ()
    cut: bool = False  # lists were shortened to keep the file under run_store.MAX_FILE
    path: str = ""  # the file it was read from ("" for one not kept)

    def stat(self, key: str) -> float:
        return self.stats.get(key, 0)

    @property
    def pages(self) -> int:
        return int(self.stat(PAGES))

    @property
    def items(self) -> int:
        return int(self.stat(ITEMS))

    @property
    def items_dropped(self) -> int:
        return int(self.stat(ITEMS_DROPPED))

    @property
    def errors_logged(self) -> int:
        return int(self.stat(ERRORS))

    @property
    def requests(self) -> int:
        return int(self.stat(REQUESTS))

    @property
    def duration(self) -> float | None:
        return None if self.finished is None else max(0.0, self.finished - self.started)

    @property
    def key(self) -> str:
        return run_key(self.spider, self.project)

    def to_json(self) -> dict[str, Any]:
        return {
            "version": VERSION,
            "spider": self.spider,
            "project": self.project,
            "started": self.started,
            "finished": self.finished,
            "finish_reason": self.finish_reason,
            "stats": self.stats,
            "fates": self.fates,
            "fields": [[f.item_type, f.field, f.total, f.filled] for f in self.fields],
            "errors": [[e.origin, e.exc_type, e.pattern, e.where, e.count] for e in self.errors],
            "cut": self.cut,
        }

    @classmethod
    def from_json(cls, data: Any, path: str = "") -> RunSummary:
        """A summary read back; ValueError when the data is not one (a file edited,
        truncated or from a later version)."""
        try:
            if not isinstance(data, dict) or data.get("version") != VERSION:
                raise ValueError("not a run summary of this version")
            finished = data["finished"]
            reason = data["finish_reason"]
            return cls(
                spider=_text(data["spider"]),
                project=_text(data["project"]),
                started=_number(data["started"]),
                finished=None if finished is None else _number(finished),
                finish_reason=None if reason is None else _text(reason),
                stats={_text(k): _number(v) for k, v in dict(data["stats"]).items()},
                fates={_text(k): int(_number(v)) for k, v in dict(data["fates"]).items()},
                fields=tuple(
                    FieldRate(_text(t), _text(f), int(_number(n)), int(_number(m)))
                    for t, f, n, m in data["fields"]
                ),
                errors=tuple(
                    ErrorCount(_text(o), _text(k), _text(p), _text(w), int(_number(n)))
                    for o, k, p, w, n in data["errors"]
                ),
                cut=bool(data.get("cut", False)),
                path=path,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a run summary: {exc}") from None


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {type(value).__name__}")
    return value[:MAX_TEXT]


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"expected a number, got {type(value).__name__}")
    return value


# -- making one --------------------------------------------------------------------


def numeric_stats(stats: dict[str, Any]) -> dict[str, float]:
    """Scrapy's stats that are numbers (not times, not text), at most MAX_STATS."""
    out: dict[str, float] = {}
    for key in sorted(stats, key=str):
        value = stats[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if value != value or value in (float("inf"), float("-inf")):
            continue  # NaN and infinities are not JSON
        out[str(key)[:MAX_TEXT]] = value
        if len(out) >= MAX_STATS:
            break
    return out


def field_rates(health: Any) -> tuple[FieldRate, ...]:
    """Each field's fill rate from an item health view (``ItemHealth``: its
    ``rows()`` of ``FieldHealth``), worst first, at most MAX_FIELDS."""
    if health is None:
        return ()
    rates = []
    for row in health.rows()[:MAX_FIELDS]:
        item_type, name = str(row.item_type)[:MAX_TEXT], str(row.field)[:MAX_TEXT]
        rates.append(FieldRate(item_type, name, row.total, row.filled))
    return tuple(rates)


def error_counts(groups: Iterable[Any]) -> tuple[ErrorCount, ...]:
    """Error groups (``ErrorGroup``: ``kind``, ``type``, ``pattern``, ``location``,
    ``count``), the commonest first, at most MAX_ERRORS."""
    out = [
        ErrorCount(
            str(g.kind)[:MAX_TEXT],
            str(g.type)[:MAX_TEXT],
            str(g.pattern)[:MAX_TEXT],
            str(g.location or "")[:MAX_TEXT],
            int(g.count),
        )
        for g in groups
    ]
    out.sort(key=lambda e: -e.count)
    return tuple(out[:MAX_ERRORS])


def summarise(
    spider: str,
    project: str,
    started: float,
    finished: float | None,
    finish_reason: str | None,
    stats: dict[str, Any],
    fates: dict[str, int] | None = None,
    health: Any = None,
    errors: Iterable[Any] = (),
) -> RunSummary:
    return RunSummary(
        spider=str(spider)[:MAX_TEXT],
        project=str(project),
        started=float(started),
        finished=None if finished is None else float(finished),
        finish_reason=None if finish_reason is None else str(finish_reason)[:MAX_TEXT],
        stats=numeric_stats(stats),
        fates={str(k): int(v) for k, v in (fates or {}).items()},
        fields=field_rates(health),
        errors=error_counts(errors),
    )


def project_of(spidercls: Any) -> str:
    """Where a spider belongs: the directory of the ``scrapy.cfg`` above its module,
    or, outside a project (``runspider``, the demo), its module's file; the current
    directory when neither can be told."""
    try:
        path = Path(inspect.getfile(spidercls)).resolve()
    except (TypeError, OSError):
        return str(Path.cwd())
    for directory in path.parents:
        if (directory / "scrapy.cfg").is_file():
            return str(directory)
    return str(path)


def summary_of_crawl(
    crawler: Any,
    recorder: Any,
    started: float,
    finished: float | None,
    shared: bool = False,
    project: str | None = None,
) -> RunSummary:
    """The summary of a crawl in this process, while it runs or once it is over.

    ``shared``: the recorder is shared with other crawlers (``crawl S1 S2``); its
    fates are every crawler's, so they are left out (each crawler's stats say
    what Scrapy counts of them)."""
    spider = getattr(crawler, "spider", None)
    name = getattr(spider, "name", None) or getattr(crawler.spidercls, "name", None) or "?"
    stats_collector = late(crawler, "stats")
    stats = dict(stats_collector.get_stats()) if stats_collector is not None else {}
    reason = stats.get("finish_reason") if finished is not None else None
    return summarise(
        spider=str(name),
        project=project if project is not None else project_of(crawler.spidercls),
        started=started,
        finished=finished,
        finish_reason=None if reason is None else str(reason),
        stats=stats,
        fates=None if shared else dict(getattr(recorder, "fate_counts", {})),
        health=_item_health(recorder, str(name) if shared else None),
        errors=_error_groups(recorder, str(name) if shared else None),
    )


def _item_health(recorder: Any, spider: str | None) -> Any:
    """The recorder's per-field counts (``Recorder.item_health``), when it keeps them."""
    counter = getattr(recorder, "item_health", None)
    if counter is None:
        return None
    return counter.view(spider)


def _error_groups(recorder: Any, spider: str | None) -> list[Any]:
    """The recorder's error groups (``Recorder.errors``), when it groups errors."""
    groups = getattr(recorder, "errors", None)
    if groups is None:
        return []
    return list(groups.view(spider, tracebacks=False).groups)


# -- whose it is ------------------------------------------------------------------


def run_key(spider: str, project: str) -> str:
    """The directory name of a spider's runs: readable, and unique per project."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", spider)[:40].strip(".") or "spider"
    digest = hashlib.sha256(f"{project}\0{spider}".encode("utf-8", "replace")).hexdigest()
    return f"{slug}-{digest[:12]}"


# -- for a person -----------------------------------------------------------------


def when(ts: float, now: float | None = None) -> str:
    """A run's time for a person: ``2025-01-02 14:03`` (local time), and how long ago."""
    stamp = time.strftime("%Y-%m-%d %H:%M", time.localtime(ts))
    ago = (now if now is not None else time.time()) - ts
    if ago < 0:
        return stamp
    if ago < 60:
        rel = "just now"
    elif ago < 3600:
        rel = f"{int(ago // 60)} min ago"
    elif ago < 86400:
        rel = f"{int(ago // 3600)} h ago"
    else:
        rel = f"{int(ago // 86400)} d ago"
    return f"{stamp}, {rel}"
