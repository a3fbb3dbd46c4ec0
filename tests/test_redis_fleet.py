"""End to end: three scrapy-redis workers (plain ``scrapy runspider`` of
workbench/demo/redis_spider.py, RemoteControl on) share one queue in a real
redis-server to crawl the demo site.  ``workbench fleet --json --redis`` shows
the three with their rates and Redis connections; the Redis view sees the queue
drain; one worker stopped with SIGTERM leaves the fleet and the others finish;
the items in ``demo:items`` are exactly the sum of the workers' own feeds, each
product once: nothing lost, nothing doubled."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.processes import REPO, WORKBENCH, env, site_process
from tests.helpers.redis_server import redis_server
from workbench.demo.spider import expected_item_count
from workbench.remote.jobs import list_jobs

pytestmark = pytest.mark.slow  # a redis-server, a site and three crawl processes

PAGES = 150
SPIDER = REPO / "workbench" / "demo" / "redis_spider.py"


def start_worker(tmp: Path, n: int, url: str, redis_url: str, *extra: str) -> subprocess.Popen:
    args = [sys.executable, "-m", "scrapy", "runspider", str(SPIDER), "-a", f"url={url}",
            "-s", f"REDIS_URL={redis_url}", "-s", f"REMOTE_CONTROL_JOBS_DIR={tmp / 'jobs'}",
            "-s", "MAX_IDLE_TIME_BEFORE_CLOSE=3", "-s", "TELNETCONSOLE_ENABLED=False",
            "-s", f"LOG_FILE={tmp / f'worker{n}.log'}", "-L", "INFO",
            "-O", str(tmp / f"items{n}.jsonl"), *extra]  # fmt: skip
    return subprocess.Popen(args, cwd=tmp, env=env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip


def fleet_json(tmp: Path, redis_url: str) -> dict:
    result = subprocess.run(
        [*WORKBENCH, "fleet", "--json", "--jobs-dir", str(tmp / "jobs"),
         "--redis", redis_url, "--spider", "demo"],
        capture_output=True, text=True, cwd=REPO, env=env(), timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = predicate()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def stop(procs: list[subprocess.Popen]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)


def test_three_workers_share_one_queue_and_the_items_add_up(tmp_path):
    from workbench.core.fleet.redis_watch import RedisWatch

    with redis_server() as server, site_process("--pages", str(PAGES)) as (_, url):
        procs = [start_worker(tmp_path, n, url, server.url) for n in range(3)]
        try:
            wait_for(lambda: len(list_jobs(tmp_path / "jobs").jobs) == 3, 60, "three job files")
            watch = RedisWatch(server.url, "demo")
            sizes = []

            def busy():
                view = watch.poll()
                sizes.append(view.reading.queue_size)
                return view.reading.queue_size > 0 and view.reading.dupefilter_size > 20

            wait_for(busy, 60, "requests in the shared queue")
            snapshot = fleet_json(tmp_path, server.url)
            text = json.dumps(snapshot)
            assert server.password not in text
            crawls = [c for c in snapshot["crawls"] if c["state"] == "running"]
            assert len(crawls) == 3, snapshot["crawls"]
            assert all(c["queue_shared"].startswith("redis demo:requests") for c in crawls)
            assert all(c["scheduler"] == "scrapy_redis.scheduler.Scheduler" for c in crawls)
            assert all(c["pages_per_min"] is not None for c in crawls)
            redis = snapshot["redis"]
            assert redis["url"] == f"redis://:***@127.0.0.1:{server.port}/0"
            assert redis["queue_type"] in ("priority", "none")  # none: empty at that moment
            workers = redis["workers"]
            assert sorted(w["pid"] for w in workers) == sorted(p.pid for p in procs)
            assert all(w["redis_clients"] and w["persist"] is True for w in workers)
            assert not {w["code"] for w in redis["warnings"]} & {"mixed", "persist"}

            # one worker stopped (SIGTERM: it finishes what it holds and leaves)
            victim = procs[0]
            wait_for(lambda: watch.poll().reading.items_size > 10, 60, "items pushed")
            victim.send_signal(signal.SIGTERM)
            assert victim.wait(60) == 0
            after = fleet_json(tmp_path, server.url)
            live = {c["pid"] for c in after["crawls"] if c["state"] == "running"}
            assert victim.pid not in live

            def drained():
                view = watch.poll()
                sizes.append(view.reading.queue_size)
                return all(p.poll() is not None for p in procs[1:])

            wait_for(drained, 120, "the other workers to finish")
            assert [p.returncode for p in procs] == [0, 0, 0]
            assert max(sizes) > 0 and sizes[-1] == 0  # the queue filled, then drained

            client = server.client()
            pushed = [json.loads(x) for x in client.lrange("demo:items", 0, -1)]
            feeds = [
                [
                    json.loads(line)
                    for line in (tmp_path / f"items{n}.jsonl").read_text().splitlines()
                ]
                for n in range(3)
            ]
            counts = [len(f) for f in feeds]
            assert len(pushed) == sum(counts), counts  # what each worker scraped, in Redis
            urls = [item["url"] for item in pushed]
            assert len(set(urls)) == len(urls)  # nothing doubled
            assert len(urls) == expected_item_count(PAGES)  # nothing lost
            assert sum(1 for c in counts if c) >= 2, counts  # the crawl was shared
        finally:
            stop(procs)


def test_scheduler_persist_false_is_warned_with_the_workers_pids(tmp_path):
    with redis_server() as server, site_process("--pages", "60") as (_, url):
        extra = ("-s", "SCHEDULER_PERSIST=False", "-s", "DOWNLOAD_DELAY=0.3")
        procs = [start_worker(tmp_path, n, url, server.url, *extra) for n in range(2)]
        try:
            wait_for(lambda: len(list_jobs(tmp_path / "jobs").jobs) == 2, 60, "two job files")

            def warned():
                snapshot = fleet_json(tmp_path, server.url)
                found = {w["code"]: w for w in snapshot["redis"]["warnings"]}
                return found.get("persist")

            warning = wait_for(warned, 60, "the SCHEDULER_PERSIST warning")
            assert "2 of 2 workers" in warning["evidence"][0]
            assert "demo:requests" in warning["evidence"][1]
        finally:
            stop(procs)


def test_redis_stats_collector_needs_the_typed_workaround_on_scrapy_219(tmp_path):
    """scrapy-redis's RedisStatsCollector hands back text: on Scrapy 2.19 the
    RemoteControl /status answers 500 (start_time.timestamp() of a str) and the
    fleet cannot read the crawl's counts. With docs/redis.md's
    TypedRedisStatsCollector the worker is a fleet row like any other, the view
    reads the shared stats hash, and the worker closes without an error."""
    from workbench.remote.client import RemoteControlClient

    typed = "tests.helpers.redis_stats.TypedRedisStatsCollector"
    with redis_server() as server, site_process("--pages", "80") as (_, url):
        proc = start_worker(tmp_path, 0, url, server.url, "-s", f"STATS_CLASS={typed}")
        try:
            jobs = wait_for(lambda: list_jobs(tmp_path / "jobs").jobs, 60, "the job file")
            assert RemoteControlClient(jobs[0]).status()["spider"] == "demo"

            def counted():
                snapshot = fleet_json(tmp_path, server.url)
                crawls = [c for c in snapshot["crawls"] if c["state"] == "running"]
                return crawls and crawls[0]["pages"] and snapshot

            snapshot = wait_for(counted, 60, "a running row with its pages")
            redis = snapshot["redis"]
            assert redis["stats"]["scheduler/enqueued/redis"].isdigit()
            assert redis["rates_per_min"]["from"] == "the shared stats hash"
            assert proc.wait(120) == 0
        finally:
            stop([proc])
        log = (tmp_path / "worker0.log").read_text()
        assert "ERROR" not in log, log[-2000:]


def test_fleet_redis_errors_are_one_line_without_the_password():
    from tests.helpers.processes import assert_one_line_error, run

    result = run("fleet", "--json", "--redis", "http://:hunter2@127.0.0.1:1/", "--spider", "d")
    assert_one_line_error(result, "--redis takes a redis:// URL")
    assert "hunter2" not in result.stderr + result.stdout
    assert_one_line_error(run("fleet", "--json", "--spider", "demo"), "--redis URL")
    # an unreachable Redis is a reading that says so, not a failure of the fleet
    result = run("fleet", "--json", "--no-local", "--scrapyd", "http://127.0.0.1:1",
                 "--redis", "redis://:hunter2@127.0.0.1:1/0", "--spider", "demo")  # fmt: skip
    assert result.returncode == 0, result.stderr
    redis = json.loads(result.stdout)["redis"]
    assert redis["ok"] is False and "Connection refused" in redis["error"]
    assert "hunter2" not in result.stdout + result.stderr
