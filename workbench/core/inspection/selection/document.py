"""A stored body to select from: :class:`SelectorDocument` and :func:`evaluate`.

The body is decoded once (as Scrapy decodes it) and parsed on the first
evaluation; each kind is evaluated here (``re`` on the decoded text, with
exact spans; ``jmespath`` with spans in the pretty JSON; css and xpath with
spans from :mod:`.locator`).  One evaluation runs at a time per document.
"""

from __future__ import annotations

import contextlib
import re
import threading
import time
from array import array
from typing import Any

import jmespath
import parsel
from scrapy.http import Headers, TextResponse
from w3lib.html import replace_entities

from workbench.core.inspection.body import decode_body
from workbench.core.inspection.selection.locator import NodeLocator
from workbench.core.inspection.selection.pretty import pretty_json
from workbench.core.inspection.selection.result import (
    KINDS,
    MAX_MATCHES,
    MAX_SPANS,
    MAX_VALUES,
    SelectorResult,
    Span,
    display,
    error_message,
    python_line,
)


class _LocatingSelector(parsel.Selector):
    """A selector whose string results remember their element (lxml "smart
    strings"), so their position can be found; values are the same."""

    __slots__ = ()
    _lxml_smart_strings = True


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
            tuple(display(value) for value in data),
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
            spans = NodeLocator(self).spans(item.root for item in found[:MAX_SPANS])
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


def evaluate(
    url: str, headers: Headers | None, body: bytes, kind: str, expression: str
) -> SelectorResult:
    """Evaluate one expression against a body (builds a :class:`SelectorDocument`)."""
    return SelectorDocument(url, headers, body).evaluate(kind, expression)
