"""Replaying callbacks on real crawls of the demo site, diffing, reloading the spider."""

from __future__ import annotations

import asyncio
import importlib
import sys
import textwrap
import uuid
from functools import partial

import pytest

from tests.conftest import demo_settings
from tests.helpers import factories
from workbench.core.control.host import CrawlHost
from workbench.core.inspection.rebuild import RebuildError, literal_value, rebuild_request
from workbench.core.inspection.replay import (
    ADDED,
    CHANGED,
    REMOVED,
    SAME,
    OutputItem,
    OutputRequest,
    ReloadError,
    ReplayRefused,
    diff_items,
    diff_requests,
)
from workbench.core.recording.records import Flow
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import DemoSpider

make_flow = partial(factories.make_flow, url="http://127.0.0.1/x")  # this module's URL


class CountingPipeline:
    """Counts what reaches the item pipelines (replayed items must not)."""

    seen: list[str] = []

    def process_item(self, item):
        CountingPipeline.seen.append(item.get("url", "?"))
        return item


PIPELINE = {"tests.test_replay.CountingPipeline": 100}


async def crawl(host: CrawlHost) -> CrawlHost:
    await host.start()
    await asyncio.wait_for(host.wait(), 60)
    return host


def flow_of(host: CrawlHost, path: str) -> Flow:
    return next(f for f in host.recorder.flows if f.url.endswith(path) and f.status == 200)


# -- the same spider gives the same output ---------------------------------------------


async def test_replay_of_every_callback_gives_the_same_output(demo_url):
    CountingPipeline.seen.clear()
    host = await crawl(
        CrawlHost(demo_settings(ITEM_PIPELINES=PIPELINE), DemoSpider, {"url": demo_url})
    )
    source = LocalSource(host)
    scraped = host.stats.get_value("item_scraped_count")
    piped = len(CountingPipeline.seen)
    flows = host.recorder.flows.total
    replayed = 0
    for path in ("/", "catalogue/page-1.html", "product/7.html", "legacy/1.html", "logo.png"):
        flow = flow_of(host, path)
        result = await source.replay(flow.id)
        assert result.error is None, result.error
        assert result.rows, path
        assert {r.mark for r in result.rows} == {SAME}, [
            (r.mark, r.original, r.replayed) for r in result.rows
        ]
        assert result.identical
        replayed += len(result.items)
    product = await source.replay(flow_of(host, "product/7.html").id)
    assert [i.item_class for i in product.items] == ["Product"]
    assert dict(product.items[0].fields)["url"].endswith("/product/7.html")
    listing = await source.replay(flow_of(host, "catalogue/page-1.html").id)
    assert (
        listing.count(SAME, "request") == len(flow_of(host, "catalogue/page-1.html").requests) > 1
    )
    assert all(
        r.replayed.callback == "parse_product" for r in listing.rows if "product" in r.replayed.url
    )
    # nothing reached the pipelines, the item count or the crawl
    assert replayed == 3  # product, legacy page, logo
    assert host.stats.get_value("item_scraped_count") == scraped
    assert len(CountingPipeline.seen) == piped
    assert host.recorder.flows.total == flows
    host.close()


async def test_replayed_requests_do_not_enter_a_running_crawl(demo_url):
    CountingPipeline.seen.clear()
    host = CrawlHost(
        demo_settings(CONCURRENT_REQUESTS=1, ITEM_PIPELINES=PIPELINE), DemoSpider, {"url": demo_url}
    )
    source = LocalSource(host)
    await host.start()
    deadline = asyncio.get_running_loop().time() + 30
    while not any("/catalogue/page-1" in f.url and f.requests for f in host.recorder.flows):
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    host.pause()
    await asyncio.sleep(0.5)  # in-flight requests finish
    listing = flow_of(host, "catalogue/page-1.html")
    queued = len(host.engine._slot.scheduler)
    scraped = host.stats.get_value("item_scraped_count", 0)
    piped = len(CountingPipeline.seen)
    result = await source.replay(listing.id)
    assert result.error is None and len(result.requests) > 1
    assert len(host.engine._slot.scheduler) == queued
    assert host.stats.get_value("item_scraped_count", 0) == scraped
    assert len(CountingPipeline.seen) == piped
    host.resume()
    await asyncio.wait_for(host.wait(), 60)
    host.close()


# -- an edited spider, reloaded, gives marked differences -------------------------------


SPIDER_TEMPLATE = """
from workbench.demo.spider import DemoSpider


class EditedSpider(DemoSpider):
    name = "edited"

    async def parse_product(self, response):
        async for item in super().parse_product(response):
{body}
"""

UNCHANGED = "            yield item"
PRICE_CHANGED = "            item['price'] = 0.5\n            yield item"
EXTRA_ITEM = (
    "            yield item\n            yield {'url': response.url + '#extra', 'note': 'x'}"
)
NOTHING = "            pass"
RAISES = "            raise ValueError('price table moved')\n            yield item"
BROKEN = "            yield item)"


def write_spider(path, body: str) -> None:
    path.write_text(textwrap.dedent(SPIDER_TEMPLATE).format(body=body))


def import_spider(path):
    """Import like ``runspider`` does: the directory is on sys.path only meanwhile."""
    sys.path.insert(0, str(path.parent))
    try:
        return importlib.import_module(path.stem)
    finally:
        sys.path.remove(str(path.parent))


async def test_edited_and_reloaded_spider_shows_differences(demo_url, tmp_path):
    path = tmp_path / f"edited_{uuid.uuid4().hex[:8]}.py"
    write_spider(path, UNCHANGED)
    module = import_spider(path)
    CountingPipeline.seen.clear()
    host = await crawl(
        CrawlHost(demo_settings(ITEM_PIPELINES=PIPELINE), module.EditedSpider, {"url": demo_url})
    )
    source = LocalSource(host)
    spider = host.crawler.spider
    old_cls = type(spider)
    scraped = host.stats.get_value("item_scraped_count")
    flow = flow_of(host, "product/3.html")

    result = await source.replay(flow.id)
    assert [r.mark for r in result.rows] == [SAME]

    write_spider(path, PRICE_CHANGED)
    message = source.reload_spider()
    assert "Reloaded EditedSpider" in message
    assert type(spider) is module.EditedSpider is not old_cls  # same instance, new class
    result = await source.replay(flow.id)
    assert [(r.kind, r.mark, r.changed) for r in result.rows] == [("item", CHANGED, ("price",))]
    assert dict(result.rows[0].replayed.fields)["price"] == 0.5
    assert dict(result.rows[0].original.fields)["price"] != 0.5

    write_spider(path, EXTRA_ITEM)
    source.reload_spider()
    result = await source.replay(flow.id)
    assert [r.mark for r in result.rows] == [SAME, ADDED]
    assert dict(result.rows[1].replayed.fields)["note"] == "x"

    write_spider(path, NOTHING)
    source.reload_spider()
    result = await source.replay(flow.id)
    assert [r.mark for r in result.rows] == [REMOVED] and result.items == ()

    write_spider(path, RAISES)
    source.reload_spider()
    result = await source.replay(flow.id)
    assert result.error is not None
    assert result.error.type == "ValueError" and result.error.message == "price table moved"
    assert "parse_product" in result.error.traceback and str(path.name) in result.error.traceback
    assert not result.identical

    # a syntax error is reported and leaves the running spider as it was
    write_spider(path, BROKEN)
    with pytest.raises(ReloadError, match=r"SyntaxError in .*line \d+"):
        source.reload_spider()
    result = await source.replay(flow.id)
    assert result.error is not None and result.error.message == "price table moved"

    # none of it reached the pipelines or the stats
    assert host.stats.get_value("item_scraped_count") == scraped
    assert not any("#extra" in url for url in CountingPipeline.seen)
    host.close()


async def test_reload_reports_an_import_error(demo_url, tmp_path):
    path = tmp_path / f"edited_{uuid.uuid4().hex[:8]}.py"
    write_spider(path, UNCHANGED)
    module = import_spider(path)
    host = await crawl(CrawlHost(demo_settings(), module.EditedSpider, {"url": demo_url}))
    path.write_text("import no_such_module_here\n" + path.read_text())
    with pytest.raises(
        ReloadError, match="ModuleNotFoundError: No module named 'no_such_module_here'"
    ):
        LocalSource(host).reload_spider()
    path.write_text("x = 1\n")
    with pytest.raises(ReloadError, match="no longer defines a spider class EditedSpider"):
        LocalSource(host).reload_spider()
    assert type(host.crawler.spider).__name__ == "EditedSpider"
    host.close()


# -- refusals ----------------------------------------------------------------------------


async def test_replay_refuses_an_evicted_or_truncated_body(demo_url):
    host = await crawl(
        CrawlHost(demo_settings(WORKBENCH_MAX_BODIES=3), DemoSpider, {"url": demo_url})
    )
    first = flow_of(host, "/")
    with pytest.raises(ReplayRefused, match="body is no longer kept"):
        await LocalSource(host).replay(first.id)
    host.close()
    host = await crawl(
        CrawlHost(demo_settings(WORKBENCH_MAX_BODY_BYTES=2000), DemoSpider, {"url": demo_url})
    )
    product = next(
        f
        for f in reversed(host.recorder.flows)
        if "/product/" in f.url and host.recorder.body(f.id)
    )
    assert host.recorder.body(product.id).truncated
    with pytest.raises(ReplayRefused, match="only the first 500 of"):
        await LocalSource(host).replay(product.id)
    host.close()


def test_non_literal_or_shortened_reprs_are_refused_by_name():
    spider = DemoSpider(url="http://127.0.0.1/")
    ok = make_flow(cb_kwargs=(("kind", "'flaky'"), ("n", "[1, 2]")), meta=(("depth", "2"),))
    request = rebuild_request(ok, spider)
    assert request.cb_kwargs == {"kind": "flaky", "n": [1, 2]} and request.meta == {"depth": 2}
    assert request.callback.__func__ is DemoSpider.parse
    live = make_flow(cb_kwargs=(("session", "<object object at 0x7f00>"),))
    with pytest.raises(RebuildError, match="cb_kwargs 'session' cannot be rebuilt"):
        rebuild_request(live, spider)
    meta = make_flow(meta=(("cookiejar", "<CookieJar[]>"),))
    with pytest.raises(RebuildError, match="meta key 'cookiejar'"):
        rebuild_request(meta, spider)
    # downloader-side meta that is not a literal is left out, not refused
    slot = make_flow(meta=(("download_slot", "<Slot>"), ("depth", "1")))
    assert rebuild_request(slot, spider).meta == {"depth": 1}
    # reprlib shortening: a long string, a long list, a deep structure
    from workbench.core.recording.tap import _short

    for value in ("x" * 500, list(range(50)), [[[1]]]):
        with pytest.raises(RebuildError, match="shortened"):
            literal_value("cb_kwargs", "v", _short.repr(value))
    assert literal_value("cb_kwargs", "v", _short.repr("a... b")) == "a... b"
    with pytest.raises(RebuildError, match="no method 'parse_gone'"):
        rebuild_request(make_flow(callback="parse_gone"), spider)
    with pytest.raises(RebuildError, match="lambda"):
        rebuild_request(make_flow(callback="<lambda>"), spider)


async def test_replay_refuses_a_flow_without_response(demo_url):
    host = await crawl(
        CrawlHost(
            demo_settings(DOWNLOAD_TIMEOUT=0.1, RETRY_ENABLED=False), DemoSpider, {"url": demo_url}
        )
    )
    failed = next(f for f in host.recorder.flows if f.status is None)
    with pytest.raises(ReplayRefused, match="download failed"):
        await LocalSource(host).replay(failed.id)
    with pytest.raises(ValueError, match="no longer kept"):
        await LocalSource(host).replay(10_000)
    host.close()


# -- the diff rules -------------------------------------------------------------------------


def item(**fields) -> OutputItem:
    return OutputItem("Product", tuple(fields.items()))


def test_items_are_matched_by_key_field_when_there_are_several():
    original = [item(url="a", price=1), item(url="b", price=2), item(url="c", price=3)]
    replayed = [item(url="c", price=3), item(url="a", price=9), item(url="d", price=4)]
    rows, rule = diff_items(original, replayed)
    assert rule == "items matched by their 'url' field"
    assert [(r.mark, (r.original or r.replayed).fields[0][1]) for r in rows] == [
        (CHANGED, "a"),
        (REMOVED, "b"),
        (SAME, "c"),
        (ADDED, "d"),
    ]
    assert rows[0].changed == ("price",)


def test_items_are_matched_by_position_without_a_key():
    original = [item(name="x"), item(name="x")]
    replayed = [item(name="x"), item(name="y", extra=1), item(name="z")]
    rows, rule = diff_items(original, replayed)
    assert rule == "items matched by position"
    assert [r.mark for r in rows] == [SAME, CHANGED, ADDED]
    assert rows[1].changed == ("name", "extra")
    # a single item on each side is paired even when its key changed
    rows, rule = diff_items([item(url="a")], [item(url="b")])
    assert [r.mark for r in rows] == [CHANGED] and rule == "items matched by position"
    other = OutputItem("PageItem", (("url", "a"),))
    assert diff_items([item(url="a")], [other])[0][0].changed == ("class",)


def test_requests_are_matched_by_method_and_url():
    original = [
        OutputRequest("GET", "http://h/1", "parse_product"),
        OutputRequest("GET", "http://h/2", None),  # never downloaded: callback unknown
        OutputRequest("GET", "http://h/3", "parse_product"),
    ]
    replayed = [
        OutputRequest("GET", "http://h/3", "parse"),
        OutputRequest("POST", "http://h/1", "parse_product"),
        OutputRequest("GET", "http://h/2", "parse_listing"),
        OutputRequest("GET", "http://h/1", "parse_product"),
    ]
    rows = diff_requests(original, replayed)
    assert [
        (r.mark, (r.original or r.replayed).method, (r.original or r.replayed).url) for r in rows
    ] == [
        (SAME, "GET", "http://h/1"),
        (SAME, "GET", "http://h/2"),
        (CHANGED, "GET", "http://h/3"),
        (ADDED, "POST", "http://h/1"),
    ]
    assert rows[2].changed == ("callback",)


@pytest.mark.parametrize(
    "module",
    [
        "workbench.core.inspection.replay",
        "workbench.core.inspection.rebuild",
        "workbench.core.inspection.curl",
    ],
)
def test_replay_modules_are_headless(module):
    import subprocess

    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
