"""The filter language's words: :class:`FilterError`, the tokens and the lexer.

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
"""

from __future__ import annotations

import re

from workbench.core.inspection.filters.operators import BY_CODE


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


# token kinds
LPAREN, RPAREN, NOT, AND, OR, OP, WORD, END = (
    "(",
    ")",
    "!",
    "&",
    "|",
    "op",
    "word",
    "end",
)

OP_NAME = re.compile(r"~\w*")


class Token:
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
        if self.kind == END:
            return "end of expression"
        if self.kind == WORD:
            return repr(self.value)
        return f"'{self.value}'"


class Lexer:
    """Tokens of one expression, one at a time (``peek``, ``take``), and the
    argument after an operator (``take_argument``)."""

    def __init__(self, expr: str) -> None:
        self.expr = expr
        self.n = len(expr)
        self.i = 0
        self._peeked: Token | None = None

    def error(self, message: str, position: int) -> FilterError:
        return FilterError(message, position, self.expr)

    def _skip_space(self) -> None:
        expr, n, i = self.expr, self.n, self.i
        while i < n and expr[i].isspace():
            i += 1
        self.i = i

    def _lex_quoted(self) -> Token:
        expr, n, start = self.expr, self.n, self.i
        quote = expr[start]
        chars: list[str] = []
        offsets: list[int] = []
        i = start + 1
        while i < n:
            c = expr[i]
            if c == quote:
                self.i = i + 1
                return Token(WORD, "".join(chars), start, i + 1, True, offsets)
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

    def _lex_word(self) -> Token:
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
        return Token(WORD, expr[start:i], start, i)

    def _lex(self) -> Token:
        self._skip_space()
        i = self.i
        if i >= self.n:
            return Token(END, "", self.n, self.n)
        c = self.expr[i]
        if c in "()!&|":
            self.i = i + 1
            return Token(c, c, i, i + 1)
        if c in "\"'":
            return self._lex_quoted()
        if c == "~":
            m = OP_NAME.match(self.expr, i)
            assert m is not None
            self.i = m.end()
            return Token(OP, m.group(), i, m.end())
        return self._lex_word()

    def peek(self) -> Token:
        if self._peeked is None:
            self._peeked = self._lex()
        return self._peeked

    def take(self) -> Token:
        tok = self.peek()
        self._peeked = None
        return tok

    def take_argument(self, op: Token) -> Token:
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
            m = OP_NAME.match(tok.value)
            assert m is not None
            if m.group()[1:] in BY_CODE:  # an operator (with or without argument)
                raise self.error(f"{missing} (quote it to search for {tok.value!r})", i)
        return tok
