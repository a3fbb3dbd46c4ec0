"""The filter operators, declared once: :data:`OPERATORS`.

Each :class:`Operator` names its ``~code``, its argument, its help line and
the node (from :mod:`.matching`) it becomes.  The parser's lookup
(:data:`BY_CODE`) and :data:`FILTER_HELP` (the in-app help) are derived from
the table; ``tests/test_filters.py`` holds the docs' table to it.

Each operator also says what it applies to (``applies_to``): :data:`FLOWS`
(the Flows filter, response and error breakpoints) and/or :data:`ITEMS` (an
item seen with the flow that produced it: item and dropped breakpoints).  The
parser, given its target, refuses an operator that does not apply there.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from workbench.core.inspection.filters.matching import (
    All,
    AnyError,
    Body,
    Callback,
    ContentType,
    Domain,
    Fate,
    FateBy,
    FieldState,
    Header,
    Inline,
    ItemClass,
    ItemField,
    ItemOutcome,
    Media,
    Method,
    NeverDownloaded,
    Node,
    Spider,
    Url,
)
from workbench.core.recording.item_health import EMPTY, MISSING, NONE

FLOWS = "flows"
ITEMS = "items"
# where each target's filters are typed, for the error that names them
WHERE = {
    FLOWS: "flows (the Flows filter, response: and error: breakpoints)",
    ITEMS: "items (the Items filter, item: and dropped: breakpoints)",
}


@dataclass(frozen=True)
class Operator:
    """One ``~code`` of the language: its argument (none, or what it takes), its
    help line, and how it becomes a node.  ``REGEX`` arguments are compiled by
    the parser (case-insensitive, with the error's column) and handed over as a
    pattern; other arguments as text; none, nothing."""

    code: str
    arg: str  # "", "REGEX", "CODE", "METHOD", "FIELD" or "FIELD[=REGEX]"
    help: str
    node: Callable[..., Any] | None  # () / (pattern) / (text) / (field, pattern) -> Node
    aliases: tuple[str, ...] = ()
    applies_to: tuple[str, ...] = (FLOWS, ITEMS)  # an item is tested with its flow

    @property
    def usage(self) -> str:
        return f"~{self.code} {self.arg}".rstrip()


def _header(name: str, request: bool, response: bool) -> Callable[[re.Pattern[str]], Node]:
    return lambda pattern: Header(name, pattern, request, response)


OPERATORS: tuple[Operator, ...] = (
    Operator("u", "REGEX", "URL matches", lambda p: Url("~u", p)),
    Operator("d", "REGEX", "domain (host) matches", lambda p: Domain("~d", p)),
    Operator("m", "METHOD", "request method is METHOD", lambda text: Method(text)),
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
    Operator("t", "REGEX", "response Content-Type matches", lambda p: ContentType("~t", p)),
    Operator("b", "REGEX", "response body matches (may be slow)", lambda p: Body("~b", p)),
    Operator("cb", "REGEX", "callback name matches", lambda p: Callback("~cb", p)),
    Operator("e", "", "download error or callback error", lambda: AnyError()),
    Operator("media", "", "a files/images pipeline's download (stored)", lambda: Media()),
    Operator(
        "inline",
        "",
        "downloaded inline: awaited in a callback (engine.download_async), not scheduled",
        lambda: Inline(),
    ),
    Operator(
        "fate",
        "REGEX",
        "what became of the request matches: downloaded, duplicate, offsite, depth, "
        "robots, ignored, scheduler, pending, maxsize, retried, gave-up",
        lambda p: Fate("~fate", p),
    ),
    Operator(
        "by",
        "REGEX",
        "the component that decided the request's fate (its class path) matches, "
        "e.g. ~by OffsiteMiddleware",
        lambda p: FateBy("~by", p),
    ),
    Operator(
        "dropped",
        "",
        "never downloaded: a duplicate, offsite, too deep, robots.txt, ignored, "
        "refused by the scheduler, or still pending at the end",
        lambda: NeverDownloaded(),
    ),
    Operator(
        "spider",
        "REGEX",
        "the spider's name matches (several crawlers)",
        lambda p: Spider("~spider", p),
    ),
    Operator(
        "f",
        "FIELD[=REGEX]",
        "the item has FIELD filled (not missing, None or empty); =REGEX: its value matches",
        lambda name, p: ItemField(name, p),
        applies_to=(ITEMS,),
    ),
    Operator(
        "missing",
        "FIELD",
        "the item lacks FIELD (a declared field never set, a key it has not)",
        lambda name, p: FieldState("~missing", name, MISSING),
        applies_to=(ITEMS,),
    ),
    Operator(
        "none",
        "FIELD",
        "the item's FIELD is None",
        lambda name, p: FieldState("~none", name, NONE),
        applies_to=(ITEMS,),
    ),
    Operator(
        "empty",
        "FIELD",
        'the item\'s FIELD is empty: "", blank text, [] or {}',
        lambda name, p: FieldState("~empty", name, EMPTY),
        applies_to=(ITEMS,),
    ),
    Operator(
        "it",
        "REGEX",
        "the item's class name matches (dict for a plain dict)",
        lambda p: ItemClass("~it", p),
        applies_to=(ITEMS,),
    ),
    Operator(
        "outcome",
        "REGEX",
        "what became of the item (the Outcome column): ok, dropped or error",
        lambda p: ItemOutcome("~outcome", p),
        applies_to=(ITEMS,),
    ),
    Operator("a", "", "every flow", lambda: All()),
)

# every code and alias -> its operator (what the parser and the lexer look up)
BY_CODE = {code: op for op in OPERATORS for code in (op.code, *op.aliases)}

_WIDTH = max(len(op.usage) for op in OPERATORS) + 1
FILTER_HELP = "\n".join(
    [f"{op.usage:<{_WIDTH}} {op.help}" for op in OPERATORS]
    + [
        f"{usage:<{_WIDTH}} {text}"
        for usage, text in (
            ("TEXT", "URL matches TEXT (regex, or literal text if not a valid regex)"),
            ("! X", "not X"),
            ("X & Y", "X and Y (also: X Y)"),
            ("X | Y", "X or Y"),
            ("( X )", "grouping; ! binds tightest, then &, then |"),
            ("\"...\" '...'", "quote arguments with spaces; regexes ignore case"),
        )
    ]
)
