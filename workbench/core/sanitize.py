"""Make untrusted text safe to draw in a terminal.

Bodies, headers, URLs, log lines and exception text come from the web.
Rich and Textual strip only a few control characters, so every string that
reaches the screen goes through :func:`clean` first: control characters
(C0 but tab and newline, DEL, C1 including 0x9b) and bidi overrides become
visible escapes (``\\x1b``, ``\\u202e``); nothing is passed through.
"""

from __future__ import annotations

import re

# C0 controls except \t and \n, DEL, C1 controls, bidi embeddings/overrides/isolates,
# the line/paragraph separators and the zero-width no-break BOM.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]"
)
_UNSAFE_ONE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def clean(text: str) -> str:
    """Return ``text`` with every unsafe character shown as an escape.

    Newlines and tabs are kept (tabs should still be expanded by the caller
    where columns matter).
    """
    return _UNSAFE.sub(_escape, text)


def clean_line(text: str, limit: int | None = None) -> str:
    """Like :func:`clean`, but for one line: newlines and tabs become escapes too.

    ``limit`` bounds the input length first, so a 10 MB URL costs nothing.
    """
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    return _UNSAFE_ONE_LINE.sub(_escape, text)


def to_text(value: bytes | str | None, encoding: str = "utf-8") -> str:
    """Decode bytes without ever raising (invalid bytes become U+FFFD)."""
    if value is None:
        return ""
    if isinstance(value, bytes):
        return value.decode(encoding, errors="replace")
    return value
