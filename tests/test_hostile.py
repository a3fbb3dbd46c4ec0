"""No terminal injection: a hostile site's payloads go through every panel of the real
app in a pseudo-terminal, and the bytes the app wrote are checked.

The site (stdlib HTTP server on 127.0.0.1) puts every payload of
``tests/hostile_payloads.py`` in headers, the title and body lines (UTF-8 and
Latin-1), and the spider puts them in request meta, items, log records, stat
keys, a download slot key, an item class name and an exception message.
"""

from __future__ import annotations

import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers.processes import WORKBENCH, env
from tests.hostile_payloads import PAYLOADS, header_safe, marker
from tests.ptyrun import PtyProcess

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SPIDER = """
import scrapy
from tests.hostile_payloads import PAYLOADS

EvilItem = type("Evil\\x1b[2JItemWB99", (scrapy.Item,), {"value": scrapy.Field()})


class HostileSpider(scrapy.Spider):
    name = "hostile"

    async def start(self):
        meta = {f"evil{n}": p for n, p in enumerate(PAYLOADS)}
        yield scrapy.Request(self.url + "page", meta=meta)
        yield scrapy.Request(self.url + "latin", callback=self.latin)

    def parse(self, response):
        yield {"field\x1b]0;PWNED\x07nameWB98": "a hostile field name"}
        for n, payload in enumerate(PAYLOADS):
            self.logger.warning("payload %s", payload)
            self.crawler.stats.set_value(f"hostile/{payload}", n)
            yield {"n": n, "value": payload}
        self.kept = EvilItem(value=PAYLOADS[0])  # alive: a row in Refs
        yield self.kept
        slot = PAYLOADS[34]  # an OSC title change, as a download slot key
        yield response.follow("boom", self.boom, meta={"download_slot": slot})

    def latin(self, response):
        self.logger.info("latin title %s", response.css("title::text").get())

    def boom(self, response):
        raise ValueError(" ".join(PAYLOADS))
"""


class Hostile(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/latin":
            encoding, charset = "latin-1", "iso-8859-1"
            lines = [p for p in PAYLOADS if all(ord(c) < 256 for c in p)]
        else:
            encoding, charset = "utf-8", "utf-8"
            lines = PAYLOADS
        title = "".join(lines[:12])
        body = f"<html><head><title>{title}</title></head><body><pre>\n"
        body += "\n".join(lines) + "\n</pre></body></html>\n"
        data = body.encode(encoding)
        self.send_response(200)
        self.send_header("Content-Type", f"text/html; charset={charset}")
        self.send_header("Content-Length", str(len(data)))
        for n, payload in enumerate(PAYLOADS):
            if header_safe(payload):  # the raw UTF-8 bytes on the wire
                self.send_header(f"X-Evil-{n:02d}", payload.encode().decode("latin-1"))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hostile_site():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


# What Textual itself writes: SGR, cursor positions, private modes and their
# queries, the kitty keyboard protocol, and OSC 22 (pointer shape).
ALLOWED_CSI = re.compile(rb"\x1b\[(?:[0-9;]*m|\d+;\d+H|\?\d+[hl]|\?\d+\$p|>\d+u|<u)")
ANY_CSI = re.compile(rb"\x1b\[[0-?]*[ -/]*[@-~]")
ALLOWED_OSC = re.compile(rb"\x1b\]22;[a-z-]*\x07")
UNSAFE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1a\x1c-\x1f\x7f-\x9f\u061c\u200e\u200f"
                         "\u202a-\u202e\u2028\u2029\u2066-\u2069\ufeff]")  # fmt: skip


def visit_every_panel(term: PtyProcess) -> None:
    def press(keys: str, wait: float = 0.4) -> None:
        for key in keys:
            term.send(key)
            end = time.monotonic() + wait
            while time.monotonic() < end:
                term._pump(0.05)

    press("1g")
    for _ in range(3):  # each flow: every tab of its detail
        press("\r12345", wait=0.6)
        press("\x1b")
        press("j")
    press("E", wait=1.2)  # the errors grouped: the boom callback's, its traceback
    press("\rz", wait=0.8)
    press("\x1b")
    press("\x1b")
    for panel in "2345678":
        press(panel, wait=1.2)
    press("3G", wait=0.8)  # the items' last rows
    press("4G", wait=0.8)  # the stats' last rows


def test_no_payload_reaches_the_terminal_from_any_panel(hostile_site, tmp_path):
    (tmp_path / "hostile.py").write_text(SPIDER)
    term = PtyProcess(
        [*WORKBENCH, "runspider", "hostile.py", "-a", f"url={hostile_site}"],
        cwd=str(tmp_path),
        env=env(),
        size=(150, 250),
    )
    try:
        term.expect(r"■ finished", timeout=90)
        visit_every_panel(term)
        term.send("q")
        assert term.wait(30) == 0
    finally:
        term.close()
    raw = bytes(term.raw)
    text = raw.decode("utf-8", "replace")

    # 1. no payload arrived as it was sent
    arrived = [p for p in PAYLOADS if p.encode() in raw or p.encode("latin-1", "ignore") in raw]
    assert not arrived, arrived
    # 2. nothing but what Textual itself writes: no other CSI, OSC, DCS, APC, PM,
    #    SOS or bare escape; no C0 but CR LF; no C1, no bidi controls
    others = [m for m in ANY_CSI.finditer(raw) if not ALLOWED_CSI.fullmatch(m.group())]
    assert not others, [raw[m.start() - 60 : m.end() + 60] for m in others[:5]]
    stripped = ALLOWED_OSC.sub(b"", ANY_CSI.sub(b"", raw))
    assert b"\x1b" not in stripped, stripped[stripped.find(b"\x1b") - 40 :][:120]
    assert raw.count(b"\r") == raw.count(b"\r\n")
    found = UNSAFE_TEXT.findall(ALLOWED_OSC.sub(b"", raw).decode("utf-8", "replace"))
    assert not found, sorted({f"U+{ord(c):04X}" for c in found})
    # 3. and the payloads were on the screen, shown as escapes (the test saw them)
    screen = term.text
    missing = [n for n in range(len(PAYLOADS)) if marker(n) not in screen]
    assert not missing, [PAYLOADS[n] for n in missing]
    for shown in ("\\x1b[2J", "\\x1b]52;c;", "\\x9b", "\\u202e", "\\x07"):
        assert shown in screen, shown
    assert "Evil\\x1b[2JItemWB99" in screen  # the class name, in Refs
    assert "ValueError" in text
