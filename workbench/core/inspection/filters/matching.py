"""What a flow filter matches: the tree's nodes and the compiled filter.

One node class per operator (a :class:`Regex` subclass when its argument is a
regex) and the combinators (:class:`Not`, :class:`And`, :class:`Or`); each has
``match(flow, body_of)`` and a ``__repr__`` that gives the operator back.
:class:`FlowFilter` wraps the root of a parsed tree.  Which ``~code`` makes
which node is declared in :mod:`.operators`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

from workbench.core.recording.fates import DOWNLOADED, NEVER_DOWNLOADED
from workbench.core.recording.item_health import FILLED, MISSING, value_state
from workbench.core.recording.records import header_items

BodyProvider = Callable[[Any], "bytes | None"]


# ---------------------------------------------------------------------------
# tree nodes


class Node:
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        raise NotImplementedError

    def lines(self, indent: int) -> Iterator[str]:
        yield "  " * indent + repr(self)


class All(Node):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return True

    def __repr__(self) -> str:
        return "~a"


class Not(Node):
    __slots__ = ("child",)

    def __init__(self, child: Node) -> None:
        self.child = child

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return not self.child.match(flow, body_of)

    def lines(self, indent: int) -> Iterator[str]:
        yield "  " * indent + "not"
        yield from self.child.lines(indent + 1)

    def __repr__(self) -> str:
        return f"!{self.child!r}"


class Chain(Node):
    """Children combined left to right (``&`` or ``|``), as a chain of binary
    nodes: cheaper than all()/any() on a generator."""

    __slots__ = ("children", "first", "rest")
    WORD = ""
    SYMBOL = ""

    def __init__(self, children: list[Node]) -> None:
        self.children = tuple(children)
        self.first = children[0]
        self.rest = children[1] if len(children) == 2 else type(self)(children[1:])

    def lines(self, indent: int) -> Iterator[str]:
        yield "  " * indent + self.WORD
        for child in self.children:
            yield from child.lines(indent + 1)

    def __repr__(self) -> str:
        return "(" + f" {self.SYMBOL} ".join(map(repr, self.children)) + ")"


class And(Chain):
    __slots__ = ()
    WORD = "and"
    SYMBOL = "&"

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return self.first.match(flow, body_of) and self.rest.match(flow, body_of)


class Or(Chain):
    __slots__ = ()
    WORD = "or"
    SYMBOL = "|"

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return self.first.match(flow, body_of) or self.rest.match(flow, body_of)


class Regex(Node):
    """Base for the operators that search a regex in some text of the flow."""

    __slots__ = ("op", "pattern", "search")

    def __init__(self, op: str, pattern: re.Pattern) -> None:
        self.op = op
        self.pattern = pattern
        self.search = pattern.search

    def __repr__(self) -> str:
        return f"{self.op} {self.pattern.pattern!r}"


class Url(Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return self.search(flow.url) is not None


class Domain(Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return self.search(flow.host) is not None


class Callback(Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        cb = flow.callback
        return cb is not None and self.search(cb) is not None


class Header(Regex):
    __slots__ = ("request", "response")

    def __init__(self, op: str, pattern: re.Pattern, request: bool, response: bool) -> None:
        super().__init__(op, pattern)
        self.request = request
        self.response = response

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        search = self.search
        if self.request:
            for name, value in _iter_headers(flow.request_headers):
                if search(f"{name}: {value}") is not None:
                    return True
        if self.response:
            for name, value in _iter_headers(flow.response_headers):
                if search(f"{name}: {value}") is not None:
                    return True
        return False


class ContentType(Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        for name, value in _iter_headers(flow.response_headers):
            if name.lower() == "content-type" and self.search(value) is not None:
                return True
        return False


class Body(Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        if body_of is None:
            return False
        body = body_of(flow)
        return body is not None and self.search(body) is not None

    def __repr__(self) -> str:
        return f"~b {self.pattern.pattern.decode('utf-8', 'replace')!r}"


class Method(Node):
    __slots__ = ("method",)

    def __init__(self, method: str) -> None:
        self.method = method.upper()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        method = flow.method
        return method is not None and method.upper() == self.method

    def __repr__(self) -> str:
        return f"~m {self.method}"


class Status(Node):
    __slots__ = ("hi", "lo", "text")

    def __init__(self, lo: int, hi: int, text: str) -> None:
        self.lo = lo
        self.hi = hi
        self.text = text

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        status = flow.status
        return status is not None and self.lo <= status <= self.hi

    def __repr__(self) -> str:
        return f"~c {self.text}"


class ItemClass(Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        name = getattr(flow, "item_class", None)
        return name is not None and self.pattern.search(name) is not None


_ABSENT = object()


def _field_value(subject: Any, name: str) -> Any:
    """The value of the item's field ``name``; ``_ABSENT`` when it has none."""
    for field, value in getattr(subject, "item_fields", None) or ():
        if field == name:
            return value
    return _ABSENT


def field_text(value: Any) -> str:
    """A field's value as the text ``~f FIELD=REGEX`` searches (lists as JSON)."""
    if isinstance(value, str):
        return value
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            return str(value)
    return str(value)


class ItemField(Node):
    """The item has the field filled: not missing, None, "" (or blank text) or an
    empty container (:func:`~workbench.core.recording.item_health.value_state`);
    with a pattern, the value's text matches it too.

    Flows have no item: on a flow this never matches (so ``!~f x`` always does).
    """

    __slots__ = ("name", "pattern")

    def __init__(self, name: str, pattern: re.Pattern | None = None) -> None:
        self.name = name
        self.pattern = pattern

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        value = _field_value(flow, self.name)
        if value is _ABSENT or value_state(value) != FILLED:
            return False
        return self.pattern is None or self.pattern.search(field_text(value)) is not None

    def __repr__(self) -> str:
        if self.pattern is None:
            return f"~f {self.name}"
        return f"~f {self.name}={self.pattern.pattern!r}"


class FieldState(Node):
    """The item's field is missing (``~missing``), None (``~none``) or empty (``~empty``)."""

    __slots__ = ("name", "op", "state")

    def __init__(self, op: str, name: str, state: int) -> None:
        self.op = op
        self.name = name
        self.state = state

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        if getattr(flow, "item_fields", None) is None:
            return False  # not an item
        value = _field_value(flow, self.name)
        if value is _ABSENT:
            return self.state == MISSING
        return self.state != MISSING and value_state(value) == self.state

    def __repr__(self) -> str:
        return f"{self.op} {self.name}"


class ItemOutcome(Regex):
    """What became of the item: ``ok`` (scraped), ``dropped`` or ``error``."""

    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        outcome = getattr(flow, "item_outcome", None)
        return outcome is not None and self.search(outcome) is not None


class Spider(Regex):
    """The spider that made the flow or scraped the item (several crawlers)."""

    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        spider = getattr(flow, "spider", None)
        return spider is not None and self.search(spider) is not None


class AnyError(Node):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return flow.error is not None or flow.callback_error is not None

    def __repr__(self) -> str:
        return "~e"


class Media(Node):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return getattr(flow, "stored", None) is not None

    def __repr__(self) -> str:
        return "~media"


class Inline(Node):
    """Downloaded inline: awaited in a callback (``engine.download_async``)."""

    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return getattr(flow, "inline", None) is not None

    def __repr__(self) -> str:
        return "~inline"


class Fate(Regex):
    """What became of the request: its fate code ("downloaded" when plain)."""

    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return self.search(getattr(flow, "fate", None) or DOWNLOADED) is not None


class FateBy(Regex):
    """Who decided the request's fate: the component's class path (empty for a
    plain download, or when nobody was named)."""

    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return self.search(getattr(flow, "fate_by", None) or "") is not None


class NeverDownloaded(Node):
    """Never reached the network: dropped, filtered, ignored or still pending."""

    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return getattr(flow, "fate", None) in NEVER_DOWNLOADED

    def __repr__(self) -> str:
        return "~dropped"


class ItemSubject:
    """An item as a filter sees it: its class, fields, spider and outcome, and for
    the flow operators the flow that produced it (``~u``, ``~c``, ``~cb``...).
    Without that flow (no longer kept) they see an empty request."""

    __slots__ = ("_flow", "item_class", "item_fields", "item_outcome", "record", "spider")

    def __init__(self, record: Any, flow: Any = None) -> None:
        self.record = record
        self._flow = flow
        self.item_class = record.item_class
        self.item_fields = record.fields
        self.spider = record.spider
        self.item_outcome = (
            "dropped" if record.dropped is not None else "error" if record.error else "ok"
        )

    def __getattr__(self, name: str) -> Any:
        flow = object.__getattribute__(self, "_flow")
        if flow is None:
            return "" if name in ("url", "method", "host") else None
        return getattr(flow, name)


def _decode(data: Any) -> str:
    if isinstance(data, str):
        return data
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = bytes(data)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:
            return data.decode("latin-1")
    return str(data)


def _iter_headers(headers: Any) -> Iterator[tuple[str, str]]:
    """(name, value) pairs of a scrapy ``Headers`` (or a plain mapping)."""
    for name, values in header_items(headers):
        name_s = _decode(name)
        if isinstance(values, (list, tuple)):
            for value in values:
                yield name_s, _decode(value)
        else:
            yield name_s, _decode(values)


# ---------------------------------------------------------------------------
# the compiled filter


class FlowFilter:
    """A compiled filter: call it on a flow to know whether the flow matches.

    ``body_of`` is called (at most once per flow) only when a ``~b`` term has
    to be evaluated; without it ``~b`` never matches.
    """

    __slots__ = ("_body_terms", "_root", "expression", "needs_body")

    def __init__(self, expression: str, root: Node | None, body_terms: int = 0) -> None:
        self.expression = expression
        self._root = root
        self._body_terms = body_terms
        self.needs_body = body_terms > 0

    @property
    def matches_all(self) -> bool:
        """True for the empty expression (the UI can skip filtering)."""
        return self._root is None

    def __call__(self, flow: Any, body_of: BodyProvider | None = None) -> bool:
        root = self._root
        if root is None:
            return True
        if body_of is not None and self._body_terms > 1:
            body_of = _once(body_of)
        return root.match(flow, body_of)

    def describe(self) -> str:
        """The parsed tree, one node per line (for debugging)."""
        if self._root is None:
            return "~a (empty expression)"
        return "\n".join(self._root.lines(0))

    def __repr__(self) -> str:
        tree = "~a" if self._root is None else repr(self._root)
        return f"<FlowFilter {self.expression!r}: {tree}>"


def _once(body_of: BodyProvider) -> BodyProvider:
    cache: list[Any] = []

    def cached(flow: Any) -> bytes | None:
        if not cache:
            cache.append(body_of(flow))
        return cache[0]

    return cached
