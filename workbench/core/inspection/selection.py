"""Evaluate a selector (css, xpath, re, jmespath) against a stored response body.

The response is rebuilt with :func:`workbench.core.inspection.body.decode_body`, so the
encoding, the decoded text and the selector type are Scrapy's own, and the
values are what the spider would get from the equivalent Python line
(:attr:`SelectorResult.python_line`):

========  ==============================================================
css       ``response.css(EXPR).getall()``
xpath     ``response.xpath(EXPR).getall()``
re        ``scrapy.Selector(text=response.text, type='text').re(EXPR)``
          (parsel's ``Selector.re`` over the decoded text: numbered groups
          flattened, a group named ``extract`` wins, entities replaced)
jmespath  ``response.jmespath(EXPR).getall()``
========  ==============================================================

Highlight spans are character offsets into a *view* of the document
(:meth:`SelectorDocument.view_text`): the decoded text (``"text"``) or, for
jmespath on a JSON body, the pretty-printed JSON (``"pretty"``).

- re: exact (the span of each value: the whole match, or each group).
- css/xpath: best effort.  An element is located from lxml's ``sourceline``
  (the line where its start tag ends) and the first ``<tag`` on that line at
  or after the previous element; the span is its start tag.  libxml2 stops
  counting lines at 65535, so past that line the k-th element of a tag is
  taken to be the k-th ``<tag`` of the text (tags in comments or scripts, or
  implied ones, throw that off).  Implied elements (``tbody``, a missing
  ``body``) highlight their whole line.  Text and attribute values are
  searched for after their element's start tag (attribute values inside it).
  Computed values (``count()``, ``name()``) have no span.
- jmespath: best effort.  Values that are objects of the parsed document
  (dicts, lists, strings) are found by identity in the pretty JSON; values a
  function computed (``length()``, ``join()``) have none; small integers and
  booleans share identities, so they take the next unused position.

Everything returned is bounded: at most :data:`MAX_VALUES` values (each
display string at most :data:`VALUE_LIMIT` characters), :data:`MAX_SPANS`
spans and :data:`MAX_MATCHES` regex matches counted.  Nothing raises: an
invalid expression gives a one-line :attr:`SelectorResult.error`.  One
evaluation runs at a time per document (lxml trees and compiled XPath
objects are not shared between threads), so callers may evaluate from
worker threads.
"""

from __future__ import annotations

import ast
import contextlib
import json
import re
import threading
import time
from array import array
from dataclasses import dataclass
from typing import Any

import jmespath
import parsel
from lxml import etree
from scrapy.http import Headers, TextResponse
from w3lib.html import replace_entities

from workbench.core.inspection.body import decode_body

KINDS = ("css", "xpath", "re", "jmespath")
MAX_VALUES = 1000  # values kept (the count is still the full count)
VALUE_LIMIT = 500  # characters of each display value
MAX_SPANS = 10_000  # highlight spans kept
MAX_MATCHES = 1_000_000  # regex matches counted at most
JSON_SPAN_NODES = 200_000  # JSON nodes whose position is remembered
SEARCH_WINDOW = 65_536  # characters searched for a value after its element
LINE_CAP = 65535  # libxml2 reports no line number above this one
ERROR_LIMIT = 300

Span = tuple[int, int]


@dataclass(frozen=True, slots=True)
class SelectorResult:
    """What one expression selected.  ``values`` are display strings (not yet
    sanitised: the UI cleans them); ``data`` the same values as Python objects
    (strings, or dicts/lists/numbers for jmespath), not shortened."""

    kind: str
    expression: str
    count: int  # every match (a lower bound when count_capped)
    values: tuple[str, ...]  # the first MAX_VALUES, each shortened
    data: tuple[Any, ...] = ()
    error: str | None = None  # one line; None when the expression is valid
    spans: tuple[Span, ...] = ()  # sorted (start, end) offsets into ``view``
    view: str = "text"  # "text" (decoded body) or "pretty" (pretty-printed JSON)
    python_line: str = ""
    note: str = ""  # a hint, e.g. "jmespath reads JSON; this is an html body"
    count_capped: bool = False
    took: float = 0.0  # seconds

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def truncated(self) -> bool:
        """More values matched than ``values`` holds."""
        return self.count > len(self.values)


def _literal(expression: str, raw: bool = False) -> str:
    """A Python string literal for ``expression``: ``r'...'`` when ``raw`` and
    that spelling means the same string, ``repr()`` otherwise."""
    if raw and "\\" in expression:
        for quote in ("'", '"'):
            candidate = f"r{quote}{expression}{quote}"
            try:
                if ast.literal_eval(candidate) == expression:
                    return candidate
            except (SyntaxError, ValueError):
                continue
    return repr(expression)


def python_line(kind: str, expression: str) -> str:
    """The Python that gives the same values in ``scrapy shell``."""
    if kind == "css":
        return f"response.css({_literal(expression)}).getall()"
    if kind == "xpath":
        return f"response.xpath({_literal(expression)}).getall()"
    if kind == "jmespath":
        return f"response.jmespath({_literal(expression)}).getall()"
    if kind == "re":
        return f"scrapy.Selector(text=response.text, type='text').re({_literal(expression, True)})"
    raise ValueError(f"unknown selector kind {kind!r}")


def _one_line(text: str, limit: int = ERROR_LIMIT) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def error_message(kind: str, exc: BaseException) -> str:
    """A one-line, useful message for an invalid expression."""
    import cssselect

    if isinstance(exc, cssselect.SelectorError):
        return _one_line(f"Invalid CSS selector: {exc}")
    if isinstance(exc, re.error):
        return _one_line(f"Invalid regular expression: {exc}")
    if isinstance(exc, jmespath.exceptions.JMESPathError):
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        first = first.rstrip(":").removesuffix(", for expression")
        position = getattr(exc, "lex_position", None)
        if position is not None and "column" not in first:
            first += f" (at position {position})"
        return _one_line(first)
    message = str(exc)
    if "Cannot use" in message and "'json'" in message:
        return f"This body is JSON: {kind} needs HTML or XML (use jmespath)"
    if isinstance(exc, ValueError) and message.startswith("XPath error"):
        return _one_line(message)
    return _one_line(f"{type(exc).__name__}: {message}")


def _display(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"


class _LocatingSelector(parsel.Selector):
    """A selector whose string results remember their element (lxml "smart
    strings"), so their position can be found; values are the same."""

    __slots__ = ()
    _lxml_smart_strings = True


def pretty_json(data: Any, max_nodes: int = JSON_SPAN_NODES) -> tuple[str, dict[int, list[Span]]]:
    """``json.dumps(data, indent=2, ensure_ascii=False)``, plus where each node
    is: ``id(node) -> [(start, end), ...]`` for the first ``max_nodes`` nodes."""
    parts: list[str] = []
    spans: dict[int, list[Span]] = {}
    pos = 0
    recorded = 0
    dumps = json.dumps

    def emit(piece: str) -> None:
        nonlocal pos
        parts.append(piece)
        pos += len(piece)

    def walk(node: Any, level: int) -> None:
        nonlocal recorded
        start = pos
        if isinstance(node, dict):
            if not node:
                emit("{}")
            else:
                inner = "  " * (level + 1)
                emit("{\n")
                for index, (key, value) in enumerate(node.items()):
                    if index:
                        emit(",\n")
                    emit(f"{inner}{dumps(key, ensure_ascii=False)}: ")
                    walk(value, level + 1)
                emit("\n" + "  " * level + "}")
        elif isinstance(node, list):
            if not node:
                emit("[]")
            else:
                inner = "  " * (level + 1)
                emit("[\n")
                for index, value in enumerate(node):
                    if index:
                        emit(",\n")
                    emit(inner)
                    walk(value, level + 1)
                emit("\n" + "  " * level + "]")
        else:
            emit(dumps(node, ensure_ascii=False))
        if recorded < max_nodes:
            spans.setdefault(id(node), []).append((start, pos))
            recorded += 1

    walk(data, 0)
    return "".join(parts), spans


class SelectorDocument:
    """One stored body, decoded once, against which expressions are evaluated.

    Construction is cheap (no decoding, no parsing): the first evaluation
    decodes and parses, in whatever thread calls it.
    """

    def __init__(
        self, url: str, headers: Headers | None, body: bytes, size: int | None = None
    ) -> None:
        self.url = url
        self.decoded = decode_body(url, headers, body)
        self.kept = len(body)
        self.size = size if size is not None else len(body)
        self._lock = threading.Lock()
        self._text: str | None = None
        self._line_starts: array[int] | None = None
        self._lead_lines = 0
        self._pretty: tuple[str, dict[int, list[Span]]] | None = None
        self._pretty_done = False
        self._locating: parsel.Selector | None = None

    # -- what the document is ---------------------------------------------------

    @property
    def response(self) -> TextResponse | None:
        return self.decoded.response

    @property
    def kind(self) -> str:
        """``html``, ``json``, ``xml``, ``javascript``, ``text``, ``binary``, ``empty``."""
        return self.decoded.kind

    @property
    def selectable(self) -> bool:
        return self.response is not None

    @property
    def default_kind(self) -> str:
        return "jmespath" if self.kind == "json" else "css"

    @property
    def truncated(self) -> bool:
        return self.kept < self.size

    def encoding(self) -> str | None:
        response = self.response
        try:
            return response.encoding if response is not None else None
        except Exception:
            return None

    def text(self) -> str:
        """The decoded text (``response.text``), as the spider saw it."""
        if self._text is None:
            response = self.response
            if response is None:
                self._text = ""
            else:
                try:
                    self._text = response.text
                except Exception:
                    self._text = response.body.decode("utf-8", errors="replace")
        return self._text

    def pretty(self) -> str | None:
        """The JSON body pretty-printed, or None when the body is not JSON."""
        self._pretty_json()
        return self._pretty[0] if self._pretty is not None else None

    def view_for(self, kind: str) -> str:
        """Which text the spans of ``kind`` refer to (see :meth:`view_text`)."""
        if kind == "re" or self.kind != "json" or self.pretty() is None:
            return "text"
        return "pretty"

    def view_text(self, view: str) -> str:
        if view == "pretty":
            return self.pretty() or self.text()
        return self.text()

    def prepare(self) -> None:
        """Decode, and parse as Scrapy would (for a fast first evaluation)."""
        with self._lock:
            self.text()
            if self.response is not None:
                with contextlib.suppress(Exception):  # an error shows when evaluating
                    self.response.selector  # noqa: B018 (parses and caches)

    # -- evaluation -------------------------------------------------------------

    def evaluate(self, kind: str, expression: str) -> SelectorResult:
        """Evaluate ``expression`` of ``kind`` (one of :data:`KINDS`); never raises."""
        began = time.perf_counter()
        if kind not in KINDS:
            return SelectorResult(kind, expression, 0, (), error=f"Unknown kind {kind!r}")
        line = python_line(kind, expression)
        if self.response is None:
            return SelectorResult(
                kind,
                expression,
                0,
                (),
                error=f"Nothing to select from: the body is {self.kind}",
                python_line=line,
            )
        empty = not expression if kind == "re" else not expression.strip()
        with self._lock:
            view = self.view_for(kind)
            if empty:
                return SelectorResult(kind, expression, 0, (), view=view, python_line=line)
            try:
                if kind == "re":
                    result = self._regex(expression)
                elif kind == "jmespath":
                    result = self._jmespath(expression)
                else:
                    result = self._select(kind, expression)
            except Exception as exc:
                return SelectorResult(
                    kind,
                    expression,
                    0,
                    (),
                    error=error_message(kind, exc),
                    view=view,
                    python_line=line,
                    took=time.perf_counter() - began,
                )
        count, data, spans, note, capped = result
        return SelectorResult(
            kind,
            expression,
            count,
            tuple(_display(value) for value in data),
            tuple(data),
            None,
            _merged(spans),
            view,
            line,
            note,
            capped,
            time.perf_counter() - began,
        )

    def _regex(self, expression: str) -> tuple[int, list[Any], list[Span], str, bool]:
        regex = re.compile(expression)
        text = self.text()
        raw: list[str] = []
        spans: list[Span] = []
        count = 0
        capped = False
        if "extract" in regex.groupindex:  # parsel: the first match's "extract" group
            match = regex.search(text)
            if match is not None and match.group("extract") is not None:
                count = 1
                raw.append(match.group("extract"))
                spans.append(match.span("extract"))
        else:
            groups = regex.groups
            for match in regex.finditer(text):
                if groups == 0:
                    parts = [(match.group(0), match.span())]
                else:  # findall: every group, "" for one that did not take part
                    parts = [(match.group(i) or "", match.span(i)) for i in range(1, groups + 1)]
                for value, span in parts:
                    count += 1
                    if len(raw) < MAX_VALUES:
                        raw.append(value)
                    if span[1] > span[0] and len(spans) < MAX_SPANS:
                        spans.append(span)
                if count >= MAX_MATCHES:
                    capped = True
                    break
        data = [replace_entities(value, keep=["lt", "amp"]) for value in raw]
        return count, data, spans, "", capped

    def _jmespath(self, expression: str) -> tuple[int, list[Any], list[Span], str, bool]:
        assert self.response is not None
        selector = self.response.selector
        found = selector.jmespath(expression)
        data = [item.get() for item in found[:MAX_VALUES]]
        note = ""
        if selector.type != "json":
            note = f"jmespath reads JSON; this is a{'n' if self.kind[0] in 'aeiou' else ''} "
            note += f"{self.kind} body"
        spans: list[Span] = []
        self._pretty_json()
        if self._pretty is not None:
            # Scrapy's selector copies string results (through a new response), so
            # positions come from the objects of the parsed document themselves.
            nodes = jmespath.search(expression, selector.root)
            nodes = [] if nodes is None else nodes if isinstance(nodes, list) else [nodes]
            used: dict[int, int] = {}
            for node in nodes[:MAX_SPANS]:
                key = id(node)
                places = self._pretty[1].get(key)
                if not places:
                    continue
                index = used.get(key, 0)
                spans.append(places[min(index, len(places) - 1)])
                used[key] = index + 1
        return len(found), data, spans, note, False

    def _select(self, kind: str, expression: str) -> tuple[int, list[Any], list[Span], str, bool]:
        assert self.response is not None
        base = self.response.selector
        selector: parsel.Selector = base
        if base.type in ("html", "xml"):
            if self._locating is None:
                self._locating = _LocatingSelector(
                    root=base.root, type=base.type, namespaces=base.namespaces
                )
            selector = self._locating
        found = selector.css(expression) if kind == "css" else selector.xpath(expression)
        data = [item.get() for item in found[:MAX_VALUES]]
        spans: list[Span] = []
        if selector is not base:
            spans = _NodeLocator(self).spans(item.root for item in found[:MAX_SPANS])
        return len(found), data, spans, "", False

    # -- helpers ----------------------------------------------------------------

    def _pretty_json(self) -> None:
        if self._pretty_done:
            return
        self._pretty_done = True
        if self.kind != "json" or self.response is None:
            return
        try:
            selector = self.response.selector
        except Exception:
            return
        if selector.type != "json" or not isinstance(selector.root, (dict, list)):
            return
        try:
            self._pretty = pretty_json(selector.root)
        except RecursionError:
            self._pretty = None

    def line_starts(self) -> tuple[array[int], int]:
        """Offsets where each line of the text starts, and how many leading
        lines parsel stripped before parsing (lxml counts lines after them)."""
        if self._line_starts is None:
            text = self.text()
            starts = array("q", [0])
            starts.extend(match.end() for match in re.finditer("\n", text))
            self._line_starts = starts
            lead = len(text) - len(text.lstrip())
            self._lead_lines = text.count("\n", 0, lead)
        return self._line_starts, self._lead_lines


def _merged(spans: list[Span]) -> tuple[Span, ...]:
    """Sorted, overlapping spans joined (what a display needs)."""
    out: list[list[int]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1][1] = max(out[-1][1], end)
        else:
            out.append([start, end])
    return tuple((start, end) for start, end in out)


_TAG_PATTERNS: dict[tuple[str, bool], re.Pattern[str]] = {}


def _tag_pattern(tag: str, html: bool) -> re.Pattern[str]:
    key = (tag, html)
    pattern = _TAG_PATTERNS.get(key)
    if pattern is None:
        prefix = "" if html else r"(?:[\w.-]+:)?"
        pattern = re.compile(
            "<" + prefix + re.escape(tag) + r"(?=[\s/>])", re.IGNORECASE if html else 0
        )
        if len(_TAG_PATTERNS) < 1000:
            _TAG_PATTERNS[key] = pattern
    return pattern


class _NodeLocator:
    """Best-effort positions of lxml results in the decoded text (see the
    module docstring for what is exact and what is approximate)."""

    def __init__(self, document: SelectorDocument) -> None:
        self.text = document.text()
        self.starts, self.lead = document.line_starts()
        self.html = document.response is not None and document.response.selector.type == "html"
        self.floor = 0  # results come in document order: search after the last one
        self.found: dict[Any, Span | None] = {}
        self.capped: dict[Any, tuple[dict[Any, int], list[int]]] = {}

    def spans(self, nodes: Any) -> list[Span]:
        out = []
        for node in nodes:
            span = None
            if isinstance(node, etree._Element):
                span = self.element(node)
            elif isinstance(node, str) and hasattr(node, "getparent"):
                span = self.string(node)
            if span is not None:
                out.append(span)
        return out

    def _line(self, sourceline: int) -> Span:
        index = min(sourceline + self.lead, len(self.starts)) - 1
        start = self.starts[index]
        end = self.starts[index + 1] - 1 if index + 1 < len(self.starts) else len(self.text)
        return start, end

    def element(self, element: Any) -> Span | None:
        if element in self.found:
            return self.found[element]
        span, exact = self._locate(element, self.floor)
        if not exact and self.floor:  # out of document order: look on the whole line
            span, exact = self._locate(element, 0)
        self.found[element] = span
        if span is not None and exact:
            self.floor = max(self.floor, span[0] + 1)
        return span

    def _locate(self, element: Any, floor: int) -> tuple[Span | None, bool]:
        """The span of the element's start tag, and whether the tag was found
        (else the span is its whole line)."""
        sourceline = element.sourceline
        if not sourceline:
            return None, False
        tag = element.tag
        if tag is etree.Comment:
            pattern = re.compile("<!--")
        elif tag is etree.PI:
            pattern = re.compile(r"<\?")
        elif isinstance(tag, str):
            pattern = _tag_pattern(tag.rsplit("}", 1)[-1], self.html)
        else:
            return None, False
        text = self.text
        line_start, line_end = self._line(sourceline)
        match = None
        if sourceline >= LINE_CAP:  # libxml2 stopped counting lines: count the tags
            start = self._capped(element, pattern)
            if start is None:
                return None, False
            close = text.find(">", start, start + SEARCH_WINDOW)
            return (start, close + 1 if close >= 0 else start + 1), True
        else:
            match = pattern.search(text, max(floor, line_start), line_end)
            if match is None:  # the start tag began on an earlier line
                for match in pattern.finditer(  # noqa: B007 (the last one is wanted)
                    text, max(floor, line_start - SEARCH_WINDOW), line_start
                ):
                    pass
        if match is None:
            return ((line_start, line_end) if line_end > line_start else None), False
        close = text.find(">", match.end(), match.end() + SEARCH_WINDOW)
        return (match.start(), (close + 1 if close >= 0 else match.end())), True

    def _capped(self, element: Any, pattern: re.Pattern[str]) -> int | None:
        """Where an element past line 65535 starts: the k-th ``<tag`` of the text
        from that line on, for the k-th element of that tag from that line on."""
        tag = element.tag
        if tag not in self.capped:
            root = element.getroottree().getroot()
            elements = [e for e in root.iter(tag) if (e.sourceline or 0) >= LINE_CAP]
            begin = self._line(LINE_CAP)[0]
            self.capped[tag] = (
                {e: index for index, e in enumerate(elements)},
                [m.start() for m in pattern.finditer(self.text, begin)],
            )
        order, places = self.capped[tag]
        index = order.get(element)
        return places[index] if index is not None and index < len(places) else None

    def string(self, value: Any) -> Span | None:
        parent = value.getparent()
        if parent is None:
            return None
        tag = self.element(parent)
        if tag is None:
            return None
        text = self.text
        if getattr(value, "is_attribute", False):
            attr = re.compile(
                r"(?<![\w:-])" + re.escape(str(value.attrname).split("}")[-1]) + r"\s*=\s*",
                re.IGNORECASE if self.html else 0,
            )
            match = attr.search(text, tag[0], tag[1])
            if match is None:
                return tag
            start = match.end()
            if start < tag[1] and text[start] in "\"'":
                close = text.find(text[start], start + 1, tag[1])
                return (start + 1, close) if close > start + 1 else tag
            end = start
            while end < tag[1] and not text[end].isspace() and text[end] != ">":
                end += 1
            return (start, end) if end > start else tag
        if not value:
            return None
        return self._search(str(value), tag[1]) or tag

    def _search(self, value: str, begin: int) -> Span | None:
        text = self.text
        stop = begin + SEARCH_WINDOW + len(value)
        candidates = [value]
        escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        if escaped != value:
            candidates.append(escaped)
        for candidate in candidates:
            found = text.find(candidate, begin, stop)
            if found >= 0:
                return found, found + len(candidate)
        head = value.strip().split("\n", 1)[0][:80]  # entities elsewhere: find its start
        if head:
            found = text.find(head, begin, stop)
            if found >= 0:
                return found, found + len(head)
        return None


def evaluate(
    url: str, headers: Headers | None, body: bytes, kind: str, expression: str
) -> SelectorResult:
    """Evaluate one expression against a body (builds a :class:`SelectorDocument`)."""
    return SelectorDocument(url, headers, body).evaluate(kind, expression)
