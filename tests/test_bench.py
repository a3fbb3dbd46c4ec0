"""`workbench bench`: Scrapy's bench site on 127.0.0.1, the app on the Stats panel,
and the plain-Scrapy runner the benchmark compares it with."""

from __future__ import annotations

import subprocess
import sys

from tests.fakes import FakeSource
from tests.helpers.processes import env
from workbench.ui.app import WorkbenchApp


async def test_the_bench_site_is_scrapys_on_127_0_0_1(reactor):
    import urllib.request

    from scrapy.utils.defer import maybe_deferred_to_future
    from twisted.internet import threads

    from workbench.demo.bench import listen_bench

    url = listen_bench()
    assert url.startswith("http://127.0.0.1:")
    page = await maybe_deferred_to_future(
        threads.deferToThread(lambda: urllib.request.urlopen(f"{url}?total=50&show=20").read())
    )
    assert page.count(b"<a href='/follow?") == 20  # scrapy.utils.benchserver's own page


async def test_bench_opens_on_the_stats_panel():
    app = WorkbenchApp(FakeSource(), autostart=False, panel="stats")
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        assert app.tabs.active == "stats"
        assert app.visible_panel.id == "stats-panel"


def test_the_plain_scrapy_runner_crawls_the_same_benchmark(tmp_path):
    log = tmp_path / "plain.log"
    result = subprocess.run(
        [sys.executable, "-m", "workbench.demo.bench", "-s", "CLOSESPIDER_TIMEOUT=1",
         "-s", f"LOG_FILE={log}"],
        capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env(),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    text = log.read_text()
    assert "'finish_reason': 'closespider_timeout'" in text
    assert "Spider opened" in text and "'response_received_count':" in text


def test_the_bench_site_runs_in_a_process_of_its_own_as_scrapy_benchs():
    """scrapy bench serves its site from a subprocess, so the crawl has its
    process (and its core) to itself: workbench bench does the same."""
    import urllib.request

    from workbench.demo.bench import BenchServer

    server = BenchServer()
    with server as url:
        assert url.startswith("http://127.0.0.1:")
        assert server.proc is not None and server.proc.pid
        page = urllib.request.urlopen(f"{url}?total=50&show=20", timeout=10).read()
        assert page.count(b"<a href='/follow?") == 20
        proc = server.proc
    assert server.proc is None and proc.poll() is not None  # stopped with the with
