"""Headless Chromium over the DevTools protocol, for the web view's end-to-end tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import aiohttp

ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(\x07|\x1b\\)|\x1b[@-Z\\-_]")


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


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


def served(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    deadline = time.monotonic() + timeout
    assert proc.stdout is not None
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        match = re.search(r"open (http://127\.0\.0\.1:\d+/\?token=\S+) in a browser", line)
        if match:
            return match.group(1)
        assert line or proc.poll() is None, "workbench --web exited"
    raise AssertionError("workbench --web did not print its URL")


def start_chromium(profile: str) -> tuple[subprocess.Popen[bytes], int]:
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


@contextlib.asynccontextmanager
async def chromium_page(url: str):
    """A headless Chromium tab on ``url``, capturing what its websockets receive."""
    profile = tempfile.mkdtemp(prefix="workbench-chromium-")
    browser, port = start_chromium(profile)
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
