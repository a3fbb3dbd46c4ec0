"""BrowserMonitor without a browser: pages and contexts given as stand-ins with
Playwright's ``on``; the bounds, the sanitising, the warning and the stall."""

from __future__ import annotations

from types import SimpleNamespace

import scrapy
from scrapy.http import HtmlResponse

from workbench.core.browser.monitor import BrowserMonitor
from workbench.core.browser.procs import kind_of


class FakePage:
    def __init__(self, url: str) -> None:
        self.url = url
        self.handlers: dict[str, list] = {}

    def on(self, event: str, handler) -> None:
        self.handlers.setdefault(event, []).append(handler)

    def emit(self, event: str, arg) -> None:
        for handler in self.handlers.get(event, []):
            handler(arg)


def _handler(limit: int = 16) -> SimpleNamespace:
    context = FakePage("")
    wrappers = {"default": SimpleNamespace(context=context, persistent=False)}
    return SimpleNamespace(
        context_wrappers=wrappers,
        config=SimpleNamespace(
            max_pages_per_context=limit, launch_options={}, browser_type_name="chromium"
        ),
    )


def _open(monitor: BrowserMonitor, handler, n: int) -> tuple[FakePage, scrapy.Request]:
    url = f"http://127.0.0.1:1/page/{n}"
    request = scrapy.Request(url, meta={"playwright": True, "playwright_include_page": True})
    page = FakePage(url)
    monitor.page_opened(page, request, set(), handler)
    request.meta["playwright_page"] = page
    monitor.response_received(HtmlResponse(url, body=b"<html></html>", request=request), request)
    return page, request


def test_pages_held_past_the_limit_warn_and_name_the_stall():
    monitor = BrowserMonitor(stale_after=0, max_console=5, sample_every=0)
    handler = _handler(limit=3)
    monitor.handlers.append((handler, ""))
    opened = [_open(monitor, handler, n) for n in range(1, 4)]
    view = monitor.view()
    assert view.open_pages == 3 and view.pages_opened == 3
    assert {p.state for p in view.pages} == {"held"}
    leak = view.leak
    assert leak is not None and [p.request_url[-6:] for p in leak.oldest] == [
        "page/1",
        "page/2",
        "page/3",
    ]
    assert "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT" in leak.stall
    opened[0][0].emit("close", opened[0][0])  # the spider closes one: below the warning
    view = monitor.view()
    assert view.leak is None and view.pages_closed == 1
    assert [p.state for p in view.pages if not p.is_open] == ["closed"]


def test_console_lines_are_sanitised_and_bounded_per_page():
    monitor = BrowserMonitor(stale_after=30, max_console=5, sample_every=0)
    handler = _handler()
    page, _ = _open(monitor, handler, 1)
    for i in range(200):
        page.emit(
            "console",
            SimpleNamespace(
                type="log",
                text=f"line {i}\x1b]0;PWNED\x07",
                location={"url": page.url, "lineNumber": 3},
            ),
        )
    page.emit("pageerror", Exception("boom \x1b[2J"))
    row = monitor.view().pages[0]
    assert row.console == 201 and row.errors == 1
    kept = monitor.open[row.key].console
    assert len(kept) == 5 and all(
        "\x1b" not in line.text and "\x07" not in line.text for line in kept
    )
    assert kept[-1].kind == "pageerror" and kept[-1].text.startswith("boom")


def test_contexts_left_without_pages_warn_with_the_request_that_made_them():
    monitor = BrowserMonitor(stale_after=0, sample_every=0)
    wrappers: dict = {}
    handler = SimpleNamespace(context_wrappers=wrappers, config=None)
    for n in range(3):
        url = f"http://127.0.0.1:1/login/{n}"
        request = scrapy.Request(url, meta={"playwright": True, "playwright_context": f"s{n}"})
        context = FakePage("")
        before = set(wrappers)
        wrappers[f"s{n}"] = SimpleNamespace(context=context, persistent=False)
        page = FakePage(url)
        monitor.page_opened(page, request, before, handler)
        page.emit("close", page)
    leak = monitor.view().leak
    assert leak is not None and len(leak.contexts) == 3 and not leak.oldest
    assert leak.contexts[0].opened_by.endswith("/login/0")
    assert "page.context.close()" in leak.advice


def test_the_kinds_of_chromium_processes():
    assert kind_of(["/usr/lib/chromium/chromium", "--headless"]) == "browser"
    # Chromium rewrites its title: one string with spaces
    assert kind_of(["/usr/lib/chromium/chromium --type=renderer --lang=en"]) == "renderer"
    assert kind_of(["/usr/lib/chromium/chromium", "--type=gpu-process"]) == "gpu"
    assert kind_of(["/x/playwright/driver/node", "/x/playwright/driver/package/cli.js"]) == "driver"
    assert kind_of(["/usr/bin/python3", "-m", "pytest"]) is None


def test_a_page_passed_back_in_meta_counts_each_download():
    """A spider may hand its page to the next request (meta playwright_page): the
    same page fetches again, and its row says how many times."""
    monitor = BrowserMonitor(stale_after=30, sample_every=0)
    handler = _handler()
    page, first = _open(monitor, handler, 1)
    again = scrapy.Request(page.url + "?next", meta={"playwright": True, "playwright_page": page})
    monitor.response_received(HtmlResponse(again.url, body=b"", request=again), again)
    plain = scrapy.Request("http://127.0.0.1:1/plain")  # not the browser's: ignored
    monitor.response_received(HtmlResponse(plain.url, body=b"", request=plain), plain)
    (row,) = monitor.view().pages
    assert row.fetches == 2 and row.url.endswith("?next") and row.request_url == first.url
