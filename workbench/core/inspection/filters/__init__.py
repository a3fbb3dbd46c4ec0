"""A small flow filter language, in the style of mitmproxy's ``flowfilter``.

Headless: this package does not import textual, so the recorder, the remote
sources and the tests can use it.

Grammar (``!`` binds tighter than ``&``, which binds tighter than ``|``)::

    expr     := or
    or       := and ( "|" and )*
    and      := not ( [ "&" ] not )*       two terms side by side mean "&"
    not      := "!" not | primary
    primary  := "(" expr ")" | "~" NAME [ ARG ] | TEXT

Operators: :data:`OPERATORS` is the one list (code, argument, help, node); the
parser, :data:`FILTER_HELP` (the in-app help) and the docs' table come from it
or are tested against it.  ``TEXT`` alone matches the URL (a regex; literal
text if not a valid one).  The lexical rules (quotes, where ``&``, ``|`` and
``)`` are operators) are in :mod:`.lexer`.

Errors are :class:`FilterError` with a ``message`` and the character offset
``position`` of the problem in the expression.

Where things live:

- ``operators``: :class:`Operator`, :data:`OPERATORS` (where an operator is
  declared, once, with what it applies to: :data:`FLOWS`, :data:`ITEMS`) and
  :data:`FILTER_HELP`;
- ``matching``: the tree's nodes (what each operator matches on a flow or an
  item), :class:`FlowFilter`, the compiled filter, and :class:`ItemSubject`,
  what an item filter tests (the item with its flow);
- ``lexer``: :class:`FilterError`, the tokens and the lexer;
- ``parsing``: the grammar and :func:`parse_filter`.
"""

from __future__ import annotations

from workbench.core.inspection.filters.lexer import FilterError
from workbench.core.inspection.filters.matching import FlowFilter, ItemSubject
from workbench.core.inspection.filters.operators import (
    FILTER_HELP,
    FLOWS,
    ITEMS,
    OPERATORS,
    Operator,
)
from workbench.core.inspection.filters.parsing import parse_filter

__all__ = [
    "FILTER_HELP",
    "FLOWS",
    "ITEMS",
    "OPERATORS",
    "FilterError",
    "FlowFilter",
    "ItemSubject",
    "Operator",
    "parse_filter",
]
