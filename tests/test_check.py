"""`workbench check`: the spiders' contracts, as `scrapy check`, in the workbench."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.helpers.processes import WORKBENCH, env, run, site, startproject
from tests.ptyrun import PtyProcess

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SPIDERS = '''
import scrapy
from scrapy.contracts import Contract


class HasTitle(Contract):
    """@has_title: every item has a non-empty title (a custom contract)"""

    name = "has_title"

    def post_process(self, output):
        for item in output:
            if isinstance(item, dict):
                assert item.get("title"), f"no title in {item!r}"


class BooksSpider(scrapy.Spider):
    name = "books"

    def parse_listing(self, response):
        """A listing page links to its products.

        @url {url}catalogue/page-1.html
        @returns requests 2
        @returns items 0 0
        """
        for href in response.css("article h3 a::attr(href)").getall():
            yield response.follow(href, self.parse_book)

    def parse_book(self, response):
        """@url {url}product/1.html
        @returns items 1 1
        @scrapes name price
        @has_title
        """
        yield {"name": response.css("h1::text").get(), "title": response.css("title::text").get(),
               "price": response.css("p.price::text").get()}

    def parse_broken(self, response):
        """@url {url}product/2.html
        @scrapes name upc
        """
        yield {"name": response.css("h1::text").get()}


class QuietSpider(scrapy.Spider):
    name = "quiet"

    def parse(self, response):
        """@url {url}
        @returns items 0 0
        """
        return []


class PlainSpider(scrapy.Spider):
    name = "plain"

    def parse(self, response):
        pass
'''


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    settings = """
        ROBOTSTXT_OBEY = False
        TELNETCONSOLE_ENABLED = False
        SPIDER_CONTRACTS = {"shop.spiders.checked.HasTitle": 10}
    """
    with site(30) as url:
        spiders = {"checked": SPIDERS.replace("{url}", url)}
        yield startproject(tmp_path_factory.mktemp("checked"), spiders, settings)


def test_list_names_each_spiders_checked_callbacks(project):
    result = run("check", "--list", cwd=project)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["books", "*", "parse_book", "*", "parse_broken", "*",
                                     "parse_listing", "quiet", "*", "parse"]  # fmt: skip
    verbose = run("check", "--list", "-v", cwd=project)
    assert "plain" in verbose.stdout


def test_failing_contracts_fail_the_run_like_scrapy_check(project):
    result = run("check", cwd=project, WORKBENCH_NO_UI="1")
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert "FAIL: [books] parse_broken (@scrapes post-hook)" in out
    assert "Missing fields: upc" in out
    assert re.search(r"Ran (\d+) contract checks \((\d+) passed\): FAILED \(failures=1\)", out), out
    assert "FAIL: [books] parse_book" not in out  # the custom contract passed
    ok = run("check", "quiet", cwd=project, WORKBENCH_NO_UI="1")
    assert ok.returncode == 0 and "contract checks: OK" in ok.stdout, ok.stdout + ok.stderr
    bad = run("check", "nope", cwd=project)
    assert bad.returncode == 1 and "unknown spider 'nope'" in bad.stderr
    outside = run("check", cwd=Path(project).parent)
    assert outside.returncode == 1 and "not inside a Scrapy project" in outside.stderr


def test_the_checks_screen_shows_each_check_and_opens_its_response(project):
    term = PtyProcess([*WORKBENCH, "check", "books"], cwd=str(project), env=env(),
                      size=(40, 180))  # fmt: skip
    try:
        term.expect(r"Contract checks \(done\): \d+ ran, \d+ passed, 1 failed", timeout=90)
        screen = term.tail(20000)
        assert "@scrapes post-hook" in screen and "Missing fields: upc" in screen
        assert "@has_title post-hook" in screen
        term.send("\r")  # the first check's request and response
        term.expect(r"Flow #\d+ +200 +GET http://127\.0\.0\.1:\d+/", timeout=30)
        term.send("q")
        term.expect(r"Contract checks", timeout=30)
        term.send("q")  # back to the panels
        term.send("q")  # the crawls are over: quit
        assert term.wait(60) == 1  # a contract failed
        term.expect(r"Ran \d+ contract checks \(\d+ passed\): FAILED \(failures=1\)", timeout=30)
    finally:
        term.close()
