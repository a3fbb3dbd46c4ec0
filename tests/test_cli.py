"""Every command-line entry, run as a user runs it (subprocesses, real terminals)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.helpers.processes import WORKBENCH, assert_one_line_error, env, run, site
from tests.ptyrun import PtyProcess
from workbench.demo.spider import expected_item_count

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite


def test_version():
    result = run("--version")
    assert result.returncode == 0
    assert re.match(r"workbench \d+\.\d+\.\d+ \(Scrapy 2\.\d+", result.stdout)


def test_python_m_workbench_is_the_workbench_command():
    import subprocess

    result = subprocess.run([sys.executable, "-m", "workbench", "--version"], env=env(),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0 and result.stdout == run("--version").stdout
    bad = subprocess.run([sys.executable, "-m", "workbench", "nosuch"], env=env(),
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 1 and "unknown command 'nosuch'" in bad.stderr


def test_top_help():
    result = run("--help")
    assert result.returncode == 0
    for command in ("crawl", "runspider", "demo"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["crawl", "runspider", "demo", "bench"])
def test_command_help(command, tmp_path):
    result = run(command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"workbench {command}" in result.stdout
    for option in ("-a NAME=VALUE", "-s NAME=VALUE", "-o FILE", "-O FILE", "-L LEVEL"):
        assert option in result.stdout


def test_unknown_command():
    assert_one_line_error(run("crawlx"), "unknown command 'crawlx'")


def test_crawl_outside_a_project(tmp_path):
    assert_one_line_error(run("crawl", "x", cwd=tmp_path), "not inside a Scrapy project")


def test_runspider_missing_file(tmp_path):
    assert_one_line_error(run("runspider", "nope.py", cwd=tmp_path), "file not found: nope.py")


def test_runspider_file_without_spider(tmp_path):
    (tmp_path / "empty.py").write_text("x = 1\n")
    assert_one_line_error(run("runspider", "empty.py", cwd=tmp_path), "no spider found")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["-a", "novalue"], "Invalid -a value"),
        (["-s", "novalue"], "Invalid -s value"),
        (["--bogus"], "unknown option --bogus"),
        (["--pages", "0"], "--pages must be at least 1"),
        (["extra"], "demo takes no arguments"),
    ],
)
def test_demo_bad_input(args, needle, tmp_path):
    assert_one_line_error(run("demo", *args, cwd=tmp_path), needle)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """A project made by `scrapy startproject`, with a spider and its own pipeline."""
    root = tmp_path_factory.mktemp("proj")
    subprocess.run(
        [sys.executable, "-m", "scrapy", "startproject", "shop", str(root)],
        check=True,
        capture_output=True,
        env=env(),
    )
    (root / "shop" / "spiders" / "books.py").write_text(
        textwrap.dedent("""
        import scrapy

        class BooksSpider(scrapy.Spider):
            name = "books"

            async def start(self):
                yield scrapy.Request(self.url + "catalogue/page-1.html")

            def parse(self, response):
                for href in response.xpath("//article/h3/a/@href").getall():
                    yield response.follow(href, self.parse_book)
                next_page = response.css("li.next a::attr(href)").get()
                if next_page:
                    yield response.follow(next_page)

            def parse_book(self, response):
                yield {"url": response.url, "name": response.css("h1::text").get()}
    """)
    )
    (root / "shop" / "pipelines.py").write_text(
        textwrap.dedent("""
        class ShopPipeline:
            def process_item(self, item):
                item["checked_by"] = "ShopPipeline"
                return item
    """)
    )
    settings = root / "shop" / "settings.py"
    settings.write_text(
        settings.read_text()
        + textwrap.dedent("""
        ITEM_PIPELINES = {"shop.pipelines.ShopPipeline": 300}
        ROBOTSTXT_OBEY = False
        TELNETCONSOLE_ENABLED = False
        DOWNLOAD_DELAY = 0  # the template's 1 s a request made the crawl ~35 s of waiting
    """)
    )
    return root


def test_crawl_unknown_spider_lists_the_spiders(project):
    assert_one_line_error(run("crawl", "nope", cwd=project), "spiders in this project: books")


def test_crawl_in_a_startproject_project_live_in_a_terminal(project):
    out = project / "items.jsonl"
    with site(30) as url:
        term = PtyProcess(
            [*WORKBENCH, "crawl", "books", "-a", f"url={url}", "-O", str(out)],
            cwd=str(project),
            env=env(),
        )
        try:
            term.expect(r"finished", timeout=90)
            term.expect(r"items 30", timeout=10)
            term.send("q")
            assert term.wait(30) == 0
            summary = term.expect(
                r"workbench: spider books finished \(finished\): "
                r"\d+ pages, (\d+) items"
            )
        finally:
            term.close()
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(items) == int(summary.group(1)) == 30
    assert all(item["checked_by"] == "ShopPipeline" for item in items)


def test_demo_live_in_a_terminal_with_feed(tmp_path):
    out = tmp_path / "demo.jsonl"
    term = PtyProcess(
        [*WORKBENCH, "demo", "--pages", "25", "-O", str(out)], cwd=str(tmp_path), env=env()
    )
    try:
        term.expect(r"● running|■ finished", timeout=60)
        term.expect(r"■ finished", timeout=90)
        term.send("4")  # the stats panel
        term.expect(r"item_scraped_count", timeout=10)
        term.send("q")
        assert term.wait(30) == 0
        summary = term.expect(r"workbench: spider \w+ finished \(\w+\): \d+ pages, (\d+) items")
    finally:
        term.close()
    lines = out.read_text().splitlines()
    assert len(lines) == int(summary.group(1)) == expected_item_count(25)
    # nothing but the app and the summary reached the terminal: no log lines behind the app
    assert "Spider closed" not in term.text and "[scrapy" not in term.text


def test_runspider_live_quit_while_running_asks_then_stops_gracefully(tmp_path):
    spider = tmp_path / "slow_spider.py"
    spider.write_text(
        textwrap.dedent("""
        import scrapy

        class SlowSpider(scrapy.Spider):
            name = "slow"
            custom_settings = {"CONCURRENT_REQUESTS": 1, "DOWNLOAD_DELAY": 0.2}

            async def start(self):
                for n in range(1, 31):
                    yield scrapy.Request(f"{self.url}product/{n}.html")

            def parse(self, response):
                yield {"url": response.url}
    """)
    )
    out = tmp_path / "slow.jsonl"
    with site(30) as url:
        term = PtyProcess(
            [*WORKBENCH, "runspider", str(spider), "-a", f"url={url}", "-o", f"{out}:jsonlines"],
            cwd=str(tmp_path),
            env=env(),
        )
        try:
            term.expect(r"items [1-9]", timeout=60)
            term.send("q")
            term.expect(r"Stop it gracefully", timeout=10)
            term.send("y")
            assert term.wait(60) == 0
            summary = term.expect(r"\(shutdown\): \d+ pages, (\d+) items")
        finally:
            term.close()
    lines = out.read_text().splitlines()
    assert 0 < len(lines) == int(summary.group(1)) < 30


def test_bench_runs_scrapy_bench_on_127_0_0_1_and_prints_pages_per_minute(tmp_path):
    result = run("bench", "-s", "CLOSESPIDER_TIMEOUT=2", cwd=tmp_path, WORKBENCH_NO_UI="1")
    assert result.returncode == 0, result.stderr
    assert "spider follow finished (closespider_timeout)" in result.stdout, result.stdout
    match = re.search(r"workbench bench: ([\d,]+) pages in ([\d.]+) s: ([\d,]+) pages/min",
                      result.stdout)  # fmt: skip
    assert match, result.stdout
    pages, seconds, rate = (float(g.replace(",", "")) for g in match.groups())
    assert pages > 20 and 1.5 < seconds < 10
    assert abs(rate - pages * 60 / seconds) <= 0.01 * rate + 1  # seconds to 0.01 s
    assert_one_line_error(run("bench", "extra", cwd=tmp_path), "bench takes no arguments")


def test_headless_demo_for_scripts(tmp_path):
    out = tmp_path / "h.jsonl"
    result = run("demo", "--pages", "10", "-O", str(out), cwd=tmp_path, WORKBENCH_NO_UI="1")
    assert result.returncode == 0, result.stderr
    assert f"{expected_item_count(10)} items" in result.stdout
    assert len(out.read_text().splitlines()) == expected_item_count(10)


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--break", "~c ("], "bad --break '~c (': bad status code '(' for ~c"),
        (["--break", "bogus: ~s 200"], "unknown breakpoint kind 'bogus'"),
        (["--break", "response"], "needs an expression"),
    ],
)
def test_bad_breakpoints_are_one_line_errors(args, needle, tmp_path):
    assert_one_line_error(run("demo", *args, cwd=tmp_path), needle)


def test_headless_breakpoints_need_a_terminal(tmp_path):
    result = run("demo", "--pdb", cwd=tmp_path, WORKBENCH_NO_UI="1")
    assert_one_line_error(result, "need a terminal")


def test_demo_bugs_make_callback_errors_and_items_without_price(tmp_path):
    out = tmp_path / "bugs.jsonl"
    result = run(
        "demo", "--pages", "30", "--bugs", "-O", str(out), cwd=tmp_path, WORKBENCH_NO_UI="1"
    )
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in out.read_text().splitlines()]
    products = [i for i in items if "price" in i or "rating" in i]
    assert {i["id"] for i in products} == {n for n in range(1, 31) if n % 13}
    assert {i["id"] for i in products if i.get("price") is None} == {7, 14, 21, 28}


def test_headless_pdb_opens_the_shell_in_the_terminal_then_continues(tmp_path):
    out = tmp_path / "h.jsonl"
    term = PtyProcess(
        [*WORKBENCH, "demo", "--pages", "15", "--bugs", "--pdb", "-O", str(out)],
        cwd=str(tmp_path),
        env={
            **env(),
            "WORKBENCH_NO_UI": "1",
            "IPYTHONDIR": str(tmp_path / "ipython"),
            "PROMPT_TOOLKIT_NO_CPR": "1",
        },
    )
    try:
        term.expect(r"Stopped at breakpoint 1 \(error\): ValueError", timeout=60)
        term.expect(r"In \[1\]: ", timeout=30)
        term.send("response.url\r")
        term.expect(r"Out\[1\]: '.*/product/13\.html'", timeout=20)
        term.expect(r"In \[2\]: ", timeout=20)
        term.send("\x04")
        assert term.wait(60) == 0
        term.expect(r"finished \(finished\)")
    finally:
        term.close()
    assert len(out.read_text().splitlines()) == expected_item_count(15) - 1


def test_demo_leaky_carries_listing_responses_and_is_paced(tmp_path):
    out = tmp_path / "leaky.jsonl"
    log = tmp_path / "leaky.log"
    result = run(
        "demo", "--leaky", "--pages", "60", "-O", str(out), "-s", f"LOG_FILE={log}",
        "-s", "LOG_LEVEL=DEBUG", cwd=tmp_path, WORKBENCH_NO_UI="1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(items) == expected_item_count(60)  # the leak loses nothing
    text = log.read_text()
    assert "'demo/breadcrumbs': 60" in text  # every product read its listing response
    assert "'DOWNLOAD_DELAY': 0.02" in text  # paced, unless the user says otherwise
    result = run("demo", "--leaky", "--pages", "0", cwd=tmp_path, WORKBENCH_NO_UI="1")
    assert_one_line_error(result, "--pages must be at least 1")


def test_demo_throttle_reads_reviews_with_autothrottle_on(tmp_path):
    out = tmp_path / "throttle.jsonl"
    log = tmp_path / "throttle.log"
    result = run(
        "demo", "--throttle", "--pages", "12", "--review-latency", "0.05", "-O", str(out),
        "-s", f"LOG_FILE={log}", "-s", "AUTOTHROTTLE_DEBUG=1", cwd=tmp_path, WORKBENCH_NO_UI="1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(items) == expected_item_count(12, reviews=True)
    assert sum(1 for item in items if "stars" in item) == 12
    text = log.read_text()
    assert "'AUTOTHROTTLE_ENABLED': True" in text and "'AUTOTHROTTLE_START_DELAY': 1.0" in text
    assert "slot: reviews" in text  # AutoThrottle's own debug lines: it ran on the slot
    result = run("demo", "--throttle", "--review-latency", "-1", cwd=tmp_path)
    assert_one_line_error(result, "--review-latency must be at least 0")


def test_the_exit_summary_names_the_errors_and_the_requests_never_downloaded(tmp_path):
    """Once the crawl is over the terminal keeps the answers, not only the counts:
    the errors grouped (the most frequent, where in the spider) and what never
    reached the network."""
    spider = tmp_path / "broken.py"
    spider.write_text(
        textwrap.dedent("""
        import scrapy

        class Broken(scrapy.Spider):
            name = "broken"
            allowed_domains = ["127.0.0.1"]

            async def start(self):
                for n in range(1, 11):
                    yield scrapy.Request(f"{self.url}product/{n}.html")
                yield scrapy.Request(f"{self.url}product/1.html")  # a duplicate
                yield scrapy.Request("http://elsewhere.example/")  # offsite

            def parse(self, response):
                raise ValueError(f"no price on {response.url}")
    """)
    )
    with site(10) as url:
        result = run("runspider", str(spider), "-a", f"url={url}", cwd=tmp_path,
                     WORKBENCH_NO_UI="1")  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert re.search(r"spider broken finished \(finished\): 10 pages, 0 items", out), out
    assert re.search(
        r"workbench: 10 errors in 1 group; the most frequent: "
        r"ValueError: no price on <url> at broken\.py:\d+ in parse \(×10\)",
        out,
    ), out
    assert "workbench: never downloaded: 1 duplicate, 1 offsite" in out, out
