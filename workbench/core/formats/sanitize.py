"""Make untrusted text safe to draw in a terminal.

Bodies, headers, URLs, log lines and exception text come from the web.
Rich and Textual strip only a few control characters, so every string that
reaches the screen goes through :func:`clean` (or :func:`clean_line`) first:
what could move the cursor, talk to the terminal, reorder or hide text
becomes a visible escape (``\\x1b``, ``\\u202e``, ``\\U000e0041``); nothing
is passed through.

Escaped everywhere: control characters (C0 but tab and newline, DEL, C1
including 0x9b), bidi embeddings, overrides, isolates and marks, the
line/paragraph separators, the BOM, invisible format characters (zero-width
space, word joiner, invisible operators, interlinear annotations, the
Mongolian vowel separator), the tag characters (U+E0000-U+E007F, used to
hide text) and lone surrogates (which a JSON ``"\\ud800"`` escape gives and no
terminal encoding can write).

Escaped on one line only (URLs, keys, names, where a hidden character
spoofs): tab and newline, the soft hyphen, the zero-width (non-)joiners,
the combining grapheme joiner, Hangul fillers, Khmer inherent vowels,
Mongolian variation selectors and the variation selectors supplement.  A
body keeps those: Persian, Arabic and Indic text needs its joiners, emoji
sequences their ZWJ, and a multi-line text its soft hyphens.
"""

from __future__ import annotations

import re

_EVERYWHERE = (
    "\x00-\x08\x0b-\x1f\x7f-\x9f"  # C0 but \t \n, DEL, C1
    "\u061c\u200e\u200f\u202a-\u202e"  # bidi marks, embeddings, overrides
    "\u2028\u2029\ufeff"  # line/paragraph separators, BOM (zero-width no-break)
    "\u180e\u200b\u2060-\u206f\ufff9-\ufffb"  # zero-width, invisible, bidi isolates
    "\U000e0000-\U000e007f"  # tag characters
    "\ud800-\udfff"  # lone surrogates
)
_ONE_LINE_ONLY = (
    "\t\n\u00ad\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180d\u180f"
    "\u200c\u200d\u3164\uffa0\U000e0100-\U000e01ef"
)
_UNSAFE = re.compile(f"[{_EVERYWHERE}]")
_UNSAFE_ONE_LINE = re.compile(f"[{_EVERYWHERE}{_ONE_LINE_ONLY}]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x100:
        return f"\\x{code:02x}"
    if code < 0x10000:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def clean(text: str) -> str:
    """Return ``text`` with every unsafe character shown as an escape.

    Newlines and tabs are kept (tabs should still be expanded by the caller
    where columns matter).
    """
    return _UNSAFE.sub(_escape, text)


def clean_line(text: str, limit: int | None = None) -> str:
    """Like :func:`clean`, but for one line: newlines, tabs and the invisible
    characters a body keeps (joiners, soft hyphens...) become escapes too.

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
