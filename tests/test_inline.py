"""Inline requests (Scrapy's docs, "Coroutines" > "Inline requests"): a request a
callback downloads and awaits is a flow, marked inline, the child of the flow
whose callback awaited it, listed in that flow's Produced tab; ``~inline``
filters it and a breakpoint stops on it.  Real crawls of the demo site,
in-process."""

from __future__ import annotations

import asyncio
import time

import pytest
import scrapy
from scrapy import Request, Spider
from scrapy.utils.defer import maybe_deferred_to_future

from tests.conftest import demo_settings
from tests.helpers.factories import make_flow
from tests.helpers.processes import WORKBENCH, env, site_process
from tests.ptyrun import PtyProcess
from workbench.core.control.host import CrawlHost
from workbench.core.inspection.filters import parse_filter
from workbench.core.recording import fates
from workbench.core.recording.records import Flow
from workbench.core.sources.local import LocalSource
from workbench.remote import wire
from workbench.remote.agent import flow_to_wire


class SingleRequestSpider(Spider):
    """The docs' first example, on the demo site."""

    name = "single"

    async def parse(self, response, **kwargs):
        additional_request = Request(self.site + "product/1.html")
        additional_response = await self.crawler.engine.download_async(additional_request)
        yield {
            "h1": response.css("h1").get(),
            "price": additional_response.css(".price::text").get(),
        }


class MultipleRequestsSpider(Spider):
    """The docs' second example: several in parallel with asyncio.gather (the docs
    index each response as ``responses[0][1]``; a response is not a sequence)."""

    name = "multiple"

    async def parse(self, response, **kwargs):
        additional_requests = [
            Request(self.site + "product/2.html"),
            Request(self.site + "product/3.html"),
        ]
        tasks = []
        for r in additional_requests:
            task = self.crawler.engine.download_async(r)
            tasks.append(task)
        responses = await asyncio.gather(*tasks)
        yield {
            "h1": response.css("h1::text").get(),
            "price": responses[0].css(".price::text").get(),
            "price2": responses[1].css(".price::text").get(),
        }


class OlderFormsSpider(Spider):
    """engine.download wrapped with maybe_deferred_to_future (Scrapy 2.13's docs), a
    helper method that downloads for the callback, and a redirect followed inline."""

    name = "older"

    async def parse_listing(self, response):
        deferred = self.crawler.engine.download(Request(self.site + "product/4.html"))
        first = await maybe_deferred_to_future(deferred)
        second = await self.fetch(self.site + "product/5.html")
        moved = await self.crawler.engine.download_async(Request(self.site + "old-catalogue"))
        yield {"first": first.url, "second": second.url, "moved": moved.url}

    async def fetch(self, url):
        return await self.crawler.engine.download_async(Request(url))


async def crawl(spider: type[Spider], url: str, start: str, callback: str = "parse", **settings):
    spider = type(spider.__name__, (spider,), {
        "site": url,
        "start_urls": [url + start],
        "parse": getattr(spider, callback),
    })  # fmt: skip
    source = LocalSource(CrawlHost(demo_settings(**settings), spider))
    await source.start()
    return source


async def finished(source: LocalSource) -> list[Flow]:
    await asyncio.wait_for(source.host.wait(), 60)
    source.close()
    return source.flows_since(0)


def by_path(flows: list[Flow], path: str) -> Flow:
    found = [f for f in flows if f.url.endswith(path)]
    assert len(found) == 1, [(f.url, f.inline) for f in flows]
    return found[0]


async def test_the_docs_single_request_is_a_flow_under_its_callback(demo_url):
    source = await crawl(SingleRequestSpider, demo_url, "catalogue/page-1.html")
    flows = await finished(source)
    parent = by_path(flows, "catalogue/page-1.html")
    child = by_path(flows, "product/1.html")
    assert parent.inline is None and parent.callback == "parse"
    assert child.inline == "parse" and child.callback is None  # its response went to parse
    assert child.parent_id == parent.id and child.status == 200
    # the parent's Produced tab: the request, with its flow
    assert fates.produced(flows, parent) == [("GET", child.url, child)]
    # the item the callback made from both responses is the parent's
    [item] = source.items_of(parent)
    assert dict(item.fields)["price"] not in (None, "None")


async def test_the_docs_parallel_requests_are_each_a_flow(demo_url):
    source = await crawl(MultipleRequestsSpider, demo_url, "catalogue/page-1.html")
    flows = await finished(source)
    parent = by_path(flows, "catalogue/page-1.html")
    children = [by_path(flows, "product/2.html"), by_path(flows, "product/3.html")]
    assert all(c.inline == "parse" and c.parent_id == parent.id for c in children)
    assert [c for _, _, c in fates.produced(flows, parent)] == children
    assert source.recorder.spider_errors == 0  # the callback ran to its item


async def test_engine_download_a_helper_and_a_redirect(demo_url):
    source = await crawl(OlderFormsSpider, demo_url, "catalogue/page-2.html",
                         callback="parse_listing")  # fmt: skip
    flows = await finished(source)
    parent = by_path(flows, "catalogue/page-2.html")
    deferred_form = by_path(flows, "product/4.html")
    helper = by_path(flows, "product/5.html")
    assert deferred_form.inline == "parse_listing" and deferred_form.parent_id == parent.id
    # awaited in fetch(), itself awaited by the callback: the callback is named
    assert helper.inline == "parse_listing" and helper.parent_id == parent.id
    moved = by_path(flows, "old-catalogue")
    target = next(f for f in flows if f.parent_id == moved.id)
    assert moved.status == 301 and moved.inline == "parse_listing"
    assert moved.parent_id == parent.id
    assert target.inline == "parse_listing" and target.url.endswith("catalogue/page-1.html")
    assert [c.id for _, _, c in fates.produced(flows, moved)] == [target.id]


async def test_only_a_spiders_own_downloads_are_inline(demo_url):
    """robots.txt, which Scrapy's middleware downloads with download_async, is not."""
    source = await crawl(SingleRequestSpider, demo_url, "catalogue/page-1.html",
                         ROBOTSTXT_OBEY=True)  # fmt: skip
    flows = await finished(source)
    robots = by_path(flows, "robots.txt")
    assert robots.inline is None
    assert {f.url.rsplit("/", 1)[-1] for f in flows if f.inline} == {"1.html"}


async def test_the_inline_filter_and_a_breakpoint_on_it(demo_url):
    source = await crawl(SingleRequestSpider, demo_url, "catalogue/page-1.html",
                         WORKBENCH_BREAKPOINTS=["~inline"])  # fmt: skip

    async def hit():
        while (snapshot := source.snapshot()).hit is None:
            assert not source.host.finished, "the crawl ended without stopping"
            await asyncio.sleep(0.02)
        return snapshot.hit

    stopped = await asyncio.wait_for(hit(), 30)
    assert stopped.kind == "response" and stopped.url.endswith("product/1.html")
    assert source.flow(stopped.flow_id).inline == "parse"
    assert source.continue_()
    flows = await finished(source)
    inline = parse_filter("~inline")
    assert [f.url for f in flows if inline(f)] == [demo_url + "product/1.html"]
    assert [f.url for f in flows if parse_filter("!~inline")(f)] == [
        demo_url + "catalogue/page-1.html"
    ]


class FlakySpider(Spider):
    name = "flaky"

    async def parse(self, response):
        retried = await self.crawler.engine.download_async(Request(self.site + "flaky/7.html"))
        yield {"status": retried.status}


async def test_an_inline_download_retried_is_two_attempts_under_the_callback(demo_url):
    source = await crawl(FlakySpider, demo_url, "catalogue/page-1.html")
    flows = await finished(source)
    parent = by_path(flows, "catalogue/page-1.html")
    first, second = [f for f in flows if f.url.endswith("flaky/7.html")]
    assert (first.status, first.fate, first.fate_n) == (500, fates.RETRIED, 1)
    assert second.status == 200 and second.fate is None
    assert first.inline == second.inline == "parse"
    assert first.parent_id == second.parent_id == parent.id
    # the Produced tab: the request once, with its last attempt
    assert fates.produced(flows, parent) == [("GET", second.url, second)]
    [item] = source.items_of(parent)
    assert dict(item.fields)["status"] in (200, "200")


class StartSpider(Spider):
    name = "start"

    async def start(self):
        response = await self.crawler.engine.download_async(Request(self.site + "product/6.html"))
        yield scrapy.Request(response.url + "?again", callback=self.parse)

    def parse(self, response):
        yield {"url": response.url}


async def test_a_download_awaited_in_start_names_it_and_has_no_parent(demo_url):
    source = await crawl(StartSpider, demo_url, "unused")
    flows = await finished(source)
    fetched = by_path(flows, "product/6.html")
    assert fetched.inline == "start" and fetched.parent_id is None
    assert by_path(flows, "product/6.html?again").inline is None


def test_inline_travels_to_an_attached_workbench():
    flow = make_flow(inline="parse", callback=None, parent_id=3)
    back = wire.flow(flow_to_wire(flow))
    assert back.inline == "parse" and back.callback is None and back.parent_id == 3
    assert wire.flow(flow_to_wire(make_flow())).inline is None


COROUTINE_SPIDER = """\
import os

from scrapy import Request, Spider


class SingleRequestSpider(Spider):
    name = "single"
    start_urls = [os.environ["SITE"] + "catalogue/page-1.html"]

    async def parse(self, response, **kwargs):
        additional_request = Request(os.environ["SITE"] + "product/1.html")
        additional_response = await self.crawler.engine.download_async(additional_request)
        yield {
            "h1": response.css("h1").get(),
            "price": additional_response.css(".price::text").get(),
        }
"""


@pytest.mark.slow
def test_workbench_runspider_shows_the_inline_download_under_its_callback(tmp_path):
    spider = tmp_path / "single.py"
    spider.write_text(COROUTINE_SPIDER)
    with site_process() as (_, url):
        term = PtyProcess([*WORKBENCH, "runspider", str(spider)], cwd=str(tmp_path),
                          env={**env(), "SITE": url})  # fmt: skip
        try:
            term.expect(r"■ finished", timeout=90)
            term.expect(r"inline\s+http://127\.0\.0\.1:\d+/product/1\.html.*↩ parse", timeout=10)
            term.send("g")  # the first row: the catalogue page, whose parse awaited it
            time.sleep(0.3)
            term.send("\r")
            term.expect(r"Flow #1 ", timeout=10)
            term.send("4")
            term.expect(r"Requests \(1\)", timeout=10)
            term.expect(r"200 inline GET http://127\.0\.0\.1:\d+/product/1\.html\s+#2", timeout=10)
            term.send("q")
            time.sleep(0.3)
            term.send("q")
            assert term.wait(60) == 0, term.text[-2000:]
        finally:
            term.close()
    assert "workbench: spider single finished (finished): 2 pages, 1 items" in term.text
