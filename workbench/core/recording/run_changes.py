"""What changed since the last run: :func:`compare` two run summaries
(:mod:`workbench.core.recording.runs`) into the few lines worth reading.

Only meaningful changes are said, each one line (:class:`Change`), the most
telling first:

- the finish reason, when it differs (``finish reason finished → closespider_timeout``);
- pages, items, dropped items, logged errors, when they moved by more than a
  threshold (``items -25% (400 → 300)``, with a real minus sign, ``errors 12 (none before)``);
- new error groups, and those gone
  (``new error KeyError: 'price' at spiders/shop.py:42 (36 times)``);
- a field's fill rate that moved by 5 points or more (``title fill rate 100% → 86% (Product)``),
  a new or vanished item type;
- Scrapy's other stats: a key that is new (``offsite/filtered: new (100)``) or
  gone, or that moved by a quarter or more *per page*, so a shorter run does
  not flag every counter; the request fates Scrapy keeps no stat of (beyond
  ``DEPTH_LIMIT``, still pending, ignored, dropped by the scheduler, over
  ``DOWNLOAD_MAXSIZE``) likewise.

While the current crawl runs (``current.finished`` is None) the counts are
compared per page, once it has :data:`MIN_LIVE_PAGES` pages (or half the last
run's), by a quarter at least (the mix of pages differs mid-crawl: listings
first), and what cannot be known yet (a stat gone, the finish reason, the
duration) is not said.  Texts are made safe for a terminal here (stats keys,
field names and error messages come from the crawl).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.core.formats.sanitize import clean_line
from workbench.core.recording.runs import (
    ERRORS,
    ITEMS,
    ITEMS_DROPPED,
    PAGES,
    REQUESTS,
    RunSummary,
)

WORSE, BETTER, INFO = "worse", "better", "info"
MIN_LIVE_PAGES = 20  # pages before a running crawl is compared per page
MIN_LIVE_ITEMS = 10  # items of a type before its fill rates are compared live
LIVE_SHARE = 0.25  # a count per page moving less than this while running is noise
FILL_POINTS = 0.05  # a fill rate moving less than this is noise
STAT_SHARE = 0.25  # another stat moving less than this (per page) is noise
STAT_MIN = 3  # ... or by fewer than this many
MAX_CHANGES = 40
TEXT = 120  # characters of a stats key, a field, an error in a line

# (what, stats key, more is: +1 better, -1 worse, 0 neither; threshold share)
HEADLINE = (
    ("pages", PAGES, 0, 0.10),
    ("items", ITEMS, +1, 0.10),
    ("dropped items", ITEMS_DROPPED, -1, 0.25),
    ("errors", ERRORS, -1, 0.25),
)
# stats not compared on their own: the headline's, times and sizes, and the
# counters that follow the number of pages (requests, responses, the scheduler's)
NOT_COMPARED = {
    PAGES, ITEMS, ITEMS_DROPPED, ERRORS, REQUESTS,
    "downloader/response_count", "downloader/request_bytes", "downloader/response_bytes",
    "httpcompression/response_bytes", "httpcompression/response_count",
    "elapsed_time_seconds", "log_count/DEBUG", "log_count/INFO", "response_received_count",
    "scheduler/enqueued", "scheduler/dequeued", "scheduler/enqueued/memory",
    "scheduler/dequeued/memory", "scheduler/enqueued/disk", "scheduler/dequeued/disk",
    "downloader/request_method_count/GET", "downloader/response_status_count/200",
    "item_scraped_count", "start_requests/count", "spider_exceptions/count",
    "items_per_minute", "responses_per_minute",  # rates, not counts (the duration says it)
}  # fmt: skip
NOT_COMPARED_PREFIXES = ("memusage/", "request_depth_count/", "httpcache/", "urllength/")
# more of these is worse
_BAD = re.compile(
    r"error|exception|fail|retry|timeout|filtered|dropped|ignored|forbidden|max_reached|"
    r"maxsize|warnsize|/[45]\d\d$|log_count/(warning|critical)$",
    re.IGNORECASE,
)
# the fates Scrapy keeps no stat of (the others: dupefilter/filtered, offsite/filtered,
# robotstxt/forbidden, retry/count, retry/max_reached)
FATE_WORDS = {
    "depth": "requests beyond DEPTH_LIMIT",
    "pending": "requests still pending at the end",
    "ignored": "requests ignored by a middleware",
    "scheduler": "requests dropped by the scheduler",
    "maxsize": "responses over DOWNLOAD_MAXSIZE",
}


@dataclass(frozen=True, slots=True)
class Change:
    """One thing that changed since the last run, said in one line."""

    kind: str  # reason, count, error, field, stat, fate
    subject: str  # the stats key, "Type.field", the error's label...
    text: str  # the line, safe for a terminal
    tone: str  # WORSE, BETTER or INFO
    rank: int = 5  # the lower, the earlier it is said

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "subject": self.subject, "text": self.text, "tone": self.tone}


@dataclass(frozen=True, slots=True)
class RunComparison:
    """The current run (live or over) against the previous run of the same spider."""

    previous: RunSummary
    current: RunSummary
    changes: tuple[Change, ...]

    @property
    def live(self) -> bool:
        return self.current.finished is None

    @property
    def worse(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.tone == WORSE)

    @property
    def too_early(self) -> bool:
        """Running, with too few pages yet to compare the counts per page."""
        return self.live and not _enough(self.previous, self.current)


def compare_runs(previous: RunSummary, current: RunSummary) -> RunComparison:
    return RunComparison(previous, current, tuple(compare(previous, current)))


def compare(previous: RunSummary, current: RunSummary) -> list[Change]:
    """The meaningful changes from ``previous`` to ``current``, the most telling first."""
    live = current.finished is None
    changes: list[Change] = []
    if not live:
        changes += _reason(previous, current)
    enough = _enough(previous, current)
    changes += _headline(previous, current, live, enough)
    changes += _errors(previous, current, live)
    changes += _fields(previous, current, live)
    changes += _stats(previous, current, live, enough)
    changes += _fates(previous, current, live, enough)
    if not live:
        changes += _duration(previous, current)
    changes.sort(key=lambda c: c.rank)
    return changes[:MAX_CHANGES]


# -- the parts -----------------------------------------------------------------------


def _enough(previous: RunSummary, current: RunSummary) -> bool:
    if current.finished is not None:
        return True
    pages = current.pages
    return pages >= MIN_LIVE_PAGES or (previous.pages > 0 and pages * 2 >= previous.pages)


def _reason(previous: RunSummary, current: RunSummary) -> list[Change]:
    old, new = previous.finish_reason, current.finish_reason
    if old == new or new is None:
        return []
    tone = BETTER if new == "finished" else WORSE
    text = f"finish reason {_safe(old or '?')} → {_safe(new)}"
    return [Change("reason", "finish_reason", text, tone, 0)]


def _headline(previous: RunSummary, current: RunSummary, live: bool, enough: bool) -> list[Change]:
    out = []
    for what, key, direction, share in HEADLINE:
        old, new = previous.stat(key), current.stat(key)
        if live:
            if key == PAGES:
                continue  # a running crawl has fewer pages so far: no news
            if old == 0 and new > 0:  # none in the whole last run: new already
                text = f"{what}: {_n(new)} so far (none in the last run)"
                out.append(Change("count", key, text, _tone(direction, +1), 1))
                continue
            if not enough or old == 0:
                continue
            rate_old, rate_new = old / max(previous.pages, 1), new / max(current.pages, 1)
            # mid-crawl the mix of pages differs (listings come first): a wider margin
            moved = _moved(rate_old, rate_new, max(share, LIVE_SHARE))
            if moved is None:
                continue
            text = f"{what} per page {_pct(moved)} ({_rate(rate_old)} → {_rate(rate_new)})"
            out.append(Change("count", key, text, _tone(direction, moved), 1))
            continue
        if old == new:
            continue
        if old == 0:
            text = f"{what}: {_n(new)} (none before)"
            out.append(Change("count", key, text, _tone(direction, +1), 1))
        elif new == 0:
            text = f"{what}: none ({_n(old)} before)"
            out.append(Change("count", key, text, _tone(direction, -1), 1))
        else:
            moved = _moved(old, new, share, minimum=2)
            if moved is None:
                continue
            text = f"{what} {_pct(moved)} ({_n(old)} → {_n(new)})"
            out.append(Change("count", key, text, _tone(direction, moved), 1))
    return out


def _errors(previous: RunSummary, current: RunSummary, live: bool) -> list[Change]:
    before = {e.key: e for e in previous.errors}
    now = {e.key: e for e in current.errors}
    out = []
    for key, group in now.items():
        if key not in before:
            text = f"new error {_safe(group.label())} ({_n(group.count)}×)"
            out.append(Change("error", group.label(), text, WORSE, 2))
    if not live and previous.errors and (current.errors or not current.cut):
        for key, group in before.items():
            if key not in now:
                text = f"error gone: {_safe(group.label())} ({_n(group.count)}× before)"
                out.append(Change("error", group.label(), text, BETTER, 6))
    return out


def _fields(previous: RunSummary, current: RunSummary, live: bool) -> list[Change]:
    before = {(f.item_type, f.field): f for f in previous.fields}
    now = {(f.item_type, f.field): f for f in current.fields}
    types_before = {f.item_type: f.total for f in previous.fields}
    types_now = {f.item_type: f.total for f in current.fields}
    out = []
    for key, rate in now.items():
        old = before.get(key)
        if live and rate.total < MIN_LIVE_ITEMS:
            continue
        subject = f"{rate.item_type}.{rate.field}"
        if old is None or old.total == 0:
            if rate.item_type in types_before and old is None:
                text = f"new field {_safe(subject)} (filled in {_share(rate.fill_rate)})"
                out.append(Change("field", subject, text, INFO, 7))
            continue
        moved = rate.fill_rate - old.fill_rate
        if abs(moved) < FILL_POINTS:
            continue
        text = (
            f"{_safe(rate.field)} fill rate {_share(old.fill_rate)} → {_share(rate.fill_rate)}"
            f" ({_safe(rate.item_type)})"
        )
        out.append(Change("field", subject, text, WORSE if moved < 0 else BETTER, 3))
    for item_type, total in types_now.items():
        if item_type not in types_before and previous.fields:
            text = f"new item type {_safe(item_type)} ({_n(total)})"
            out.append(Change("field", item_type, text, INFO, 7))
    if not live and not current.cut and not previous.cut:
        for item_type, total in types_before.items():
            if item_type not in types_now:
                text = f"item type {_safe(item_type)}: none ({_n(total)} before)"
                out.append(Change("field", item_type, text, WORSE, 3))
    return out


def compared_stat(key: str) -> bool:
    return key not in NOT_COMPARED and not key.startswith(NOT_COMPARED_PREFIXES)


def _stats(previous: RunSummary, current: RunSummary, live: bool, enough: bool) -> list[Change]:
    out = []
    keys = [k for k in {**previous.stats, **current.stats} if compared_stat(k)]
    if previous.errors or current.errors:  # the error groups say it, and better
        keys = [k for k in keys if not k.startswith("spider_exceptions/")]
    for key in sorted(keys):
        change = _counter(key, key, previous.stat(key), current.stat(key), previous, current,
                          live, enough, "stat")  # fmt: skip
        if change is not None:
            out.append(change)
    return out


def _fates(previous: RunSummary, current: RunSummary, live: bool, enough: bool) -> list[Change]:
    if not previous.fates and not current.fates:
        return []  # neither counted them (several crawlers in one process)
    out = []
    for fate, words in FATE_WORDS.items():
        old, new = previous.fates.get(fate, 0), current.fates.get(fate, 0)
        if fate == "pending" and live:
            continue  # counted when the crawl ends
        change = _counter(words, fate, old, new, previous, current, live, enough, "fate")
        if change is not None:
            out.append(change)
    return out


def _counter(
    label: str,
    subject: str,
    old: float,
    new: float,
    previous: RunSummary,
    current: RunSummary,
    live: bool,
    enough: bool,
    kind: str,
) -> Change | None:
    """A counter compared: new, gone, or moved per page (see the module)."""
    direction = -1 if _BAD.search(subject) or kind == "fate" else 0
    name = _safe(label)
    if old == new:
        return None
    if old == 0:
        so_far = " so far" if live else ""
        return Change(kind, subject, f"{name}: new ({_n(new)}{so_far})", _tone(direction, +1), 4)
    if new == 0:
        if live:
            return None  # may come yet
        return Change(kind, subject, f"{name}: gone ({_n(old)} before)", _tone(direction, -1), 6)
    if not enough:
        return None
    per_old = old / max(previous.pages, 1)
    per_new = new / max(current.pages, 1)
    if max(old, new) < STAT_MIN or (abs(new - old) < STAT_MIN and not live):
        return None
    moved = _moved(per_old, per_new, STAT_SHARE)
    if moved is None:
        return None
    similar = previous.pages and abs(current.pages - previous.pages) <= 0.1 * previous.pages
    if similar and not live:
        text = f"{name} {_pct(moved)} ({_n(old)} → {_n(new)})"
    else:
        text = f"{name} per page {_pct(moved)} ({_rate(per_old)} → {_rate(per_new)})"
    return Change(kind, subject, text, _tone(direction, moved), 5)


def _duration(previous: RunSummary, current: RunSummary) -> list[Change]:
    old, new = previous.duration, current.duration
    if not old or new is None or abs(new - old) < 10:
        return []
    moved = _moved(old, new, 0.5)
    if moved is None:
        return []
    text = f"took {_pct(moved)} ({clock(old)} → {clock(new)})"
    return [Change("count", "duration", text, _tone(-1, moved), 8)]


# -- words -----------------------------------------------------------------------------


def _moved(old: float, new: float, share: float, minimum: float = 0) -> float | None:
    """The relative change, when it is at least ``share`` (and ``minimum`` apart)."""
    if old == 0 or abs(new - old) < minimum:
        return None
    moved = (new - old) / old
    return moved if abs(moved) >= share else None


def _tone(direction: int, moved: float) -> str:
    if direction == 0 or moved == 0:
        return INFO
    return BETTER if (moved > 0) == (direction > 0) else WORSE


def _pct(moved: float) -> str:
    """``+12%``, ``-25%`` (with U+2212, a real minus sign), or a factor (U+00D7 3.5)
    past +250%."""
    if moved > 2.5:
        return f"×{moved + 1:.1f}"
    value = round(moved * 100)
    if value == 0:
        value = 1 if moved > 0 else -1
    return f"+{value}%" if value > 0 else f"−{-value}%"


def _share(rate: float) -> str:
    """A fill rate: never 100% or 0% unless exactly so."""
    value = rate * 100
    if rate >= 1:
        return "100%"
    if rate <= 0:
        return "0%"
    if value > 99:
        return f"{value:.1f}%"
    if value < 1:
        return f"{value:.1f}%"
    return f"{value:.0f}%"


def _n(value: float) -> str:
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.2f}"


def _rate(value: float) -> str:
    return f"{value:.2f}" if value < 100 else f"{value:,.0f}"


def clock(seconds: float) -> str:
    """A duration: ``0.8 s``, ``12 s``, ``1:05`` (minutes), ``1:02:03`` (hours)."""
    if seconds < 10:
        return f"{seconds:.1f} s"
    if seconds < 60:
        return f"{seconds:.0f} s"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:d}:{secs:02d}"


def _safe(text: str) -> str:
    return clean_line(text, TEXT)


def short(changes: tuple[Change, ...] | list[Change], width: int) -> str:
    """The changes as one line of at most ``width`` characters (``workbench runs``):
    as many as fit, then how many more."""
    if not changes:
        return "no change"
    out: list[str] = []
    for n, change in enumerate(changes):
        rest = len(changes) - n - 1
        line = ", ".join([*out, change.text])
        if len(line) + (len(f", +{rest} more") if rest else 0) <= width:
            out.append(change.text)
            continue
        if not out:
            return change.text[: max(width - 1, 0)] + "…"
        return ", ".join(out) + f", +{len(changes) - n} more"
    return ", ".join(out)
