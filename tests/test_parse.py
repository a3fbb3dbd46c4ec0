"""`workbench parse URL`: scrapy parse's crawl as a tree of responses, items and requests."""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import time

import pytest
import scrapy

from tests.conftest import demo_settings
from tests.helpers.parse import parse_source
from tests.helpers.processes import WORKBENCH, env, run, site, startproject
from tests.ptyrun import PtyProcess
from workbench.core.control.host import CrawlHost
from workbench.core.inspection.parse import ParseCommand, request_state
from workbench.ui.app import WorkbenchApp

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SPIDERS = """
import scrapy
from scrapy.linkextractors import LinkExtractor
from scrapy.spiders import CrawlSpider, Rule


class BooksSpider(scrapy.Spider):
    name = "books"
    allowed_domains = ["127.0.0.1"]

    def parse(self, response):
        yield {"title": response.css("title::text").get()}
        yield response.follow(response.css("a.catalogue::attr(href)").get(), self.parse_listing)
        yield response.follow("missing.html", self.parse_listing)
        yield response.follow("old-catalogue", self.parse_listing)
        yield response.follow("https://example.org/elsewhere", self.parse_listing)

    def parse_listing(self, response):
        for href in response.css("article h3 a::attr(href)").getall()[:3]:
            yield response.follow(href, self.parse_book)
        yield response.follow("/", self.parse)

    def parse_book(self, response, tag="none"):
        yield {"name": response.css("h1::text").get(), "tag": tag,
               "seen": response.meta.get("seen", "no")}


class FencedSpider(scrapy.Spider):
    name = "fenced"
    allowed_domains = ["books.example"]

    def parse(self, response):
        yield {"url": response.url}


class ShelfSpider(CrawlSpider):
    name = "shelf"
    rules = [Rule(LinkExtractor(allow=r"/product/"), callback="parse_item")]

    def parse_item(self, response):
        yield {"name": response.css("h1::text").get()}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = startproject(tmp_path_factory.mktemp("parsed"), {"books": SPIDERS})
    with site(30) as url:
        yield root, url


def report(stdout: str) -> tuple[list[dict], list[str]]:
    """scrapy parse's printed items and request URLs."""
    items_part = stdout.split("# Scraped Items", 1)[1].split("# Requests", 1)[0]
    items_text = items_part.split("\n", 1)[1].strip()
    import ast

    return ast.literal_eval(items_text), re.findall(r"<GET (\S+)>", stdout.split("# Requests")[1])


def test_parse_at_depth_2_prints_scrapy_parses_report(project):
    root, url = project
    result = run("parse", url, "--spider", "books", "-d", "2", cwd=root, WORKBENCH_NO_UI="1")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("\n>>> STATUS DEPTH LEVEL 2 <<<")  # scrapy parse's, alone
    items, requests = report(result.stdout)
    assert items == [{"title": "Home | Demo Books"}]
    # the requests of the deepest level: page-1's products and its link home
    assert sorted(requests) == sorted([*(f"{url}product/{n}.html" for n in (1, 2, 3)), url])


def test_callback_meta_and_cbkwargs_as_scrapy_parse(project):
    root, url = project
    result = run("parse", f"{url}product/2.html", "--spider", "books", "-c", "parse_book",
                 "--meta", '{"seen": "yes"}', "--cbkwargs", '{"tag": "x"}',
                 cwd=root, WORKBENCH_NO_UI="1")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    items, _ = report(result.stdout)
    assert items == [{"name": "The Broken Clockwork No. 2", "tag": "x", "seen": "yes"}]


def test_rules_pick_the_callback_and_o_writes_the_items(project, tmp_path):
    root, url = project
    out = tmp_path / "items.json"
    result = run("parse", f"{url}product/5.html", "--spider", "shelf", "--rules",
                 "-o", str(out), cwd=root, WORKBENCH_NO_UI="1")  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    items, _ = report(result.stdout)
    assert [i["name"] for i in items] == [json.loads(out.read_text())[0]["name"]]


def test_bad_input_is_one_line_each(project):
    root, url = project
    cases = [
        (["parse", "not a url"], "parse takes one URL"),
        (["parse", url, "--spider", "nope"], "unknown spider 'nope'; spiders in this project"),
        (["parse", url], "no spider of this project handles"),
        (["parse", url, "--spider", "books", "-d", "0"], "--depth must be at least 1"),
        (["parse", url, "--spider", "books", "--meta", "{bad"], "Invalid -m/--meta value"),
        (["parse", url, "--spider", "books", "--cbkwargs", "[1"], "Invalid --cbkwargs value"),
    ]
    for args, needle in cases:
        result = run(*args, cwd=root)
        assert result.returncode == 1 and needle in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
    outside = run("parse", url, "--spider", "books", cwd=root.parent)
    assert outside.returncode == 1 and "not inside a Scrapy project" in outside.stderr


def test_a_url_without_a_response_fails_the_run(project):
    root, url = project
    result = run("parse", f"{url}missing.html", "--spider", "books", cwd=root, WORKBENCH_NO_UI="1")
    assert result.returncode == 1
    assert "no response for" in result.stderr and "HttpError" in result.stderr, result.stderr


def test_a_url_filtered_as_offsite_says_so(project):
    root, url = project
    result = run("parse", url, "--spider", "fenced", cwd=root, WORKBENCH_NO_UI="1")
    assert result.returncode == 1
    assert (
        f"no response for {url}: filtered as offsite: '127.0.0.1' is not in the spider's "
        "allowed_domains ['books.example']" in result.stderr
    ), result.stderr
    assert "the crawl was stopped" not in result.stderr


def test_the_tree_of_a_real_parse_opens_each_node(project):
    root, url = project
    term = PtyProcess([*WORKBENCH, "parse", url, "--spider", "books", "-d", "3"],
                      cwd=str(root), env=env(), size=(40, 180))  # fmt: skip
    try:
        term.expect(r"Parse to depth 3 \(done\): 5 responses, 4 items, 8 requests, 1 error",
                    timeout=90)  # fmt: skip
        term.expect(r"d3 200 GET \S+product/1\.html +→ parse_book", timeout=30)
        term.expect(r"missing\.html +→ parse_listing +\(failed: HttpError", timeout=30)
        term.expect(r"elsewhere +→ parse_listing +\(filtered as offsite", timeout=30)
        term.expect(r"old-catalogue +→ parse_listing +\(redirected to \S+page-1\.html, dropped",
                    timeout=30)  # fmt: skip
        term.send("\r")  # the root: its flow
        term.expect(r"Flow #\d+ +200 +GET " + re.escape(url), timeout=30)
        term.send("q")
        term.expect(r"Parse to depth 3", timeout=30)
        term.send("p")  # the selector playground on the root response
        term.expect(r"Selectors +flow #\d+", timeout=30)
        term.send("\x1b")
        time.sleep(0.5)  # not Alt+q
        term.send("q")  # the panels
        term.send("q")  # the crawl is over: quit
        assert term.wait(60) == 0
        term.expect(r">>> STATUS DEPTH LEVEL 3 <<<", timeout=30)
    finally:
        term.close()


# -- the tree, from real Scrapy responses, on a fake source ------------------------------


def test_request_states_say_why_there_is_no_response():
    tree = parse_source().parse_tree()
    entries = tree.node(1).requests
    assert [request_state(tree, e) for e in entries[1:]] == [
        "failed: HttpError: Ignoring non-200 response",
        "dropped by the scheduler: a duplicate",
        "waiting",
    ]
    assert entries[0].child == 2
    assert request_state(tree, tree.node(2).requests[0]) == "not followed: beyond --depth 2"
    tree.finished = True
    assert request_state(tree, entries[3]).startswith("not downloaded")
    assert (tree.items, tree.requests, tree.errors) == (1, 7, 1)


async def test_the_parse_screen_opens_flows_selectors_and_items():
    from textual.widgets import Tree

    from workbench.ui.screens.flow_detail import FlowDetailScreen
    from workbench.ui.screens.parse_tree import ParseScreen
    from workbench.ui.screens.selectors import SelectorScreen
    from workbench.ui.screens.text_view import TextScreen

    source = parse_source()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, ParseScreen)  # workbench parse opens on it
        tree = app.screen.query_one(Tree)
        assert tree.cursor_node is tree.root and tree.root.data == ("node", 1)
        labels = [str(n.label) for n in tree.root.children]
        assert labels[0].startswith("item dict title='Home \\x1b[2J| Demo Books'")
        assert "d2 200 GET" in labels[1] and "→ parse_listing" in labels[1]
        assert "failed: HttpError" in labels[2] and "a duplicate" in labels[3]
        assert "evil%1B%5D0;PWNED%07" in labels[4] and "(waiting)" in labels[4]  # Scrapy escapes
        await pilot.press("enter")  # the home page's flow
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen) and app.screen.flow.id == 1
        await pilot.press("q", "down", "enter")  # an item: its flow's Produced tab
        await pilot.pause()
        assert app.screen.initial_tab == "produced" and app.screen.flow.id == 1
        await pilot.press("q", "v")  # the whole item
        await pilot.pause()
        assert isinstance(app.screen, TextScreen) and "Demo Books" in app.screen.text
        await pilot.press("q", "down", "p")  # the catalogue page's selector playground
        await pilot.pause()
        assert isinstance(app.screen, SelectorScreen) and app.screen.flow.id == 2
        await pilot.press("escape", "down", "down", "down", "down", "enter")  # the 404
        await pilot.pause()
        assert isinstance(app.screen, ParseScreen)
        assert any("No response for this request" in str(n.message) for n in app._notifications)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, ParseScreen)
        await pilot.press("T")  # back to the tree from the panels
        await pilot.pause()
        assert isinstance(app.screen, ParseScreen)


async def test_parse_in_a_browser_draws_the_tree(project):
    """--web: Textual's web driver has pipes for stdin and stdout, yet it is no script."""
    import os
    import signal

    from tests.helpers.browser import CHROMIUM, chromium_page, served

    if CHROMIUM is None and not os.environ.get("CI_REQUIRE_CHROMIUM"):
        pytest.skip("no chromium here")
    root, url = project
    proc = subprocess.Popen([*WORKBENCH, "parse", url, "--spider", "books", "--web"],
                            cwd=root, env=env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        async with chromium_page(served(proc)) as page:
            await page.wait_for(r"Parse to depth 1 \(done\): 1 response, 1 item, 4 requests")
            await page.close()
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(30)


async def test_a_tree_first_drawn_after_the_crawl_keeps_its_responses_foldable():
    """The screen may first look at a parse that is already over (a fast local site)."""
    from textual.widgets import Tree

    source = parse_source()
    source.parse_tree().finished = True
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        tree = app.screen.query_one(Tree)
        listing = tree.root.children[1]
        assert listing.data == ("node", 2) and listing.allow_expand and listing.is_expanded
        assert request_state(source.parse_tree(), source.parse_tree().node(1).requests[0]) == (
            "downloaded"
        )


# -- ParseCommand on a real crawl of the demo site, in this process -----------------------


class _Boom(scrapy.Spider):
    name = "boom"

    async def agen(self, response):
        yield {"a": 1}
        raise ValueError("agen broke")


async def _parse(url: str, spidercls: type, **options) -> ParseCommand:
    defaults = dict(depth=1, callback=None, rules=False, meta=None, cbkwargs=None, output=None,
                    pipelines=False)  # fmt: skip
    opts = argparse.Namespace(**{**defaults, **options})
    command = ParseCommand()
    command.start_for(spidercls, url, opts)
    host = CrawlHost(demo_settings(), spidercls)
    command.attach(host.create(), url, opts)
    await host.start()
    await host.wait()
    host.close()
    return command


async def test_an_async_generator_callbacks_error_is_on_its_node(demo_url):
    class Spider(_Boom):
        pass

    command = await _parse(demo_url, Spider, callback="agen")
    node = command.tree.node(1)
    assert node.error == "ValueError: agen broke"
    assert node.items == [{"a": 1}] and node.done  # what it yielded before, as scrapy parse


async def test_a_start_request_that_cannot_be_made_says_why(demo_url):
    class Spider(_Boom):
        pass

    command = await _parse(demo_url, Spider, callback="nosuch")
    assert command.tree.root_error == "ValueError: Cannot find callback 'nosuch' in spider: boom"
    assert command.tree.nodes == []


async def test_requests_filtered_as_offsite_say_so_from_scrapys_own_count(demo_url):
    class Fenced(scrapy.Spider):
        name = "fenced"
        allowed_domains = ["books.example"]

    class Spider(scrapy.Spider):
        name = "mixed"
        allowed_domains = ["127.0.0.1"]

        def parse(self, response):
            yield scrapy.Request("http://books.example/elsewhere")
            yield response.follow("missing.html")

    command = await _parse(demo_url, Fenced)
    tree = command.tree
    assert tree.nodes == [] and tree.root_dropped and tree.errors == 0
    assert tree.root_error == (
        "filtered as offsite: '127.0.0.1' is not in the spider's allowed_domains ['books.example']"
    )
    command = await _parse(demo_url, Spider, depth=2)
    tree = command.tree
    offsite, missing = tree.node(1).requests
    assert request_state(tree, offsite) == (
        "filtered as offsite: 'books.example' is not in the spider's allowed_domains ['127.0.0.1']"
    )
    assert request_state(tree, missing).startswith("failed: HttpError")  # on the same site
    assert command.pcrawler.stats.get_value("offsite/filtered") == 1
