"""The demo spider: crawls the demo site (``workbench.demo.site``) completely.

    scrapy runspider workbench/demo/spider.py -a url=http://127.0.0.1:PORT/ [-a api=0]

It yields exactly one ``Product`` per product detail page, one ``PageItem``
each for the flaky and the legacy page, and one ``AssetItem`` for the logo:
see :func:`expected_item_count`.  The JSON API pages yield no items; the
number of API records read goes to the ``demo/api_records`` stat.

With ``-a bugs=1`` (``workbench demo --bugs``) the spider makes deliberate
mistakes to practise breakpoints on: products whose id is a multiple of 13
raise in the callback, and multiples of 7 (not of 13) lose their price.

With ``-a leak=1`` (``workbench demo --leaky``) the spider leaks memory the
way Scrapy's docs warn about: each product request carries its listing
page's response in ``cb_kwargs`` (to read a breadcrumb from it), and product
requests wait behind the listing pages (a lower priority), so every listing
response stays alive as long as any of its products is queued.

With ``-a reviews=1`` (``workbench demo --throttle``) the spider also reads
each product's reviews from ``/reviews/ID.html``: a slow endpoint that
answers 503 in bursts, on its own downloader slot (``reviews``), to watch
AutoThrottle at work.  Each review page yields a ``Reviews`` item; a burst's
503s are retried (up to 10 times: the bursts are short).

This module imports nothing from ``workbench`` so that ``runspider`` can load
it from its path alone.
"""

from __future__ import annotations

import scrapy


class Product(scrapy.Item):
    url = scrapy.Field()
    id = scrapy.Field()
    name = scrapy.Field()
    price = scrapy.Field()  # float, pounds
    availability = scrapy.Field()
    rating = scrapy.Field()  # "One".."Five"
    upc = scrapy.Field()
    description = scrapy.Field()


class PageItem(scrapy.Item):
    """A page that is not a product detail page (the flaky and legacy pages)."""

    url = scrapy.Field()
    kind = scrapy.Field()  # "flaky" or "legacy"
    title = scrapy.Field()
    text = scrapy.Field()


class AssetItem(scrapy.Item):
    url = scrapy.Field()
    content_type = scrapy.Field()
    size = scrapy.Field()


class Reviews(scrapy.Item):
    url = scrapy.Field()
    product_id = scrapy.Field()
    count = scrapy.Field()
    stars = scrapy.Field()


REVIEWS_SLOT = "reviews"


def expected_item_count(pages: int, reviews: bool = False) -> int:
    """Items a full crawl of a ``pages``-product site yields (``reviews``: with -a reviews=1)."""
    return pages + 3 + (pages if reviews else 0)  # products (+ reviews), flaky, legacy, logo


def _price(text: str | None) -> float | None:
    if not text:
        return None
    return float(text.strip().lstrip("£").replace(",", ""))


class DemoSpider(scrapy.Spider):
    name = "demo"
    allowed_domains = ["127.0.0.1"]
    custom_settings = {}  # nothing hidden: the defaults (retries, redirects, ...) apply

    def __init__(
        self,
        url: str | None = None,
        api: str = "1",
        bugs: str = "0",
        leak: str = "0",
        reviews: str = "0",
        *args,
        **kwargs,
    ) -> None:
        super().__init__(*args, **kwargs)
        if not url:
            raise ValueError(
                "DemoSpider needs the demo site's root URL: -a url=http://127.0.0.1:PORT/"
            )
        self.url = url if url.endswith("/") else url + "/"
        if str(api) not in ("0", "1"):
            raise ValueError(f'DemoSpider argument api must be "0" or "1", not {api!r}')
        self.api = str(api) == "1"
        if str(bugs) not in ("0", "1"):
            raise ValueError(f'DemoSpider argument bugs must be "0" or "1", not {bugs!r}')
        # bugs=1: deliberate mistakes to practise breakpoints on (see parse_product)
        self.bugs = str(bugs) == "1"
        if str(leak) not in ("0", "1"):
            raise ValueError(f'DemoSpider argument leak must be "0" or "1", not {leak!r}')
        # leak=1: listing responses held by queued requests (see parse_listing)
        self.leak = str(leak) == "1"
        if str(reviews) not in ("0", "1"):
            raise ValueError(f'DemoSpider argument reviews must be "0" or "1", not {reviews!r}')
        # reviews=1: a slow, bursty endpoint on its own slot (see parse_reviews)
        self.reviews = str(reviews) == "1"

    async def start(self):
        yield scrapy.Request(self.url, callback=self.parse)

    def parse(self, response):
        """The home page: the catalogue, the API and the special pages."""
        yield response.follow(response.css("a.catalogue::attr(href)").get(), self.parse_listing)
        if self.api:
            api_link = response.xpath('//a[@class="api"]/@href').get()
            yield response.follow(api_link, self.parse_api)
        # The redirect lands on catalogue page 1: whichever of the two requests
        # gets there second is dropped by the duplicate filter.
        yield response.follow("old-catalogue", self.parse_listing)
        # A 404: HttpErrorMiddleware drops it before any callback runs.
        yield response.follow("missing.html", self.parse_listing)
        yield response.follow("flaky/1.html", self.parse_page, cb_kwargs={"kind": "flaky"})
        yield response.follow("slow.html", self.parse_slow)
        yield response.follow("legacy/1.html", self.parse_page, cb_kwargs={"kind": "legacy"})
        yield response.follow("static/logo.png", self.parse_asset)

    def parse_listing(self, response):
        """A catalogue page: product links (XPath) and the next page (CSS)."""
        links = response.xpath('//article[@class="product"]/h3/a/@href').getall()
        if self.leak:  # the leak: a whole response kept for one breadcrumb
            yield from response.follow_all(
                links, self.parse_product, cb_kwargs={"listing": response}, priority=-1
            )
        else:
            yield from response.follow_all(links, self.parse_product)
        next_page = response.css("li.next a::attr(href)").get()
        if next_page:
            yield response.follow(next_page, self.parse_listing)

    async def parse_product(self, response, listing=None):
        """A product detail page."""
        if listing is not None and listing.css("title::text").get():
            self.crawler.stats.inc_value("demo/breadcrumbs")

        def info(label: str) -> str | None:
            return response.xpath(
                f'//table[@class="product-info"]//tr[th="{label}"]/td/text()'
            ).get()

        if self.reviews:
            yield response.follow(
                response.css("a.reviews::attr(href)").get(),
                self.parse_reviews,
                meta={"download_slot": REVIEWS_SLOT, "max_retry_times": 10},
            )
        rating = response.css("p.star-rating::attr(class)").get("").split()
        pid = int(response.css("article.product_page::attr(data-id)").get())
        price_css = "p.price::text"
        if self.bugs:
            if pid % 13 == 0:  # a callback error
                raise ValueError(f"cannot parse the rating of product {pid}: {rating!r}")
            if pid % 7 == 0:  # an item without a price: a selector that misses
                price_css = "span.price::text"
        yield Product(
            url=response.url,
            id=pid,
            name=response.css("h1::text").get(),
            price=_price(response.css(price_css).get()),
            availability=response.css("p.availability::text").get(),
            rating=rating[-1] if len(rating) > 1 else None,
            upc=info("UPC"),
            description=response.css("#product_description p::text").get(),
        )

    def parse_reviews(self, response):
        """A product's reviews (slot ``reviews``: slow, 503 in bursts)."""
        reviews = response.css("p.reviews")
        yield Reviews(
            url=response.url,
            product_id=int(reviews.attrib["data-id"]),
            count=int(reviews.attrib["data-count"]),
            stars=int(reviews.attrib["data-stars"]),
        )

    def parse_page(self, response, kind: str):
        yield PageItem(
            url=response.url,
            kind=kind,
            title=response.css("title::text").get(),
            text=" ".join(t.strip() for t in response.css("body *::text").getall() if t.strip()),
        )

    def parse_slow(self, response):
        self.logger.debug("Slow page served after %.2fs", response.meta.get("download_latency"))

    def parse_asset(self, response):
        yield AssetItem(
            url=response.url,
            content_type=response.headers.get("Content-Type", b"").decode("latin-1"),
            size=len(response.body),
        )

    def parse_api(self, response):
        """A JSON API page: counts its records and follows ``next``."""
        data = response.json()
        self.crawler.stats.inc_value("demo/api_records", len(data["products"]))
        if data.get("next"):
            yield response.follow(data["next"], self.parse_api)
