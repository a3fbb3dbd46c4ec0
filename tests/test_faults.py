"""Servers that misbehave: every fault is a flow with its error, and the crawl goes on.

A raw socket server on 127.0.0.1 (modelled on Scrapy's own test server
scenarios) hangs, drops the connection, sends fewer bytes than it declared,
breaks its chunked encoding or answers garbage.  The crawl runs in-process
through ``CrawlHost``; the Flows panel shows what the recorder holds.
"""

from __future__ import annotations

import asyncio
import gzip
import re
import socket
import threading

import pytest
import scrapy

from tests.conftest import demo_settings
from tests.helpers.app import widget_text
from workbench.core.control.host import CrawlHost
from workbench.core.sources.local import LocalSource
from workbench.ui.app import WorkbenchApp
from workbench.ui.widgets.record_table import RecordTable

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 11\r\n\r\n<p>fine</p>"
ANSWERS = {
    "/ok": OK,
    "/drop": b"",  # connection closed without a word
    "/partial": b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + b"x" * 100,
    "/chunked": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    b"5\r\nhello\r\nZZZ\r\nbroken\r\n",
    "/garbage": b"this is not HTTP at all\r\n\r\n",
    "/hang": None,  # never answers
}
BOMB = gzip.compress(b"\0" * 5_000_000)  # 5 MB of zeros in about 5 KB
BOMB_MAXSIZE = 1_000_000  # DOWNLOAD_MAXSIZE for the crawl that gets it
ANSWERS["/bomb"] = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: gzip\r\n"
    b"Content-Length: %d\r\n\r\n" % len(BOMB) + BOMB
)


class FaultyServer:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.held: list[socket.socket] = []
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while not self.stopped.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            data = conn.recv(4096)
            if not data:
                break
            request += data
        path = request.split(b" ", 2)[1].decode() if request.count(b" ") >= 2 else "/"
        answer = ANSWERS.get(path, OK)
        if answer is None:
            self.held.append(conn)  # hang: keep it open, say nothing
            return
        conn.sendall(answer)
        conn.shutdown(socket.SHUT_RDWR)
        conn.close()

    def close(self) -> None:
        self.stopped.set()
        self.sock.close()
        for conn in self.held:
            conn.close()


class FaultsSpider(scrapy.Spider):
    name = "faults"

    async def start(self):
        for path in ANSWERS:
            yield scrapy.Request(self.url + path.lstrip("/"), dont_filter=True)

    def parse(self, response):
        yield {"url": response.url, "size": len(response.body)}


@pytest.fixture
def faulty():
    server = FaultyServer()
    yield f"http://127.0.0.1:{server.port}/"
    server.close()


def faults_crawl(url: str) -> CrawlHost:
    """The faults spider on the faulty server: no retries, 2 s timeouts, the bomb's limit."""
    settings = demo_settings(DOWNLOAD_TIMEOUT=2, RETRY_ENABLED=False, DOWNLOAD_MAXSIZE=BOMB_MAXSIZE)
    return CrawlHost(settings, FaultsSpider, {"url": url})


async def test_every_fault_is_a_flow_with_its_error_and_the_crawl_goes_on(faulty):
    host = faults_crawl(faulty)
    source = LocalSource(host)
    await host.start()
    await asyncio.wait_for(host.wait(), 60)
    host.close()
    status = host.status()
    assert status.state == "finished" and status.finish_reason == "finished"
    flows = {f.url.rsplit("/", 1)[1]: f for f in source.flows_since(0)}
    assert flows["ok"].status == 200 and flows["ok"].items and flows["ok"].error is None
    expected = {  # Scrapy 2.19's download errors, as the Status column names them
        "hang": "DownloadTimeoutError: Getting",
        "drop": "DownloadFailedError: [<twisted.python.failure.Failure "
        "twisted.internet.error.ConnectionDone",
        "partial": "ResponseDataLossError",
        "chunked": "ResponseDataLossError",
        "garbage": "DownloadFailedError: [<twisted.python.failure.Failure "
        "twisted.web._newclient.ParseError",
    }
    for name, error in expected.items():
        flow = flows[name]
        assert flow.status is None and flow.error is not None, (name, flow)
        assert flow.error.startswith(error), (name, flow.error)
        assert flow.error_traceback  # the Error tab has it
    # downloaded whole (5 KB), then dropped by HttpCompressionMiddleware: 200, and ignored
    bomb = flows["bomb"]
    assert bomb.status == 200 and bomb.size == len(BOMB) and not bomb.items
    assert bomb.error.startswith("IgnoreRequest: Ignored response <200 "), bomb.error
    assert "exceeded DOWNLOAD_MAXSIZE (1000000 B) during decompression" in bomb.error
    assert host.stats.get_value("item_scraped_count") == 1


async def test_the_flows_panel_marks_the_errored_flows(faulty):
    host = faults_crawl(faulty)
    source = LocalSource(host)
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(160, 30)) as pilot:
        await source.start()
        await asyncio.wait_for(host.wait(), 60)
        app.refresh_panels()
        await pilot.pause()
        table = app.query_one("#flow-table", RecordTable)
        errors = [f for f in table.rows if f.error]
        assert len(errors) == 6
        bomb = next(f for f in errors if f.url.endswith("/bomb"))
        table.cursor = table.rows.index(bomb)
        await pilot.press("enter", "5")
        await pilot.pause()
        text = widget_text(app.screen.query_one("#error-view"))
        assert "Dropped after download" in text and "exceeded DOWNLOAD_MAXSIZE" in text, text
        await pilot.press("q")
        lines = "\n".join(
            "".join(s.text for s in table.render_line(y)) for y in range(table.size.height)
        )
        # the Status column says which fault, in its seven columns; the Fate column
        # what became of the request when more than a failed download
        for path, label, fate in (("hang", "timeout", ""), ("drop", "dropped", ""),
                                  ("partial", "partial", ""), ("chunked", "partial", ""),
                                  ("garbage", "garbled", ""),
                                  ("bomb", "ignored", "maxsize")):  # fmt: skip
            pattern = rf"GET  {label} +{fate} +http://127.0.0.1:\d+/{path}\b"
            assert re.search(pattern, lines), lines
    host.close()
