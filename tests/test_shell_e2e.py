"""The terminal IPython shell, driven as a user drives it: a real pseudo-terminal."""

from __future__ import annotations

import json
import textwrap
import time

import pytest

from tests.helpers.processes import WORKBENCH, env, site
from tests.ptyrun import PtyProcess
from workbench.demo.spider import expected_item_count

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

PROMPT = r"In \[{n}\]: "


def shell_env(tmp_path) -> dict[str, str]:
    # a fresh IPython profile and history per test
    # (this terminal does not answer prompt_toolkit's cursor position requests)
    return {
        **env(),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        "BROWSER": "false",
        "PROMPT_TOOLKIT_NO_CPR": "1",
    }


def test_shell_on_a_response_fetch_await_ctrl_c_then_back(tmp_path):
    out = tmp_path / "items.jsonl"
    pages = 150
    term = PtyProcess(
        [*WORKBENCH, "demo", "--pages", str(pages), "-s", "DOWNLOAD_DELAY=0.02", "-O", str(out)],
        cwd=str(tmp_path),
        env=shell_env(tmp_path),
    )
    try:
        term.expect(r"● running.*items [1-9]", timeout=60)
        term.send("s")
        term.expect(PROMPT.format(n=1), timeout=30)
        screen = term.tail()
        assert "The crawl is paused; it resumes when you leave the shell." in screen
        assert "fetch(url[, redirect=True])" in screen
        # the selected flow may be any response: HTML, the JSON API or the logo
        term.send("response.status, response.url\r")
        term.expect(r"Out\[1\]: \(200, 'http://127\.0\.0\.1:[^']+'\)", timeout=20)
        term.send("fetch(response.urljoin('/product/5.html'))\r")
        term.expect(r"response = <200 http://127\.0\.0\.1:\d+/product/5\.html>", timeout=20)
        term.send("response.css('h1::text').get()\r")
        term.expect(r"Out\[3\]: '[^']*No\. 5'", timeout=20)
        term.send("import asyncio; await asyncio.sleep(0.1); crawler.engine.paused\r")
        term.expect(r"Out\[4\]: True", timeout=20)
        term.send("n = 0\r")
        term.expect(PROMPT.format(n=6), timeout=20)
        term.send("while True: n += 1\r\r")
        term.expect(r"while True", timeout=10)
        deadline = time.monotonic() + 1.5
        while time.monotonic() < deadline:  # let it run (reading what the terminal shows)
            term.drain(0.1)
        term.send("\x03")  # Ctrl-C in the long loop: interrupts it, not the app
        term.expect(r"KeyboardInterrupt", timeout=20)
        # type only at a prompt, as a person does (keys typed while code runs are
        # read by the terminal in cooked mode, not by the shell)
        term.expect(PROMPT.format(n=7), timeout=20)
        term.send("n > 0\r")
        term.expect(r"Out\[7\]: True", timeout=20)
        term.expect(PROMPT.format(n=8), timeout=20)
        term.send("\x04")  # Ctrl-D: back to the TUI, the crawl resumes
        term.expect(r"■ finished", timeout=120)
        term.send("q")
        assert term.wait(30) == 0
        summary = term.expect(r"workbench: spider \w+ finished \(\w+\): \d+ pages, (\d+) items")
    finally:
        term.close()
    lines = out.read_text().splitlines()
    assert len(lines) == int(summary.group(1)) == expected_item_count(pages)


INSPECTING = """
    import scrapy
    from scrapy.shell import inspect_response


    class InspectingSpider(scrapy.Spider):
        name = "inspecting"

        async def start(self):
            yield scrapy.Request(self.url + "catalogue/page-1.html")

        def parse(self, response):
            links = response.css("article.product h3 a::attr(href)").getall()
            yield from response.follow_all(links[:8], self.parse_product)

        def parse_product(self, response):
            seen = "no"
            if response.url.endswith("/product/3.html"):
                inspect_response(response, self)
                seen = "yes"
            yield {"url": response.url, "after_shell": seen}
"""


def test_inspect_response_in_spider_code(tmp_path):
    spider = tmp_path / "inspecting.py"
    spider.write_text(textwrap.dedent(INSPECTING))
    out = tmp_path / "out.jsonl"
    with site(30) as url:
        term = PtyProcess(
            [*WORKBENCH, "runspider", str(spider), "-a", f"url={url}", "-o", f"{out}:jsonlines"],
            cwd=str(tmp_path),
            env=shell_env(tmp_path),
        )
        try:
            term.expect(PROMPT.format(n=1), timeout=60)
            assert "inspect_response() called from parse_product()" in term.tail()
            term.send("response.url\r")
            term.expect(r"Out\[1\]: '.*/product/3\.html'", timeout=20)
            term.send("fetch(response.urljoin('/product/9.html')); response.status\r")
            term.expect(r"Out\[2\]: 200", timeout=20)
            term.expect(PROMPT.format(n=3), timeout=20)
            term.send("exit()\r")
            term.expect(r"■ finished", timeout=60)
            term.send("q")
            assert term.wait(30) == 0
        finally:
            term.close()
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(items) == 8
    inspected = [i for i in items if i["url"].endswith("/product/3.html")]
    assert inspected == [{"url": inspected[0]["url"], "after_shell": "yes"}]


def test_pdb_breaks_on_a_spider_error_and_opens_the_shell_on_it(tmp_path):
    out = tmp_path / "items.jsonl"
    pages = 30
    term = PtyProcess(
        [*WORKBENCH, "demo", "--pages", str(pages), "--bugs", "--pdb", "-O", str(out)],
        cwd=str(tmp_path),
        env=shell_env(tmp_path),
    )
    try:
        term.expect(r"Breakpoint 1 error.*product/13\.html", timeout=60)
        term.expect(r"ValueError: cannot parse the rating", timeout=10)
        term.send("s")
        term.expect(PROMPT.format(n=1), timeout=30)
        term.send("type(exception).__name__, response.url.rsplit('/', 1)[1]\r")
        term.expect(r"Out\[1\]: \('ValueError', '13\.html'\)", timeout=20)
        term.expect(PROMPT.format(n=2), timeout=20)
        term.raw.clear()  # only what the app draws from now on
        term.send("\x04")
        term.expect(r"c continue", timeout=20)  # back in the app, still at the breakpoint
        term.send("c")
        term.expect(r"Breakpoint 1 error.*product/26\.html", timeout=60)
        term.send("c")
        term.expect(r"■ finished", timeout=60)
        term.send("q")
        assert term.wait(30) == 0
    finally:
        term.close()
    lines = out.read_text().splitlines()
    assert len(lines) == expected_item_count(pages) - 2  # products 13 and 26 raised
