"""Terminal-injection payloads: what a hostile page, header, log line or item may carry.

Each payload is ``<NN:`` + a control sequence + ``WBNN>``: the marker right after
the control makes the exact bytes unique, so a payload that reached the
terminal raw would be found as it is, and its escaped form can be looked for
on the screen.
"""

from __future__ import annotations

CONTROLS = [
    # CSI: screen, cursor, modes, reports
    "\x1b[2J", "\x1b[H", "\x1b[3;5H", "\x1b[10A", "\x1b[10B", "\x1b[10C", "\x1b[10D",
    "\x1b[K", "\x1b[1K", "\x1b[2K", "\x1b[s", "\x1b[u", "\x1b[6n", "\x1b[c", "\x1b[>c",
    "\x1b[5n", "\x1b[21t", "\x1b[8;5;5t", "\x1b[?1049h", "\x1b[?1049l", "\x1b[?25l",
    "\x1b[?1000h", "\x1b[?2004h", "\x1b[31m", "\x1b[5m", "\x1b[8m", "\x1b[r",
    "\x1b[3;10r", "\x1b[L", "\x1b[M", "\x1b[P", "\x1b[@", "\x1b[4h", "\x1b[20h",
    # OSC: titles, clipboard, links, colours, notifications
    "\x1b]0;PWNED\x07", "\x1b]2;title\x1b\\", "\x1b]1;icon\x07", "\x1b]52;c;aGVsbG8=\x07",
    "\x1b]52;p;?\x07", "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "\x1b]4;1;rgb:ff/00/00\x07", "\x1b]10;?\x07", "\x1b]11;#000000\x07",
    "\x1b]7;file://host/etc\x07", "\x1b]133;A\x07", "\x1b]1337;File=name=eA==:eA==\x07",
    "\x1b]22;wait\x07", "\x1b]777;notify;t;b\x07",
    # DCS, APC, PM, SOS (tmux passthrough, sixel, kitty graphics)
    "\x1bP+q544e\x1b\\", "\x1bP$qm\x1b\\", "\x1bPtmux;\x1b\x1b]0;x\x07\x1b\\",
    "\x1bPq#0;2;0;0;0#0~~@@vv@@~~$-\x1b\\", "\x1b_Gf=100;AAAA\x1b\\", "\x1b^privacy\x1b\\",
    "\x1bXsos\x1b\\",
    # other escapes: reset, save/restore, alignment test, charsets, keypad, index
    "\x1bc", "\x1b7", "\x1b8", "\x1b#8", "\x1b(0lqqk", "\x1b)0", "\x1b=", "\x1b>",
    "\x1bD", "\x1bM", "\x1bE", "\x1bH", "\x1bZ",
    # 8-bit C1
    "\x9b2J", "\x9b6n", "\x9d0;PWNED\x9c", "\x90+q\x9c", "\x9e?\x9c", "\x9f\x9c",
    "\x84", "\x85", "\x8d", "\x8e", "\x8f",
    # C0 and DEL
    "\x07", "\x08\x08\x08", "a\rb", "\x0b", "\x0c", "\x00", "\x7f", "\x05", "\x0e",
    "\x0f", "\x18", "\x1a", "\x1b",
    # bidi, separators, BOM
    "\u202e", "\u202d", "\u202a", "\u202b", "\u202c", "\u2066", "\u2067", "\u2068",
    "\u2069", "\u200e", "\u200f", "\u061c", "\u2028", "\u2029", "\ufeff",
]  # fmt: skip

PAYLOADS = [f"<{n:02d}:{control}WB{n:02d}>" for n, control in enumerate(CONTROLS)]


def marker(n: int) -> str:
    return f"WB{n:02d}>"


def header_safe(payload: str) -> bool:
    """Payloads an HTTP header line can carry at all (no CR, LF or NUL)."""
    return not any(c in payload for c in "\r\n\x00\x85\u2028\u2029")


# Invisible characters that hide or fake text (not in CONTROLS: test_hostile sends
# those through a body, which keeps the joiners and soft hyphens).  Escaped by
# clean() and clean_line():
INVISIBLE = [
    "\u200b", "\u2060", "\u2061", "\u2062", "\u2063", "\u2064", "\u206a", "\u206f",
    "\ufff9", "\ufffa", "\ufffb", "\u180e", "\U000e0001", "\U000e0041", "\U000e007f",
]  # fmt: skip
# ...by clean_line() only (URLs, keys, names); a body keeps them:
INVISIBLE_ONE_LINE = [
    "\u00ad", "\u200c", "\u200d", "\u034f", "\u115f", "\u1160", "\u3164", "\uffa0",
    "\u17b4", "\u180b", "\U000e0100",
]  # fmt: skip
# Lone surrogates (a JSON "\ud800" escape gives one): no encoding can write them.
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "a\ud83dz"]
