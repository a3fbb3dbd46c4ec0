"""The leaky demo under a real crawl: the Refs data flags HtmlResponse and names cb_kwargs."""

from __future__ import annotations

import asyncio
import time

from scrapy.http import HtmlResponse

from tests.helpers.leaks import leaky_source
from workbench.core.leaks.liverefs import class_key


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
