"""`workbench attach --shell`: a Python shell inside a real `scrapy runspider` elsewhere."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.processes import SITE_PAGES, WORKBENCH, env, run, site_process
from tests.ptyrun import PtyProcess
from workbench.demo.spider import expected_item_count
from workbench.remote.client import RemoteControlClient, RemoteError, find_job
from workbench.remote.jobs import JobFileError, list_jobs
from workbench.remote.repl import RemoteShell

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

REPO = Path(__file__).resolve().parents[1]
SPIDER = REPO / "workbench" / "demo" / "spider.py"


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    """A plain `scrapy runspider` of the demo site (paced), with its job dir: (job, out)."""
    tmp = tmp_path_factory.mktemp("attach")
    jobs_dir = tmp / "jobs"
    out = tmp / "items.jsonl"
    with site_process() as (_, url):
        proc = subprocess.Popen(
            [sys.executable, "-m", "scrapy", "runspider", str(SPIDER), "-a", f"url={url}",
             "-a", "api=0", "-s", "DOWNLOAD_DELAY=0.3", "-s", f"REMOTE_CONTROL_JOBS_DIR={jobs_dir}",
             "-L", "WARNING", "-O", str(out)],
            cwd=tmp, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while not list_jobs(jobs_dir).jobs and time.monotonic() < deadline:
                time.sleep(0.1)
            yield find_job(jobs_dir, None), jobs_dir, proc, out
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(60)


def test_shell_round_trip_in_the_crawl(crawl):
    job, _, proc, _ = crawl
    client = RemoteControlClient(job)
    assert client.status()["pid"] == proc.pid
    assert "token" not in repr(client) and job.token not in repr(client) + repr(job)
    shell = RemoteShell(client, timeout=10)
    assert shell.run("crawler.spider.name") == "'demo'\n"
    assert shell.run("x = 41") == ""
    assert shell.run("x + 1") == "42\n"  # names persist between entries
    assert shell.run("_ * 2") == "84\n"
    assert shell.run("import asyncio\nawait asyncio.sleep(0.05)\n'awaited'") == "'awaited'\n"
    assert shell.run("for i in range(2):\n    print('row', i)") == "row 0\nrow 1\n"
    out = shell.run("1/0")
    assert out.startswith('Traceback (most recent call last):\n  File "<remote>", line 1')
    assert out.rstrip().endswith("ZeroDivisionError: division by zero")
    assert "SyntaxError" in shell.run("def (")
    # the crawl's output is untrusted: escape sequences arrive as visible text
    assert shell.run("print('\\x1b]0;PWNED\\x07 title')") == "\\x1b]0;PWNED\\x07 title\n"
    assert "TimeoutError" in RemoteShell(client, timeout=0.5).run("await asyncio.sleep(5)")
    # completion from the remote namespace, and attributes by getattr
    assert "crawler" in shell.completions("cra")
    assert "engine" in shell.completions("crawler.eng")
    assert "x" in shell.completions("")
    # pause and resume the crawl from the shell
    assert shell.run("crawler.engine.pause(); crawler.engine.paused") == "True\n"
    assert shell.run("crawler.engine.unpause(); crawler.engine.paused") == "False\n"


def test_a_wrong_token_is_refused(crawl):
    job, _, _, _ = crawl
    wrong = RemoteControlClient(dataclasses.replace(job, token="not-the-token"))
    with pytest.raises(RemoteError, match="refused the token") as info:
        wrong.status()
    assert "not-the-token" not in str(info.value)


def test_attach_shell_in_a_terminal_then_the_crawl_finishes(crawl):
    job, jobs_dir, proc, out = crawl
    term = PtyProcess(
        [*WORKBENCH, "attach", "--shell", "--jobs-dir", str(jobs_dir), str(job.pid)],
        cwd=str(jobs_dir.parent),
        env={**env(), "XDG_STATE_HOME": str(jobs_dir.parent / "state")},
    )
    try:
        term.expect(r"Remote shell on demo \(pid \d+", timeout=30)
        term.expect(r"In \[1\]:", timeout=10)
        term.send("len(crawler.spider.name)\r")
        term.expect(r"\n4\r?\n", timeout=20)
        term.expect(r"In \[2\]:", timeout=10)
        term.send("\x04")  # Ctrl-D
        term.expect("the crawl goes on", timeout=10)
        assert term.wait(20) == 0
        assert job.token not in term.text
    finally:
        term.close()
    assert proc.wait(120) == 0  # detaching left it as it was: it finishes with every item
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(items) == expected_item_count(SITE_PAGES)
    history = jobs_dir.parent / "state" / "workbench" / "remote_shell_history"
    assert "len(crawler.spider.name)" in history.read_text()


def test_attach_errors_are_one_line(tmp_path):
    result = run("attach", "--shell", "--jobs-dir", str(tmp_path / "none"))
    assert result.returncode == 1 and "no running Scrapy crawl found" in result.stderr
    result = run("attach", "--shell", "--timeout", "0")
    assert result.returncode == 1 and "--timeout must be positive" in result.stderr
    with pytest.raises(JobFileError, match="no running crawl matches '123'"):
        find_job(tmp_path, "123")
