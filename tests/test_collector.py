"""The garbage collector tuned for a crawl: WORKBENCH_GC_THRESHOLD."""

from __future__ import annotations

import asyncio
import gc
import logging

import pytest
from scrapy.settings import Settings

from workbench.core.control import collector


@pytest.fixture
def thresholds():
    collector.restore()  # a crawl earlier in this process may have tuned them
    before = gc.get_threshold()
    yield before
    collector.restore()
    gc.set_threshold(*before)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, (10000, 10, 10)),
        ("10000,10,10", (10000, 10, 10)),
        (" 50000 , 20 ", (50000, 20)),
        ("2000", (2000,)),
        ("python", None),
        ("default", None),
        ("", None),
    ],
)
def test_the_setting_names_thresholds_or_pythons_own(value, expected):
    assert collector.parse(value) == expected


@pytest.mark.parametrize("value", ["fast", "1,2,3,4", "0,10,10", "10000,-1", "1e4"])
def test_a_value_that_is_not_thresholds_says_why(value):
    with pytest.raises(ValueError, match=r"expected|threshold"):
        collector.parse(value)


def test_a_crawl_sets_the_thresholds_once_and_restore_puts_back_pythons(thresholds):
    assert collector.tune_for_crawl(Settings()) is True
    assert gc.get_threshold() == (10000, 10, 10)
    assert gc.get_freeze_count() > 0  # what lived before the crawl is out of the way
    # a second crawl in the same process leaves them as they are
    assert collector.tune_for_crawl(Settings({collector.SETTING: "500"})) is False
    assert gc.get_threshold() == (10000, 10, 10)
    collector.restore()
    assert gc.get_threshold() == thresholds
    assert gc.get_freeze_count() == 0


def test_python_leaves_the_interpreters_thresholds(thresholds):
    assert collector.tune_for_crawl(Settings({collector.SETTING: "python"})) is False
    assert gc.get_threshold() == thresholds


def test_a_bad_value_is_logged_and_changes_nothing(thresholds, caplog):
    with caplog.at_level(logging.WARNING, logger=collector.__name__):
        assert collector.tune_for_crawl(Settings({collector.SETTING: "lots"})) is False
    assert gc.get_threshold() == thresholds
    assert "WORKBENCH_GC_THRESHOLD='lots' ignored" in caplog.text


async def test_a_response_the_scraper_is_done_with_drops_its_selector_and_is_freed_at_once(
    demo_url, quiet_pytest_logging
):
    """Scrapy's response and its cached selector refer to each other: without
    free_documents each finished response waits for the garbage collector."""
    import gc
    import weakref

    from scrapy import Spider
    from scrapy.http import HtmlResponse

    from tests.conftest import demo_settings
    from workbench.core.control.host import CrawlHost

    seen: list[weakref.ref] = []

    class Parsing(Spider):
        name = "parsing"

        def __init__(self, url: str = "", **kwargs):
            super().__init__(**kwargs)
            self.start_urls = [url]

        def parse(self, response):
            if not isinstance(response, HtmlResponse):
                return
            response.css("title::text").get()  # the selector is made and cached
            seen.append(weakref.ref(response))
            yield {"title": response.css("title::text").get()}
            yield from response.follow_all(css="a", callback=self.parse)

    host = CrawlHost(demo_settings(), Parsing, {"url": demo_url})
    gc.disable()  # only reference counting may free the response
    try:
        await host.start()
        await asyncio.wait_for(host.wait(), 60)
        alive = [ref().url for ref in seen if ref() is not None]
        assert len(seen) > 10 and not alive, alive
    finally:
        gc.enable()
        host.close()
