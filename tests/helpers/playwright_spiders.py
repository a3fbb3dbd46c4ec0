"""scrapy-playwright spiders for the Browser view's tests: one that forgets to close
the pages it asks for, one that closes them.  ``URL`` is the site's
(:mod:`tests.helpers.playwright_site`); this file also runs under
``workbench runspider`` with ``-a url=...``."""

from __future__ import annotations

from typing import Any

import scrapy


class LeakyPageSpider(scrapy.Spider):
    """Asks for each page (playwright_include_page) and never closes it."""

    name = "leaky_pages"
    url = "http://127.0.0.1:9/page/1"

    async def start(self) -> Any:
        yield scrapy.Request(self.url, meta={"playwright": True, "playwright_include_page": True})

    async def parse(self, response: Any) -> Any:
        page = response.meta["playwright_page"]  # held, never closed: the leak
        yield {"title": await page.title(), "url": response.url}
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, meta={"playwright": True, "playwright_include_page": True})


class TidyPageSpider(LeakyPageSpider):
    """The same crawl, closing each page when done with it."""

    name = "tidy_pages"

    async def parse(self, response: Any) -> Any:
        page = response.meta["playwright_page"]
        try:
            yield {"title": await page.title(), "url": response.url}
        finally:
            await page.close()
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href, meta={"playwright": True, "playwright_include_page": True})
