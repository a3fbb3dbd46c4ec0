"""Where css and xpath results are in the decoded text (their highlight spans).

Best effort.  An element is located from lxml's ``sourceline`` (the line
where its start tag ends) and the first ``<tag`` on that line at or after
the previous element; the span is its start tag.  libxml2 stops counting
lines at 65535, so past that line the k-th element of a tag is taken to be
the k-th ``<tag`` of the text (tags in comments or scripts, or implied ones,
throw that off).  Implied elements (``tbody``, a missing ``body``) highlight
their whole line.  Text and attribute values are searched for after their
element's start tag (attribute values inside it).  Computed values
(``count()``, ``name()``) have no span.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lxml import etree

from workbench.core.inspection.selection.result import Span

if TYPE_CHECKING:
    from workbench.core.inspection.selection.document import SelectorDocument

SEARCH_WINDOW = 65_536  # characters searched for a value after its element
LINE_CAP = 65535  # libxml2 reports no line number above this one

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


class NodeLocator:
    """Best-effort positions of lxml results in the decoded text (see the
    module's docstring for what is exact and what is approximate)."""

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
