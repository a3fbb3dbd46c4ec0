"""The flow filter language's grammar (``!``, ``&``, ``|``, parentheses,
quotes) over fleet rows, with operators of its own: ``~host``, ``~spider``,
``~project``, ``~job``, ``~state``, ``~src``, ``~e`` (errors), ``~stale N``
(no new response for N seconds); bare text matches the host, spider, project
or job id.  :func:`parse_fleet_filter` gives a callable ``(row) -> bool``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from workbench.core.fleet.model import FleetRow
from workbench.core.inspection.filters.lexer import FilterError, Token
from workbench.core.inspection.filters.matching import FlowFilter, Node
from workbench.core.inspection.filters.parsing import Parser

_FLAGS = re.IGNORECASE


class _Text(Node):
    __slots__ = ("fields", "op", "pattern")

    def __init__(self, op: str, fields: tuple[str, ...], pattern: re.Pattern[str]) -> None:
        self.op = op
        self.fields = fields
        self.pattern = pattern

    def match(self, row: Any, body_of: Any) -> bool:
        search = self.pattern.search
        return any(search(str(getattr(row, f) or "")) for f in self.fields)

    def __repr__(self) -> str:
        return f"{self.op} {self.pattern.pattern!r}"


class _Test(Node):
    __slots__ = ("op", "test")

    def __init__(self, op: str, test: Callable[[FleetRow], bool]) -> None:
        self.op = op
        self.test = test

    def match(self, row: Any, body_of: Any) -> bool:
        return self.test(row)

    def __repr__(self) -> str:
        return self.op


TEXT_OPERATORS: dict[str, tuple[tuple[str, ...], str]] = {
    "host": (("host",), "host (or Scrapyd node) matches"),
    "spider": (("spider",), "spider name matches"),
    "project": (("project",), "project matches"),
    "job": (("job_id",), "job id matches"),
    "state": (
        ("state",),
        "state matches: running, paused, closing, pending, finished, unreachable",
    ),
    "src": (("source",), "where it was found: local, ssh, scrapyd"),
    "reason": (("reason",), "the reason (unreachable) or finish reason matches"),
}
BARE_FIELDS = ("host", "spider", "project", "job_id")

FLEET_FILTER_HELP = "\n".join(
    [f"~{code:<8} REGEX  {help}" for code, (_, help) in TEXT_OPERATORS.items()]
    + [
        "~e              it has logged errors",
        "~stale SECONDS  running, and no new response for SECONDS (or never seen one)",
        "TEXT            host, spider, project or job id matches",
        "! X, X & Y, X | Y, ( X ), quotes: as in the flow filter",
    ]
)


class FleetParser(Parser):
    def bare_text(self, tok: Token) -> Node:
        try:
            pattern = re.compile(tok.value, _FLAGS)
        except (re.error, OverflowError, RecursionError):
            pattern = re.compile(re.escape(tok.value), _FLAGS)
        return _Text("", BARE_FIELDS, pattern)

    def parse_operator(self, op: Token) -> Node:
        name = op.value[1:]
        if name == "e":
            return _Test("~e", lambda row: bool(row.errors))
        if name == "stale":
            arg = self.take_argument(op)
            try:
                seconds = float(arg.value)
            except ValueError:
                raise self.error(f"~stale takes seconds, not {arg.value!r}", arg.pos) from None
            return _Test(f"~stale {seconds:g}", lambda row: _stale(row, seconds))
        found = TEXT_OPERATORS.get(name)
        if found is None:
            if not name:
                raise self.error("'~' must be followed by an operator name", op.pos)
            known = ", ".join(f"~{c}" for c in (*TEXT_OPERATORS, "e", "stale"))
            raise self.error(f"unknown operator {op.value} in the fleet ({known})", op.pos)
        arg = self.take_argument(op)
        try:
            pattern = re.compile(arg.value, _FLAGS)
        except re.error as exc:
            raise self.regex_error(op, arg, exc.msg, exc.pos or 0) from None
        except (OverflowError, RecursionError) as exc:
            raise self.regex_error(op, arg, str(exc) or "regex too complex", 0) from None
        return _Text(op.value, found[0], pattern)


def _stale(row: FleetRow, seconds: float) -> bool:
    if not row.live:
        return False
    if row.last_response_age is None:
        return (row.uptime or 0) >= seconds
    return row.last_response_age >= seconds


def parse_fleet_filter(expr: str) -> FlowFilter:
    """Compile ``expr`` over fleet rows (:class:`FilterError` when it is not valid)."""
    parser = FleetParser(expr)
    return FlowFilter(expr, parser.parse())


__all__ = ["FLEET_FILTER_HELP", "FilterError", "parse_fleet_filter"]
