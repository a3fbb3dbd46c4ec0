"""Real crawls of the demo site, in-process, on the session loop (no UI)."""

from __future__ import annotations

import asyncio
import json

import scrapy

from tests.conftest import demo_settings
from workbench.core.control.host import CrawlHost
from workbench.core.recording.fates import never_downloaded
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import DemoSpider, expected_item_count

PAGES = 40


async def run_demo(demo_url, **settings) -> CrawlHost:
    host = CrawlHost(demo_settings(**settings), DemoSpider, {"url": demo_url})
    await host.start()
    await asyncio.wait_for(host.wait(), 60)
    host.close()
    return host


async def test_demo_crawl_is_recorded(demo_url, tmp_path):
    out = tmp_path / "items.jsonl"
    host = await run_demo(demo_url, FEEDS={str(out): {"format": "jsonlines"}})
    recorder = host.recorder
    status = host.status()
    assert status.state == "finished" and status.finish_reason == "finished"
    assert recorder.items_scraped == expected_item_count(PAGES)
    # the feed (a real Scrapy feed export) holds exactly the items we counted
    lines = out.read_text().splitlines()
    assert len(lines) == recorder.items_scraped
    assert {json.loads(line)["url"] for line in lines if "id" in json.loads(line)}
    flows = list(recorder.flows)
    statuses = [f.status for f in flows]
    # every network outcome is a flow: the redirect, the 404, the 500 before its retry
    assert statuses.count(301) == 1 and statuses.count(404) == 1 and statuses.count(500) == 1
    downloaded = [f for f in flows if not never_downloaded(f)]  # the rest: duplicates...
    assert len(downloaded) == host.stats.get_value("downloader/response_count")
    product = next(f for f in flows if "/product/7.html" in f.url)
    assert product.callback == "parse_product" and product.items
    assert product.parent_id is not None
    parent = recorder.flow(product.parent_id)
    assert "/catalogue/" in parent.url and product.url in [u for _, u in parent.requests]
    assert product.latency is not None and product.latency > 0
    body = recorder.body(product.id)
    assert body is not None and b"<h1>" in body.body
    # log records were captured, not printed
    assert any("Spider closed (finished)" in r.message for r in recorder.log)


class FailingSpider(scrapy.Spider):
    name = "failing"

    async def start(self):
        yield scrapy.Request(self.url)
        yield scrapy.Request("http://127.0.0.1:9/refused", dont_filter=True)

    def parse(self, response):
        raise ValueError("boom in callback")


async def test_callback_and_download_errors_are_recorded(demo_url):
    FailingSpider.url = demo_url
    host = CrawlHost(demo_settings(RETRY_ENABLED=False), FailingSpider)
    await host.start()
    await asyncio.wait_for(host.wait(), 30)
    flows = list(host.recorder.flows)
    ok = next(f for f in flows if f.status == 200)
    assert ok.callback_error == "ValueError: boom in callback"
    assert "Traceback" in ok.callback_traceback
    refused = next(f for f in flows if f.status is None)
    assert refused.error.startswith("ConnectionRefusedError") or "refused" in refused.error
    assert refused.failed and ok.failed


async def test_pause_resume_and_graceful_stop(demo_url, tmp_path):
    out = tmp_path / "items.jsonl"
    host = CrawlHost(
        demo_settings(FEEDS={str(out): {"format": "jsonlines"}}, CONCURRENT_REQUESTS=2),
        DemoSpider,
        {"url": demo_url},
    )
    source = LocalSource(host)
    await host.start()
    while host.recorder.flows.total < 5:
        await asyncio.sleep(0.01)
    assert source.toggle_pause() is True
    assert host.status().state == "paused"
    await asyncio.sleep(0.5)  # in-flight requests finish...
    settled = host.recorder.flows.total
    await asyncio.sleep(0.5)
    assert host.recorder.flows.total == settled  # ...then nothing more is downloaded
    view = source.queue(0, 50)
    assert view.total > 0 and len(view.page) == min(50, view.total)
    assert sum(g.size for g in view.groups) == view.total
    assert source.queue(0, 50).total == view.total  # peeking consumed nothing
    assert source.toggle_pause() is False
    while host.recorder.flows.total < settled + 5:
        await asyncio.sleep(0.01)
    assert host.stop() is True
    assert host.status().state == "closing"
    await asyncio.wait_for(host.wait(), 30)
    assert host.status().finish_reason == "shutdown"
    lines = out.read_text().splitlines()
    assert len(lines) == host.recorder.items_scraped > 0


def _responses(host: CrawlHost) -> int:
    return host.stats.get_value("downloader/response_count", 0) if host.stats else 0


def _waiting(host: CrawlHost) -> int:
    """Requests waiting in the downloader's slots (not on the wire yet)."""
    engine = host.engine
    slots = engine.downloader.slots.values() if engine is not None else ()
    return sum(len(slot.queue) for slot in slots)


async def _until(condition, timeout: float = 30) -> None:
    async def poll() -> None:
        while not condition():
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def test_pause_holds_the_requests_waiting_in_the_downloaders_slots(demo_url):
    """With DOWNLOAD_DELAY the engine hands the downloader up to CONCURRENT_REQUESTS
    at once; they wait in the slot's queue and leave one per delay.  Paused, they
    stay there: only what is on the wire finishes, as the notice says."""
    host = CrawlHost(demo_settings(DOWNLOAD_DELAY=0.2), DemoSpider, {"url": demo_url})
    source = LocalSource(host)
    await host.start()
    await _until(lambda: _responses(host) >= 3 and _waiting(host) >= 5)
    assert source.toggle_pause() is True
    status = host.status()
    at_pause = _responses(host)
    assert status.state == "paused" and status.held >= 5
    assert status.in_flight + status.held == len(host.engine._slot.inprogress)
    await asyncio.sleep(2)  # ten delays: ten more pages if the slot's queue drained
    assert _responses(host) - at_pause <= status.in_flight  # only what was in flight
    paused = host.status()
    assert paused.in_flight == 0 and paused.held == status.held == _waiting(host)
    # what the downloader is asked while paused (the shell's fetch()) still goes out
    fetch = scrapy.Request(f"{demo_url}product/1.html?fetch", dont_filter=True)
    response = await asyncio.wait_for(host.engine.download_async(fetch), 10)
    assert response.status == 200 and host.status().held == status.held
    assert source.toggle_pause() is False
    assert host.status().held == 0
    # the held requests leave again, one per delay
    await _until(lambda: _responses(host) > at_pause + status.held)
    assert host.stop() is True
    await asyncio.wait_for(host.wait(), 30)
    assert host.status().finish_reason == "shutdown"


async def test_a_crawl_closing_while_paused_lets_the_held_requests_finish(demo_url):
    """Scrapy closes a spider (CLOSESPIDER_TIMEOUT, CloseSpider...) only once every
    request it handed out is done: held ones must go then, or it never closes."""
    host = CrawlHost(demo_settings(DOWNLOAD_DELAY=0.2), DemoSpider, {"url": demo_url})
    await host.start()
    await _until(lambda: _waiting(host) >= 5)
    assert host.pause() and host.status().held >= 5
    await host.engine.close_spider_async(reason="closespider_timeout")
    await asyncio.wait_for(host.wait(), 30)
    assert host.status().finish_reason == "closespider_timeout"


async def test_snapshot_reports_counts_and_history(demo_url):
    host = await run_demo(demo_url)
    source = LocalSource(host)
    snapshot = source.snapshot()
    assert snapshot.status.state == "finished"
    assert snapshot.items_scraped == expected_item_count(PAGES)
    assert snapshot.flows_total == len(source.flows_since(0))
    assert source.flows_since(snapshot.flows_total) == []
    assert snapshot.pages == snapshot.stats["response_received_count"]
    assert snapshot.elapsed > 0


async def test_a_stop_while_the_crawl_starts_stops_it(demo_url):
    """Asked to stop before its engine runs (``q`` as the interface comes up),
    the crawl closes as it starts ("shutdown"), not after crawling everything:
    Crawler.stop_async alone does nothing then."""
    host = CrawlHost(demo_settings(), DemoSpider, {"url": demo_url})
    await host.start()
    assert host.engine is None or not host.engine.running
    assert host.stop() is True
    assert host.stop() is False  # once
    assert host.status().state == "closing"
    await asyncio.wait_for(host.wait(), 30)
    host.close()
    assert host.error is None
    assert host.status().finish_reason == "shutdown"
    assert _responses(host) == 0


class SlowStartSpider(DemoSpider):
    """An engine_started handler that takes a while (an extension opening a
    connection): the stop comes while it runs."""

    name = "slow_start"

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.started = asyncio.Event()
        crawler.signals.connect(spider.engine_started, signal=scrapy.signals.engine_started)
        return spider

    async def engine_started(self) -> None:
        self.started.set()
        await asyncio.sleep(0.3)


async def test_a_stop_during_the_engine_started_handlers_stops_it(demo_url):
    host = CrawlHost(demo_settings(), SlowStartSpider, {"url": demo_url})
    await host.start()
    await _until(lambda: host.crawler.spider is not None and host.crawler.spider.started.is_set())
    assert not host.engine.running
    assert host.stop() is True
    await asyncio.wait_for(host.wait(), 30)
    host.close()
    assert host.error is None
    assert host.status().finish_reason == "shutdown"
    assert _responses(host) == 0


async def test_a_response_is_due_while_autothrottle_has_a_request_on_the_wire(demo_url):
    """``response_due`` (the interface then paints in a gap between responses):
    only with AutoThrottle on, only while a request is on the wire."""
    seen = {}
    for throttled in (True, False):
        host = CrawlHost(
            demo_settings(AUTOTHROTTLE_ENABLED=throttled, AUTOTHROTTLE_START_DELAY=0),
            DemoSpider,
            {"url": demo_url},
        )
        assert not host.response_due()  # no crawl yet
        await host.start()
        answers = set()
        while not host.finished:
            due = host.response_due()
            answers.add(due)
            if due:
                clock = host.engine.downloader.slots
                assert any(slot.transferring for slot in clock.values())
            await asyncio.sleep(0.002)
        host.close()
        assert not host.response_due()  # finished
        seen[throttled] = answers
    assert seen[True] == {True, False}  # the slow page alone is on the wire 0.2 s
    assert seen[False] == {False}
