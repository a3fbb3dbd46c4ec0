"""Small formatting helpers shared by panels (all output is sanitised)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from functools import partial

from rich.cells import cell_len, get_character_cell_size
from rich.text import Text

from workbench.core.browser.model import asks_for_browser
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
from workbench.ui.widgets.record_table import FitCell

URL_LIMIT = 2000
ELLIPSIS = "…"
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]{0,9}://[^\s<>()\[\]{}\"',]+")


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
    if fate is None:  # a plain download; marked when the headless browser fetched it
        if flow.inline is not None:  # or awaited in a callback (~inline)
            return Text("inline", style="cyan")
        return Text("browser", style="cyan") if asks_for_browser(flow.meta) else Text("")
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


# -- URLs in narrow columns ---------------------------------------------------


def _head(text: str, width: int) -> str:
    """The longest start of ``text`` that takes at most ``width`` cells."""
    used = 0
    for index, char in enumerate(text):
        used += get_character_cell_size(char)
        if used > width:
            return text[:index]
    return text


def _tail(text: str, width: int) -> str:
    """The longest end of ``text`` that takes at most ``width`` cells."""
    return _head(text[::-1], width)[::-1]


def elide_middle(text: str, width: int) -> str:
    """``text`` in ``width`` cells: its start, "…", its end (the end gets two
    thirds: a URL's last segment and query tell rows apart)."""
    if cell_len(text) <= width:
        return text
    if width <= 1:
        return ELLIPSIS[:width]
    head = (width - 1) // 3
    tail = _tail(text, width - 1 - head)
    return _head(text, width - 1 - cell_len(tail)) + ELLIPSIS + tail


def origin_of(url: str) -> str:
    """The scheme and host of ``url`` ("http://127.0.0.1:8123"); "" without a scheme."""
    start = url.find("://")
    if start <= 0:
        return ""
    end = len(url)
    for stop in "/?#":
        found = url.find(stop, start + 3)
        if 0 <= found < end:
            end = found
    return url[:end]


def fit_url(url: str, width: int, origin: str = "", longest: int = 0) -> str:
    """``url`` in ``width`` cells, keeping what tells the rows of a column apart.

    Whole when it fits, and when every URL of the column does (``longest``, the
    longest seen, in cells).  Otherwise without ``origin``, the scheme and host
    every row shares (the column's header names it), or, when the hosts differ,
    without its scheme; and if that is still too long, with its middle elided:
    the start, "…", then the end of the path and the query.  Never cut at the
    end, where ``http://127.0.0.1:8123/product/12`` and ``…/product/13`` differ.
    """
    if width <= 0:
        return ""
    if max(longest, cell_len(url)) <= width:
        return url
    if origin and url.startswith(origin) and len(url) > len(origin):
        rest = url[len(origin) :]
    else:
        scheme = url.find("://")
        rest = url[scheme + 3 :] if 0 < scheme <= 10 else url
    return elide_middle(rest, width)


def url_cell(url: str, prefix: str = "", style: str = "") -> FitCell:
    """A cell for one URL with no column of URLs to compare with (each row a
    different host): ``prefix``, then the URL without its scheme and with its
    middle elided when it does not fit."""
    return FitCell(clean_line(url, URL_LIMIT), partial(_fit_after, prefix), style)


def _fit_after(prefix: str, url: str, width: int) -> str:
    room = width - cell_len(prefix)
    return prefix + fit_url(url, room) if room > 0 else _head(prefix, width)


class UrlFit:
    """What the URLs of one column share, so that every row is fitted alike:
    the origin all of them have (None once two differ) and the longest.

    A panel shows each URL as :meth:`cell`, the column's header as
    :meth:`header`, calls :meth:`see` with the URLs of the rows it adds
    (:meth:`reset` first when it replaces them all) and, when ``see`` says the
    fitting changed, ``restyle()``-s the table (rows drawn before are cached).
    """

    __slots__ = ("longest", "mixed", "origin")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.origin = ""
        self.mixed = False
        self.longest = 0

    def see(self, urls: Iterable[str]) -> bool:
        """Note the URLs of rows added; True if rows already drawn may change."""
        before = (self.origin, self.longest)
        for url in urls:
            if len(url) > self.longest:
                self.longest = min(len(url), URL_LIMIT)
            if self.mixed:
                continue
            origin = origin_of(url)
            if not self.origin:
                self.origin = origin
            elif origin != self.origin:
                self.origin, self.mixed = "", True
        return (self.origin, self.longest) != before

    def see_text(self, texts: Iterable[str]) -> bool:
        """Note the URLs inside lines of text (log messages) added; True if rows
        already drawn may change.  ``longest`` is then the longest such line."""
        before = (self.origin, self.longest)
        for text in texts:
            end = text.find("\n", 0, URL_LIMIT)  # the first line is the row's
            end = URL_LIMIT if end < 0 else end
            if "://" not in text[:end]:
                continue
            self.longest = max(self.longest, min(len(text), end))
            self.see(match.group() for match in _URL_IN_TEXT.finditer(text, 0, end))
        return (self.origin, self.longest) != before

    @property
    def shared(self) -> str:
        """The origin every URL has ("" when they differ, or when there are none)."""
        return "" if self.mixed else self.origin

    def fit(self, url: str, width: int) -> str:
        return fit_url(url, width, self.shared, self.longest)

    def cell(self, url: str, style: str = "") -> FitCell:
        """A table cell for ``url`` (sanitised here)."""
        return FitCell(clean_line(url, URL_LIMIT), self.fit, style)

    def text_cell(self, text: str, style: str = "") -> FitCell:
        """A cell for a line of text with URLs in it (sanitised already): when it
        does not fit, its URLs lose the shared origin (or their scheme)."""
        return FitCell(text, self.fit_text, style)

    def fit_text(self, text: str, width: int) -> str:
        """Every row alike: when the longest line does not fit, the URLs of every
        line lose the shared origin (the header names it); when the hosts differ,
        a line too long loses its URLs' schemes."""
        if "://" not in text:
            return text
        shared = self.shared if self.longest > width else ""
        if not shared and cell_len(text) <= width:
            return text

        def shorter(match: re.Match[str]) -> str:
            url = match.group()
            if shared and url.startswith(shared) and len(url) > len(shared):
                return url[len(shared) :]
            return url[url.find("://") + 3 :]

        return _URL_IN_TEXT.sub(shorter, text)

    def header(self, title: str) -> FitCell:
        """The column's header: ``title``, and the shared origin when rows leave it out."""
        return FitCell(title, self._header)

    def _header(self, title: str, width: int) -> str:
        """``URL on http://host:port`` (or ``on host:port``) when the rows leave
        the shared origin out; the title alone when neither fits."""
        shared = clean_line(self.shared, 200)
        if shared and self.longest > width:
            host = shared[shared.find("://") + 3 :]
            for header in (f"{title} on {shared}", f"{title} on {host}"):
                if cell_len(header) <= width:
                    return header
        return title
