"""No terminal injection outside the panels: the shell's banner at an error
breakpoint (the exception text and the ``failure`` repr), ``shelp()``, and the
summary printed after the app exits.  Every byte written to the pty, during
and after the app, is checked for the payloads as they were sent."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers.processes import WORKBENCH, env
from tests.hostile_payloads import PAYLOADS, marker
from tests.ptyrun import PtyProcess

pytestmark = pytest.mark.slow

# the spider's name carries a payload too: it is in the exit summary
SPIDER = """
import scrapy
from tests.hostile_payloads import PAYLOADS


class HostileSpider(scrapy.Spider):
    name = "hostile" + PAYLOADS[34]  # an OSC title change

    async def start(self):
        yield scrapy.Request(self.url, meta={"evil": PAYLOADS[52]})

    def parse(self, response):
        raise ValueError("boom " + " ".join(PAYLOADS))
"""


class Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        data = b"<html><title>page</title><body>a page</body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def test_shell_banner_shelp_and_exit_summary_show_payloads_escaped(tmp_path):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/page"
    (tmp_path / "hostile.py").write_text(SPIDER)
    term = PtyProcess(
        [*WORKBENCH, "runspider", "hostile.py", "-a", f"url={url}", "--pdb"],
        cwd=str(tmp_path),
        env=env(),
        size=(60, 250),
    )
    try:
        term.expect(r"breakpoint", timeout=90)
        term.send("s")
        term.expect(r"In \[1\]:", timeout=30)
        term.send("shelp()\r")
        term.expect(r"In \[2\]:", timeout=30)
        term.send("exit()\r")
        term.expect(r"Back to workbench", timeout=30)
        for _ in range(10):  # the app takes the terminal back first: c until it has
            term.send("c")
            try:
                term.expect(r"■ finished", timeout=3)
                break
            except AssertionError:
                continue
        term.send("q")
        assert term.wait(30) == 0
    finally:
        term.close()
        server.shutdown()
        server.server_close()
    raw = bytes(term.raw)
    arrived = [p for p in PAYLOADS if p.encode() in raw]
    assert not arrived, arrived
    screen = term.text
    # the banner's error line and the failure repr, escaped, and the summary's name
    assert "Stopped at breakpoint" in screen
    assert "boom" in screen and marker(0) in screen and "\\x1b[2J" in screen
    assert "failure" in screen
    assert "workbench: spider hostile\\x1b]0;PWNED\\x07WB34> finished" in screen.replace("<34:", "")
