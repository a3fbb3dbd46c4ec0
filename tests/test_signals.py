"""Nothing lost when the app goes away: a signal, the terminal closing or an error
in the UI each stop the crawl gracefully (feeds closed) and restore the terminal.

Every crawl here is a real `workbench runspider` in a pseudo-terminal, on the
demo site on 127.0.0.1, writing a JSON feed: a feed that was not closed is not
valid JSON (no closing bracket), so `json.loads` is the check.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.helpers.processes import WORKBENCH, env, site
from tests.ptyrun import PtyProcess
from workbench.core.control.jobdir import inspect_job

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SPIDER = """
import asyncio
import scrapy

class SlowSpider(scrapy.Spider):
    name = "slow"
    custom_settings = {
        "CONCURRENT_REQUESTS": 1,
        "DOWNLOAD_DELAY": 0.2,
        "ITEM_PIPELINES": {"slow_spider.SlowClose": 100},
    }

    async def start(self):
        for n in range(1, 61):
            yield scrapy.Request(f"{self.url}product/{n}.html")

    def parse(self, response):
        yield {"url": response.url}


class SlowClose:
    # CLOSE_DELAY seconds of work when the spider closes: time for a second signal
    async def close_spider(self, spider):
        await asyncio.sleep(float(spider.settings.get("CLOSE_DELAY", 0)))
"""


@pytest.fixture
def crawl(tmp_path):
    """Start `workbench runspider` on the slow spider: (terminal, feed, log) once items flow."""
    (tmp_path / "slow_spider.py").write_text(textwrap.dedent(SPIDER))
    started = []

    def start(
        *extra: str, argv: list[str] | None = None, wait: bool = True
    ) -> tuple[PtyProcess, Path, Path]:
        out, log = tmp_path / "items.json", tmp_path / "crawl.log"
        term = PtyProcess(
            [*(argv or WORKBENCH), "runspider", "slow_spider.py", "-a", f"url={url}",
             "-O", str(out), "-s", f"LOG_FILE={log}", *extra],
            cwd=str(tmp_path),
            env={**env(), "PYTHONPATH": f"{tmp_path}{os.pathsep}{env()['PYTHONPATH']}"},
        )  # fmt: skip
        started.append(term)
        if wait:
            term.expect(r"items [1-9]", timeout=60)
        return term, out, log

    with site(60) as url:
        yield start
        for term in started:
            term.close()


def left_alternate_screen(raw: bytes) -> bool:
    return raw.rfind(b"\x1b[?1049l") > raw.rfind(b"\x1b[?1049h") >= 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_crawl_gracefully_and_restores_the_terminal(crawl, sig):
    term, out, log = crawl()
    term.proc.send_signal(sig)
    assert term.wait(60) == 0
    name = signal.Signals(sig).name
    term.expect(rf"{name} received; stopping the crawl gracefully")
    summary = term.expect(r"slow finished \(shutdown\): \d+ pages, (\d+) items")
    items = json.loads(out.read_text())  # the feed was closed
    assert 0 < len(items) < 60
    assert len(items) == int(summary.group(1))  # what the app counted is in the feed
    assert left_alternate_screen(bytes(term.raw))
    assert f"Received {name}" in log.read_text()


def test_the_terminal_closing_stops_the_crawl_gracefully(crawl):
    term, out, log = crawl()
    os.close(term.master)  # the terminal window closes: the kernel sends SIGHUP
    term.master = os.open(os.devnull, os.O_RDONLY)  # for close() at the end
    term.proc.wait(60)
    assert term.proc.returncode == 0, log.read_text()[-4000:]
    items = json.loads(out.read_text())
    assert 0 < len(items) < 60
    text = log.read_text()
    assert "Received SIGHUP" in text and "'finish_reason': 'shutdown'" in text
    assert f"'item_scraped_count': {len(items)}" in text


def test_the_terminal_closing_during_the_graceful_stop_does_not_force_it(crawl):
    term, out, log = crawl("-s", "CLOSE_DELAY=2")
    term.proc.send_signal(signal.SIGTERM)
    term.expect(r"stopping the crawl gracefully", timeout=30)
    os.close(term.master)  # the window is closed while the feeds are being closed
    term.master = os.open(os.devnull, os.O_RDONLY)
    assert term.proc.wait(60) == 0
    assert len(json.loads(out.read_text())) > 0
    assert "Forced" not in log.read_text()


def test_an_ignored_sighup_stays_ignored(crawl):
    """As under nohup (SIGHUP ignored when started), the crawl goes on after a SIGHUP."""
    ignore = "import os, signal, sys; signal.signal(signal.SIGHUP, signal.SIG_IGN); "
    ignore += "os.execv(sys.executable, [sys.executable, *sys.argv[1:]])"
    term, out, _ = crawl(argv=[sys.executable, "-c", ignore, *WORKBENCH[1:]])
    os.killpg(term.proc.pid, signal.SIGHUP)
    time.sleep(1.5)
    assert term.proc.poll() is None
    term.proc.send_signal(signal.SIGTERM)
    assert term.wait(60) == 0
    assert len(json.loads(out.read_text())) > 0


def test_a_second_signal_forces_the_stop(crawl):
    term, _, _ = crawl("-s", "CLOSE_DELAY=60")
    term.proc.send_signal(signal.SIGTERM)
    term.expect(r"stopping the crawl gracefully", timeout=30)
    time.sleep(0.5)
    term.proc.send_signal(signal.SIGTERM)
    assert term.wait(30) == 1
    term.expect(r"forced shutdown; feeds and JOBDIR may be incomplete")
    assert left_alternate_screen(bytes(term.raw))


BROKEN_UI = """
import sys
from workbench import cli
from workbench.ui.app import WorkbenchApp

refresh = WorkbenchApp.refresh_panels

def broken(self):
    if self.source.snapshot().items_scraped >= 3:
        raise RuntimeError("a bug in a panel, for the test")
    return refresh(self)

WorkbenchApp.refresh_panels = broken
sys.exit(cli.main(sys.argv[1:]))
"""


def test_an_error_in_the_interface_stops_the_crawl_gracefully(crawl, tmp_path):
    script = tmp_path / "broken_ui.py"
    script.write_text(BROKEN_UI)
    term, out, _ = crawl(argv=[sys.executable, str(script)], wait=False)
    assert term.wait(60) == 1
    term.expect(r"RuntimeError: a bug in a panel, for the test")
    text = term.text
    traceback_at = text.rfind("a bug in a panel")
    stopping_at = text.find("the interface failed (the traceback is above); stopping the crawl")
    assert 0 < traceback_at < stopping_at
    summary = term.expect(r"slow finished \(shutdown\): \d+ pages, (\d+) items")
    items = json.loads(out.read_text())
    assert len(items) == int(summary.group(1)) > 0
    assert left_alternate_screen(bytes(term.raw))


def test_a_job_stopped_by_a_signal_resumes_with_nothing_lost_or_repeated(crawl, tmp_path):
    """SIGTERM under workbench leaves JOBDIR consistent: plain Scrapy resumes the job
    and the two feeds together hold every page once."""
    jobdir = tmp_path / "job"
    term, out, _ = crawl("-s", f"JOBDIR={jobdir}")
    term.proc.send_signal(signal.SIGTERM)
    assert term.wait(60) == 0
    first = [item["url"] for item in json.loads(out.read_text())]
    assert 0 < len(first) < 60
    assert (jobdir / "requests.seen").exists() and (jobdir / "spider.state").exists()
    assert any((jobdir / "requests.queue").iterdir())  # the pending requests, on disk
    url = first[0].rsplit("/product/", 1)[0] + "/"
    resumed = tmp_path / "resumed.json"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "runspider", "slow_spider.py", "-a", f"url={url}",
         "-O", str(resumed), "-s", f"JOBDIR={jobdir}", "-s", "DOWNLOAD_DELAY=0",
         "-L", "INFO"],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
        env={**env(), "PYTHONPATH": f"{tmp_path}{os.pathsep}{env()['PYTHONPATH']}"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Resuming crawl" in result.stderr, result.stderr[-3000:]
    second = [item["url"] for item in json.loads(resumed.read_text())]
    assert not set(first) & set(second), "a page was crawled twice"
    assert sorted(first + second) == sorted(f"{url}product/{n}.html" for n in range(1, 61))


def test_resuming_under_workbench_says_what_was_restored(crawl, tmp_path):
    jobdir = tmp_path / "job"
    term, out, _ = crawl("-s", f"JOBDIR={jobdir}")
    term.proc.send_signal(signal.SIGTERM)
    assert term.wait(60) == 0
    first = len(json.loads(out.read_text()))
    assert not (jobdir / "workbench.run").exists()  # stopped cleanly: no marker left
    report = inspect_job(jobdir)
    assert report is not None and report.problem is None
    assert report.pending > 0 and report.seen > 0 and first > 0
    term, out, _ = crawl("-s", f"JOBDIR={jobdir}", wait=False)
    term.expect(r"resuming the job in .*: [\d,]+ requests on disk, [\d,]+ fingerprints seen",
                timeout=60)  # fmt: skip
    term.expect(r"JOBDIR", timeout=30)  # the app's notification
    term.expect(r"items [1-9]", timeout=60)
    term.proc.send_signal(signal.SIGTERM)
    assert term.wait(60) == 0


def test_a_demo_job_resumes_on_its_own_site(tmp_path):
    """The demo site keeps its port with the job: stopped half-way with X, the demo
    resumes where it was, on the same URLs, and fetches no page twice."""
    jobdir, first, second = tmp_path / "job", tmp_path / "first.json", tmp_path / "second.json"
    demo = [*WORKBENCH, "demo", "--pages", "60", "-s", f"JOBDIR={jobdir}"]
    term = PtyProcess([*demo, "-s", "DOWNLOAD_DELAY=0.1", "-O", str(first)],
                      cwd=str(tmp_path), env=env())  # fmt: skip
    try:
        term.expect(r"items [1-9]", timeout=60)
        term.send("X")  # a graceful stop, half-way
        term.expect(r"finished +demo +\(shutdown\)", timeout=60)
        term.send("q")
        assert term.wait(60) == 0
    finally:
        term.close()
    log = tmp_path / "second.log"
    result = subprocess.run(
        [*demo, "-O", str(second), "-s", f"LOG_FILE={log}"],
        cwd=tmp_path, env={**env(), "WORKBENCH_NO_UI": "1"}, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    assert "resuming the job in" in result.stderr
    text = log.read_text()
    assert "Resuming crawl" in text and "Connection was refused" not in text, text[-3000:]
    before = [item["url"] for item in json.loads(first.read_text())]
    after = [item["url"] for item in json.loads(second.read_text())]
    assert 0 < len(before) < 63 and after, (len(before), len(after))
    assert not set(before) & set(after), "a page was fetched twice"
    assert len(set(before + after)) == 63  # expected_item_count(60): every page, once
    assert "/product/" not in text.split("Resuming crawl", 1)[0]  # nothing before the resume


def test_a_killed_job_is_reported_before_resuming(crawl, tmp_path):
    jobdir = tmp_path / "job"
    term, _, _ = crawl("-s", f"JOBDIR={jobdir}")
    term.proc.send_signal(signal.SIGKILL)
    term.proc.wait(30)
    assert (jobdir / "workbench.run").exists()
    report = inspect_job(jobdir)
    assert report is not None and "did not stop cleanly" in report.problem
    term, _, _ = crawl("-s", f"JOBDIR={jobdir}", wait=False)
    term.expect(r"did not stop", timeout=60)
    term.expect(r"Resume it anyway\?", timeout=30)  # asked before the crawl starts
    time.sleep(0.5)
    term.send("n")
    assert term.wait(60) == 0
    assert (jobdir / "workbench.run").exists()  # still not resumed: still reported


def test_a_job_killed_under_plain_scrapy_is_detected(tmp_path):
    jobdir = tmp_path / "job"
    (jobdir / "requests.queue" / "127.0.0.1-x").mkdir(parents=True)
    (jobdir / "requests.seen").write_bytes(b"\x00\x14" + b"a" * 20 + b"\x00\x14" + b"b" * 20)
    report = inspect_job(jobdir)
    assert report.seen == 2 and "active.json is missing" in report.problem
    assert inspect_job(tmp_path / "new") is None
