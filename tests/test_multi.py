"""`workbench crawl S1 S2`: several crawlers in one process, all or one in every panel."""

from __future__ import annotations

import json

import pytest

from tests.conftest import demo_settings
from tests.helpers.app import wait_for, widget_text
from tests.helpers.processes import run, site, startproject
from workbench.core.control.host import CrawlHost
from workbench.core.recording.recorder import Recorder
from workbench.core.sources.multi import MultiSource
from workbench.core.sources.multi_merge import combined_state, summed_stats
from workbench.demo.spider import DemoSpider
from workbench.ui.app import WorkbenchApp
from workbench.ui.status_bar import status_text
from workbench.ui.widgets.record_table import RecordTable

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SPIDERS = """
import scrapy


class CatalogueSpider(scrapy.Spider):
    name = "catalogue"

    def __init__(self, url=None, **kw):
        super().__init__(**kw)
        self.start_urls = [url + "catalogue/page-1.html"]

    def parse(self, response):
        for href in response.css("article h3 a::attr(href)").getall():
            yield response.follow(href, self.parse_book)
        next_page = response.css("li.next a::attr(href)").get()
        if next_page:
            yield response.follow(next_page, self.parse)

    def parse_book(self, response):
        yield {"name": response.css("h1::text").get()}


class ApiSpider(scrapy.Spider):
    name = "api"

    def __init__(self, url=None, **kw):
        super().__init__(**kw)
        self.start_urls = [url + "api/products?page=1"]

    def parse(self, response):
        data = response.json()
        for product in data["products"]:
            yield {"api_name": product["name"]}
        if data.get("next"):
            yield response.follow(data["next"], self.parse)
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = startproject(tmp_path_factory.mktemp("several"), {"two": SPIDERS})
    with site(30) as url:
        yield root, url


def test_two_spiders_run_together_each_with_its_own_feed(project, tmp_path):
    root, url = project
    feed = tmp_path / "%(name)s.jsonl"
    result = run("crawl", "catalogue", "api", "-a", f"url={url}", "-o", str(feed),
                 cwd=root, WORKBENCH_NO_UI="1")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert "spider catalogue + api finished (finished)" in result.stdout
    assert ", 60 items" in result.stdout
    books = [json.loads(line) for line in (tmp_path / "catalogue.jsonl").read_text().splitlines()]
    api = [json.loads(line) for line in (tmp_path / "api.jsonl").read_text().splitlines()]
    assert len(books) == len(api) == 30
    assert {b["name"] for b in books} == {a["api_name"] for a in api}


def test_several_spiders_refuse_what_they_cannot_share(project, tmp_path):
    root, _url = project
    cases = [
        (["-o", str(tmp_path / "all.jsonl")], "would get every spider's items mixed"),
        (["-s", f"JOBDIR={tmp_path / 'job'}"], "JOBDIR holds one spider's job"),
    ]
    for extra, needle in cases:
        result = run("crawl", "catalogue", "api", *extra, cwd=root)
        assert result.returncode == 1 and needle in result.stderr, result.stderr
    twice = run("crawl", "api", "api", cwd=root)
    assert twice.returncode == 1 and "named twice" in twice.stderr
    unknown = run("crawl", "api", "nope", cwd=root)
    assert unknown.returncode == 1 and "unknown spider 'nope'" in unknown.stderr


def test_summed_stats_and_combined_state():
    stats = summed_stats([
        {"item_scraped_count": 3, "memusage/max": 10, "start_time": 5, "finish_reason": "a"},
        {"item_scraped_count": 4, "memusage/max": 30, "start_time": 2, "finish_reason": "b"},
    ])  # fmt: skip
    assert stats == {"item_scraped_count": 7, "memusage/max": 30, "start_time": 2,
                     "finish_reason": "a, b"}  # fmt: skip
    # LogStats leaves the per-minute rates None for a crawl under a minute
    logs = summed_stats([{"log_count/ERROR": 3}, {"log_count/ERROR": 3}])
    assert logs == {"log_count/ERROR": 3}  # each crawler's counter counts every line
    rates = summed_stats([{"items_per_minute": None, "elapsed_time_seconds": None},
                          {"items_per_minute": 30.0, "elapsed_time_seconds": 2.0},
                          {"items_per_minute": None, "elapsed_time_seconds": 1.0}])  # fmt: skip
    assert rates == {"items_per_minute": 30.0, "elapsed_time_seconds": 2.0}
    assert combined_state(["finished", "running"]) == "running"
    assert combined_state(["finished", "paused"]) == "paused"
    assert combined_state(["paused", "running"]) == "running"
    assert combined_state(["finished", "failed"]) == "failed"
    assert combined_state(["finished", "finished"]) == "finished"


class BooksSpider(DemoSpider):
    name = "books"


class ShopSpider(DemoSpider):
    name = "shop"


async def test_every_panel_shows_all_the_crawlers_or_one(demo_url):
    recorder = Recorder()
    hosts = [
        CrawlHost(demo_settings(), cls, {"url": demo_url}, recorder=recorder, capture_log=not n)
        for n, cls in enumerate((BooksSpider, ShopSpider))
    ]
    source = MultiSource(hosts)
    app = WorkbenchApp(source)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(lambda: all(h.finished for h in hosts), pilot)
        from workbench.shell.session import manager_for

        # inspect_response() in either spider opens the workbench shell
        assert all(manager_for(h.crawler) is app.shell for h in hosts)
        app.refresh_panels()
        await pilot.pause()
        line = status_text(app.last_snapshot).plain
        assert "finished  [all]" in line and "books ■" in line and "shop ■" in line
        flows = app.query_one("#flow-table", RecordTable)
        spiders = {f.spider for f in flows.rows}
        assert spiders == {"books", "shop"}
        per_crawler = {n: sum(1 for f in flows.rows if f.spider == n) for n in spiders}
        shop_flow = next(f for f in flows.rows if f.spider == "shop" and f.status == 200)
        target = source.shell_on_flow(shop_flow.id)
        response, extra = target.response, target.extra
        assert response.url == shop_flow.url
        assert extra["crawler"] is hosts[1].crawler  # the shell's spider is the flow's

        await pilot.press("S")  # books only
        await pilot.pause()
        assert {f.spider for f in flows.rows} == {"books"}
        assert len(flows.rows) == per_crawler["books"]
        assert "[books]" in status_text(app.last_snapshot).plain
        pages = app.last_snapshot.pages
        await pilot.press("3")
        await pilot.pause()
        items = app.query_one("#items-table", RecordTable)
        assert items.rows and {r.spider for r in items.rows} == {"books"}
        await pilot.press("5")
        await pilot.pause()
        log = app.query_one("#log-table", RecordTable)
        assert {r.spider for r in log.rows} <= {"books", None}
        await pilot.press("S")  # shop only
        await pilot.pause()
        assert {r.spider for r in log.rows} <= {"shop", None}
        await pilot.press("4")
        await pilot.pause()
        assert app.last_snapshot.pages == pages  # the same site, crawled the same way
        await pilot.press("S")  # all again: the stats add up
        await pilot.pause()
        assert app.last_snapshot.pages == 2 * pages
        assert "Spider books + shop" in widget_text(app.query_one("#stats-summary"))
        await pilot.press("8")
        await pilot.pause()
        view = source.pace()
        assert {r.key.split("/")[0] for r in view.rows} == {"books", "shop"}


def test_breakpoints_with_all_in_scope_are_every_crawlers(demo_url):
    recorder = Recorder()
    hosts = [CrawlHost(demo_settings(), cls, {"url": demo_url}, recorder=recorder)
             for cls in (BooksSpider, ShopSpider)]  # fmt: skip
    source = MultiSource(hosts)
    bp = source.add_breakpoint("~s 404")
    books, shop = source.parts
    assert [b.text for b in books.breakpoints()] == [b.text for b in shop.breakpoints()]
    source.select("shop")
    source.add_breakpoint("error")  # the crawler in scope only
    assert len(shop.breakpoints()) == 2 and len(books.breakpoints()) == 1
    source.select(None)
    assert source.toggle_breakpoint(bp.id) is False  # off in both
    assert not books.breakpoints()[0].enabled and not shop.breakpoints()[0].enabled
    source.remove_breakpoint(bp.id)
    assert books.breakpoints() == [] and [b.text for b in shop.breakpoints()] == ["error"]


async def test_quitting_while_shown_a_finished_crawler_stops_the_others(demo_url):
    """q asks first, and stops every crawler, whichever one the panels show."""
    from workbench.ui.screens.dialogs import ConfirmScreen

    recorder = Recorder()
    quick = CrawlHost(demo_settings(), BooksSpider, {"url": demo_url}, recorder=recorder)
    slow = CrawlHost(demo_settings(DOWNLOAD_DELAY=0.5, CONCURRENT_REQUESTS=1), ShopSpider,
                     {"url": demo_url}, recorder=recorder, capture_log=False)  # fmt: skip
    source = MultiSource([quick, slow])
    app = WorkbenchApp(source)
    async with app.run_test(size=(160, 45)) as pilot:
        await wait_for(lambda: quick.finished, pilot)
        assert not slow.finished
        source.select("books")  # the finished one
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)  # the process still crawls
        await pilot.press("y")
        await wait_for(lambda: slow.finished, pilot, timeout=30)
    assert slow.crawler.stats.get_value("finish_reason") == "shutdown"
    assert source.probe.tracker.pace  # the process's probe was sampled (live refs, memory)
    assert not any(p.probe.tracker.pace for p in source.parts)  # once, not per crawler


async def test_the_items_panel_learns_the_types_of_the_crawler_shown():
    import dataclasses

    from tests.fakes import FakeSource
    from workbench.core.recording.records import ItemRecord

    source = FakeSource()
    source.items = [dataclasses.replace(r, spider="books") for r in source.items] + [
        ItemRecord(20 + n, 0.0, None, "Review", (("stars", n),), spider="reviews") for n in range(5)
    ]  # more reviews than products: "all" follows Review
    one = source.snapshot
    scope: list[str | None] = [None]
    source.snapshot = lambda: dataclasses.replace(one(), scope=scope[0],  # type: ignore[method-assign]
                                                  items_total=8, items_kept=8)  # fmt: skip
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.press("3")
        await pilot.pause()
        panel = app.query_one("ItemsPanel")
        assert panel.shown_type == "Review"
        scope[0] = "books"
        app.refresh_panels()
        await pilot.pause()
        assert panel.shown_type == "Product" and len(panel.table.rows) == 3
        assert set(panel.type_counts) == {"Product"}
        await pilot.press("t")  # all types, chosen
        scope[0] = None
        app.refresh_panels()
        await pilot.pause()
        assert panel.item_type == "*" and len(panel.table.rows) == 8  # kept across scopes


def test_continue_goes_to_the_hit_shown(demo_url):
    """Scoped, the crawler's own hit is shown (and continued) before another's."""
    from types import SimpleNamespace

    hosts = [CrawlHost(demo_settings(), cls, {"url": demo_url}, recorder=Recorder())
             for cls in (BooksSpider, ShopSpider)]  # fmt: skip
    source = MultiSource(hosts)
    held = {"books": "hit in books", "shop": "hit in shop"}
    source.parts = [SimpleNamespace(name=n, breakpoints_manager=SimpleNamespace(current=h))
                    for n, h in held.items()]  # fmt: skip
    assert source._hit_part().name == "books"  # all: the first held
    source.select("shop")
    assert source._hit_part().name == "shop"  # its own
    source.parts[1].breakpoints_manager.current = None
    assert source._hit_part().name == "books"  # none of its own: the other's, still shown


def test_the_pace_of_all_the_crawlers_is_one_series():
    from workbench.core.control.pace import PacePoint
    from workbench.core.sources.multi_merge import merged_series

    def point(t, delay, responses, latency):
        return PacePoint(t, delay, 1, 2, 1, responses, float(responses), latency)

    books = (point(10.2, 1.0, 3, 0.1), point(11.2, 1.0, 1, 0.3))
    api = (point(10.7, 3.0, 1, 0.5),)
    first, second = merged_series([books, api])
    assert (first.delay, first.responses, first.rate, first.active) == (2.0, 4, 4.0, 4)
    assert abs(first.latency - (3 * 0.1 + 0.5) / 4) < 1e-9  # weighted by responses
    assert (second.responses, second.latency) == (1, 0.3)
    assert second.delay == 2.0 and second.rate == 2.0  # api's last point stands in
    # a crawler's timer near a whole second: two samples in one second, none in the next
    jittery = (point(20.1, 1.0, 5, 0.1), point(20.9, 1.0, 5, 0.1), point(22.5, 1.0, 5, 0.1))
    steady = (point(20.5, 1.0, 5, 0.1), point(21.5, 1.0, 5, 0.1), point(22.5, 1.0, 5, 0.1))
    merged = merged_series([jittery, steady])
    assert sum(p.responses for p in merged) == 30  # every response counted once
    assert [p.rate for p in merged] == [10.0, 10.0, 10.0]  # no dip where a sample is missing


def test_quitting_asks_to_stop_a_paused_crawler_while_another_closes(demo_url):
    from types import SimpleNamespace

    hosts = [CrawlHost(demo_settings(), cls, {"url": demo_url}, recorder=Recorder())
             for cls in (BooksSpider, ShopSpider)]  # fmt: skip
    source = MultiSource(hosts)

    def states(*names):
        for part, name in zip(source.parts, names, strict=True):
            part._host = SimpleNamespace(status=lambda n=name: SimpleNamespace(state=n))

    states("closing", "paused")
    assert source.process_state() == "running"  # the paused one is stopped gracefully
    states("closing", "finished")
    assert source.process_state() == "closing"  # only a force is left to offer
    states("finished", "failed")
    assert source.process_state() == "failed"
