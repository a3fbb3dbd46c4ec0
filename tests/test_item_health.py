"""Items health: per item type and field, how often it was filled.

A crawl of a site served on 127.0.0.1 by this module, whose product pages
sometimes lack a title (no <h1>: the spider does not set the field), have an
empty one (the spider sets None), or a blank one (the spider sets ""); the
counts and the first examples are checked against the items the recorder kept.
The counter itself, the view on the wire and the sources' reads too.
"""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
import scrapy
from twisted.web import resource, server

from tests.conftest import demo_settings
from workbench.core.control.host import CrawlHost
from workbench.core.recording.item_health import (
    EMPTY,
    FILLED,
    NONE,
    ItemHealth,
    ItemHealthCounter,
    percent,
    value_state,
)
from workbench.core.recording.recorder import Recorder
from workbench.remote import wire
from workbench.remote.agent import dataclass_to_wire

PRODUCTS = 21


def title_of(n: int) -> str | None:
    """The <h1> of product n: none at all, empty, blank, or a title."""
    if n % 7 == 3:
        return None  # no <h1>: the spider leaves the field unset (missing)
    if n % 7 == 5:
        return ""  # <h1></h1>: ::text gives None, which the spider sets
    if n % 7 == 6:
        return "   "  # blank: the spider sets it stripped, ""
    return f"Product {n}"


class Site(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        path = request.path.decode()
        request.setHeader(b"Content-Type", b"text/html")
        if path == "/":
            links = "".join(f'<a href="/product/{n}">p</a>' for n in range(1, PRODUCTS + 1))
            return f"<html><body>{links}<a href='/about'>a</a></body></html>".encode()
        if path == "/about":
            return b"<html><body><p class='who'>us</p></body></html>"
        n = int(path.rsplit("/", 1)[1])
        title = title_of(n)
        h1 = "" if title is None else f"<h1>{title}</h1>"
        return f"<html><body>{h1}<p class='price'>{n}.50</p></body></html>".encode()


class Product(scrapy.Item):
    url = scrapy.Field()
    title = scrapy.Field()
    price = scrapy.Field()
    sku = scrapy.Field()  # declared, never set: missing in every item


class ShopSpider(scrapy.Spider):
    name = "shop"
    url = ""

    async def start(self):
        yield scrapy.Request(self.url + "/")

    def parse(self, response):
        yield from response.follow_all(css="a", callback=self.parse_page)

    def parse_page(self, response):
        if "/about" in response.url:  # a dict item with its own keys
            yield {"page": response.url, "who": response.css("p.who::text").get()}
            return
        item = Product(url=response.url, price=response.css("p.price::text").get())
        if response.css("h1"):
            text = response.css("h1::text").get()
            item["title"] = text.strip() if text is not None else None
        yield item


@pytest.fixture
async def site(reactor):
    from scrapy.utils.defer import maybe_deferred_to_future

    from workbench.demo.site import url_of

    port = reactor.listenTCP(0, server.Site(Site()), interface="127.0.0.1")
    yield url_of(port).rstrip("/")
    await maybe_deferred_to_future(port.stopListening())


async def test_a_crawl_counts_each_fields_fill_rate_and_its_first_examples(site):
    spider = type("Shop", (ShopSpider,), {"url": site})
    host = CrawlHost(demo_settings(), spider)
    await host.start()
    await asyncio.wait_for(host.wait(), 60)
    host.close()
    recorder = host.recorder
    health = recorder.item_health.view()
    assert health.total == PRODUCTS + 1
    product = health.type("Product")
    assert product is not None and product.total == PRODUCTS
    fields = {f.field: f for f in product.fields}
    assert list(fields) == ["url", "title", "price", "sku"]  # declared order
    title = fields["title"]
    missing = [n for n in range(1, PRODUCTS + 1) if n % 7 == 3]
    nones = [n for n in range(1, PRODUCTS + 1) if n % 7 == 5]
    blanks = [n for n in range(1, PRODUCTS + 1) if n % 7 == 6]
    assert (title.missing, title.none, title.empty) == (len(missing), len(nones), len(blanks))
    assert title.filled == PRODUCTS - 9 and title.unfilled == 9 and title.declared
    assert fields["sku"].missing == PRODUCTS and fields["sku"].declared
    assert fields["price"].unfilled == 0
    # the first examples are the first items recorded without a title, with their flow
    records = [r for r in recorder.items if r.item_class == "Product"]
    bad = [r for r in records if not dict(r.fields).get("title")][:3]
    assert [e.item_id for e in title.examples] == [r.id for r in bad]
    first = title.examples[0]
    assert first.flow_id == bad[0].flow_id
    assert first.url == recorder.flow(bad[0].flow_id).url
    n = int(first.url.rsplit("/", 1)[1])
    assert first.state == {3: "missing", 5: "None", 6: "empty"}[n % 7]
    # worst first: sku (0%), then title; said in words
    problems = health.problems()
    assert [(f.item_type, f.field) for f in problems[:2]] == [
        ("Product", "sku"),
        ("Product", "title"),
    ]
    assert title.sentence() == (
        f"title missing, None or empty in 43% of Product (9 of {PRODUCTS}: "
        "3 missing, 3 None, 3 empty)"
    )
    assert fields["sku"].sentence() == f"sku missing in 100% of Product ({PRODUCTS} of {PRODUCTS})"
    # the dict item: its keys are its fields
    about = health.type("dict")
    assert about is not None and [f.field for f in about.fields] == ["page", "who"]
    assert about.fields[1].filled == 1


def test_what_counts_as_filled():
    assert value_state("x") == FILLED and value_state(0) == FILLED and value_state(False) == FILLED
    assert value_state(None) == NONE
    for empty in ("", " \n\t", b"", b"  ", [], (), {}, set()):
        assert value_state(empty) == EMPTY, empty
    assert value_state([None]) == FILLED and value_state({"a": None}) == FILLED


def test_a_field_first_seen_later_was_missing_in_the_items_before():
    counter = ItemHealthCounter()
    for n in range(1, 6):
        fields: tuple = (("a", n),) if n < 4 else (("a", n), ("b", "x"))
        counter.add(n, 100 + n, f"http://h/{n}", "dict", fields, dict)
    b = next(f for f in counter.view().type("dict").fields if f.field == "b")
    assert (b.total, b.filled, b.missing) == (5, 2, 3)
    assert [(e.item_id, e.flow_id, e.url, e.state) for e in b.examples] == [
        (1, 101, "http://h/1", "missing"),
        (2, 102, "http://h/2", "missing"),
        (3, 103, "http://h/3", "missing"),
    ]


def test_dropped_and_failed_items_count_and_the_spiders_are_kept_apart():
    recorder = Recorder()
    recorder.add_item({"t": "a"}, None, spider="one")
    recorder.add_item({"t": None}, None, dropped="no title", spider="one")
    recorder.add_item({"t": ""}, None, error="boom", spider="two")
    both = recorder.item_health.view()
    kind = both.type("dict")
    assert (kind.total, kind.dropped, kind.failed) == (3, 1, 1)
    assert kind.fields[0].unfilled == 2
    one = recorder.item_health.view("one").type("dict")
    assert (one.total, one.fields[0].none, one.fields[0].empty) == (2, 1, 0)
    assert recorder.item_health.view("nobody") == ItemHealth()


def test_the_view_is_cached_until_the_next_item():
    counter = ItemHealthCounter()
    counter.add(1, None, None, "dict", (("a", 1),))
    view = counter.view()
    assert counter.view() is view
    counter.add(2, None, None, "dict", (("a", None),))
    assert counter.view() is not view and counter.view().type("dict").fields[0].none == 1


def test_the_view_travels_the_wire_and_is_bounded():
    counter = ItemHealthCounter()
    fields = tuple((f"f{i}", None if i % 2 else "x") for i in range(10))
    for n in range(1, 4):
        counter.add(n, n, f"http://h/{n}", "Thing", fields)
    view = counter.view()
    back = wire.decode(ItemHealth, dataclass_to_wire(view))
    assert back == view
    small = view.bounded(3)
    assert len(small.types[0].fields) == 3 and all(f.none == 3 for f in small.types[0].fields)


def test_percentages_never_round_to_none_or_all():
    assert percent(0, 10) == "0%" and percent(10, 10) == "100%"
    assert percent(1, 1000) == "0.1%" and percent(1, 100_000) == "<0.1%"
    assert percent(999, 1000) == "99.9%" and percent(14, 100) == "14%"


def test_item_classes_declare_their_fields():
    @dataclasses.dataclass
    class Book:
        title: str | None = None
        isbn: str = ""

    counter = ItemHealthCounter()
    counter.add(1, None, None, "Book", (("title", None), ("isbn", "")), Book)
    fields = counter.view().type("Book").fields
    assert [(f.field, f.declared, f.none, f.empty) for f in fields] == [
        ("title", True, 1, 0),
        ("isbn", True, 0, 1),
    ]
