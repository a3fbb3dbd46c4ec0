"""Small formatting helpers shared by panels (all output is sanitised)."""

from __future__ import annotations

import time

from rich.text import Text

from workbench.core.formats.sanitize import clean_line
from workbench.core.inspection.body import human_size
from workbench.core.recording.fates import (
    GAVE_UP,
    MAXSIZE,
    NEVER_DOWNLOADED,
    RETRIED,
    fate_label,
)
from workbench.core.recording.records import Flow

URL_LIMIT = 2000


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"


def size(n: int | None) -> str:
    if not n:
        return "0"
    return human_size(n).replace(" ", "")


def latency(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.2f}s"


# What a download error is, in the seven columns of Status: the inner Twisted
# failure first (Scrapy 2.19 wraps them in DownloadFailedError), then the outer.
ERROR_LABELS = (
    ("ConnectionRefused", "refused"),
    ("DNSLookupError", "DNS"),
    ("DownloadTimeoutError", "timeout"),
    ("TCPTimedOut", "timeout"),
    ("TimeoutError", "timeout"),
    ("ResponseDataLoss", "partial"),
    ("_DataLoss", "partial"),
    ("ParseError", "garbled"),
    ("ConnectionDone", "dropped"),
    ("ConnectionLost", "dropped"),
    ("ResponseNeverReceived", "dropped"),
    ("SSL", "TLS"),
    ("TunnelError", "tunnel"),
    ("IgnoreRequest", "ignored"),
    # a browser's (a HAR's _error)
    ("ERR_NAME_NOT_RESOLVED", "DNS"),
    ("ERR_CONNECTION_REFUSED", "refused"),
    ("ERR_TIMED_OUT", "timeout"),
    ("ERR_CONNECTION_RESET", "dropped"),
    ("ERR_CERT", "TLS"),
)


def error_label(error: str | None) -> str:
    """A short name for a download error (the Error tab has the whole of it)."""
    head = (error or "error")[:400]
    for needle, label in ERROR_LABELS:
        if needle in head:
            return label
    if head.startswith("net::ERR_"):  # a browser's: ERR_ABORTED, ERR_BLOCKED_BY_CLIENT...
        words = head[9:].replace("_", " ").split()
        return words[0].lower() if words else "error"
    return head.split(":", 1)[0]


def status_cell(flow: Flow) -> Text:
    if flow.fate is not None and flow.fate in NEVER_DOWNLOADED:
        return Text("—", style="dim")  # never sent: the Fate column says why
    if flow.status is None or flow.error is not None:  # failed, or dropped once downloaded
        return Text(clean_line(error_label(flow.error), 40), style="bold red")
    style = "green"
    if flow.status >= 500:
        style = "bold red"
    elif flow.status >= 400:
        style = "red"
    elif flow.status >= 300:
        style = "yellow"
    label = str(flow.status)
    if flow.callback_error:
        return Text(label + " ✗", style="bold red")
    return Text(label, style=style)


FATE_STYLES = {RETRIED: "yellow", GAVE_UP: "bold red", MAXSIZE: "bold red"}


def fate_cell(flow: Flow) -> Text:
    """The Fate column: empty for a plain download; what became of the request."""
    fate = flow.fate
    if fate is None:
        return Text("")
    style = "bold magenta" if fate in NEVER_DOWNLOADED else FATE_STYLES.get(fate, "")
    return Text(fate_label(flow), style=style)


def never_downloaded_summary(fates: dict[str, int], shown: int = 3) -> str:
    """ "never downloaded: 40 duplicate, 3 offsite" (the most frequent first)."""
    counts = sorted(
        ((n, fate) for fate, n in fates.items() if fate in NEVER_DOWNLOADED and n),
        key=lambda pair: (-pair[0], pair[1]),
    )
    if not counts:
        return ""
    words = [f"{n:,} {fate}" for n, fate in counts[:shown]]
    if len(counts) > shown:
        words.append(f"{sum(n for n, _ in counts[shown:]):,} other")
    return "never downloaded: " + ", ".join(words) + " (~dropped)"


def safe(text: object, limit: int = URL_LIMIT) -> str:
    return clean_line(str(text), limit)


def number(n: float) -> str:
    return f"{n:,.0f}"


def count(n: int, noun: str) -> str:
    """``n`` and the noun, plural unless one: "1 item", "1,200 requests"."""
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"
