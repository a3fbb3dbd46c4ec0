"""Errors grouped as Sentry groups them, and tracebacks folded to the user's code.

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

Tracebacks are read as text (the recorder keeps them as text; an attached
crawl and a HAR file carry text): :func:`fold` splits one into runs of the
user's frames, runs of library frames (drawn folded) and the other lines;
:func:`exception_line` is the line that says what was raised.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import sys
import sysconfig
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

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
    if sep and _TYPE_NAME.fullmatch(head):
        return head.rpartition(".")[2], rest
    if _TYPE_NAME.fullmatch(error.strip()):
        return error.strip().rpartition(".")[2], ""
    return "Error", error


_TYPE_NAME = re.compile(r"[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*")


# -- whose code a frame is ----------------------------------------------------------

_FRAME = re.compile(r'^([ \t]*)File "([^"\n]*)", line (\d+), in ([^\n]*)$', re.MULTILINE)
_STDLIB = re.compile(r"[/\\]lib[/\\](?:python\d+(?:\.\d+)?|pypy\d*(?:\.\d+)?)[/\\]", re.IGNORECASE)


def _library_roots() -> tuple[str, ...]:
    """Directories whose files are not the user's code, in this process: the
    standard library, the installed packages, and Scrapy, Twisted and
    workbench wherever they are (an editable install is outside site-packages)."""
    roots: set[str] = set()
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(name)
        if path:
            roots.add(os.path.realpath(path))
    for module in ("scrapy", "twisted", "workbench"):
        found = sys.modules.get(module)
        path = getattr(found, "__file__", None)
        if path:
            roots.add(os.path.dirname(os.path.realpath(path)))
    return tuple(sorted(r.replace("\\", "/").rstrip("/") + "/" for r in roots))


_ROOTS: tuple[str, ...] | None = None
_DEMO = "/workbench/demo/"  # the bundled demo's spider is the user's code in the demo


@functools.lru_cache(maxsize=4096)
def is_user_file(path: str) -> bool:
    """Whether a traceback's file is the user's own code (the project's).

    Not the user's: pseudo files (``<frozen …>``, ``<string>``), anything under a
    ``site-packages`` or ``dist-packages`` directory (what is installed in the
    virtualenv or the system, the user's own package too when installed there
    rather than in editable mode), a Python's standard library (this one's, or
    another machine's ``…/lib/python3.x/``), and Scrapy, Twisted and workbench
    (but workbench's demo spider, which plays the user's in ``workbench demo``).
    Everything else is: the project directory, a spider file anywhere."""
    global _ROOTS
    if not path or path.startswith("<"):
        return False
    norm = path.replace("\\", "/")
    if "/site-packages/" in norm or "/dist-packages/" in norm:
        return False
    if _STDLIB.search(path):
        return False
    if _DEMO in norm:
        return True
    if _ROOTS is None:
        _ROOTS = _library_roots()
    real = norm if not os.path.isabs(path) else os.path.realpath(path).replace("\\", "/")
    return not any(real.startswith(root) or norm.startswith(root) for root in _ROOTS)


def user_frame(traceback: str | None) -> tuple[str, int, str] | None:
    """(file, line, function) of the innermost frame of the user's code in a
    traceback's text (its last exception first, then the exceptions it chains).

    Read from the end with ``rfind``: the user's frame is most often the last
    one, so a callback's error costs one step (a regular expression over the
    whole text cost 70 µs for Scrapy's 30 frames)."""
    if not traceback:
        return None
    end = len(traceback)
    while True:
        at = traceback.rfind('File "', 0, end)
        if at < 0:
            return None
        end = at
        start = traceback.rfind("\n", 0, at) + 1
        if traceback[start:at].strip(" \t"):
            continue  # not at the start of a line: part of a message
        match = _FRAME_AT.match(traceback, at)
        if match is not None and is_user_file(match.group(1)):
            return match.group(1), int(match.group(2)), match.group(3).strip()


_FRAME_AT = re.compile(r'File "([^"\n]*)", line (\d+), in ([^\n]*)')


def short_path(path: str, parts: int = 3) -> str:
    """The last ``parts`` components of a path: ``shop/spiders/books.py``."""
    pieces = path.replace("\\", "/").split("/")
    return "/".join(pieces[-parts:])


_CWD: str | None = None


def project_path(path: str) -> str:
    """A file as the user knows it: relative to the directory the crawl runs in
    (the project's) when it is under it, else its last three components."""
    global _CWD
    if _CWD is None:
        try:
            _CWD = os.getcwd().replace("\\", "/").rstrip("/") + "/"
        except OSError:  # the directory was removed
            _CWD = "/"
    norm = path.replace("\\", "/")
    if len(_CWD) > 1 and norm.startswith(_CWD):
        return norm[len(_CWD) :]
    return short_path(norm)


def location_text(frame: tuple[str, int, str] | None) -> str | None:
    """``shop/spiders/books.py:42 in parse`` (None without a frame of the user's)."""
    if frame is None:
        return None
    path, line, function = frame
    return f"{project_path(path)}:{line} in {function}"


# -- the groups ------------------------------------------------------------------------


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


# -- tracebacks, folded ------------------------------------------------------------------

TEXT, USER, LIBRARY = "text", "user", "library"


@dataclass(frozen=True, slots=True)
class Block:
    """A run of a traceback's lines: ``text`` (headers, the exception, the lines
    between chained exceptions), ``user`` frames or ``library`` frames."""

    kind: str
    lines: tuple[str, ...]
    frames: int = 0  # frames in a user or library run
    packages: tuple[str, ...] = ()  # a library run: whose frames (scrapy, twisted…)


def _package(path: str) -> str:
    """Whose frame a library file is: the top package after site-packages, or the
    standard library module (``asyncio``, ``contextlib``)."""
    norm = path.replace("\\", "/")
    if norm.startswith("<"):
        return norm.strip("<>").split()[0] if norm.strip("<>") else "?"
    for marker in ("/site-packages/", "/dist-packages/"):
        if marker in norm:
            top = norm.split(marker, 1)[1].split("/", 1)[0]
            return top.removesuffix(".py")
    match = _STDLIB.search(norm)
    if match:
        return norm[match.end() :].split("/", 1)[0].removesuffix(".py")
    for name in ("scrapy", "twisted", "workbench"):
        if f"/{name}/" in norm:
            return name
    return short_path(norm, 1).removesuffix(".py")


def fold(traceback: str) -> list[Block]:
    """A traceback's text as blocks: consecutive frames of the user's code, of
    libraries, and everything else, in order.  A frame is its ``File "…"`` line
    and the lines indented below it (the code, Python 3.11's ``^^^^`` marks)."""
    blocks: list[Block] = []
    run_kind: str | None = None
    run_lines: list[str] = []
    run_frames = 0
    run_packages: list[str] = []

    def flush() -> None:
        nonlocal run_kind, run_lines, run_frames, run_packages
        if run_kind is not None and run_lines:
            blocks.append(Block(run_kind, tuple(run_lines), run_frames, tuple(run_packages)))
        run_kind, run_lines, run_frames, run_packages = None, [], 0, []

    frame_indent: int | None = None  # inside a frame: its File line's indentation
    for line in traceback.split("\n"):
        match = _FRAME.match(line)
        if match is not None:
            path = match.group(2)
            kind = USER if is_user_file(path) else LIBRARY
            if kind != run_kind:
                flush()
                run_kind = kind
            run_lines.append(line)
            run_frames += 1
            if kind == LIBRARY:
                package = _package(path)
                if package not in run_packages:
                    run_packages.append(package)
            frame_indent = len(match.group(1))
            continue
        indent = len(line) - len(line.lstrip(" \t"))
        if frame_indent is not None and line.strip() and indent > frame_indent:
            run_lines.append(line)  # the frame's code and marks
            continue
        frame_indent = None
        if run_kind != TEXT:
            flush()
            run_kind = TEXT
        run_lines.append(line)
    flush()
    # no trailing empty line of its own
    if blocks and blocks[-1].kind == TEXT and not any(s.strip() for s in blocks[-1].lines):
        blocks.pop()
    return blocks


def folded_label(block: Block) -> str:
    """What a folded run of library frames says: ``58 frames: scrapy, twisted``."""
    names = ", ".join(block.packages[:4]) + (", …" if len(block.packages) > 4 else "")
    noun = "frame" if block.frames == 1 else "frames"
    return f"{block.frames} {noun}: {names}" if names else f"{block.frames} {noun}"


def compact(traceback: str, limit: int = 4000) -> str:
    """The traceback with each run of library frames as one line
    (``  [58 frames: scrapy, twisted]``): what a HAR file carries."""
    out: list[str] = []
    for block in fold(traceback):
        if block.kind == LIBRARY:
            indent = block.lines[0][: len(block.lines[0]) - len(block.lines[0].lstrip())]
            out.append(f"{indent}[{folded_label(block)}]")
        else:
            out.extend(block.lines)
    text = "\n".join(out)
    return text if len(text) <= limit else text[: limit // 2] + "\n…\n" + text[-limit // 2 :]


def short_exception(line: str) -> str:
    """``DownloadTimeoutError: …`` for ``scrapy.exceptions.DownloadTimeoutError: …``."""
    head, sep, rest = line.partition(": ")
    if "." in head and _TYPE_NAME.fullmatch(head):
        return head.rpartition(".")[2] + sep + rest
    return line


def exception_line(text: str) -> str | None:
    """The line that says what was raised, at the end of a traceback (or of a log
    message that carries one): ``ValueError: bad price 4``.  Twisted's
    ``builtins.`` prefix is left out.  None when the text has no traceback."""
    start = text.rfind("Traceback (most recent call last):")
    if start < 0:
        return None
    lines = text[start:].split("\n")
    last_frame = -1
    frame_indent = 0
    for index, line in enumerate(lines):
        match = _FRAME.match(line)
        if match is not None:
            last_frame, frame_indent = index, len(match.group(1))
    after = lines[last_frame + 1 :] if last_frame >= 0 else lines[1:]
    for line in after:
        indent = len(line) - len(line.lstrip(" \t"))
        if not line.strip() or (last_frame >= 0 and indent > frame_indent):
            continue
        return line.strip().removeprefix("builtins.")
    return None
