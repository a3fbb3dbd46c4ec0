"""The leaky demo spider on a big local site, with a short leak window."""

from __future__ import annotations

from tests.conftest import demo_settings
from workbench.core.control.host import CrawlHost
from workbench.core.leaks.liverefs import RefTracker
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import DemoSpider


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
