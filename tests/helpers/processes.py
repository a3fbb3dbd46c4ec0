"""Running workbench and the demo site as a user does: subprocesses on 127.0.0.1,
a Scrapy project made with ``scrapy startproject``, one-line errors."""

from __future__ import annotations

import os
import re
import select
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager
from pathlib import Path

from workbench.remote.client import find_job
from workbench.remote.jobs import list_jobs

SITE_PAGES = 45  # products of the demo site that site_process() serves

REPO = Path(__file__).resolve().parents[2]
WORKBENCH = [sys.executable, "-m", "workbench.cli"]


def env() -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.lower().endswith("_proxy") and k != "SCRAPY_SETTINGS_MODULE"
    }
    clean["PYTHONPATH"] = str(REPO)
    return clean


def run(*args: str, cwd: Path | None = None, **extra) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*WORKBENCH, *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        env={**env(), **extra},
        timeout=120,
    )


@contextmanager
def site(pages: int = 30):
    """The demo site in a process of its own (site_process with ``pages``): its URL."""
    with site_process("--pages", str(pages)) as (_, url):
        yield url


QUIET_PROJECT = """
    ROBOTSTXT_OBEY = False
    TELNETCONSOLE_ENABLED = False
    DOWNLOAD_DELAY = 0
"""


def startproject(root: Path, spiders: dict[str, str], settings: str = QUIET_PROJECT) -> Path:
    """``scrapy startproject shop`` in ``root``, with these spider modules (name: text)
    and these lines added to its settings."""
    subprocess.run([sys.executable, "-m", "scrapy", "startproject", "shop", str(root)],
                   check=True, capture_output=True, env=env())  # fmt: skip
    path = root / "shop" / "settings.py"
    path.write_text(path.read_text() + textwrap.dedent(settings))
    for name, text in spiders.items():
        (root / "shop" / "spiders" / f"{name}.py").write_text(text)
    return root


def assert_one_line_error(result: subprocess.CompletedProcess[str], needle: str) -> None:
    assert result.returncode == 1, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert needle in lines[0], lines[0]


@contextmanager
def site_process(*args: str, stderr=subprocess.DEVNULL):
    """Start ``python -m workbench.demo.site``; yields (process, url)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.demo.site", "--pages", str(SITE_PAGES), *args],
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env=env(),
        cwd=REPO,
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        line = proc.stdout.readline().strip() if ready else ""
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", line), f"bad URL line: {line!r}"
        yield proc, line
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()


DEMO_SPIDER = REPO / "workbench" / "demo" / "spider.py"


def start_plain_crawl(tmp: Path, url: str, *, block_workbench: bool = False, settings=()):
    jobs_dir = tmp / "jobs"
    out = tmp / "items.jsonl"
    args = ["runspider", str(DEMO_SPIDER), "-a", f"url={url}", "-s", "DOWNLOAD_DELAY=0.05",
            "-s", f"REMOTE_CONTROL_JOBS_DIR={jobs_dir}", "-s", f"LOG_FILE={tmp / 'crawl.log'}",
            "-L", "INFO", "-O", str(out), *settings]  # fmt: skip
    # a crawl whose environment has no workbench: the agent falls back to a probe
    block = "sys.modules['workbench'] = None; " if block_workbench else ""
    code = (
        f"import sys; {block}from scrapy.cmdline import execute; execute(['scrapy', *sys.argv[1:]])"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        cwd=tmp, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not list_jobs(jobs_dir).jobs and time.monotonic() < deadline:
        assert proc.poll() is None, "the crawl exited before its RemoteControl server started"
        time.sleep(0.1)
    return find_job(jobs_dir, None), jobs_dir, proc, out
