"""The queue probe reads a real Scrapy scheduler without consuming it, in bounded time."""

from __future__ import annotations

import time

import scrapy
from scrapy.core.scheduler import Scheduler
from scrapy.utils.test import get_crawler

from workbench.core.control.scheduler_view import peek_page, queue_groups


class _Spider(scrapy.Spider):
    name = "q"


def make_scheduler(settings: dict | None = None) -> Scheduler:
    crawler = get_crawler(_Spider, settings or {})
    crawler.spider = crawler._create_spider()

    class _Engine:  # DownloaderAwarePriorityQueue asks the downloader for slots
        class downloader:
            slots: dict = {}

            @staticmethod
            def get_slot_key(request):
                return request.meta.get("download_slot") or "127.0.0.1"

    crawler.engine = _Engine()
    scheduler = Scheduler.from_crawler(crawler)
    scheduler.open(crawler.spider)
    return scheduler


def test_peek_reads_in_pop_order_and_consumes_nothing():
    scheduler = make_scheduler({"SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue"})
    for n in range(10):
        scheduler.enqueue_request(scrapy.Request(f"http://127.0.0.1/{n}", priority=n % 2))
    groups, page = peek_page(scheduler, 0, 100)
    assert sum(g.size for g in groups) == len(scheduler) == 10
    assert [g.priority for g in groups] == [1, 0]  # higher priority pops first
    assert [r.url for r in page[:5]] == [f"http://127.0.0.1/{n}" for n in (9, 7, 5, 3, 1)]
    assert len(scheduler) == 10  # nothing consumed
    popped = scheduler.next_request()
    assert popped.url == page[0].url  # the page's first row is what pops next
    _, second = peek_page(scheduler, 3, 2)
    assert [r.url for r in second] == [page[4].url, page[5].url]


def test_a_large_queue_pages_in_bounded_time():
    scheduler = make_scheduler({"SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue"})
    requests = [scrapy.Request(f"http://127.0.0.1/p/{n}", dont_filter=True) for n in range(200_000)]
    for request in requests:
        scheduler.enqueue_request(request)
    began = time.perf_counter()
    groups, page = peek_page(scheduler, 0, 200)
    first = time.perf_counter() - began
    assert len(page) == 200 and sum(g.size for g in groups) == 200_000
    assert first < 0.05, f"first page took {first * 1000:.1f} ms"
    began = time.perf_counter()
    _, deep = peek_page(scheduler, 150_000, 200)
    assert len(deep) == 200
    assert time.perf_counter() - began < 0.5
    assert len(queue_groups(scheduler)) == 1
