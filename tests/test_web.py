"""`workbench demo --web`: the app in headless Chromium, behind its token.

The browser is Debian's chromium (`.ci/run` installs it), driven through the
DevTools protocol over aiohttp's websocket client.  The terminal is drawn on
a canvas, so what the page received is read from its websocket: a script
installed before the page loads copies every frame the page gets; the
escape sequences are stripped and the text searched.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

import aiohttp
import pytest

from tests.test_cli import WORKBENCH, env

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.slow,  # a browser: the full suite
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI_REQUIRE_CHROMIUM"),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]

CAPTURE = """
window.__frames = [];
const Native = window.WebSocket;
window.WebSocket = function (...args) {
  const ws = new Native(...args);
  ws.addEventListener("message", (e) => {
    if (typeof e.data === "string") window.__frames.push(e.data);
    else if (e.data instanceof ArrayBuffer) window.__frames.push(new TextDecoder().decode(e.data));
    else e.data.text().then((t) => window.__frames.push(t));
  });
  return ws;
};
window.WebSocket.prototype = Native.prototype;
"""
ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]")


class Page:
    """One Chromium tab, driven through the DevTools protocol."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.ids = itertools.count(1)

    async def call(self, method: str, **params) -> dict:
        call_id = next(self.ids)
        await self.ws.send_json({"id": call_id, "method": method, "params": params})
        async for message in self.ws:
            data = json.loads(message.data)
            if data.get("id") == call_id:
                assert "error" not in data, data
                return data.get("result", {})
        raise AssertionError("the browser went away")

    async def text(self) -> str:
        result = await self.call(
            "Runtime.evaluate", expression="window.__frames.join('')", returnByValue=True
        )
        return ANSI.sub("", result["result"].get("value") or "")

    async def wait_for(self, pattern: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = await self.text()
            if re.search(pattern, text):
                return text
            await asyncio.sleep(0.3)
        raise AssertionError(f"{pattern!r} never appeared; the page got: {text[-2000:]!r}")

    async def close(self) -> None:
        """Close the tab (no reply waited for: the tab is gone)."""
        await self.ws.send_json({"id": 0, "method": "Page.close", "params": {}})

    async def key(self, char: str) -> None:
        """Type a key into the terminal (xterm.js listens on its hidden textarea)."""
        focus = "document.querySelector('.xterm-helper-textarea').focus()"
        await self.call("Runtime.evaluate", expression=focus)
        for kind in ("keyDown", "keyUp"):
            await self.call("Input.dispatchKeyEvent", type=kind, text=char, key=char,
                            unmodifiedText=char)  # fmt: skip


def _served(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"open (http://127\.0\.0\.1:\d+/\?token=\S+) in a browser", line)
        if match:
            return match.group(1)
        assert line or proc.poll() is None, "workbench --web exited"
    raise AssertionError("workbench --web did not print its URL")


def _chromium(profile: str) -> tuple[subprocess.Popen[bytes], int]:
    proc = subprocess.Popen(
        [CHROMIUM or "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
         "--no-first-run", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", f"--user-data-dir={profile}", "--remote-debugging-port=0",
         "--window-size=1400,900", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    port_file = Path(profile) / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while not port_file.exists() or not port_file.read_text().strip():
        assert time.monotonic() < deadline and proc.poll() is None, "chromium did not start"
        time.sleep(0.1)
    return proc, int(port_file.read_text().split()[0])


@pytest.fixture
def web_demo(tmp_path, request):
    out = tmp_path / "items.jsonl"
    delay = getattr(request, "param", "0.05")
    proc = subprocess.Popen(
        [*WORKBENCH, "demo", "--web", "--pages", "40", "-O", str(out),
         "-s", f"DOWNLOAD_DELAY={delay}", "-s", "CONCURRENT_REQUESTS=1"],
        cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        yield proc, _served(proc), out
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_the_page_and_its_websocket_need_the_token(web_demo):
    _, url, _ = web_demo
    base = url.split("?", 1)[0]
    for bad in (base, base + "?token=wrong", base + "ws", base + "ws/wrong?width=80"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(bad, timeout=10)
        assert caught.value.code == 403, bad
        assert "token" in caught.value.read().decode()
    page = urllib.request.urlopen(url, timeout=10).read().decode()
    assert "textual-terminal" in page and "googleapis" not in page
    # the right token from another site's page (no matching Origin) cannot open the app
    request = urllib.request.Request(
        base + "ws/" + url.split("token=", 1)[1], headers={"Origin": "http://evil.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403


@contextlib.asynccontextmanager
async def chromium_page(url: str):
    """A headless Chromium tab on ``url``, capturing what its websockets receive."""
    profile = tempfile.mkdtemp(prefix="workbench-chromium-")
    browser, port = _chromium(profile)
    try:
        async with aiohttp.ClientSession() as http:
            async with http.get(f"http://127.0.0.1:{port}/json/list") as listing:
                targets = [t for t in await listing.json() if t["type"] == "page"]
            async with http.ws_connect(targets[0]["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                await page.call("Page.enable")
                await page.call("Runtime.enable")
                await page.call("Page.addScriptToEvaluateOnNewDocument", source=CAPTURE)
                await page.call("Page.navigate", url=url)
                yield page
    finally:
        browser.terminate()
        browser.wait(30)
        shutil.rmtree(profile, ignore_errors=True)


def summary_items(proc: subprocess.Popen[str], reason: str) -> int:
    """The item count of the crawl's summary, printed once the page has closed."""
    assert proc.wait(60) == 0
    stdout = proc.stdout.read() if proc.stdout else ""
    match = re.search(rf"demo finished \({reason}\): \d+ pages, (\d+) items", stdout)
    assert match, stdout
    return int(match.group(1))


async def test_the_demo_runs_in_headless_chromium_and_stops_when_the_page_closes(web_demo):
    proc, url, out = web_demo
    async with chromium_page(url) as page:
        text = await page.wait_for(r"1 Flows.*2 Queue")  # the app's tabs
        text = await page.wait_for(r"GET +200 +http://127\.0\.0\.1:\d+/product/\d+\.html")
        assert "Status" in text and "Callback" in text  # the flow list's header
        await page.wait_for(r"finished")  # the status line: the crawl ran to its end
        await page.key("4")  # keys from the browser reach the app: the Stats panel
        await page.wait_for(r"item_scraped_count")
        await page.key("s")  # no terminal to hand over: the page says what to use
        await page.wait_for(r"workbench attach --shell \d+")
        await page.close()
    assert len(out.read_text().splitlines()) == summary_items(proc, "finished") > 0


@pytest.mark.parametrize("web_demo", ["0.3"], indirect=True)
async def test_closing_the_page_mid_crawl_stops_it_gracefully_with_the_feed_closed(web_demo):
    proc, url, out = web_demo
    async with chromium_page(url) as page:
        await page.wait_for(r"items [1-9][\d,]* \([\d,]+/min\)")  # the status line: under way
        await page.close()
    counted = summary_items(proc, "shutdown")
    items = out.read_text().splitlines()
    assert 0 < len(items) == counted < 40, (len(items), counted)  # stopped early, nothing lost
    assert all(json.loads(line) for line in items)


def test_without_web_drops_the_web_options():
    from workbench.cli import without_web

    argv = ["demo", "--web", "--port", "8000", "-a", "port=1", "--port=9", "-s", "X=1"]
    assert without_web(argv) == ["demo", "-a", "port=1", "-s", "X=1"]


def test_port_needs_web(tmp_path):
    from tests.test_cli import assert_one_line_error, run

    assert_one_line_error(run("demo", "--port", "8000", cwd=tmp_path), "--port goes with --web")


@pytest.mark.parametrize("web_demo", ["0.3"], indirect=True)
async def test_ctrl_c_on_the_server_stops_the_pages_crawl_gracefully(web_demo):
    proc, url, out = web_demo
    async with chromium_page(url) as page:
        await page.wait_for(r"items [1-9][\d,]* \([\d,]+/min\)")  # the status line
        proc.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 60) == 130
    stdout = proc.stdout.read() if proc.stdout else ""
    match = re.search(r"demo finished \(shutdown\): \d+ pages, (\d+) items", stdout)
    assert match, stdout
    assert len(out.read_text().splitlines()) == int(match.group(1)) < 40
