"""Breakpoints on real crawls of the demo site (in-process, no UI)."""

from __future__ import annotations

import asyncio

import pytest
import scrapy
from scrapy.exceptions import DropItem

from tests.conftest import demo_settings
from workbench.core.control.breakpoints import KINDS, parse_breakpoint
from workbench.core.control.host import CrawlHost
from workbench.core.inspection.filters import FilterError
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import DemoSpider, expected_item_count

PAGES = 40


async def start(demo_url, breaks: list[str], spider=DemoSpider, **kwargs) -> LocalSource:
    settings = demo_settings(WORKBENCH_BREAKPOINTS=breaks, **kwargs.pop("settings", {}))
    source = LocalSource(CrawlHost(settings, spider, {"url": demo_url, **kwargs}))
    await source.start()
    return source


async def next_hit(source: LocalSource, timeout: float = 30):
    async def wait():
        while True:
            snapshot = source.snapshot()
            if snapshot.hit is not None:
                return snapshot.hit
            if source.host.finished:
                return None
            await asyncio.sleep(0.02)

    return await asyncio.wait_for(wait(), timeout)


async def continue_to_end(source: LocalSource, limit: int = 200) -> int:
    """Continue every hit (the current one too) until the crawl finishes; count them."""
    hits = 0
    while (hit := await next_hit(source)) is not None:
        hits += 1
        assert hits <= limit
        assert source.host.engine.paused, "a hit pauses the crawl"
        assert source.continue_()
        del hit
    await asyncio.wait_for(source.host.wait(), 60)
    source.close()
    return hits


# -- the text form -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("~s 404", ("response", "~s 404")),
        ("response: ~u /product/", ("response", "~u /product/")),
        ("error", ("error", "")),
        ("Error: ~u /product/", ("error", "~u /product/")),
        ("item: !~f price", ("item", "!~f price")),
        ("item:~it Product", ("item", "~it Product")),
        ("dropped", ("dropped", "")),
        ("http://example.com/a", ("response", "http://example.com/a")),
    ],
)
def test_parse_breakpoint(text, parsed):
    assert parse_breakpoint(text) == parsed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("response", "needs an expression"),
        ("", "needs an expression"),
        ("bogus: ~s 2", "unknown breakpoint kind 'bogus'"),
        ("item: ~f", "missing argument for ~f at column 9"),
        ("error: ~u (", "column"),
        ("~s 404 & !~f title", "~f does not apply to flows"),  # a response breakpoint
        ("error: ~it Product", "~it does not apply to flows"),
    ],
)
def test_parse_breakpoint_errors(text, message):
    with pytest.raises(ValueError) as info:
        parse_breakpoint(text)
    assert message in str(info.value)


def test_filter_column_points_into_what_was_typed():
    with pytest.raises(FilterError) as info:
        parse_breakpoint("item: ~s abc")
    assert "item: ~s abc"[info.value.position :].startswith("abc")


def test_every_kind_is_documented():
    from workbench.core.control.breakpoints import KIND_HELP

    assert set(KIND_HELP) == set(KINDS)


# -- each kind on a real crawl ------------------------------------------------


async def test_response_breakpoint_holds_the_response_before_its_callback(demo_url):
    source = await start(demo_url, ["~u /product/5\\.html$"])
    hit = await next_hit(source)
    assert hit is not None and hit.kind == "response" and hit.url.endswith("/product/5.html")
    flow = source.flow(hit.flow_id)
    # held: the callback has not run, so the flow has produced nothing yet ...
    await asyncio.sleep(0.3)
    assert not flow.items and source.host.engine.paused
    # ... the body is already kept for the UI, and the shell gets the live response
    assert b"No. 5" in source.body(flow.id).body
    target = source.shell_on_flow(flow.id)
    response, note = target.response, target.note
    assert response is hit.context["response"] and "callback has not run" in note
    assert await continue_to_end(source) == 1  # this one only
    assert flow.items, "the callback ran after continue"
    assert source.recorder.items_scraped == expected_item_count(PAGES)


async def test_error_breakpoint_keeps_the_failure(demo_url):
    source = await start(demo_url, ["error"], bugs="1")
    hit = await next_hit(source)
    assert hit.kind == "error" and "ValueError: cannot parse the rating" in hit.error
    target = source.shell_on_flow(hit.flow_id)
    extra, note = target.extra, target.note
    assert isinstance(extra["exception"], ValueError)
    assert extra["failure"].value is extra["exception"]
    assert "ValueError" in extra["traceback"] and "breakpoint 1" in note
    hits = await continue_to_end(source)
    assert hits == PAGES // 13  # products 13, 26 and 39 raise
    assert source.recorder.items_scraped == expected_item_count(PAGES) - hits


async def test_item_breakpoint_on_a_missing_field(demo_url):
    source = await start(demo_url, ["item: ~it Product & !~f price"], bugs="1")
    hit = await next_hit(source)
    assert hit.kind == "item" and hit.item_id is not None
    record = next(r for r in source.recorder.items if r.id == hit.item_id)
    fields = dict(record.fields)
    assert fields["price"] is None and fields["id"] % 7 == 0
    extra = source.shell_on_flow(hit.flow_id).extra
    assert extra["item"]["id"] == fields["id"]
    hits = await continue_to_end(source)
    assert hits == len([n for n in range(1, PAGES + 1) if n % 7 == 0 and n % 13])


class DropThree:
    def process_item(self, item):
        if item.get("id") == 3:
            raise DropItem("no product 3 please")
        return item


async def test_dropped_breakpoint(demo_url):
    source = await start(
        demo_url,
        ["dropped"],
        settings={"ITEM_PIPELINES": {f"{__name__}.DropThree": 100}},
    )
    hit = await next_hit(source)
    assert hit.kind == "dropped" and hit.url.endswith("/product/3.html")
    assert await continue_to_end(source) == 1
    assert source.recorder.items_dropped == 1


async def test_step_breaks_on_the_next_response_once(demo_url):
    source = await start(demo_url, ["~u /product/5\\.html$"])
    first = await next_hit(source)
    assert source.step()
    second = await next_hit(source)
    assert second.id != first.id and second.description == "step: next response"
    assert second.flow_id != first.flow_id
    # the step breakpoint is gone once it fired
    assert [bp.text for bp in source.breakpoints()] == ["response: ~u /product/5\\.html$"]
    assert await continue_to_end(source) == 1
    assert source.recorder.items_scraped == expected_item_count(PAGES)


async def test_disabled_and_removed_breakpoints_do_not_fire(demo_url):
    source = await start(demo_url, ["~s 404", "error"], bugs="1")
    first, second = source.breakpoints()
    assert source.toggle_breakpoint(first.id) is False
    source.remove_breakpoint(second.id)
    assert await continue_to_end(source) == 0
    assert source.breakpoints()[0].hits == 0


async def test_stop_releases_held_responses(demo_url):
    source = await start(demo_url, ["~a"])
    assert await next_hit(source) is not None
    assert source.stop()
    await asyncio.wait_for(source.host.wait(), 30)  # no deadlock on the held response
    assert source.host.status().finish_reason == "shutdown"
    assert source.snapshot().hit is None
    source.close()


async def test_edit_a_breakpoint(demo_url):
    source = await start(demo_url, ["~u /nothing-matches"])
    bp = source.breakpoints()[0]
    source.edit_breakpoint(bp.id, "~u /product/2\\.html$")
    hit = await next_hit(source)
    assert hit.url.endswith("/product/2.html") and hit.breakpoint_id == bp.id
    with pytest.raises(ValueError):
        source.edit_breakpoint(bp.id, "~c (")
    assert await continue_to_end(source) == 1


class BrokenFilterSpider(scrapy.Spider):
    name = "broken"

    async def start(self):
        yield scrapy.Request(self.url)

    def parse(self, response):
        yield {"ok": True}


async def test_a_failing_breakpoint_check_never_breaks_the_crawl(demo_url, monkeypatch):
    from workbench.core.control import breakpoints

    def boom(self, *args):
        raise RuntimeError("bug in a breakpoint")

    monkeypatch.setattr(breakpoints.Breakpoints, "check_response", boom)
    monkeypatch.setattr(breakpoints.Breakpoints, "check_item", boom)
    source = await start(demo_url, ["~a", "item"], spider=BrokenFilterSpider)
    assert await continue_to_end(source) == 0
    assert source.recorder.items_scraped == 1
    assert any("Checking" in r.message for r in source.recorder.log)
