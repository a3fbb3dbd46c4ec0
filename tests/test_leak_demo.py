"""The leaky demo under a real crawl: the Refs data flags HtmlResponse and names cb_kwargs."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest
from scrapy.http import HtmlResponse

from tests.conftest import demo_settings
from workbench.core.host import CrawlHost
from workbench.core.liverefs import RefTracker, class_key
from workbench.core.source import LocalSource
from workbench.demo.spider import DemoSpider


@pytest.fixture
def quiet_pytest_logging():
    """pytest keeps every log record, and Scrapy's "Crawled (200)" records hold
    their response in ``args``: a true holder, but not the spider's leak."""
    handlers = [(h, h.level) for h in logging.getLogger().handlers]
    for handler, _ in handlers:
        handler.setLevel(logging.WARNING)
    yield
    for handler, level in handlers:
        handler.setLevel(level)


def leaky_source():
    """(site port, host, source) for the leaky demo spider on a 3,000-product site,
    with a leak window of 3 s so a test sees the trend in seconds, not a minute."""
    from workbench.demo.site import listen, url_of

    port = listen(pages=3000, per_page=20)
    host = CrawlHost(
        demo_settings(DOWNLOAD_DELAY=0.005, LOG_LEVEL="WARNING"),
        DemoSpider,
        {"url": url_of(port), "leak": "1", "api": "0"},
    )
    source = LocalSource(host)
    source.probe.tracker = RefTracker(interval=0.2, window=3.0, min_rise=10)
    return port, host, source


async def test_leaky_demo_is_flagged_and_its_holder_named(reactor, quiet_pytest_logging):
    from scrapy.utils.defer import maybe_deferred_to_future

    from workbench.demo.site import url_of

    port, host, source = leaky_source()
    key = class_key(HtmlResponse)
    leak = None
    try:
        await host.start()
        deadline = time.monotonic() + 60
        while leak is None and time.monotonic() < deadline and not host.finished:
            await asyncio.sleep(0.2)
            source.snapshot()  # samples, as the UI's timer does
            row = source.refs().row(key)
            leak = row.leak if row is not None else None
        assert leak is not None, "the growth of HtmlResponse was not flagged"
        assert leak.message.startswith("HtmlResponse: ") and "pages completed" in leak.message
        path = (await source.leak_paths([key]))[key]
        assert path == "Request.cb_kwargs['listing'] -> HtmlResponse"
        row = source.refs().row(key)
        assert row.leak is not None and row.leak.path == path
        assert row.leak.path_share.endswith("of 10 sampled")
        # drill-down: the oldest objects, with URLs; a chain from a named root
        listing = source.live_objects(key, 1000)
        assert listing.total >= len(listing.objects) > 0
        # (earlier tests in this process may have left responses of their own)
        # The home page's response may still be alive too, awaiting a gen-2
        # collection on a loaded machine: the leaked listings are what we follow.
        ours = [o for o in listing.objects if url_of(port) in o.label]
        listings = [o for o in ours if "/catalogue/page-" in o.label]
        assert listings, [o.label for o in ours[:5]]
        ages = [o.age for o in ours]
        assert ages == sorted(ages, reverse=True), "oldest first"
        report = await source.referrers(listings[0].key)
        assert report.chains and report.chains[0].root.startswith("scheduler queue (mqs, slot ")
        assert "cb_kwargs['listing']" in report.chains[0].text()
    finally:
        source.stop()
        await asyncio.wait_for(host.wait(), 60)
        host.close()
        await maybe_deferred_to_future(port.stopListening())
