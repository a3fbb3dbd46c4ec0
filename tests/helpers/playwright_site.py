"""Pages for scrapy-playwright crawls, served on 127.0.0.1: each page logs to the
console, some throw an uncaught error, and each links to the next.

- ``/page/N``: a page whose script logs "page N loaded" (console.log) and, when
  N is a multiple of 3, throws ``Error("broken widget on page N")``; it links to
  ``/page/N+1`` up to ``LAST`` (``?last=`` changes it).

Serve it on the running reactor with :func:`listen` (in-process crawls), or in a
process of its own: ``python -m tests.helpers.playwright_site [PORT]`` prints its URL.
"""

from __future__ import annotations

import os
import shutil
import sys
from typing import Any

from twisted.web import resource, server

LAST = 8
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def playwright_missing() -> str | None:
    """Why a scrapy-playwright crawl cannot run here (None: it can)."""
    try:
        import playwright  # noqa: F401
        import scrapy_playwright  # noqa: F401
    except ImportError as exc:
        return f"scrapy-playwright is not installed (pip install -e '.[browser]'): {exc}"
    if CHROMIUM is None:
        return "Debian's chromium is not installed (.ci/run installs it)"
    return None


def skip_reason() -> str | None:
    """The reason to skip a browser test; None under CI_REQUIRE_CHROMIUM (it fails)."""
    missing = playwright_missing()
    return None if os.environ.get("CI_REQUIRE_CHROMIUM") else missing


def playwright_settings(**overrides: Any) -> dict[str, Any]:
    """Settings for a crawl through scrapy-playwright with Debian's chromium."""
    settings: dict[str, Any] = {
        "DOWNLOAD_HANDLERS": {
            "http": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
            "https": "scrapy_playwright.handler.ScrapyPlaywrightDownloadHandler",
        },
        "PLAYWRIGHT_LAUNCH_OPTIONS": {
            "executable_path": CHROMIUM or "/usr/bin/chromium",
            "headless": True,
            "args": ["--no-sandbox", "--disable-gpu"],
        },
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    }
    settings.update(overrides)
    return settings


def page_html(n: int, last: int) -> bytes:
    link = f'<a href="/page/{n + 1}?last={last}">next</a>' if n < last else "the end"
    error = (
        f'<script>setTimeout(() => {{ throw new Error("broken widget on page {n}"); }}, 0);'
        "</script>"
        if n % 3 == 0
        else ""
    )
    return (
        f"<html><head><title>Page {n}</title></head><body><h1>Page {n}</h1>{link}"
        f'<script>console.log("page {n} loaded");</script>{error}</body></html>'
    ).encode()


class PlaywrightSite(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        parts = request.path.decode().strip("/").split("/")
        last = int(request.args.get(b"last", [str(LAST).encode()])[0])
        n = int(parts[1]) if len(parts) == 2 and parts[0] == "page" and parts[1].isdigit() else 1
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return page_html(n, last)


def listen(port: int = 0) -> Any:
    from twisted.internet import reactor

    return reactor.listenTCP(port, server.Site(PlaywrightSite()), interface="127.0.0.1")


def url_of(port: Any) -> str:
    return f"http://127.0.0.1:{port.getHost().port}"


if __name__ == "__main__":  # pragma: no cover - a manual check
    from twisted.internet import reactor

    listening = listen(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
    print(url_of(listening), flush=True)
    reactor.run()  # type: ignore[attr-defined]
