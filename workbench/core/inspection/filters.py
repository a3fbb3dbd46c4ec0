"""A small flow filter language, in the style of mitmproxy's ``flowfilter``.

Headless: this module does not import textual, so the recorder, the remote
sources and the tests can use it.

Grammar (``!`` binds tighter than ``&``, which binds tighter than ``|``)::

    expr     := or
    or       := and ( "|" and )*
    and      := not ( [ "&" ] not )*       two terms side by side mean "&"
    not      := "!" not | primary
    primary  := "(" expr ")" | "~" NAME [ ARG ] | TEXT

Operators: :data:`OPERATORS` below is the one list (code, argument, help, node);
the parser, :data:`FILTER_HELP` (the in-app help) and the docs' table come from
it or are tested against it.  ``TEXT`` alone matches the URL (a regex; literal
text if not a valid one).

Lexical rules:

* Regexes are searched (not anchored) and ignore case.  ``~b`` encodes its
  regex as UTF-8 and searches the body bytes.
* ``!``, ``&``, ``|`` and ``(`` are operators at the start of a word only;
  inside a word they are ordinary characters, so ``~u a=1&b=2`` and
  ``~u jpg|png`` are single regexes.  A ``)`` ends a word unless it closes a
  ``(`` opened in that same word: ``(~u \\.(jpg|png)$)`` works.  Put spaces
  around ``&`` and ``|`` used as operators.
* The word after an operator is always its argument, even when it starts with
  ``(`` or ``!``: ``~u (foo|bar)``.
* Quote an argument with ``"..."`` or ``'...'`` to include spaces or any other
  character.  Inside quotes a backslash escapes the quote character
  (``'it\\'s'``); other backslash sequences are kept as they are, so regex
  escapes such as ``\\d`` keep their meaning.

Errors are :class:`FilterError` with a ``message`` and the character offset
``position`` of the problem in the expression.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from workbench.core.recording.records import header_items

__all__ = ["FILTER_HELP", "OPERATORS", "FilterError", "FlowFilter", "Operator", "parse_filter"]


BodyProvider = Callable[[Any], "bytes | None"]

_FLAGS = re.IGNORECASE


class FilterError(ValueError):
    """A filter expression that cannot be parsed.

    ``position`` is the 0-based character offset of the problem in the
    expression; ``str()`` shows it as a 1-based column.
    """

    def __init__(self, message: str, position: int, expression: str = "") -> None:
        super().__init__(message, position)
        self.message = message
        self.position = position
        self.expression = expression

    def __str__(self) -> str:
        return f"{self.message} at column {self.position + 1}"


# ---------------------------------------------------------------------------
# tree nodes


class _Node:
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        raise NotImplementedError

    def lines(self, indent: int) -> Iterator[str]:
        yield "  " * indent + repr(self)


class _All(_Node):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return True

    def __repr__(self) -> str:
        return "~a"


class _Not(_Node):
    __slots__ = ("child",)

    def __init__(self, child: _Node) -> None:
        self.child = child

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return not self.child.match(flow, body_of)

    def lines(self, indent: int) -> Iterator[str]:
        yield "  " * indent + "not"
        yield from self.child.lines(indent + 1)

    def __repr__(self) -> str:
        return f"!{self.child!r}"


class _Chain(_Node):
    """Children combined left to right (``&`` or ``|``), as a chain of binary
    nodes: cheaper than all()/any() on a generator."""

    __slots__ = ("children", "first", "rest")
    WORD = ""
    SYMBOL = ""

    def __init__(self, children: list[_Node]) -> None:
        self.children = tuple(children)
        self.first = children[0]
        self.rest = children[1] if len(children) == 2 else type(self)(children[1:])

    def lines(self, indent: int) -> Iterator[str]:
        yield "  " * indent + self.WORD
        for child in self.children:
            yield from child.lines(indent + 1)

    def __repr__(self) -> str:
        return "(" + f" {self.SYMBOL} ".join(map(repr, self.children)) + ")"


class _And(_Chain):
    __slots__ = ()
    WORD = "and"
    SYMBOL = "&"

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return self.first.match(flow, body_of) and self.rest.match(flow, body_of)


class _Or(_Chain):
    __slots__ = ()
    WORD = "or"
    SYMBOL = "|"

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return self.first.match(flow, body_of) or self.rest.match(flow, body_of)


class _Regex(_Node):
    """Base for the operators that search a regex in some text of the flow."""

    __slots__ = ("op", "pattern", "search")

    def __init__(self, op: str, pattern: re.Pattern) -> None:
        self.op = op
        self.pattern = pattern
        self.search = pattern.search

    def __repr__(self) -> str:
        return f"{self.op} {self.pattern.pattern!r}"


class _Url(_Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return self.search(flow.url) is not None


class _Domain(_Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return self.search(flow.host) is not None


class _Callback(_Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        cb = flow.callback
        return cb is not None and self.search(cb) is not None


class _Header(_Regex):
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


class _ContentType(_Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        for name, value in _iter_headers(flow.response_headers):
            if name.lower() == "content-type" and self.search(value) is not None:
                return True
        return False


class _Body(_Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        if body_of is None:
            return False
        body = body_of(flow)
        return body is not None and self.search(body) is not None

    def __repr__(self) -> str:
        return f"~b {self.pattern.pattern.decode('utf-8', 'replace')!r}"


class _Method(_Node):
    __slots__ = ("method",)

    def __init__(self, method: str) -> None:
        self.method = method.upper()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        method = flow.method
        return method is not None and method.upper() == self.method

    def __repr__(self) -> str:
        return f"~m {self.method}"


class _Status(_Node):
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


class _ItemClass(_Regex):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        name = getattr(flow, "item_class", None)
        return name is not None and self.pattern.search(name) is not None


class _ItemField(_Node):
    """The item has the field with a value other than None, "" or an empty container.

    Flows have no item: on a flow this never matches (so ``!~f x`` always does).
    """

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        fields = getattr(flow, "item_fields", None)
        if not fields:
            return False
        for name, value in fields:
            if name == self.name:
                return value not in (None, "") and not (
                    isinstance(value, (list, tuple, dict, set)) and not value
                )
        return False

    def __repr__(self) -> str:
        return f"~f {self.name}"


class _Error(_Node):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return flow.error is not None or flow.callback_error is not None

    def __repr__(self) -> str:
        return "~e"


class _Media(_Node):
    __slots__ = ()

    def match(self, flow: Any, body_of: BodyProvider | None) -> bool:
        return getattr(flow, "stored", None) is not None

    def __repr__(self) -> str:
        return "~media"


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
# lexer + parser

# token kinds
_LPAREN, _RPAREN, _NOT, _AND, _OR, _OP, _WORD, _END = (
    "(",
    ")",
    "!",
    "&",
    "|",
    "op",
    "word",
    "end",
)


@dataclass(frozen=True)
class Operator:
    """One ``~code`` of the language: its argument (none, or what it takes), its
    help line, and how it becomes a node.  ``REGEX`` arguments are compiled by
    the parser (case-insensitive, with the error's column) and handed over as a
    pattern; other arguments as text; none, nothing."""

    code: str
    arg: str  # "", "REGEX", "CODE", "METHOD" or "FIELD"
    help: str
    node: Callable[..., Any] | None  # () / (pattern) / (text) -> _Node
    aliases: tuple[str, ...] = ()

    @property
    def usage(self) -> str:
        return f"~{self.code} {self.arg}".rstrip()


def _header(name: str, request: bool, response: bool) -> Callable[[re.Pattern[str]], _Node]:
    return lambda pattern: _Header(name, pattern, request, response)


OPERATORS: tuple[Operator, ...] = (
    Operator("u", "REGEX", "URL matches", lambda p: _Url("~u", p)),
    Operator("d", "REGEX", "domain (host) matches", lambda p: _Domain("~d", p)),
    Operator("m", "METHOD", "request method is METHOD", lambda text: _Method(text)),
    # CODE is read by the parser itself (a code, a class or a range, with errors' columns)
    Operator("c", "CODE", "status code: 200, 4xx or 500-599 (~s is the same)", None, ("s",)),
    Operator(
        "h",
        "REGEX",
        'a request or response header line "Name: value" matches',
        _header("~h", True, True),
    ),
    Operator("hq", "REGEX", "a request header line matches", _header("~hq", True, False)),
    Operator("hs", "REGEX", "a response header line matches", _header("~hs", False, True)),
    Operator("t", "REGEX", "response Content-Type matches", lambda p: _ContentType("~t", p)),
    Operator("b", "REGEX", "response body matches (may be slow)", lambda p: _Body("~b", p)),
    Operator("cb", "REGEX", "callback name matches", lambda p: _Callback("~cb", p)),
    Operator("e", "", "download error or callback error", lambda: _Error()),
    Operator("media", "", "a files/images pipeline's download (stored)", lambda: _Media()),
    Operator(
        "f",
        "FIELD",
        "item breakpoints: the item has FIELD (non-empty)",
        lambda text: _ItemField(text),
    ),
    Operator(
        "it",
        "REGEX",
        "item breakpoints: the item's class name matches",
        lambda p: _ItemClass("~it", p),
    ),
    Operator("a", "", "every flow", lambda: _All()),
)
_BY_CODE = {code: op for op in OPERATORS for code in (op.code, *op.aliases)}

FILTER_HELP = "\n".join(
    [f"{op.usage:<13} {op.help}" for op in OPERATORS]
    + [
        "TEXT          URL matches TEXT (regex, or literal text if not a valid regex)",
        "! X           not X",
        "X & Y         X and Y (also: X Y)",
        "X | Y         X or Y",
        "( X )         grouping; ! binds tightest, then &, then |",
        "\"...\" '...'   quote arguments with spaces; regexes ignore case",
    ]
)

_REGEX_OPS = {code for code, op in _BY_CODE.items() if op.arg == "REGEX"}
_ARG_OPS = {code for code, op in _BY_CODE.items() if op.arg}
_NOARG_OPS = {code for code, op in _BY_CODE.items() if not op.arg}
_OP_NAME = re.compile(r"~\w*")
_STATUS_CODE = re.compile(r"\d{1,3}")
_STATUS_CLASS = re.compile(r"([1-9])xx", re.IGNORECASE)
_STATUS_RANGE = re.compile(r"(\d{1,3})-(\d{1,3})")


class _Token:
    __slots__ = ("end", "kind", "offsets", "pos", "quoted", "value")

    def __init__(
        self,
        kind: str,
        value: str,
        pos: int,
        end: int,
        quoted: bool = False,
        offsets: list[int] | None = None,
    ) -> None:
        self.kind = kind
        self.value = value
        self.pos = pos
        self.end = end
        self.quoted = quoted
        # for quoted words: the source offset of each character of value
        self.offsets = offsets

    def source_pos(self, index: int) -> int:
        """Offset in the expression of character ``index`` of the value."""
        if self.offsets is not None:
            if index < len(self.offsets):
                return self.offsets[index]
            return self.end - 1  # the closing quote
        return self.pos + index

    def describe(self) -> str:
        if self.kind == _END:
            return "end of expression"
        if self.kind == _WORD:
            return repr(self.value)
        return f"'{self.value}'"


class _Parser:
    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.n = len(expr)
        self.i = 0
        self._peeked: _Token | None = None
        self.body_terms = 0

    def error(self, message: str, position: int) -> FilterError:
        return FilterError(message, position, self.expr)

    # -- lexing ------------------------------------------------------------

    def _skip_space(self) -> None:
        expr, n, i = self.expr, self.n, self.i
        while i < n and expr[i].isspace():
            i += 1
        self.i = i

    def _lex_quoted(self) -> _Token:
        expr, n, start = self.expr, self.n, self.i
        quote = expr[start]
        chars: list[str] = []
        offsets: list[int] = []
        i = start + 1
        while i < n:
            c = expr[i]
            if c == quote:
                self.i = i + 1
                return _Token(_WORD, "".join(chars), start, i + 1, True, offsets)
            if c == "\\" and i + 1 < n:
                nxt = expr[i + 1]
                if nxt == quote:
                    chars.append(nxt)
                    offsets.append(i)
                else:
                    chars += (c, nxt)
                    offsets += (i, i + 1)
                i += 2
                continue
            chars.append(c)
            offsets.append(i)
            i += 1
        raise self.error(f"unterminated string (missing closing {quote})", start)

    def _lex_word(self) -> _Token:
        """A run up to whitespace or a ``)`` not balanced inside the run."""
        expr, n, start = self.expr, self.n, self.i
        i = start
        depth = 0
        while i < n:
            c = expr[i]
            if c.isspace():
                break
            if c == "(":
                depth += 1
            elif c == ")":
                if depth == 0:
                    break
                depth -= 1
            i += 1
        self.i = i
        return _Token(_WORD, expr[start:i], start, i)

    def _lex(self) -> _Token:
        self._skip_space()
        i = self.i
        if i >= self.n:
            return _Token(_END, "", self.n, self.n)
        c = self.expr[i]
        if c in "()!&|":
            self.i = i + 1
            return _Token(c, c, i, i + 1)
        if c in "\"'":
            return self._lex_quoted()
        if c == "~":
            m = _OP_NAME.match(self.expr, i)
            assert m is not None
            self.i = m.end()
            return _Token(_OP, m.group(), i, m.end())
        return self._lex_word()

    def peek(self) -> _Token:
        if self._peeked is None:
            self._peeked = self._lex()
        return self._peeked

    def take(self) -> _Token:
        tok = self.peek()
        self._peeked = None
        return tok

    def take_argument(self, op: _Token) -> _Token:
        """The word after ``op``, lexed as an argument (may start with ``(`` or ``!``)."""
        assert self._peeked is None
        self._skip_space()
        i = self.i
        missing = f"missing argument for {op.value}"
        if i >= self.n:
            raise self.error(missing, i)
        c = self.expr[i]
        if c in "\"'":
            return self._lex_quoted()
        tok = self._lex_word()
        if not tok.value or tok.value in ("&", "|"):
            raise self.error(missing, i)
        if tok.value.startswith("~"):
            m = _OP_NAME.match(tok.value)
            assert m is not None
            name = m.group()[1:]
            if name in _ARG_OPS or name in _NOARG_OPS:
                raise self.error(f"{missing} (quote it to search for {tok.value!r})", i)
        return tok

    # -- grammar -----------------------------------------------------------

    def parse(self) -> _Node | None:
        if self.peek().kind == _END:
            return None
        node = self.parse_or()
        tok = self.peek()
        if tok.kind == _RPAREN:
            raise self.error("unbalanced ')'", tok.pos)
        if tok.kind != _END:  # pragma: no cover - parse_and consumes every term
            raise self.error(f"unexpected {tok.describe()}", tok.pos)
        return node

    def parse_or(self) -> _Node:
        children = [self.parse_and()]
        while self.peek().kind == _OR:
            op = self.take()
            self.expect_term(op)
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else _Or(children)

    def parse_and(self) -> _Node:
        children = [self.parse_not()]
        while True:
            tok = self.peek()
            if tok.kind == _AND:
                self.take()
                self.expect_term(tok)
            elif tok.kind not in (_NOT, _LPAREN, _OP, _WORD):
                break
            children.append(self.parse_not())
        return children[0] if len(children) == 1 else _And(children)

    def parse_not(self) -> _Node:
        tok = self.peek()
        if tok.kind == _NOT:
            self.take()
            self.expect_term(tok)
            return _Not(self.parse_not())
        return self.parse_primary()

    def expect_term(self, op: _Token) -> None:
        """After an operator: complain unless a term follows."""
        tok = self.peek()
        if tok.kind in (_END, _RPAREN):
            raise self.error(f"'{op.value}' must be followed by an expression", op.pos)
        if tok.kind in (_AND, _OR):
            raise self.error(f"unexpected {tok.describe()} after '{op.value}'", tok.pos)

    def parse_primary(self) -> _Node:
        tok = self.take()
        kind = tok.kind
        if kind == _LPAREN:
            inner = self.peek()
            if inner.kind == _RPAREN:
                raise self.error("empty parentheses", tok.pos)
            if inner.kind == _END:
                raise self.error("unclosed '('", tok.pos)
            node = self.parse_or()
            close = self.take()
            if close.kind != _RPAREN:
                raise self.error("unclosed '('", tok.pos)
            return node
        if kind == _OP:
            return self.parse_operator(tok)
        if kind == _WORD:
            return self.bare_text(tok)
        if kind == _END:  # pragma: no cover - callers check with expect_term
            raise self.error("expression expected", tok.pos)
        if kind == _RPAREN:
            raise self.error("unbalanced ')'", tok.pos)
        # a binary operator where a term should start
        raise self.error(f"'{tok.value}' needs an expression on its left", tok.pos)

    def bare_text(self, tok: _Token) -> _Node:
        try:
            pattern = re.compile(tok.value, _FLAGS)
        except (re.error, OverflowError, RecursionError):
            pattern = re.compile(re.escape(tok.value), _FLAGS)
        return _Url("~u", pattern)

    def parse_operator(self, op: _Token) -> _Node:
        name = op.value[1:]
        operator = _BY_CODE.get(name)
        if operator is None:
            if not name:
                raise self.error("'~' must be followed by an operator name", op.pos)
            raise self.error(f"unknown operator {op.value}", op.pos)
        if not operator.arg:
            assert operator.node is not None
            return operator.node()
        arg = self.take_argument(op)
        if operator.arg == "CODE" or operator.node is None:
            return self.status(op, arg)
        if operator.arg != "REGEX":
            return operator.node(arg.value)
        if operator.code == "b":  # the body is bytes: so is its pattern
            self.body_terms += 1
            data = arg.value.encode("utf-8")
            try:
                pattern_b = re.compile(data, _FLAGS)
            except re.error as exc:
                index = len(data[: exc.pos or 0].decode("utf-8", "ignore"))
                raise self.regex_error(op, arg, exc.msg, index) from None
            return operator.node(pattern_b)
        try:
            pattern = re.compile(arg.value, _FLAGS)
        except re.error as exc:
            raise self.regex_error(op, arg, exc.msg, exc.pos or 0) from None
        except (OverflowError, RecursionError) as exc:
            raise self.regex_error(op, arg, str(exc) or "regex too complex", 0) from None
        return operator.node(pattern)

    def regex_error(self, op: _Token, arg: _Token, msg: str, index: int) -> FilterError:
        return self.error(f"bad regex for {op.value}: {msg}", arg.source_pos(index))

    def status(self, op: _Token, arg: _Token) -> _Node:
        text = arg.value.strip()
        if _STATUS_CODE.fullmatch(text):
            code = int(text)
            return _Status(code, code, str(code))
        m = _STATUS_CLASS.fullmatch(text)
        if m:
            lo = int(m.group(1)) * 100
            return _Status(lo, lo + 99, f"{m.group(1)}xx")
        m = _STATUS_RANGE.fullmatch(text)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo > hi:
                raise self.error(f"bad status range {text!r} (start is after end)", arg.pos)
            return _Status(lo, hi, f"{lo}-{hi}")
        raise self.error(
            f"bad status code {arg.value!r} for {op.value} (expected e.g. 200, 4xx or 500-599)",
            arg.pos,
        )


# ---------------------------------------------------------------------------
# public API


class FlowFilter:
    """A compiled filter: call it on a flow to know whether the flow matches.

    ``body_of`` is called (at most once per flow) only when a ``~b`` term has
    to be evaluated; without it ``~b`` never matches.
    """

    __slots__ = ("_body_terms", "_root", "expression", "needs_body")

    def __init__(self, expression: str, root: _Node | None, body_terms: int = 0) -> None:
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


def parse_filter(expr: str) -> FlowFilter:
    """Compile ``expr``; raise :class:`FilterError` if it is not valid.

    An empty (or blank) expression gives a filter that matches every flow.
    """
    parser = _Parser(expr)
    root = parser.parse()
    return FlowFilter(expr, root, parser.body_terms)
