"""Every request has a fate: one small crawl per fate, in-process, on a site served
on 127.0.0.1 by this module (twisted.web on the session's reactor).

Each crawl starts from one page whose links lead to that fate, and checks the
flow the recorder kept for the request: its fate, who decided, why, and which
flow produced it.
"""

from __future__ import annotations

import asyncio
import gzip
from typing import Any

import pytest
import scrapy
from scrapy.core.scheduler import Scheduler
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.base import BaseSpiderMiddleware
from twisted.web import resource, server

from tests.conftest import demo_settings
from workbench.core.control.host import CrawlHost
from workbench.core.recording import fates
from workbench.core.recording.records import Flow

BIG = b"x" * 200_000  # over the crawls' DOWNLOAD_MAXSIZE (100 KB)
BOMB = gzip.compress(b"\0" * 1_000_000)  # 1 MB of zeros in about 1 KB
MAXSIZE = 100_000
LONG = "/long/" + "x" * 2100  # past URLLENGTH_LIMIT (2083)


def page(*links: str) -> bytes:
    return ("<html><body>" + "".join(f'<a href="{u}">{u[:40]}</a>' for u in links)).encode()


PAGES: dict[str, bytes] = {
    "/robots.txt": b"User-agent: *\nDisallow: /private/\n",
    "/dup": page("/a", "/a", "/a#part"),
    "/offsite": page("/a", "http://elsewhere.invalid/x"),
    "/deep": page("/deep/1"),
    "/deep/1": page("/deep/2"),
    "/deep/2": page("/deep/3"),
    "/deep/3": page("/deep/4"),
    "/robots": page("/private/secret"),
    "/ignore": page("/skip-me", "/a"),
    "/refuse": page("/refused", "/a"),
    "/drafts": page("/draft/1", "/a"),
    "/big": BIG,
    "/redirected": page("/moved"),
    "/long": page(LONG),
    "/a": page(),
}


class Site(resource.Resource):
    isLeaf = True

    def __init__(self) -> None:
        super().__init__()
        self.hits: dict[str, int] = {}

    def render_GET(self, request: Any) -> bytes:
        path = request.path.decode()
        self.hits[path] = self.hits.get(path, 0) + 1
        if path == "/flaky":
            request.setResponseCode(503)
            return b"try again"
        if path == "/moved":
            request.setResponseCode(301)
            request.setHeader(b"Location", b"/a")
            return b""
        if path == "/bomb":
            request.setHeader(b"Content-Encoding", b"gzip")
            return BOMB
        if path.startswith("/list/"):
            return page(*(f"/a/{n}" for n in range(30)))
        if path.startswith("/a/"):
            return page()
        body = PAGES.get(path)
        if body is None:
            request.setResponseCode(404)
            return b"no"
        request.setHeader(b"Content-Type", b"text/html")
        return body


@pytest.fixture
async def site(reactor):
    from scrapy.utils.defer import maybe_deferred_to_future

    from workbench.demo.site import url_of

    root = Site()
    port = reactor.listenTCP(0, server.Site(root), interface="127.0.0.1")
    yield url_of(port).rstrip("/"), root
    await maybe_deferred_to_future(port.stopListening())


class LinksSpider(scrapy.Spider):
    """Starts from ``path`` and follows every link."""

    name = "links"
    allowed_domains = ["127.0.0.1"]
    url = ""
    paths: tuple[str, ...] = ()

    async def start(self):
        for path in self.paths:
            yield scrapy.Request(self.url + path)

    def parse(self, response):
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href)


class SkipMiddleware:
    """A project's downloader middleware that drops some requests."""

    def process_request(self, request, spider=None):
        if "skip-me" in request.url:
            raise IgnoreRequest("the project skips these")
        return None


class DraftsMiddleware(BaseSpiderMiddleware):
    """A project's spider middleware that drops some requests from callbacks."""

    def get_processed_request(self, request, response):
        return None if "/draft/" in request.url else request


class RefusingScheduler(Scheduler):
    """A scheduler that refuses some requests for a reason of its own."""

    def enqueue_request(self, request):
        if "refused" in request.url:
            return False
        return super().enqueue_request(request)


async def crawl(url: str, *paths: str, **settings: Any) -> tuple[CrawlHost, list[Flow]]:
    spider = type("Links", (LinksSpider,), {"url": url, "paths": paths})
    host = CrawlHost(demo_settings(**{"RETRY_ENABLED": False, **settings}), spider)
    await host.start()
    await asyncio.wait_for(host.wait(), 60)
    host.close()
    return host, list(host.recorder.flows)


def only(flows: list[Flow], fate: str | None, suffix: str = "") -> Flow:
    found = [f for f in flows if f.fate == fate and f.url.endswith(suffix)]
    assert len(found) == 1, [(f.url, f.fate) for f in flows]
    return found[0]


def parent_url(flows: list[Flow], flow: Flow) -> str:
    return next(f.url for f in flows if f.id == flow.parent_id)


async def test_a_duplicate_names_the_flow_it_duplicates(site):
    url, _ = site
    host, flows = await crawl(url, "/dup")
    first = only(flows, None, "/a")
    dups = [f for f in flows if f.fate == fates.DUPLICATE]
    assert [f.url for f in dups] == [url + "/a", url + "/a#part"]
    assert all(d.fate_by == "scrapy.dupefilters.RFPDupeFilter" for d in dups)
    assert all(parent_url(flows, d) == url + "/dup" for d in dups)
    # the first is known when dropped only if already downloaded; the detail finds it
    assert {fates.duplicated_flow(flows, d).id for d in dups} == {first.id}
    assert host.recorder.fate_counts[fates.DUPLICATE] == 2
    assert host.stats.get_value("dupefilter/filtered") == 2
    assert "dropped as a duplicate" in fates.fate_text(dups[0])
    assert dups[0].status is None and dups[0].request_headers  # the request as it was


async def test_an_offsite_request_is_a_row(site):
    url, _ = site
    _, flows = await crawl(url, "/offsite")
    off = only(flows, fates.OFFSITE)
    assert off.url == "http://elsewhere.invalid/x"
    assert off.fate_by == "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware"
    assert off.fate_reason == "Filtered offsite request to 'elsewhere.invalid'"
    assert parent_url(flows, off) == url + "/offsite"
    assert fates.never_downloaded(off)


async def test_a_request_beyond_depth_limit_is_a_row(site):
    url, _ = site
    host, flows = await crawl(url, "/deep", DEPTH_LIMIT=2)
    deep = only(flows, fates.DEPTH)
    assert deep.url == url + "/deep/3" and deep.depth == 3 and deep.fate_limit == 2
    assert deep.fate_by == "scrapy.spidermiddlewares.depth.DepthMiddleware"
    assert parent_url(flows, deep) == url + "/deep/2"
    parent = next(f for f in flows if f.id == deep.parent_id)
    assert ("GET", deep.url) in parent.requests  # produced, never scheduled
    assert fates.fate_text(deep).startswith("beyond DEPTH_LIMIT: depth 3 > 2")
    assert host.stats.get_value("depth/request_ignored_count") == 1


async def test_robots_txt_disallows(site):
    url, root = site
    _, flows = await crawl(url, "/robots", ROBOTSTXT_OBEY=True)
    robots = only(flows, fates.ROBOTS)
    assert robots.url == url + "/private/secret"
    assert robots.fate_by == "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware"
    assert robots.fate_reason == "Forbidden by robots.txt" and robots.error is None
    assert parent_url(flows, robots) == url + "/robots"
    assert "/private/secret" not in root.hits


async def test_a_middleware_that_ignores_is_named(site):
    url, _ = site
    _, flows = await crawl(
        url, "/ignore", DOWNLOADER_MIDDLEWARES={f"{__name__}.SkipMiddleware": 500}
    )
    ignored = only(flows, fates.IGNORED)
    assert ignored.url == url + "/skip-me"
    assert ignored.fate_by == f"{__name__}.SkipMiddleware"
    assert ignored.fate_reason == "the project skips these"


async def test_a_spider_middleware_that_drops_is_named(site):
    url, _ = site
    _, flows = await crawl(url, "/long")
    ignored = only(flows, fates.IGNORED)
    assert ignored.url == url + LONG
    assert ignored.fate_by == "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware"
    assert fates.fate_text(ignored) == (
        "ignored by UrlLengthMiddleware: URL longer than URLLENGTH_LIMIT (2083)"
    )


async def test_a_projects_spider_middleware_that_drops_is_named(site):
    url, _ = site
    _, flows = await crawl(url, "/drafts", SPIDER_MIDDLEWARES={f"{__name__}.DraftsMiddleware": 50})
    ignored = only(flows, fates.IGNORED)
    assert ignored.url == url + "/draft/1" and ignored.fate_by == f"{__name__}.DraftsMiddleware"
    assert parent_url(flows, ignored) == url + "/drafts"
    assert "returned None" in fates.fate_text(ignored)


async def test_the_scheduler_refuses(site):
    url, _ = site
    _, flows = await crawl(url, "/refuse", SCHEDULER=f"{__name__}.RefusingScheduler")
    refused = only(flows, fates.SCHEDULER)
    assert refused.url == url + "/refused"
    assert refused.fate_by == f"{__name__}.RefusingScheduler"


async def test_over_download_maxsize(site):
    url, _ = site
    _, flows = await crawl(url, "/big", "/bomb", DOWNLOAD_MAXSIZE=MAXSIZE)
    big = only(flows, fates.MAXSIZE, "/big")
    assert big.status is None and big.error.startswith("DownloadCancelledError")
    assert big.fate_limit == MAXSIZE
    bomb = only(flows, fates.MAXSIZE, "/bomb")  # downloaded whole, too big decompressed
    assert bomb.status == 200 and bomb.error.startswith("IgnoreRequest: Ignored response")
    assert bomb.fate_by.endswith("HttpCompressionMiddleware")
    assert fates.fate_text(bomb).startswith("over DOWNLOAD_MAXSIZE (97.7 KB)")


async def test_retried_then_given_up(site):
    url, root = site
    _, flows = await crawl(url, "/flaky", RETRY_ENABLED=True, RETRY_TIMES=2)
    attempts = [f for f in flows if f.url.endswith("/flaky")]
    assert [(f.status, f.fate, f.fate_n, f.fate_limit) for f in attempts] == [
        (503, fates.RETRIED, 1, 2),
        (503, fates.RETRIED, 2, 2),
        (503, fates.GAVE_UP, 2, 2),
    ]
    assert root.hits["/flaky"] == 3
    assert fates.fate_label(attempts[-1]) == "gave up 2/2"
    assert fates.fate_text(attempts[-1]) == "retried 2 of 2 times, then given up"


async def test_a_download_error_retried_then_given_up(reactor):
    refused = "http://127.0.0.1:9/refused"  # nothing listens on the discard port
    _, flows = await crawl("", refused, RETRY_ENABLED=True, RETRY_TIMES=1)
    attempts = [f for f in flows if f.url == refused]
    assert [(f.status, f.fate, f.fate_n) for f in attempts] == [
        (None, fates.RETRIED, 1),
        (None, fates.GAVE_UP, 1),
    ]
    assert all(f.error for f in attempts)


async def test_still_pending_when_the_crawl_ended(site):
    url, _ = site
    host, flows = await crawl(
        url, "/list/1", CLOSESPIDER_PAGECOUNT=2, CONCURRENT_REQUESTS=1, DOWNLOAD_DELAY=0.05
    )
    pending = [f for f in flows if f.fate == fates.PENDING]
    downloaded = [f for f in flows if f.fate is None and "/a/" in f.url]
    assert pending and len(pending) + len(downloaded) >= 29  # every link: one fate each
    assert {f.url for f in pending}.isdisjoint(f.url for f in downloaded)
    assert all(f.fate_reason == "in the scheduler's memory queue" for f in pending)
    assert all(parent_url(flows, f) == url + "/list/1" for f in pending)
    assert host.recorder.fate_counts[fates.PENDING] == len(pending)


async def test_a_redirect_links_to_what_became_of_its_target(site):
    url, _ = site
    _, flows = await crawl(url, "/a", "/redirected")
    moved = only(flows, None, "/moved")
    assert moved.status == 301 and list(moved.requests) == [("GET", url + "/a")]
    [(_, target_url, target)] = fates.produced(flows, moved)
    assert target_url == url + "/a"
    assert target is not None and target.fate == fates.DUPLICATE and target.parent_id == moved.id


async def test_dropped_rows_are_bounded_apart_and_counted(site):
    url, _ = site
    host, flows = await crawl(url, "/dup", "/offsite", WORKBENCH_MAX_DROPPED=1)
    dropped = [f for f in flows if fates.never_downloaded(f)]
    assert len(dropped) == 1  # one row kept; the others counted
    rec = host.recorder
    # /a from both pages: one download, three duplicates; one offsite
    assert rec.dropped_kept == 1 and rec.dropped_unkept == 3
    assert rec.fate_counts == {fates.DUPLICATE: 3, fates.OFFSITE: 1}
    assert sum(1 for f in flows if f.fate is None) == 3  # every download is still a row


def test_produced_pairs_each_request_with_its_own_flow():
    """The same URL twice is two flows (the second a duplicate); a retried request is
    its last attempt; one with no outcome yet is None."""
    from tests.helpers.factories import make_flow

    u = "http://127.0.0.1/"
    parent = make_flow(id=1, url=u + "list")
    for url in ("a", "b", "a", "c"):
        parent.add_request("GET", u + url)
    children = [
        make_flow(id=2, url=u + "a", parent_id=1),
        make_flow(id=3, url=u + "b", status=503, parent_id=1, fate=fates.RETRIED, fate_n=1),
        make_flow(id=4, url=u + "a", status=None, parent_id=1, fate=fates.DUPLICATE),
        make_flow(id=5, url=u + "b", status=503, parent_id=1, fate=fates.GAVE_UP, fate_n=1),
        make_flow(id=6, url=u + "a", parent_id=9),  # another page's
    ]
    got = [(url[-1], f.id if f else None) for _, url, f in fates.produced(children, parent)]
    assert got == [("a", 2), ("b", 5), ("a", 4), ("c", None)]
    assert fates.duplicated_flow([parent, *children], children[2]).id == 2
