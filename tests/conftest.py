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
import tempfile
import time

import pytest
from scrapy.settings import Settings

os.environ.setdefault("TZ", "UTC")
time.tzset()
# the user's remembered theme and own theme files stay out of the tests (and
# the tests' choices out of the user's config); subprocesses inherit this
os.environ["WORKBENCH_CONFIG_DIR"] = tempfile.mkdtemp(prefix="workbench-config-")


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
