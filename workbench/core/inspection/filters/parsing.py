"""The filter grammar: :func:`parse_filter` turns an expression into a
:class:`~.matching.FlowFilter`.

A recursive-descent parser over :class:`~.lexer.Lexer`'s tokens (the grammar
is in the package's docstring); operators are looked up in
:data:`~.operators.BY_CODE`, and ``~c``'s status codes are read here.
"""

from __future__ import annotations

import re
from typing import Any

from workbench.core.inspection.filters.lexer import (
    AND,
    END,
    LPAREN,
    NOT,
    OP,
    OR,
    RPAREN,
    WORD,
    FilterError,
    Lexer,
    Token,
)
from workbench.core.inspection.filters.matching import And, FlowFilter, Node, Not, Or, Status, Url
from workbench.core.inspection.filters.operators import BY_CODE, FLOWS, WHERE

_FLAGS = re.IGNORECASE
_STATUS_CODE = re.compile(r"\d{1,3}")
_STATUS_CLASS = re.compile(r"([1-9])xx", re.IGNORECASE)
_STATUS_RANGE = re.compile(r"(\d{1,3})-(\d{1,3})")


class Parser(Lexer):
    def __init__(self, expr: str, target: str = FLOWS) -> None:
        super().__init__(expr)
        self.body_terms = 0
        self.target = target  # FLOWS or ITEMS: what the filter tests

    def parse(self) -> Node | None:
        if self.peek().kind == END:
            return None
        node = self.parse_or()
        tok = self.peek()
        if tok.kind == RPAREN:
            raise self.error("unbalanced ')'", tok.pos)
        if tok.kind != END:  # pragma: no cover - parse_and consumes every term
            raise self.error(f"unexpected {tok.describe()}", tok.pos)
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.peek().kind == OR:
            op = self.take()
            self.expect_term(op)
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Or(children)

    def parse_and(self) -> Node:
        children = [self.parse_not()]
        while True:
            tok = self.peek()
            if tok.kind == AND:
                self.take()
                self.expect_term(tok)
            elif tok.kind not in (NOT, LPAREN, OP, WORD):
                break
            children.append(self.parse_not())
        return children[0] if len(children) == 1 else And(children)

    def parse_not(self) -> Node:
        tok = self.peek()
        if tok.kind == NOT:
            self.take()
            self.expect_term(tok)
            return Not(self.parse_not())
        return self.parse_primary()

    def expect_term(self, op: Token) -> None:
        """After an operator: complain unless a term follows."""
        tok = self.peek()
        if tok.kind in (END, RPAREN):
            raise self.error(f"'{op.value}' must be followed by an expression", op.pos)
        if tok.kind in (AND, OR):
            raise self.error(f"unexpected {tok.describe()} after '{op.value}'", tok.pos)

    def parse_primary(self) -> Node:
        tok = self.take()
        kind = tok.kind
        if kind == LPAREN:
            inner = self.peek()
            if inner.kind == RPAREN:
                raise self.error("empty parentheses", tok.pos)
            if inner.kind == END:
                raise self.error("unclosed '('", tok.pos)
            node = self.parse_or()
            close = self.take()
            if close.kind != RPAREN:
                raise self.error("unclosed '('", tok.pos)
            return node
        if kind == OP:
            return self.parse_operator(tok)
        if kind == WORD:
            return self.bare_text(tok)
        if kind == END:  # pragma: no cover - callers check with expect_term
            raise self.error("expression expected", tok.pos)
        if kind == RPAREN:
            raise self.error("unbalanced ')'", tok.pos)
        # a binary operator where a term should start
        raise self.error(f"'{tok.value}' needs an expression on its left", tok.pos)

    def bare_text(self, tok: Token) -> Node:
        try:
            pattern = re.compile(tok.value, _FLAGS)
        except (re.error, OverflowError, RecursionError):
            pattern = re.compile(re.escape(tok.value), _FLAGS)
        return Url("~u", pattern)

    def parse_operator(self, op: Token) -> Node:
        name = op.value[1:]
        operator = BY_CODE.get(name)
        if operator is None:
            if not name:
                raise self.error("'~' must be followed by an operator name", op.pos)
            raise self.error(f"unknown operator {op.value}", op.pos)
        if self.target not in operator.applies_to:
            where = " or ".join(WHERE.get(t, t) for t in operator.applies_to)
            raise self.error(f"{op.value} does not apply to {self.target}: only to {where}", op.pos)
        if not operator.arg:
            assert operator.node is not None
            return operator.node()
        arg = self.take_argument(op)
        if operator.arg == "CODE" or operator.node is None:
            return self.status(op, arg)
        if operator.arg.startswith("FIELD"):
            return self.field(op, operator.arg, operator.node, arg)
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

    def field(self, op: Token, kind: str, node: Any, arg: Token) -> Node:
        """``FIELD``, or ``FIELD=REGEX`` where the operator takes a value."""
        name, sep, text = arg.value.partition("=")
        if not name:
            raise self.error(f"missing field name for {op.value}", arg.pos)
        if not sep:
            return node(name, None)
        if kind != "FIELD[=REGEX]":
            raise self.error(
                f"{op.value} takes a field name only (~f {name}=REGEX tests a value)",
                arg.source_pos(len(name)),
            )
        start = len(name) + 1
        try:
            pattern = re.compile(text, _FLAGS)
        except re.error as exc:
            raise self.regex_error(op, arg, exc.msg, start + (exc.pos or 0)) from None
        except (OverflowError, RecursionError) as exc:
            raise self.regex_error(op, arg, str(exc) or "regex too complex", start) from None
        return node(name, pattern)

    def regex_error(self, op: Token, arg: Token, msg: str, index: int) -> FilterError:
        return self.error(f"bad regex for {op.value}: {msg}", arg.source_pos(index))

    def status(self, op: Token, arg: Token) -> Node:
        text = arg.value.strip()
        if _STATUS_CODE.fullmatch(text):
            code = int(text)
            return Status(code, code, str(code))
        m = _STATUS_CLASS.fullmatch(text)
        if m:
            lo = int(m.group(1)) * 100
            return Status(lo, lo + 99, f"{m.group(1)}xx")
        m = _STATUS_RANGE.fullmatch(text)
        if m:
            lo, hi = int(m.group(1)), int(m.group(2))
            if lo > hi:
                raise self.error(f"bad status range {text!r} (start is after end)", arg.pos)
            return Status(lo, hi, f"{lo}-{hi}")
        raise self.error(
            f"bad status code {arg.value!r} for {op.value} (expected e.g. 200, 4xx or 500-599)",
            arg.pos,
        )


def parse_filter(expr: str, target: str = FLOWS) -> FlowFilter:
    """Compile ``expr``; raise :class:`FilterError` if it is not valid, or if it
    uses an operator that does not apply to ``target`` (``FLOWS``, ``ITEMS``).

    An empty (or blank) expression gives a filter that matches every flow.
    """
    parser = Parser(expr, target)
    root = parser.parse()
    return FlowFilter(expr, root, parser.body_terms)
