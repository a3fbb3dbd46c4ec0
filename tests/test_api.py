"""The workbench from a script (workbench/api.py): Scrapy's "Run Scrapy from a
script" examples, changed by one line, open the app on their crawls; the async
form on the script's own loop; the recorder without the UI, attached later."""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.helpers.processes import REPO, env, site_process
from tests.ptyrun import PtyProcess
from workbench.remote.client import RemoteControlClient, find_job
from workbench.remote.jobs import list_jobs
from workbench.remote.source import RemoteSource

pytestmark = pytest.mark.slow  # scripts in subprocesses and ptys

# Scrapy 2.19's docs, "Running multiple spiders in the same process", as printed
# (the spiders' definitions filled in below, as a reader does)
SCRAPY_DOCS_SCRIPT = """\
import scrapy
from scrapy.crawler import AsyncCrawlerProcess
from scrapy.utils.project import get_project_settings


class MySpider1(scrapy.Spider):
    # Your first spider definition
    ...


class MySpider2(scrapy.Spider):
    # Your second spider definition
    ...


settings = get_project_settings()
process = AsyncCrawlerProcess(settings)
process.crawl(MySpider1)
process.crawl(MySpider2)
process.start()  # the script will block here until all crawling jobs are finished
"""

FIRST = """\
    name = "first"
    start_urls = [os.environ["SITE"]]

    def parse(self, response):
        for href in response.css("a::attr(href)").getall()[:6]:
            yield response.follow(href, self.parse_page)

    def parse_page(self, response):
        yield {"url": response.url}
"""

SECOND = """\
    name = "second"
    start_urls = [os.environ["SITE"] + "catalogue/page-1.html"]

    def parse(self, response):
        yield {"title": response.css("title::text").get()}
"""

AFTER = '\nprint("the script goes on", flush=True)\n'


ONE_LINE = "from workbench import AsyncCrawlerProcess"


def changed_by_one_line(text: str = SCRAPY_DOCS_SCRIPT) -> str:
    return text.replace("from scrapy.crawler import AsyncCrawlerProcess", ONE_LINE)


def docs_script(one_line: bool = True) -> str:
    text = changed_by_one_line() if one_line else SCRAPY_DOCS_SCRIPT
    text = text.replace("    # Your first spider definition\n    ...\n", FIRST)
    text = text.replace("    # Your second spider definition\n    ...\n", SECOND)
    return "import os\n" + text + AFTER


@pytest.fixture(scope="module")
def site_url():
    with site_process() as (_, url):
        yield url


def write(tmp_path: Path, text: str, name: str = "script.py") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run_script(path: Path, url: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(path)],
        capture_output=True,
        text=True,
        cwd=path.parent,
        env={**env(), "SITE": url, **extra},
        timeout=120,
    )


def in_terminal(path: Path, url: str) -> PtyProcess:
    return PtyProcess([sys.executable, str(path)], cwd=str(path.parent),
                      env={**env(), "SITE": url})  # fmt: skip


def test_the_docs_script_changed_by_one_line_opens_the_workbench(tmp_path, site_url):
    diff = difflib.ndiff(SCRAPY_DOCS_SCRIPT.splitlines(), changed_by_one_line().splitlines())
    assert [line for line in diff if line[:2] in ("- ", "+ ")] == [
        "- from scrapy.crawler import AsyncCrawlerProcess",
        f"+ {ONE_LINE}",
    ]
    text = docs_script()
    term = in_terminal(write(tmp_path, text), site_url)
    try:
        # both crawlers in one app: the status line lists each with its pages
        term.expect(r"■ finished\s+\[all\]\s+first ■ 6p 4i second ■ 1p 1i", timeout=90)
        assert "Flows" in term.text and "catalogue/page-1.html" in term.text
        term.send("q")
        assert term.wait(60) == 0, term.text[-2000:]
    finally:
        term.close()
    tail = term.text[term.text.rindex("workbench: spider") :]
    assert "spider first + second finished" in tail and "7 pages, 5 items" in tail
    assert "the script goes on" in tail  # the script's code after the crawl ran
    assert "Traceback" not in term.text


def test_run_with_scrapys_own_process_and_a_breakpoint(tmp_path, site_url):
    text = docs_script(one_line=False).replace(
        "process.start()", "import workbench\nworkbench.run(process, breakpoints=['~u catalogue'])"
    )
    term = in_terminal(write(tmp_path, text), site_url)
    try:
        term.expect(r"❚❚ Breakpoint", timeout=90)  # the app paused the crawl
        term.expect(r"❚❚ paused", timeout=30)
        for _ in range(6):  # continue: each crawler's catalogue page stops it
            term.send("c")
            try:
                term.expect(r"■ finished\s+\[all\]", timeout=10)
                break
            except AssertionError:
                continue
        term.expect(r"■ finished\s+\[all\]", timeout=30)
        term.send("q")
        assert term.wait(60) == 0, term.text[-2000:]
    finally:
        term.close()
    assert "the script goes on" in term.text
    assert "7 pages, 5 items" in term.text


RUNNER_REACT = f"""\
import os

import scrapy
import workbench
from scrapy.crawler import AsyncCrawlerRunner
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.log import configure_logging
from scrapy.utils.reactor import install_reactor
from twisted.internet.task import react


class MySpider1(scrapy.Spider):
{FIRST}

class MySpider2(scrapy.Spider):
{SECOND}

async def crawl(_):
    configure_logging({{"LOG_FORMAT": "%(levelname)s: %(message)s"}})
    runner = AsyncCrawlerRunner()
    runner.crawl(MySpider1)
    runner.crawl(MySpider2)
    status = await workbench.run_async(runner)  # was: await runner.join()
    print("the script goes on with status", status, flush=True)


install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
react(deferred_f_from_coro_f(crawl))
"""


def test_run_async_on_the_scripts_own_reactor_loop(tmp_path, site_url):
    term = in_terminal(write(tmp_path, RUNNER_REACT), site_url)
    try:
        term.expect(r"■ finished\s+\[all\]\s+first ■ 6p 4i second ■ 1p 1i", timeout=90)
        term.send("q")
        assert term.wait(60) == 0, term.text[-2000:]
    finally:
        term.close()
    assert "the script goes on with status 0" in term.text
    assert "Traceback" not in term.text  # react()'s own shutdown stops the reactor's threads


RUNNER_ASYNCIO = f"""\
import asyncio
import os

import scrapy
import workbench
from scrapy.crawler import AsyncCrawlerRunner
from scrapy.utils.log import configure_logging


class MySpider(scrapy.Spider):
{FIRST}

async def main():
    configure_logging({{"LOG_FORMAT": "%(levelname)s: %(message)s"}})
    runner = AsyncCrawlerRunner(settings={{"TWISTED_REACTOR_ENABLED": False}})
    runner.crawl(MySpider)
    status = await workbench.run_async(runner)
    print("the script goes on with status", status, flush=True)


asyncio.run(main())
"""


def test_run_async_without_a_reactor_under_asyncio_run(tmp_path, site_url):
    result = run_script(write(tmp_path, RUNNER_ASYNCIO), site_url, WORKBENCH_NO_UI="1")
    assert result.returncode == 0, result.stderr
    assert "workbench: spider first finished (finished): 6 pages, 4 items" in result.stdout
    assert "the script goes on with status 0" in result.stdout


def test_scrapys_deferred_crawler_process_and_the_one_line_alternative(tmp_path, site_url):
    """Scrapy's CrawlerProcess builds each crawl's components inside crawl(): the
    workbench's are added to them then (install_late)."""
    text = docs_script(one_line=False).replace("AsyncCrawlerProcess", "CrawlerProcess")
    text = text.replace("process.start()", "import workbench\nworkbench.run(process)")
    result = run_script(write(tmp_path, text), site_url, WORKBENCH_NO_UI="1")
    assert result.returncode == 0, result.stderr
    assert "first + second finished (finished): 7 pages, 5 items" in result.stdout
    assert "the script goes on" in result.stdout
    # or one line changed: workbench's CrawlerProcess, whose start() opens the app
    text = docs_script(one_line=False).replace(
        "from scrapy.crawler import AsyncCrawlerProcess", "from workbench import CrawlerProcess"
    )
    text = text.replace("AsyncCrawlerProcess(", "CrawlerProcess(")
    result = run_script(write(tmp_path, text, "again.py"), site_url, WORKBENCH_NO_UI="1")
    assert result.returncode == 0, result.stderr
    assert "first + second finished (finished): 7 pages, 5 items" in result.stdout
    assert "the script goes on" in result.stdout


def test_scrapys_deferred_crawler_process_with_a_breakpoint_in_the_app(tmp_path, site_url):
    text = docs_script(one_line=False).replace("AsyncCrawlerProcess", "CrawlerProcess")
    text = text.replace(
        "process.start()", "import workbench\nworkbench.run(process, breakpoints=['~u catalogue'])"
    )
    term = in_terminal(write(tmp_path, text), site_url)
    try:
        term.expect(r"❚❚ Breakpoint", timeout=90)
        for _ in range(6):
            term.send("c")
            try:
                term.expect(r"■ finished\s+\[all\]", timeout=10)
                break
            except AssertionError:
                continue
        term.expect(r"■ finished\s+\[all\]\s+first ■ 6p 4i second ■ 1p 1i", timeout=30)
        term.send("q")
        assert term.wait(60) == 0, term.text[-2000:]
    finally:
        term.close()
    assert "the script goes on" in term.text


def test_a_crawl_already_going_is_refused(tmp_path, site_url):
    text = RUNNER_ASYNCIO.replace(
        "    status = await workbench.run_async(runner)",
        "    await asyncio.sleep(0.3)\n    status = await workbench.run_async(runner)",
    )
    text = text.replace('[os.environ["SITE"]]', '[os.environ["SITE"] + "slow.html"]')
    assert "asyncio.sleep(0.3)" in text and "slow.html" in text  # on the wire meanwhile
    result = run_script(write(tmp_path, text), site_url, WORKBENCH_NO_UI="1")
    assert result.returncode == 1
    assert "ScriptError: the crawl of first has started already" in result.stderr


RECORDED = """\
import os
import sys

import scrapy
import workbench
from scrapy.crawler import AsyncCrawlerProcess


class Slow(scrapy.Spider):
    name = "slow"
    start_urls = [os.environ["SITE"]]
    custom_settings = {{"DOWNLOAD_DELAY": 0.4}}

    def parse(self, response):
        self.logger.info("parsed %s", response.url)
        for href in response.css("a::attr(href)").getall():
            yield response.follow(href)


process = AsyncCrawlerProcess(settings={settings})
{record}process.crawl(Slow)
process.start()
"""


def recorded_crawl(tmp_path: Path, url: str, settings: dict, record: bool, deferred: bool):
    jobs = tmp_path / "jobs"
    settings = {**settings, "REMOTE_CONTROL_JOBS_DIR": str(jobs), "LOG_LEVEL": "INFO"}
    text = RECORDED.format(settings=repr(settings),
                           record="workbench.record(process)\n" if record else "")  # fmt: skip
    if deferred:
        text = text.replace("AsyncCrawlerProcess", "CrawlerProcess")
        text = text.replace("workbench.record(process)\nprocess.crawl(Slow)\n",
                            "process.crawl(Slow)\nworkbench.record(process)\n")  # fmt: skip
        assert "process.crawl(Slow)\nworkbench.record(process)" in text
    proc = subprocess.Popen([sys.executable, str(write(tmp_path, text))], cwd=tmp_path,
                            env={**env(), "SITE": url}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    deadline = time.monotonic() + 30
    while not list_jobs(jobs).jobs and time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        time.sleep(0.1)
    return proc, find_job(jobs, None)


def wait(predicate, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


@pytest.mark.parametrize("how", ["record", "addon", "record-deferred"])
def test_recorded_without_the_ui_then_attached_sees_it_from_the_start(tmp_path, site_url, how):
    settings = {"ADDONS": {"workbench.RecordingAddon": 0}} if how == "addon" else {}
    deferred = how == "record-deferred"  # Scrapy's CrawlerProcess: record() after crawl()
    proc, job = recorded_crawl(tmp_path, site_url, settings, record=how != "addon",
                               deferred=deferred)  # fmt: skip
    try:
        time.sleep(2.0)  # the crawl goes on a while before anyone attaches
        source = RemoteSource(RemoteControlClient(job))
        hello = source.attach()
        assert hello["mode"] == "full" and hello["existing"]  # the recorder was there
        try:
            wait(lambda: source.poll_once() or source.snapshot().flows_total >= 4)
            flows = source.flows_since(0)
            # the first flows, from before the attach: the recorder kept them
            assert flows[0].id == 1 and flows[0].url == site_url
            assert flows[0].time < hello["installed_at"]
            assert all(f.spider == "slow" for f in flows)
            lines = [r.message for r in source.log_since(0)]
            assert any(m.startswith(f"parsed {site_url}") for m in lines), lines[:20]
        finally:
            source.close()
    finally:
        proc.terminate()
        proc.wait(60)
        if proc.stderr:
            stderr = proc.stderr.read()
            proc.stderr.close()
    # Scrapy's own log still went to the terminal: the recorder only added a copy
    assert "parsed " in stderr


def python_blocks(markdown: str) -> list[str]:
    return [textwrap.dedent(b) for b in re.findall(r"```python\n(.*?)```", markdown, re.S)]


def test_the_scripts_in_the_docs_run_as_written(tmp_path):
    """Every ``python`` block of docs/scripts.md and of the README's section is a whole
    script; its spiders have no start URL, so each crawl ends at once (offline)."""
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## From a script or an IDE") :]
    section = section[: section.index("\n## ", 4)]
    blocks = python_blocks(section) + python_blocks((REPO / "docs" / "scripts.md").read_text())
    assert len(blocks) >= 4
    terminal, keys = os.openpty()  # breakpoints want a terminal for their shell
    for n, block in enumerate(blocks):
        path = write(tmp_path, block, f"example_{n}.py")
        result = subprocess.run([sys.executable, str(path)], capture_output=True, text=True,
                                cwd=tmp_path, env={**env(), "WORKBENCH_NO_UI": "1"},
                                stdin=keys, timeout=120)  # fmt: skip
        assert result.returncode == 0, f"block {n}:\n{block}\n{result.stderr[-3000:]}"
        assert "Traceback" not in result.stderr, f"block {n}:\n{result.stderr[-3000:]}"
    os.close(terminal)
    os.close(keys)


INSPECTING = """\
import os

import scrapy
from scrapy.shell import inspect_response
from workbench import AsyncCrawlerProcess


class Look(scrapy.Spider):
    name = "look"
    start_urls = [os.environ["SITE"] + "catalogue/page-1.html"]

    def parse(self, response):
        inspect_response(response, self)
        yield {"url": response.url}


process = AsyncCrawlerProcess()
process.crawl(Look)
process.start()
print("the script goes on", process.exit_status, flush=True)
"""


def test_inspect_response_in_a_scripts_spider_opens_the_workbench_shell(tmp_path, site_url):
    """The script imported Scrapy's inspect_response by name before the workbench
    ran: it still opens the workbench's shell, on the crawl's response."""
    term = in_terminal(write(tmp_path, INSPECTING), site_url)
    try:
        term.expect(r"inspect_response\(\) called from parse\(\)", timeout=90)
        term.expect(r"In \[1\]:", timeout=30)
        term.send("response.status * 2\r")
        term.expect(r"Out\[1\]: 400", timeout=30)
        term.expect(r"In \[2\]: ", timeout=30)  # type at a prompt, as a person does
        time.sleep(0.5)
        term.send("\x04")  # Ctrl-D: back to the app, the callback goes on
        term.expect(r"■ finished", timeout=60)
        term.send("q")
        assert term.wait(60) == 0, term.text[-2000:]
    finally:
        term.close()
    assert "spider look finished (finished): 1 pages, 1 items" in term.text
    assert "the script goes on 0" in term.text
