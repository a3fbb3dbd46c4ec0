"""Shared fixtures: one asyncio loop per session carries the Twisted reactor.

The asyncio reactor binds to the first loop it is installed on and cannot be
reinstalled, so every test that runs a crawl in-process uses the session loop
(see ``asyncio_default_*_loop_scope`` in pyproject.toml).  The reactor's
thread pool is stopped at the end, or pytest would hang after passing.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

import pytest
from scrapy.settings import Settings

os.environ.setdefault("TZ", "UTC")
time.tzset()
# the user's remembered theme and own theme files stay out of the tests (and
# the tests' choices out of the user's config); subprocesses inherit this
os.environ["WORKBENCH_CONFIG_DIR"] = tempfile.mkdtemp(prefix="workbench-config-")
# the runs the crawls keep (workbench runs) likewise
os.environ["WORKBENCH_STATE_DIR"] = tempfile.mkdtemp(prefix="workbench-state-")


# The longest tests (by nodeid prefix), longest first, run before all others. xdist's
# load scheduling hands tests out in collection order, alternating between the
# workers: a long test that came last would leave the other core idle for its whole
# length at the end of the run (the 20 closes alone are over a minute).  The heap
# summaries come early too: they walk every object of the worker, which grows with
# each test it has run.
LONGEST_FIRST = (
    "tests/test_terminal_loss.py::test_demo_crawl_ends_with_its_feed_when_the_terminal_closes",
    "tests/test_terminal_loss.py::test_as_the_session_leader_it_gets_both_the_eof_and_the",
    "tests/test_refs_ui.py::test_refs_panel_flags_the_leaky_demo",
    "tests/test_hostile.py::test_no_payload_reaches_the_terminal_from_any_panel",
    "tests/test_screenshots.py::test_the_screenshots_script_shoots_every_panel",
    "tests/test_hostile_transport.py::test_the_app_runs_on_every_bad_field",
    "tests/test_benchmarks.py::test_attach_cost_benchmark",
    "tests/test_heap.py::",
    "tests/test_benchmarks.py::",
    "tests/test_queue.py::test_a_large_queue_pages_in_bounded_time",
    "tests/test_hostile_ui.py::test_a_har_with_brackets_everywhere",
    "tests/test_web.py::",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """LONGEST_FIRST first, then the slow tests, then the rest (the fast ones make
    a fine-grained tail that evens out the two workers); a stable sort otherwise."""

    def rank(item: pytest.Item) -> tuple[int, int]:
        for n, prefix in enumerate(LONGEST_FIRST):
            if item.nodeid.startswith(prefix):
                return n, 0
        return len(LONGEST_FIRST), 0 if item.get_closest_marker("slow") else 1

    items.sort(key=rank)


@pytest.fixture(scope="session")
async def reactor():
    from workbench.core.control.host import ensure_reactor, stop_reactor_threads

    ensure_reactor(Settings())
    from twisted.internet import reactor as twisted_reactor

    yield twisted_reactor
    stop_reactor_threads()


@pytest.fixture
async def demo_url(reactor):
    """A fresh demo site (40 products) served in-process on 127.0.0.1.

    Fresh per test: its flaky page answers 500 only the first time."""
    from workbench.demo.site import listen, url_of

    port = listen(pages=40, slow_delay=0.2)
    yield url_of(port)
    from scrapy.utils.defer import maybe_deferred_to_future

    await maybe_deferred_to_future(port.stopListening())


def demo_settings(**overrides) -> Settings:
    settings = Settings()
    settings.set("LOG_LEVEL", "INFO")
    settings.set("TELNETCONSOLE_ENABLED", False)
    for name, value in overrides.items():
        settings.set(name, value, priority="cmdline")
    return settings


@pytest.fixture
def quiet_pytest_logging():
    """pytest keeps every log record, and Scrapy's "Crawled (200)" records hold
    their response in ``args``: a true holder, but not the spider's leak."""
    handlers = [(h, h.level) for h in logging.getLogger().handlers]
    for handler, _ in handlers:
        handler.setLevel(logging.WARNING)
    yield
    for handler, level in handlers:
        handler.setLevel(level)


@contextlib.asynccontextmanager
async def _pace_site(pages: int):
    from scrapy.utils.defer import maybe_deferred_to_future

    from workbench.demo.site import build_site, listen, url_of

    site = build_site(pages=pages, slow_delay=0.05, review_latency=0.2, burst_length=0)
    port = listen(site=site)
    try:
        yield url_of(port), site.resource
    finally:
        await maybe_deferred_to_future(port.stopListening())


@pytest.fixture
async def pace_site(reactor):
    """A demo site whose reviews take 0.2 s and never burst."""
    async with _pace_site(30) as site:
        yield site


@pytest.fixture
async def small_pace_site(reactor):
    """``pace_site`` with 10 products, for a test that waits for the whole crawl: its
    reviews, one at a time at AutoThrottle's pace, take seconds, not half a minute."""
    async with _pace_site(10) as site:
        yield site


@pytest.fixture
def fake_ssh(tmp_path, monkeypatch):
    """``ssh`` on PATH is tests/fake_ssh.py (it runs the remote command here and
    forwards ports on 127.0.0.1); returns the log of its invocations."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    ssh = bin_dir / "ssh"
    fake = Path(__file__).with_name("fake_ssh.py")
    ssh.write_text(
        f"#!{sys.executable}\nimport runpy\nrunpy.run_path({str(fake)!r}, run_name='__main__')\n"
    )
    ssh.chmod(0o755)
    log = tmp_path / "ssh.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_SSH_LOG", str(log))
    return log
