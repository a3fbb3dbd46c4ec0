"""``python -m workbench`` is the ``workbench`` command, and an IDE's debugger in
the same process still stops in the spider's code: debugpy (what VS Code's
launch.json ``"module": "workbench"`` runs) launched in a pseudo-terminal, driven
over the Debug Adapter Protocol as VS Code drives it."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.processes import REPO, env, site_process, startproject
from tests.ptyrun import PtyProcess
from workbench import __version__

pytestmark = pytest.mark.slow  # processes and ptys

MODULE = [sys.executable, "-m", "workbench"]


def test_python_m_workbench_is_the_command():
    run = lambda *a: subprocess.run(  # noqa: E731
        [*MODULE, *a], capture_output=True, text=True, cwd=REPO, env=env(), timeout=60
    )
    script = Path(sys.executable).with_name("workbench")
    help_ = run("--help")
    assert help_.returncode == 0 and "crawl" in help_.stdout and "attach" in help_.stdout
    if script.exists():  # the installed command prints the same
        same = subprocess.run([str(script), "--help"], capture_output=True, text=True,
                              cwd=REPO, env=env(), timeout=60)  # fmt: skip
        assert same.stdout == help_.stdout
    assert __version__ in run("--version").stdout
    bad = run("no-such-command")
    assert bad.returncode != 0 and "no-such-command" in bad.stderr


def test_python_m_workbench_demo_runs_the_app():
    term = PtyProcess([*MODULE, "demo", "--pages", "20"], cwd=str(REPO), env=env())
    try:
        term.expect(r"■ finished", timeout=90)
        term.send("q")
        assert term.wait(60) == 0, term.text[-2000:]
    finally:
        term.close()
    assert "workbench: spider demo finished" in term.text


class Dap:
    """The Debug Adapter Protocol over a socket: what VS Code says to debugpy."""

    def __init__(self, port: int) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
                break
            except OSError:
                assert time.monotonic() < deadline, "debugpy never listened"
                time.sleep(0.2)
        self.sock.settimeout(60)
        self.buffer = b""
        self.seq = 0
        self.events: list[dict[str, Any]] = []

    def send(self, command: str, **arguments: Any) -> int:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command,
                           "arguments": arguments}).encode()  # fmt: skip
        self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def _message(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self.buffer:
            self._read()
        head, _, rest = self.buffer.partition(b"\r\n\r\n")
        length = int(head.split(b":")[1])
        while len(rest) < length:
            self.buffer = head + b"\r\n\r\n" + rest
            self._read()
            head, _, rest = self.buffer.partition(b"\r\n\r\n")
        self.buffer = rest[length:]
        return json.loads(rest[:length])

    def _read(self) -> None:
        data = self.sock.recv(65536)
        assert data, "debugpy closed the connection"
        self.buffer += data

    def response(self, seq: int) -> dict[str, Any]:
        while True:
            message = self._message()
            if message["type"] == "event":
                self.events.append(message)
            elif message["type"] == "response" and message["request_seq"] == seq:
                assert message["success"], message
                return message.get("body") or {}

    def request(self, command: str, **arguments: Any) -> dict[str, Any]:
        return self.response(self.send(command, **arguments))

    def event(self, name: str) -> dict[str, Any]:
        while True:
            for n, message in enumerate(self.events):
                if message["event"] == name:
                    return self.events.pop(n).get("body") or {}
            message = self._message()
            if message["type"] == "event":
                self.events.append(message)


SPIDER = """\
import scrapy


class Shop(scrapy.Spider):
    name = "shop"

    def __init__(self, url=None, **kwargs):
        super().__init__(**kwargs)
        self.start_urls = [url]

    def parse(self, response):
        title = response.css("title::text").get()
        yield {"url": response.url, "title": title}  # BREAK HERE
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_an_ide_breakpoint_in_the_spider_stops_under_the_app(tmp_path):
    pytest.importorskip("debugpy")
    root = startproject(tmp_path / "project", {"shop": SPIDER})
    spider = root / "shop" / "spiders" / "shop.py"
    line = SPIDER.splitlines().index(next(x for x in SPIDER.splitlines() if "BREAK HERE" in x)) + 1
    port = free_port()
    with site_process() as (_, url):
        # what VS Code runs for launch.json's "module": "workbench", "args": ["crawl", …]
        term = PtyProcess([sys.executable, "-m", "debugpy", "--listen", f"127.0.0.1:{port}",
                           "--wait-for-client", "-m", "workbench", "crawl", "shop",
                           "-a", f"url={url}"], cwd=str(root), env=env())  # fmt: skip
        try:
            dap = Dap(port)
            dap.request("initialize", clientID="vscode", adapterID="debugpy",
                        pathFormat="path", linesStartAt1=True, columnsStartAt1=True)  # fmt: skip
            attach = dap.send("attach", justMyCode=True)
            dap.event("initialized")
            placed = dap.request("setBreakpoints", source={"path": str(spider)},
                                 breakpoints=[{"line": line}])  # fmt: skip
            assert placed["breakpoints"][0]["verified"]
            dap.request("configurationDone")
            dap.response(attach)
            stopped = dap.event("stopped")  # the app started, the crawl reached parse
            assert stopped["reason"] == "breakpoint"
            thread = stopped["threadId"]
            frames = dap.request("stackTrace", threadId=thread)["stackFrames"]
            assert frames[0]["name"].endswith("parse") and frames[0]["line"] == line
            assert Path(frames[0]["source"]["path"]).resolve() == spider.resolve()
            value = dap.request("evaluate", expression="response.url", frameId=frames[0]["id"],
                                context="repl")["result"]  # fmt: skip
            assert value == repr(url)
            # the app shares the loop: it is frozen meanwhile, and goes on after continue
            term.expect(r"Flows", timeout=30)
            dap.request("continue", threadId=thread)
            term.expect(r"■ finished", timeout=90)
            term.send("q")
            assert term.wait(60) == 0, term.text[-2000:]
        finally:
            term.close()
    assert "workbench: spider shop finished (finished): 1 pages, 1 items" in term.text
