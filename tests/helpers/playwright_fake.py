"""The Browser view's fixed readings, for FakeSource (tests/fakes.py): a crawl
whose spider holds three pages it never closes, one page still loading and one
closed, two contexts, the browser's processes; or no browser at all."""

from __future__ import annotations

from workbench.core.browser.model import (
    BrowserFetch,
    BrowserLeak,
    BrowserPoint,
    BrowserView,
    ConsoleLine,
    ContextRow,
    PageRow,
)
from workbench.core.browser.procs import BrowserProcess

T0 = 1_790_000_000.0  # as tests/fakes.py
BASE = "http://127.0.0.1:8000"
MB = 1_048_576


def _page(
    key: int,
    flow_id: int | None,
    path: str,
    state: str,
    opened: float,
    closed: float | None = None,
    console: int = 1,
    errors: int = 0,
) -> PageRow:
    url = BASE + path
    return PageRow(
        key,
        "default",
        T0 + opened,
        None if closed is None else T0 + closed,
        state,
        url,
        "GET",
        url,
        "parse_product",
        flow_id,
        0 if state == "loading" else 1,
        console,
        errors,
        None if state == "loading" else T0 + opened + 0.5,
    )


def leaky_view() -> BrowserView:
    pages = (
        _page(2, 7, "/product/1.html", "held", 7, console=2, errors=1),
        _page(3, 8, "/product/2.html", "held", 8),
        _page(4, 9, "/product/3.html", "held", 9, console=3),
        _page(5, None, "/product/4.html", "loading", 63, console=0),
        _page(1, 1, "/", "closed", 1, closed=2),
    )
    contexts = (
        ContextRow("default", T0 + 1, None, 4, 5, f"GET {BASE}/", 1),
        ContextRow("login", T0 + 3, T0 + 4, 0, 1, f"GET {BASE}/login\x1b[31m", 3),
    )
    processes = (
        BrowserProcess(101, "browser", 210 * MB, 130 * MB),
        BrowserProcess(102, "renderer", 120 * MB, 60 * MB),
        BrowserProcess(103, "renderer", 118 * MB, 58 * MB),
        BrowserProcess(104, "gpu", 80 * MB, 40 * MB),
        BrowserProcess(100, "driver", 130 * MB, 100 * MB),
    )
    series = tuple(
        BrowserPoint(T0 + i, min(4, i // 6), 1, (250 + 6 * i) * MB) for i in range(1, 65, 2)
    )
    leak = BrowserLeak(
        "3 pages still open more than 30s after their response (5 opened, 1 closed)",
        pages[:3],
        advice="a callback that gets response.meta['playwright_page'] (playwright_include_page) "
        "must await page.close(), in an errback too",
        held=3,
    )
    return BrowserView(
        time=T0 + 65,
        browser="chromium 156.0.8078.129 · /usr/bin/chromium · headless",
        pages=pages,
        contexts=contexts,
        processes=processes,
        series=series,
        leak=leak,
        pages_opened=5,
        pages_closed=1,
    )


def tidy_view() -> BrowserView:
    view = leaky_view()
    closed = tuple(
        PageRow(
            p.key,
            p.context,
            p.opened,
            p.opened + 1,
            "closed",
            p.url,
            p.method,
            p.request_url,
            p.callback,
            p.flow_id,
            1,
            p.console,
            p.errors,
            p.opened + 0.5,
        )
        for p in view.pages
    )
    series = tuple(BrowserPoint(p.time, min(1, p.pages), 1, p.memory) for p in view.series)
    return BrowserView(
        view.time, "", view.browser, closed, view.contexts[:1], view.processes, series, None, 5, 5
    )


class FakeBrowser:
    """FakeSource's Browser view (``browser_state``: leaky, tidy or none)."""

    browser_state = "none"  # the tests of the Browser view choose leaky or tidy
    screenshots_taken: list[int]

    def browser(self) -> BrowserView:
        if self.browser_state == "none":
            return BrowserView(
                T0 + 65,
                status="No headless browser in this crawl: none of its "
                "DOWNLOAD_HANDLERS is scrapy-playwright's (see docs/browser.md)",
            )
        return leaky_view() if self.browser_state == "leaky" else tidy_view()

    def browser_fetch(self, flow_id: int) -> BrowserFetch | None:
        if self.browser_state == "none" or flow_id not in (7, 8, 9):
            return None
        page = next(p for p in leaky_view().pages if p.flow_id == flow_id)
        console = (
            ConsoleLine(
                T0 + flow_id + 0.2, "log", f"product {flow_id - 6} loaded", f"{page.url}:12"
            ),
            ConsoleLine(T0 + flow_id + 0.3, "pageerror", "TypeError: price\x1b[2J is undefined"),
        )
        return BrowserFetch(
            flow_id,
            page.key,
            "default",
            page.request_url,
            page.url + "#reviews",
            page.state,
            page.opened,
            page.closed,
            console,
            2,
            1,
            T0 + 65,
        )

    async def browser_screenshot(self, key: int | None) -> str:
        if key is None:
            raise ValueError("No browser page to shoot: select an open page first")
        if not hasattr(self, "screenshots_taken"):
            self.screenshots_taken = []
        self.screenshots_taken.append(key)
        return f"/tmp/workbench-page-{key}-120000.png"
