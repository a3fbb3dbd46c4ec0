"""What is on the wire and since when, on a real crawl of a site that hangs.

The crawl runs in-process (``CrawlHost``) against :mod:`tests.helpers.stall_site`
on 127.0.0.1, with a 3 s ``DOWNLOAD_TIMEOUT``: three pages answer, two hang (one
with its own ``download_timeout`` meta), one trickles bytes and never ends.
"""

from __future__ import annotations

import asyncio
import time

import pytest
import scrapy
from scrapy.utils.defer import maybe_deferred_to_future

from tests.conftest import demo_settings
from tests.helpers import stall_site
from workbench.core.control.host import CrawlHost
from workbench.core.control.in_flight import (
    InFlightSummary,
    TimedSet,
    default_stall_after,
    installed_clock,
    merge_summaries,
    short_url,
)
from workbench.core.control.scheduler_view import queue_view
from workbench.core.sources.local import LocalSource


class StallSpider(scrapy.Spider):
    name = "stall"
    url = ""

    async def start(self):
        for n in range(3):
            yield scrapy.Request(f"{self.url}ok/{n}")
        yield scrapy.Request(f"{self.url}hang/1")
        yield scrapy.Request(f"{self.url}hang/2", meta={"download_timeout": 6})
        yield scrapy.Request(f"{self.url}trickle/1", meta={"dont_retry": True})

    def parse(self, response):
        return None


@pytest.fixture
async def stall_url(reactor):
    listening, site = stall_site.listen()
    yield stall_site.url_of(listening)
    site.close()
    await maybe_deferred_to_future(listening.stopListening())


async def until(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        await asyncio.sleep(0.05)


def rows_by_path(host: CrawlHost) -> dict[str, object]:
    view = queue_view(host.engine, 0, 10)
    return {r.url.split("/", 3)[3]: r for r in view.requests}


async def test_ages_timeouts_retries_bytes_and_the_stall_of_a_hanging_crawl(stall_url):
    StallSpider.url = stall_url
    settings = demo_settings(DOWNLOAD_TIMEOUT=3, RETRY_TIMES=1, WORKBENCH_STALL_AFTER=1)
    host = CrawlHost(settings, StallSpider)
    source = LocalSource(host)
    await host.start()
    try:
        await until(lambda: host.stats is not None and source.snapshot().pages == 3)
        await until(lambda: host.status().transfers.count == 3)
        assert not host.status().transfers.stalled  # answers came less than 1 s ago
        assert all(r.received is None for r in rows_by_path(host).values())  # all new
        await until(lambda: host.status().transfers.stalled)  # from now, bytes are counted
        await until(lambda: (rows_by_path(host)["trickle/1"].received or 0) >= 100, 5)
        status = host.status()
        transfers = status.transfers
        assert transfers.count == 3 and transfers.quiet >= 1 and transfers.stall_after == 1
        assert transfers.oldest_url.startswith(stall_url) and transfers.oldest_exact
        assert 1 <= transfers.oldest_age < 3
        assert transfers.oldest_left == pytest.approx(
            (6 if "hang/2" in transfers.oldest_url else 3) - transfers.oldest_age, abs=0.01
        )
        rows = rows_by_path(host)
        assert set(rows) == {"hang/1", "hang/2", "trickle/1"}
        for path, row in rows.items():
            assert row.state == "transferring" and row.exact and row.slot == "127.0.0.1"
            assert 1 <= row.age < 3 and row.timeout == (6 if path == "hang/2" else 3)
            assert row.left == pytest.approx(row.timeout - row.age)
            assert row.retries == 0 and row.callback == "parse"
        assert rows["hang/1"].max_retries == 1 and rows["hang/1"].retried_after_timeout
        assert rows["trickle/1"].max_retries is None  # dont_retry
        assert not rows["trickle/1"].retried_after_timeout
        # bytes: counted since the stall, which came after the trickle began
        assert rows["trickle/1"].received >= 100 and not rows["trickle/1"].received_exact
        assert rows["hang/1"].received == 0
        # the last of them times out with hang/2's own 6 s
        assert transfers.last_left == pytest.approx(6 - rows["hang/2"].age, abs=0.3)

        # 3 s: hang/1 timed out and went out again, the trickle gave up
        def retried() -> bool:
            rows = rows_by_path(host)
            return "trickle/1" not in rows and "hang/1" in rows and rows["hang/1"].retries == 1

        await until(retried)
        rows = rows_by_path(host)
        assert "trickle/1" not in rows and rows["hang/1"].age < 2
        assert not rows["hang/1"].retried_after_timeout  # 1 of 1: it gives up next
        transfers = host.status().transfers
        assert transfers.stalled and transfers.quiet >= 3  # a timeout is not an answer

        # a clock installed while requests are on the wire (attaching) knows a bound
        clock = installed_clock(host.engine)
        clock.uninstall()
        downloader = host.engine.downloader
        assert type(downloader.slots) is dict
        assert all(type(s.transferring) is set for s in downloader.slots.values())
        assert host.status().transfers is None
        clock.install(host.engine)
        assert all(type(s.transferring) is TimedSet for s in downloader.slots.values())
        transfers = host.status().transfers
        assert transfers.count == 2 and not transfers.oldest_exact
        assert not any(r.exact for r in rows_by_path(host).values())

        # closing: the countdown to the last timeout
        assert host.stop()
        status = host.status()
        assert status.state == "closing" and status.transfers.count == 2
        assert 0 < status.transfers.last_left <= 6
        await asyncio.wait_for(host.wait(), 15)
        assert host.status().transfers is None
    finally:
        if not host.finished:
            host.stop()
            await asyncio.wait_for(host.wait(), 15)
        host.close()


def test_short_url_keeps_what_tells_pages_apart():
    assert short_url("http://127.0.0.1:8123/item/7") == "item/7"
    assert short_url("http://127.0.0.1:8123/") == "127.0.0.1:8123"
    assert short_url("http://h/a?page=2") == "a?page=2"
    long = short_url("http://h/catalogue/category/books/travel/page-12.html")
    assert long.startswith("…") and long.endswith("travel/page-12.html") and len(long) == 24


def test_the_default_stall_is_a_sixth_of_the_timeout_between_10_s_and_a_minute():
    assert default_stall_after(180) == 30
    assert default_stall_after(3) == 10
    assert default_stall_after(0) == 10
    assert default_stall_after(3600) == 60


def test_several_crawlers_show_the_most_stalled_one():
    calm = InFlightSummary(2, 1.0, 30.0, 5.0, True, "http://a/1", 10.0, 20.0, 1)
    stuck = InFlightSummary(1, 45.0, 30.0, 50.0, True, "http://b/2", 130.0, 130.0)
    merged = merge_summaries([calm, None, stuck])
    assert merged.stalled and merged.oldest_url == "http://b/2" and merged.count == 3
    assert merged.last_left == 130.0 and merged.waiting == 1
    assert merge_summaries([None, None]) is None


def test_the_status_travels_from_the_agent_and_an_older_agent_s_reads_without_it():
    """Attached, the summary comes with the agent's status; an older agent sends a
    status without it (None: the status line says nothing), and an older client
    ignores the field it does not know."""
    import dataclasses
    import json

    from workbench.core.control.host import CrawlStatus
    from workbench.core.control.in_flight import InFlightRequest
    from workbench.core.control.scheduler_view import QueueView
    from workbench.remote import wire
    from workbench.remote.agent import dataclass_to_wire

    summary = InFlightSummary(6, 40.0, 30.0, 130.0, True, "http://127.0.0.1:1/item/7", 50.0, 55.0)
    status = {"state": "running", "in_flight": 6, "queued": 0, "finish_reason": None,
              "error": None, "transfers": dataclass_to_wire(summary)}  # fmt: skip
    got = wire.decode(CrawlStatus, json.loads(json.dumps(status)))
    assert got.transfers == summary and got.transfers.stalled
    del status["transfers"]
    assert wire.decode(CrawlStatus, status).transfers is None
    fields = {f.name for f in dataclasses.fields(CrawlStatus)}
    assert wire.decode(CrawlStatus, {**status, "newer": 1}) == CrawlStatus(
        **{k: v for k, v in status.items() if k in fields}
    )
    row = InFlightRequest("http://h/hang/1", "GET", "h", "transferring", 12.5, True, 0, True,
                          30.0, 1, 2, True, "parse", 1, 0)  # fmt: skip
    view = QueueView(0, (), (), 0, (), 1, 0.0, (row,))
    data = json.loads(json.dumps(dataclass_to_wire(view)))
    assert wire.decode(QueueView, data).requests == (row,)
    del data["requests"]
    assert wire.decode(QueueView, data).requests == ()
