from __future__ import annotations

from scrapy.http import Headers

from workbench.core.formats.sanitize import clean, clean_line, to_text
from workbench.core.inspection.body import hexdump, render_body

PAYLOADS = [
    "\x1b]0;PWNED\x07",  # OSC title
    "\x1b[2J\x1b[H",  # clear screen, cursor home
    "\x1b]52;c;aGVsbG8=\x07",  # OSC 52 clipboard write
    "\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\",  # OSC 8 hyperlink
    "\x9b31m",  # 8-bit CSI
    "\x1bP+q\x1b\\",  # DCS
    "\x1b[6n",  # device status query
    "a\x08b\rc",  # backspace, carriage return
    "\u202egnp.exe",  # bidi override
]


def test_clean_leaves_no_control_characters():
    for payload in PAYLOADS:
        out = clean(payload)
        assert not any(ord(c) < 32 and c not in "\t\n" for c in out), repr(out)
        assert not any(0x7F <= ord(c) <= 0x9F for c in out), repr(out)
        assert "\u202e" not in out
    assert clean("hello \x1b]0;PWNED\x07 world") == "hello \\x1b]0;PWNED\\x07 world"


def test_clean_line_escapes_newlines_and_bounds_length():
    assert clean_line("a\nb\tc") == "a\\x0ab\\x09c"
    assert len(clean_line("x" * 10_000_000, 100)) == 101


def test_to_text_never_raises():
    assert to_text(b"\xff\xfeok") == "\ufffd\ufffdok"
    assert to_text(None) == ""


def test_render_body_decodes_declared_encoding_and_pretty_prints_json():
    html = render_body(
        "http://127.0.0.1/x",
        Headers({"Content-Type": "text/html; charset=windows-1252"}),
        "<p>caf\xe9 \x1b[2J</p>".encode("cp1252"),
    )
    assert html.kind == "html" and "café" in html.text and "\x1b" not in html.text
    data = render_body(
        "http://127.0.0.1/a", Headers({"Content-Type": "application/json"}), b'{"a": [1, 2]}'
    )
    assert data.kind == "json" and data.text.startswith('{\n  "a"')
    binary = render_body(
        "http://127.0.0.1/b.png",
        Headers({"Content-Type": "image/png"}),
        b"\x89PNG\r\n\x1a\n\x00\x00",
    )
    assert binary.kind == "binary" and binary.text.startswith("00000000  89 50 4e 47")


def test_render_body_is_bounded():
    big = render_body(
        "http://127.0.0.1/t", Headers({"Content-Type": "text/plain"}), b"a" * 2_000_000, limit=1000
    )
    assert len(big.text) == 1000 and "first" in big.note
    assert hexdump(b"\x00" * 100_000).count("\n") < 1100


def test_a_body_scrapy_never_decompressed_says_so_and_what_it_holds():
    """A decompression bomb dropped over DOWNLOAD_MAXSIZE keeps its wire form."""
    import gzip

    gzipped = Headers({"Content-Type": "text/html", "Content-Encoding": "gzip"})
    bomb = gzip.compress(b"\0" * 20_000_000)
    shown = render_body("http://127.0.0.1/bomb", gzipped, bomb)
    assert shown.kind == "compressed" and shown.lexer is None
    assert "still gzip-compressed" in shown.note and "DOWNLOAD_MAXSIZE" in shown.note
    assert "decompresses to more than 1.0 MiB" in shown.note
    assert shown.text.startswith("00000000  1f 8b")
    small = render_body("http://127.0.0.1/", gzipped, gzip.compress(b"<p>hi</p>"))
    assert "decompresses to 9 B" in small.note
    broken = render_body("http://127.0.0.1/", gzipped, b"\x1f\x8bnot really gzip")
    assert "does not decompress" in broken.note
    # decoded by Scrapy (the header went with it), or a header that lies: the text
    assert render_body("http://127.0.0.1/", gzipped, b"<p>decoded</p>").kind == "html"


def test_invalid_bytes_are_counted_and_a_big_body_is_decoded_from_its_start():
    utf8 = Headers({"Content-Type": "text/html; charset=utf-8"})
    shown = render_body("http://127.0.0.1/", utf8, b"<p>caf\xe9 \xff ok \xef\xbf\xbd</p>")
    assert "2 bytes not valid utf-8" in shown.note  # the page's own U+FFFD is not counted
    big = b"<p>" + "é".encode() * 3_000_000
    shown = render_body("http://127.0.0.1/", utf8, big, limit=100_000)
    assert "decoded the first" in shown.note and "not valid" not in shown.note
    assert len(shown.text) == 100_000


def test_invisible_characters_are_shown_as_escapes():
    from tests.hostile_payloads import INVISIBLE, INVISIBLE_ONE_LINE

    assert clean_line("pay\u200bpal.com") == "pay\\u200bpal.com"
    assert clean_line("a\U000e0041\U000e0042b") == "a\\U000e0041\\U000e0042b"
    assert clean_line("soft\u00adhyphen") == "soft\\xadhyphen"
    for char in INVISIBLE:
        shown = f"\\u{ord(char):04x}" if ord(char) < 0x10000 else f"\\U{ord(char):08x}"
        assert clean(f"a{char}b") == clean_line(f"a{char}b") == f"a{shown}b", repr(char)
    for char in INVISIBLE_ONE_LINE:
        assert char not in clean_line(f"a{char}b"), repr(char)
        assert clean(f"a{char}b") == f"a{char}b", repr(char)  # a body keeps it
    # Persian needs its zero-width non-joiner, an emoji sequence its joiner
    assert clean("می\u200cخواهم 👩\u200d💻") == "می\u200cخواهم 👩\u200d💻"


def test_lone_surrogates_are_escaped_and_encodable():
    from tests.hostile_payloads import SURROGATES

    assert clean('"\ud800"') == '"\\ud800"'
    assert clean_line("a\ud83dz") == "a\\ud83dz"
    for text in SURROGATES:
        for out in (clean(text), clean_line(text)):
            out.encode("utf-8")  # never raises: nothing a terminal cannot write
    assert clean("ok 😀") == "ok 😀"  # a real astral character is kept
