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

Where things live:

- ``result``: the kinds, the bounds, :class:`SelectorResult`, the Python
  line of an expression and the one-line error of an invalid one;
- ``document``: :class:`SelectorDocument` (one body, decoded once, and the
  evaluation of each kind) and :func:`evaluate`;
- ``locator``: where css and xpath results are in the text (their spans);
- ``pretty``: :func:`pretty_json`, the JSON a jmespath result's spans refer to.
"""

from __future__ import annotations

from workbench.core.inspection.selection.document import SelectorDocument, evaluate
from workbench.core.inspection.selection.pretty import JSON_SPAN_NODES, pretty_json
from workbench.core.inspection.selection.result import (
    ERROR_LIMIT,
    KINDS,
    MAX_MATCHES,
    MAX_SPANS,
    MAX_VALUES,
    VALUE_LIMIT,
    SelectorResult,
    Span,
    error_message,
    python_line,
)

__all__ = [
    "ERROR_LIMIT",
    "JSON_SPAN_NODES",
    "KINDS",
    "MAX_MATCHES",
    "MAX_SPANS",
    "MAX_VALUES",
    "VALUE_LIMIT",
    "SelectorDocument",
    "SelectorResult",
    "Span",
    "error_message",
    "evaluate",
    "pretty_json",
    "python_line",
]
