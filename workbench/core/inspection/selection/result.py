"""What one evaluation gives back, and the text around it.

The selector kinds and the bounds on what is kept; :class:`SelectorResult`;
:func:`python_line` (the same selection in ``scrapy shell``);
:func:`error_message` (an invalid expression in one line) and
:func:`display` (a value as shown, shortened).
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from typing import Any

import jmespath

KINDS = ("css", "xpath", "re", "jmespath")
MAX_VALUES = 1000  # values kept (the count is still the full count)
VALUE_LIMIT = 500  # characters of each display value
MAX_SPANS = 10_000  # highlight spans kept
MAX_MATCHES = 1_000_000  # regex matches counted at most
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


def display(value: Any) -> str:
    if isinstance(value, str):
        text = value
    else:
        try:
            text = json.dumps(value, ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= VALUE_LIMIT else text[: VALUE_LIMIT - 1] + "…"
