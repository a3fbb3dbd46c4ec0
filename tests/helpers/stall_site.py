"""A site on 127.0.0.1 whose pages answer, hang or trickle: for stalled crawls.

- ``/ok/N``: a small page at once;
- ``/hang/N``: the request is read and never answered (the connection stays open);
- ``/trickle/N``: the headers and 100 bytes at once, then 100 bytes a second,
  and the body (10,000 bytes declared) never ends;
- ``/slow/N?s=SECONDS``: a small page after SECONDS.

Serve it on the running reactor with :func:`listen` (in-process crawls), or in a
process of its own: ``python -m tests.helpers.stall_site [PORT]`` prints its URL.
"""

from __future__ import annotations

import sys
from typing import Any

from twisted.web import resource, server

CHUNK = b"x" * 100


def _reactor() -> Any:
    # imported when used: importing it at the top would install Twisted's default
    # reactor before the tests install the asyncio one
    from twisted.internet import reactor

    return reactor


class StallSite(resource.Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.hanging: list[Any] = []  # requests held open (closed by close())
        self.calls: list[Any] = []

    def render_GET(self, request: Any) -> Any:
        path = request.path.decode()
        if path.startswith("/hang/"):
            self.hanging.append(request)
            return server.NOT_DONE_YET
        if path.startswith("/trickle/"):
            request.setHeader(b"content-length", b"10000")
            request.write(CHUNK)
            self._trickle(request)
            self.hanging.append(request)
            return server.NOT_DONE_YET
        if path.startswith("/slow/"):
            delay = float(request.args.get(b"s", [b"1"])[0])
            self.calls.append(_reactor().callLater(delay, self._answer, request))
            return server.NOT_DONE_YET
        request.setHeader(b"content-type", b"text/html")
        return b"<html><body><p>fine</p></body></html>"

    def _answer(self, request: Any) -> None:
        if not request.finished and not request._disconnected:
            request.setHeader(b"content-type", b"text/html")
            request.write(b"<html><body><p>late</p></body></html>")
            request.finish()

    def _trickle(self, request: Any) -> None:
        if request.finished or request._disconnected:
            return
        request.write(CHUNK)
        self.calls.append(_reactor().callLater(1.0, self._trickle, request))

    def close(self) -> None:
        for call in self.calls:
            if call.active():
                call.cancel()
        for request in self.hanging:
            if request.channel is not None and request.channel.transport is not None:
                request.channel.transport.abortConnection()


def listen(port: int = 0) -> tuple[Any, StallSite]:
    """Serve on 127.0.0.1 with the installed reactor: (listening port, site)."""
    site = StallSite()
    listening = _reactor().listenTCP(port, server.Site(site), interface="127.0.0.1")
    return listening, site


def url_of(listening: Any) -> str:
    return f"http://127.0.0.1:{listening.getHost().port}/"


if __name__ == "__main__":
    port, _ = listen(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(url_of(port), flush=True)
    _reactor().run()
