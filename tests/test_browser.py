"""The Browser view on real scrapy-playwright crawls, driving Debian's chromium
against a site on 127.0.0.1 (tests/helpers/playwright_site.py).

Skipped, with the reason, when playwright, scrapy-playwright or chromium is
missing; under ``CI_REQUIRE_CHROMIUM=1`` (.ci/run) they run, and fail instead.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from tests.conftest import demo_settings
from tests.helpers.app import wait_for, widget_text
from tests.helpers.playwright_site import listen, playwright_settings, skip_reason, url_of
from tests.helpers.playwright_spiders import LeakyPageSpider, TidyPageSpider
from workbench.core.control.host import CrawlHost
from workbench.core.sources.local import LocalSource

pytestmark = [
    pytest.mark.slow,  # a real browser
    pytest.mark.skipif(skip_reason() is not None, reason=str(skip_reason())),
]


@contextlib.asynccontextmanager
async def _site():
    from scrapy.utils.defer import maybe_deferred_to_future

    port = listen()
    try:
        yield url_of(port)
    finally:
        await maybe_deferred_to_future(port.stopListening())


@pytest.fixture
async def site(reactor):
    async with _site() as url:
        yield url


def _host(spider: type, url: str, **settings) -> CrawlHost:
    spider.url = f"{url}/page/1"  # type: ignore[attr-defined]
    options = playwright_settings(WORKBENCH_BROWSER_STALE=0.5, **settings)
    return CrawlHost(demo_settings(**options), spider)


async def _until(predicate, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.1)


async def test_pages_a_spider_never_closes_pile_up_with_the_requests_that_opened_them(
    site, tmp_path, monkeypatch
):
    host = _host(LeakyPageSpider, site)
    source = LocalSource(host)
    await host.start()
    try:
        await _until(lambda: source.browser().open_pages >= 4)
        assert source.toggle_pause() is True  # hold the crawl: its pages stay open
        await _until(lambda: source.browser().leak is not None)
        view = source.browser()
        assert not view.status and "chromium" in view.browser
        open_rows = [p for p in view.pages if p.is_open]
        assert len(open_rows) >= 4 and all(p.context == "default" for p in open_rows)
        # each page names the request (and flow) that opened it, oldest first
        first = open_rows[0]
        assert first.request_url.endswith("/page/1") and first.callback == "parse"
        flow = source.flow(first.flow_id)
        assert flow is not None and flow.url == first.request_url
        assert [p.opened for p in open_rows] == sorted(p.opened for p in open_rows)
        leak = view.leak
        assert leak is not None and not leak.at_close
        assert "page.close()" in leak.advice and leak.oldest[0].key == first.key

        # a screenshot of a page the spider still holds, saved to a file
        monkeypatch.chdir(tmp_path)
        path = await source.browser_screenshot(first.key)
        assert path.startswith(str(tmp_path)) and path.endswith(".png")
        assert (tmp_path / path.rsplit("/", 1)[1]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert source.browser().screenshots[-1] == path

        # the flow of a browser download: its page, final URL, console and page errors
        third = next(p for p in open_rows if p.request_url.endswith("/page/3?last=8"))
        fetch = source.browser_fetch(third.flow_id)
        assert fetch is not None and fetch.page_key == third.key
        assert fetch.final_url.endswith("/page/3?last=8")
        texts = [(line.kind, line.text) for line in fetch.console]
        assert ("log", "page 3 loaded") in texts
        assert any(k == "pageerror" and "broken widget on page 3" in t for k, t in texts)
        assert fetch.errors_total == 1
        assert view.processes and view.memory > 0  # chromium's processes, read from /proc
        assert {p.kind for p in view.processes} >= {"browser", "renderer"}
        source.toggle_pause()
        await asyncio.wait_for(host.wait(), 60)
    finally:
        host.close()
    await asyncio.sleep(0.3)
    view = source.browser()
    # the crawl closed with every page still open: the verdict stays, named
    assert view.leak is not None and view.leak.at_close
    assert view.pages_opened == 8 and view.open_pages == 0
    assert {p.state for p in view.pages} == {"shutdown"}
    with pytest.raises(ValueError, match="not open"):
        await source.browser_screenshot(first.key)


async def test_a_spider_that_closes_its_pages_gets_no_warning(site):
    host = _host(TidyPageSpider, site)
    source = LocalSource(host)
    await host.start()
    warned = []
    try:
        while not host.finished:
            view = source.browser()
            warned.append(view.leak is not None)
            await asyncio.sleep(0.2)
    finally:
        host.close()
    view = source.browser()
    assert not any(warned) and view.leak is None
    assert view.pages_opened == view.pages_closed == 8
    assert {p.state for p in view.pages} == {"closed"}


async def test_the_browser_panel_in_the_app_on_a_leaky_crawl(site):
    from workbench.ui.app import WorkbenchApp
    from workbench.ui.widgets.record_table import RecordTable

    host = _host(LeakyPageSpider, site)
    source = LocalSource(host)
    app = WorkbenchApp(source)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(lambda: source.browser().open_pages >= 4, pilot)
        await pilot.press("space")  # pause: the pages stay open
        flows = app.query_one("#flow-table", RecordTable)
        await wait_for(lambda: len(flows.rows) >= 4, pilot)
        assert "browser" in widget_text(flows)  # the Fate column marks the browser's flows
        await pilot.press("9")
        await wait_for(lambda: source.browser().leak is not None, pilot)
        app.refresh_panels()
        await pilot.pause(0.3)
        table = app.query_one("#browser-table", RecordTable)
        assert len([r for r in table.rows if r.is_open]) >= 4
        text = widget_text(table)
        assert "held" in text and "#1 GET http://127.0.0.1:" in text
        hint = widget_text(app.query_one("#browser-hint"))
        assert "Pages left open" in hint and "page.close()" in hint and "/page/1" in hint
        await pilot.press("enter")  # the flow of the request that opened the oldest page
        await pilot.pause(0.3)
        from workbench.ui.screens.flow_detail import FlowDetailScreen

        assert isinstance(app.screen, FlowDetailScreen)
        assert app.screen.flow.url.endswith("/page/1")
        await pilot.press("2")
        await pilot.pause(0.2)
        response = widget_text(app.screen.query_one("#response-view"))
        assert "Fetched by the headless browser" in response and "page 1 loaded" in response
        await pilot.press("escape")
        await pilot.press("space")
        await wait_for(lambda: host.finished, pilot)
    host.close()
