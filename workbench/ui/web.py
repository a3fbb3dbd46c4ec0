"""``--web``: the same app in a browser, through textual-serve.

The server listens on 127.0.0.1 only and answers only requests that carry
the random token of its URL (the page, its websocket and downloads; the
static files are textual-serve's own scripts and styles), with a Host of
127.0.0.1 or localhost and, for the websocket, an Origin of the same page.

One browser session runs the crawl: the page's websocket starts
``workbench crawl ...`` (the same command line without ``--web``) under
Textual's web driver, and the crawl lives as long as the page.  Closing or
reloading the page exits the app, which stops the crawl gracefully, as
``q`` does (feeds closed).  A second tab is refused while the first is open.
When the session has ended the server stops and prints the crawl's summary.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import os
import re
import secrets
import shlex
import signal
import sys
from typing import Any

import aiohttp_jinja2
import jinja2
from aiohttp import web
from textual_serve.app_service import AppService
from textual_serve.server import Server, to_int

# textual-serve's page asks fonts.googleapis.com for a font: not from a local tool
_EXTERNAL = re.compile(r"<link[^>]*fonts\.googleapis\.com[^>]*/>\s*", re.S)


class WebServer(Server):
    def __init__(self, command: str, port: int, token: str, title: str) -> None:
        super().__init__(command, host="127.0.0.1", port=port, title=title)
        self.token = token
        self.busy = False
        self.service: AppService | None = None  # the session's app, while it runs
        self.done = asyncio.Event()
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}"}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?token={self.token}"

    def initialize_logging(self) -> None:  # the terminal shows our own lines only
        pass

    async def on_startup(self, app: web.Application) -> None:
        pass

    async def _make_app(self) -> web.Application:
        app = await super()._make_app()
        app.middlewares.append(self._guard)
        # textual.js appends "?width=..&height=.." to the websocket URL: the token
        # goes in the path there
        app.router.add_get("/ws/{token}", self.handle_websocket)
        template = (self.templates_path / "app_index.html").read_text(encoding="utf-8")
        loader = jinja2.DictLoader({"app_index.html": _EXTERNAL.sub("", template)})
        aiohttp_jinja2.setup(app, loader=loader)
        return app

    @web.middleware
    async def _guard(self, request: web.Request, handler: Any) -> web.StreamResponse:
        if request.host not in self.hosts:
            raise web.HTTPForbidden(text="workbench: wrong Host")
        if request.path.startswith("/static/"):
            return await handler(request)
        given = request.match_info.get("token") or request.query.get("token", "")
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            raise web.HTTPForbidden(
                text="workbench: wrong or missing token: open the URL printed in the terminal"
            )
        origin = request.headers.get("Origin")
        if request.path.startswith("/ws") and origin not in {f"http://{h}" for h in self.hosts}:
            raise web.HTTPForbidden(text="workbench: the websocket is for this page only")
        return await handler(request)

    @aiohttp_jinja2.template("app_index.html")
    async def handle_index(self, request: web.Request) -> dict[str, Any]:
        base = f"http://{request.host}"
        return {
            "font_size": 16,
            "app_websocket_url": f"ws://{request.host}/ws/{self.token}",
            "config": {"static": {"url": f"{base}/static/"}},
            "application": {"name": self.title},
        }

    async def handle_websocket(self, request: web.Request) -> web.WebSocketResponse:
        """textual-serve's own, but the session's app is asked to stop with SIGTERM
        (workbench's graceful stop, as q) and the server ends with the session."""
        if self.busy:
            raise web.HTTPConflict(
                text="workbench: this crawl is open in another tab; close that one first"
            )
        self.busy = True
        websocket = web.WebSocketResponse(heartbeat=15)
        service: AppService | None = None
        try:
            await websocket.prepare(request)
            service = self.service = AppService(
                self.command,
                write_bytes=websocket.send_bytes,
                write_str=websocket.send_str,
                # textual-serve passes it too; its annotation wants a close() -> None
                close=websocket.close,  # type: ignore[arg-type]
                download_manager=self.download_manager,
                debug=False,
            )
            await service.start(
                _int(request.query.get("width"), 80), _int(request.query.get("height"), 24)
            )
            await self._process_messages(websocket, service)
        finally:
            if service is not None:
                await _end(service)
            self.done.set()
        return websocket


def _int(text: str | None, default: int) -> int:
    """A terminal dimension from the page's query, within 10..1000."""
    return max(10, min(1000, to_int(text or str(default), default)))


async def _end(service: AppService) -> None:
    """The page went away: stop its app as a signal does (the crawl stops
    gracefully, feeds are closed), and wait for it."""
    process = getattr(service, "_process", None)
    if process is not None and process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
    with contextlib.suppress(OSError):  # its stdin may be gone already
        await service.stop()
    if process is not None:
        await process.wait()  # the crawl's summary is written by then


def _watch_terminal() -> bool:
    """The server's terminal closing ends it as SIGHUP does (run_web: as Ctrl+C),
    even when the kernel's SIGHUP went to the terminal's session leader, maybe a
    shell: its stdin then reads EOF or EIO.  What is typed meanwhile is read and
    ignored.  Under nohup (SIGHUP ignored) the server goes on."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return False
    if not os.isatty(fd):
        return False

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except OSError:
            data = b""
        if not data:  # as the SIGHUP the kernel sent someone else: the server's handler
            asyncio.get_running_loop().remove_reader(fd)
            signal.raise_signal(signal.SIGHUP)

    asyncio.get_running_loop().add_reader(fd, readable)
    return True


def child_command(argv: list[str]) -> str:
    """The shell command textual-serve runs for the session (exec: the process it
    holds, and signals, is workbench's own, not a shell's)."""
    return "exec " + shlex.join([sys.executable, "-m", "workbench.cli", *argv])


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def serve(argv: list[str], port: int, title: str, say: Any) -> None:
    """Serve the app for ``workbench <argv>`` until its one session has ended.

    The session's process gets this process's environment (textual-serve
    copies it)."""
    token = secrets.token_urlsafe(24)
    server = WebServer(child_command(argv), port or free_port(), token, title)
    runner = web.AppRunner(await server._make_app(), handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", server.port)
        await site.start()
        watching = _watch_terminal()
        say(f"workbench: open {server.url} in a browser (Ctrl+C stops)")
        say("workbench: the crawl starts with the page and stops, gracefully, when it closes")
        try:
            await server.done.wait()
        finally:
            if watching:
                asyncio.get_running_loop().remove_reader(sys.stdin.fileno())
    finally:
        if server.service is not None and not server.done.is_set():
            # Ctrl+C here: the session's crawl stops gracefully before the page goes
            await _end(server.service)
        await runner.cleanup()
