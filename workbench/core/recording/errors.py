"""Errors grouped as Sentry groups them.

A crawl's errors (a callback's exception, a download error, an item
pipeline's exception) are grouped by the exception's type, the *pattern* of
its message (numbers, URLs, hex ids and quoted values made placeholders) and
the *user's code location*: the innermost frame of the project's own code,
not of the standard library, Scrapy, Twisted, workbench or anything installed
in ``site-packages``.  The same ``ValueError: bad price 3 on http://…/p/3`` on
36 pages is one group of 36, with the first and last time it was seen and a
few example flows.

Grouping happens as each error is recorded (:meth:`ErrorGroups.add`, a few
microseconds: two regular expressions over text the recorder formats anyway,
and a dict lookup); there are at most :data:`MAX_GROUPS` groups, past which a
new kind of error is counted in one catch-all group per kind.

Whose code a frame is, and tracebacks folded to the user's frames, are in
:mod:`workbench.core.recording.tracebacks`.
"""

from __future__ import annotations

import hashlib
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from workbench.core.recording.tracebacks import TYPE_NAME, location_text, user_frame

CALLBACK = "callback"  # the spider's callback (or errback) raised: spider_error
DOWNLOAD = "download"  # the download failed: a downloader middleware saw the exception
ITEM = "item"  # an item pipeline raised: item_error
KINDS = (CALLBACK, DOWNLOAD, ITEM)

MAX_GROUPS = 500  # distinct groups kept; past that, a catch-all group per kind
FIRST_EXAMPLES = 3  # example flows: the first few of a group...
RECENT_EXAMPLES = 7  # ... and the most recent ones
MESSAGE_LIMIT = 500  # characters of a message that go into its pattern
OVERFLOW_PATTERN = "(more distinct errors than workbench keeps groups for)"


# -- message patterns -------------------------------------------------------------

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,15}://[^\s'\"<>()\[\]{}]+")
_UUID = re.compile(r"\b[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}\b")
# 0x… or eight and more hex digits with a digit and a letter among them (not a word)
_HEX = re.compile(
    r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b"
)
# a quoted value: the quote not inside a word ("can't" is not one)
_QUOTED = re.compile(r"(?<![\w'\"])'[^'\n]{0,300}'(?!\w)|(?<![\w'\"])\"[^\"\n]{0,300}\"(?!\w)")
_NUMBER = re.compile(r"(?<![A-Za-z_<])[-+]?\d+(?:[.,]\d+)*")


def message_pattern(message: str) -> str:
    """The message with what varies from one occurrence to the next made
    placeholders: URLs ``<url>``, UUIDs and hex ids ``<hex>``, quoted values
    ``'…'``, numbers ``<n>``."""
    text = message[:MESSAGE_LIMIT]
    if "://" in text:
        text = _URL.sub("<url>", text)
    if "-" in text:
        text = _UUID.sub("<hex>", text)
    text = _HEX.sub("<hex>", text)
    if "'" in text or '"' in text:
        text = _QUOTED.sub("'…'", text)
    return _NUMBER.sub("<n>", text)


def split_error(error: str) -> tuple[str, str]:
    """(type, message) of "Type: message" as the recorder writes them; text that
    does not start with a type (a browser's ``net::ERR_…``) is all message."""
    head, sep, rest = error.partition(": ")
    if sep and TYPE_NAME.fullmatch(head):
        return head.rpartition(".")[2], rest
    if TYPE_NAME.fullmatch(error.strip()):
        return error.strip().rpartition(".")[2], ""
    return "Error", error


@dataclass(frozen=True, slots=True)
class ErrorGroup:
    """One group as a panel shows it (and as it travels from an attached crawl)."""

    key: str  # stable across processes: a hash of what the group is keyed by
    kind: str  # CALLBACK, DOWNLOAD or ITEM
    type: str  # the exception's class name
    pattern: str  # the message's pattern
    location: str | None  # the user's code: "path/file.py:42 in parse"; None when none
    count: int
    first: float  # wall-clock times
    last: float
    message: str  # the most recent occurrence's message
    examples: tuple[int, ...] = ()  # flow ids: the first few, then the most recent
    spider: str | None = None
    traceback: str | None = None  # the first occurrence's (None over the wire)
    varies: bool = True  # the messages differ (False: every one was ``message``)

    @property
    def title(self) -> str:
        """``type: pattern``, or the message itself while every occurrence had the
        same one (``'NoneType' object has no attribute 'split'`` says more than
        its pattern)."""
        text = self.pattern if self.varies else self.message
        return f"{self.type}: {text}" if text else self.type


@dataclass(frozen=True, slots=True)
class ErrorsView:
    groups: tuple[ErrorGroup, ...] = ()  # most frequent first
    total: int = 0  # errors counted, in every group
    overflow: int = 0  # of those, counted in a catch-all group past MAX_GROUPS
    hidden: int = 0  # groups left out (an attached crawl sends the most frequent)

    def bounded(self, groups: int, text: int = 300) -> ErrorsView:
        """The ``groups`` most frequent, their text cut to ``text`` characters and
        no tracebacks (what an attached crawl sends on each poll)."""
        kept = tuple(
            replace(g, pattern=g.pattern[:text], message=g.message[:text], traceback=None)
            for g in self.groups[:groups]
        )
        return replace(self, groups=kept, hidden=self.hidden + len(self.groups) - len(kept))


class _Group:
    __slots__ = (
        "count",
        "examples",
        "first",
        "key",
        "kind",
        "last",
        "location",
        "message",
        "pattern",
        "recent",
        "spider",
        "traceback",
        "type",
        "varies",
    )

    def __init__(
        self,
        key: str,
        kind: str,
        type_name: str,
        pattern: str,
        location: str | None,
        spider: str | None,
        when: float,
        traceback: str | None,
    ) -> None:
        self.key = key
        self.kind = kind
        self.type = type_name
        self.pattern = pattern
        self.location = location
        self.spider = spider
        self.count = 0
        self.first = when
        self.last = when
        self.message = ""
        self.varies = False
        self.traceback = traceback
        self.examples: list[int] = []
        self.recent: deque[int] = deque(maxlen=RECENT_EXAMPLES)

    def frozen(self, traceback: bool) -> ErrorGroup:
        examples = list(self.examples)
        examples += [i for i in self.recent if i not in examples]
        return ErrorGroup(
            key=self.key,
            kind=self.kind,
            type=self.type,
            pattern=self.pattern,
            location=self.location,
            count=self.count,
            first=self.first,
            last=self.last,
            message=self.message,
            examples=tuple(examples),
            spider=self.spider,
            traceback=self.traceback if traceback else None,
            varies=self.varies,
        )


def _frame_id(frame: tuple[str, int, str] | None) -> str:
    return f"{frame[0]}:{frame[1]}:{frame[2]}" if frame is not None else ""


def group_key(kind: str, type_name: str, pattern: str, frame: str, spider: str | None) -> str:
    """The stable key of a group, the same in the crawl's process and in
    workbench's: from the user's frame as the traceback names it (its file's
    full path, line, function), not as it is shown (relative to a directory)."""
    raw = "\x1f".join((kind, type_name, pattern, frame, spider or ""))
    return hashlib.blake2b(raw.encode("utf-8", "replace"), digest_size=8).hexdigest()


def key_for(kind: str, error: str, traceback: str | None, spider: str | None = None) -> str:
    """The key of the group an error belongs to (to find a flow's group)."""
    type_name, message = split_error(error)
    frame = _frame_id(user_frame(traceback))
    return group_key(kind, type_name, message_pattern(message), frame, spider)


class ErrorGroups:
    """The groups of one recorder, bounded (:data:`MAX_GROUPS`)."""

    def __init__(self, max_groups: int = MAX_GROUPS) -> None:
        self.max_groups = max_groups
        self._groups: dict[tuple[Any, ...], _Group] = {}
        self._by_key: dict[str, _Group] = {}
        self.total = 0
        self.overflow = 0
        self.version = 0  # changes with every error counted

    def __len__(self) -> int:
        return len(self._groups)

    def add(
        self,
        kind: str,
        error: str,
        traceback: str | None,
        when: float,
        flow_id: int | None = None,
        spider: str | None = None,
    ) -> str:
        """Count one error ("Type: message", as the recorder writes it); returns
        its group's key."""
        type_name, message = split_error(error)
        pattern = message_pattern(message)
        frame = user_frame(traceback)
        where = _frame_id(frame)
        ident = (kind, type_name, pattern, where, spider)
        group = self._groups.get(ident)
        if group is None:
            if len(self._groups) >= self.max_groups:  # one catch-all per kind and type
                ident = (kind, type_name, OVERFLOW_PATTERN, "", spider)
                group = self._groups.get(ident)
                pattern, frame, where = OVERFLOW_PATTERN, None, ""
            if group is None:
                key = group_key(kind, type_name, pattern, where, spider)
                location = location_text(frame)  # as shown: once a group
                group = _Group(key, kind, type_name, pattern, location, spider, when, traceback)
                self._groups[ident] = group
                self._by_key[key] = group
        if group.pattern is OVERFLOW_PATTERN:
            self.overflow += 1
        message = message[:MESSAGE_LIMIT]
        if group.count and message != group.message:
            group.varies = True
        group.count += 1
        group.last = when
        group.message = message
        if flow_id is not None:
            if len(group.examples) < FIRST_EXAMPLES:
                group.examples.append(flow_id)
            elif flow_id not in group.examples:
                group.recent.append(flow_id)
        self.total += 1
        self.version += 1
        return group.key

    def view(self, spider: str | None = None, tracebacks: bool = True) -> ErrorsView:
        """The groups, most frequent first (only ``spider``'s when given)."""
        groups = [
            g.frozen(tracebacks)
            for g in self._groups.values()
            if spider is None or g.spider in (None, spider)
        ]
        groups.sort(key=lambda g: (-g.count, -g.last))
        if spider is None:
            return ErrorsView(tuple(groups), self.total, self.overflow)
        total = sum(g.count for g in groups)
        overflow = sum(g.count for g in groups if g.pattern == OVERFLOW_PATTERN)
        return ErrorsView(tuple(groups), total, overflow)

    def traceback(self, key: str) -> str | None:
        group = self._by_key.get(key)
        return group.traceback if group is not None else None

    def add_flow(self, flow: Any) -> None:
        """Count a flow's errors, as recorded (a HAR file's, an attached crawl's copy)."""
        if flow.error:
            self.add(DOWNLOAD, flow.error, flow.error_traceback, flow.time, flow.id, flow.spider)
        if flow.callback_error:
            self.add_callback(flow)

    def add_callback(self, flow: Any) -> None:
        self.add(
            CALLBACK,
            flow.callback_error,
            flow.callback_traceback,
            flow.time,
            flow.id,
            flow.spider,
        )

    def add_item(self, record: Any, traceback: str | None = None) -> None:
        """Count an item record's pipeline error (the records carry no traceback)."""
        if record.error:
            self.add(ITEM, record.error, traceback, record.time, record.flow_id, record.spider)


def groups_from_records(flows: Iterable[Any], items: Iterable[Any]) -> ErrorGroups:
    """Groups counted from the records a source keeps (a source without a recorder)."""
    groups = ErrorGroups()
    for flow in flows:
        groups.add_flow(flow)
    for item in items:
        groups.add_item(item)
    return groups
