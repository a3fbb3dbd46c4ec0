"""Diagnose on real crawls: each crawl has one cause, and the verdict names it.

A twisted.web site on 127.0.0.1 (this module's ``Shop``) serves a list of
items, slow items, pages full of repeated and offsite links, and a page that
never answers; the crawls run in-process (``CrawlHost``) and are read as the
app reads them, through a ``LocalSource`` (its ``engine_reading``, flows and
snapshot).  A pace verdict needs the crawl running for a few seconds, so
those tests poll until it appears, then stop the crawl.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
import scrapy
from twisted.web import resource, server

from tests.conftest import demo_settings
from workbench.core.control.host import CrawlHost
from workbench.core.inspection.diagnosis import Diagnosis, Verdict, diagnose
from workbench.core.inspection.diagnosis.evidence import evidence_of
from workbench.core.sources.local import LocalSource

pytestmark = pytest.mark.slow  # real crawls of several seconds each

ITEMS = 80


def page(*links: str) -> bytes:
    return ("<html><body>" + "".join(f'<a href="{u}">x</a>' for u in links)).encode()


class Shop(resource.Resource):
    """``/list`` links every item; ``/slow/N`` answers after ``slow`` seconds;
    ``/links/N`` links every item again and an offsite host; ``/hang`` never answers."""

    isLeaf = True

    def __init__(self, slow: float = 0.25) -> None:
        super().__init__()
        self.slow = slow
        self.hanging: list[Any] = []

    def render_GET(self, request: Any) -> Any:
        from twisted.internet import reactor

        path = request.path.decode()
        request.setHeader(b"Content-Type", b"text/html")
        if path.startswith("/list"):
            count = int(path.rsplit("/", 1)[-1]) if path.count("/") > 1 else ITEMS
            return page(*(f"/item/{n}" for n in range(count)))
        if path.startswith("/slow-list"):
            count = int(path.rsplit("/", 1)[-1]) if path.count("/") > 1 else ITEMS
            return page(*(f"/slow/{n}" for n in range(count)))
        if path.startswith("/slow/"):
            reactor.callLater(self.slow, self._finish, request, page())
            return server.NOT_DONE_YET
        if path == "/hang-list":
            return page("/item/1", "/hang/1", "/hang/2")
        if path.startswith("/hang/"):
            self.hanging.append(request)
            return server.NOT_DONE_YET
        if path == "/links" or path.startswith("/links/"):
            others = [f"/links/{n}" for n in range(30)]
            offsite = [f"http://www.elsewhere.test/p/{n}" for n in range(3)]
            return page(*others, *offsite)
        return page()

    @staticmethod
    def _finish(request: Any, body: bytes) -> None:
        if not request.finished and not request._disconnected:
            request.write(body)
            request.finish()


@pytest.fixture
async def shop(reactor):
    from scrapy.utils.defer import maybe_deferred_to_future

    from workbench.demo.site import url_of

    root = Shop()
    port = reactor.listenTCP(0, server.Site(root), interface="127.0.0.1")
    yield url_of(port).rstrip("/"), root
    for request in root.hanging:  # the crawl gave up on them (DOWNLOAD_TIMEOUT)
        if not request.finished and not request._disconnected:
            request.loseConnection()
    await maybe_deferred_to_future(port.stopListening())


class FollowSpider(scrapy.Spider):
    name = "follow"
    allowed_domains = ["127.0.0.1"]
    start_path = "/list"
    url = ""
    burn = 0.0  # seconds of CPU each callback spends

    async def start(self):
        yield scrapy.Request(self.url + self.start_path)

    def parse(self, response):
        if self.burn:
            end = time.process_time() + self.burn
            while time.process_time() < end:
                pass
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href)


def _host(url: str, path: str, burn: float = 0.0, **settings: Any) -> CrawlHost:
    spider = type("Follow", (FollowSpider,), {"url": url, "start_path": path, "burn": burn})
    return CrawlHost(demo_settings(**{"RETRY_ENABLED": False, **settings}), spider)


async def _until_verdict(host: CrawlHost, code: str, timeout: float = 40.0) -> Verdict:
    """Start the crawl, diagnose it twice a second as the app does, until ``code``."""
    source = LocalSource(host)
    await host.start()
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    try:
        while time.monotonic() < deadline and not host.finished:
            await asyncio.sleep(0.5)
            result = diagnose(evidence_of(source, source.snapshot()))
            seen = [v.code for v in result.verdicts]
            found = next((v for v in result.verdicts if v.code == code), None)
            if found is not None:
                return found
        raise AssertionError(f"no {code} verdict; the last diagnosis: {seen}")
    finally:
        host.stop()
        await asyncio.wait_for(host.wait(), 60)
        host.close()


async def _finished(host: CrawlHost) -> Diagnosis:
    source = LocalSource(host)
    await host.start()
    await asyncio.wait_for(host.wait(), 60)
    host.close()
    return diagnose(evidence_of(source, source.snapshot()))


async def test_one_request_per_domain_against_a_slow_site_is_slots_full(shop):
    url, _ = shop
    # a delay, however small, makes Scrapy 2.19 hold the concurrency (see the next test)
    host = _host(url, "/slow-list", CONCURRENT_REQUESTS_PER_DOMAIN=1, DOWNLOAD_DELAY=0.01)
    verdict = await _until_verdict(host, "slots-full")
    assert verdict.headline == "bound by CONCURRENT_REQUESTS_PER_DOMAIN (127.0.0.1: 1 at a time)"
    assert verdict.setting.startswith("CONCURRENT_REQUESTS_PER_DOMAIN (now 1)")
    assert verdict.target.panel == "slots" and verdict.target.slot == "127.0.0.1"


async def test_without_a_delay_scrapy_sends_more_than_the_slots_concurrency(shop):
    """Scrapy 2.19 on asyncio starts every request waiting in a slot at once when
    there is no delay (a request counts as transferring only once its task runs):
    the verdict shows the slot over its concurrency, and names the workaround."""
    url, root = shop
    root.slow = 0.6  # 200 pages, 16 at a time: 7.5 s
    host = _host(url, "/slow-list/200", CONCURRENT_REQUESTS_PER_DOMAIN=1)
    verdict = await _until_verdict(host, "over-concurrency")
    assert verdict.severity == "problem"
    assert "for a concurrency of 1" in verdict.headline
    assert verdict.setting.startswith("DOWNLOAD_DELAY above 0")


async def test_a_download_delay_bounds_the_crawl(shop):
    url, _ = shop
    host = _host(url, "/list", DOWNLOAD_DELAY=0.3)
    verdict = await _until_verdict(host, "delay")
    assert "DOWNLOAD_DELAY (127.0.0.1: 0.30 s)" in verdict.headline
    assert verdict.setting.startswith("DOWNLOAD_DELAY (now 0.3 s)")
    figures = dict(verdict.evidence)
    assert figures["delay"].startswith("0.30 s between requests")


async def test_a_callback_that_burns_cpu_is_cpu_bound(shop):
    url, _ = shop
    host = _host(url, "/list/60", burn=0.15)  # 9 s of CPU in callbacks
    verdict = await _until_verdict(host, "cpu")
    assert "of a core" in verdict.headline or "blocked" in verdict.headline
    assert "py-spy" in verdict.setting


async def test_requests_on_the_wire_and_no_response_is_a_stall(shop):
    url, _ = shop
    # the in-flight clock's threshold (a sixth of DOWNLOAD_TIMEOUT), shortened
    host = _host(url, "/hang-list", DOWNLOAD_TIMEOUT=10, WORKBENCH_STALL_AFTER=3)
    verdict = await _until_verdict(host, "stalled")
    assert "2 on the wire, no response" in verdict.headline
    assert verdict.setting.startswith("DOWNLOAD_TIMEOUT (now 10 s)")
    assert verdict.target.panel == "queue"


async def test_repeated_and_offsite_links_are_named_after_the_crawl(shop):
    url, _ = shop
    result = await _finished(_host(url, "/links"))
    found = {v.code: v for v in result.verdicts}
    offsite = found["offsite"]
    assert dict(offsite.evidence)["to"].startswith("www.elsewhere.test ×")
    assert offsite.target.filter == "~fate offsite"
    duplicates = found["duplicates"]
    assert duplicates.target.filter == "~fate duplicate"
    assert result.headline is None  # notes only: nothing for the status line
    assert "stalled downloads" in dict(result.unchecked)  # over: the pace is not judged


async def test_a_healthy_crawl_says_so(shop):
    url, _ = shop
    result = await _finished(_host(url, "/list"))
    assert result.verdicts == ()
    assert "many duplicates" in result.checked
