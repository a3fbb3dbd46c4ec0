"""The scrapy-redis queue model against a real redis-server (127.0.0.1, a password):
keys, sizes, the head peeked without popping, hostile entries refused, the
password never shown, the warnings with their evidence."""

from __future__ import annotations

import json
import os
import pickle
import time

import pytest

from tests.helpers.redis_server import redis_server
from workbench.core.fleet.model import LOCAL, RUNNING, FleetRow
from workbench.core.fleet.redis_history import QueueHistory
from workbench.core.fleet.redis_queue import (
    FIFO,
    LIFO,
    PRIORITY,
    RedisKeys,
    RedisQueueReader,
    domain_counts,
    redact_url,
)
from workbench.core.fleet.redis_watch import RedisWatch
from workbench.core.fleet.redis_workers import read_report
from workbench.core.fleet.unpickle import Refused, decode_entry, safe_loads


@pytest.fixture(scope="module")
def server():
    with redis_server() as srv:
        yield srv


@pytest.fixture
def db(server):
    client = server.client()
    client.flushdb()
    yield client
    client.flushdb()


class Spider:
    name = "shop"

    def parse_item(self, response):  # pragma: no cover - named only
        pass


def push(queue_cls, client, urls, **kwargs):
    from scrapy import Request
    from scrapy.spiders import Spider as ScrapySpider

    class Shop(ScrapySpider):
        name = "shop"

        def parse_item(self, response):  # pragma: no cover - named only
            pass

    spider = Shop()
    queue = queue_cls(client, spider, "%(spider)s:requests", **kwargs)
    for n, url in enumerate(urls):
        queue.push(Request(url, priority=n, callback=spider.parse_item, meta={"page": n}))
    return queue


def test_keys_follow_scrapy_redis_names_and_overrides():
    keys = RedisKeys.for_spider("shop")
    assert (keys.queue, keys.dupefilter, keys.start_urls, keys.items, keys.stats) == (
        "shop:requests", "shop:dupefilter", "shop:start_urls", "shop:items", "shop:stats",
    )  # fmt: skip
    custom = RedisKeys.for_spider("shop", queue="q:%(spider)s", start_urls="in:%(name)s")
    assert (custom.queue, custom.start_urls) == ("q:shop", "in:shop")


def test_the_password_is_never_shown():
    url = "redis://:s3cr%40t@127.0.0.1:6379/2"
    assert redact_url(url) == "redis://:***@127.0.0.1:6379/2"
    assert "s3cr" not in repr(RedisQueueReader(url, RedisKeys.for_spider("x")))
    assert redact_url("redis://user:pw@host:1/0") == "redis://user:***@host:1/0"
    assert redact_url("redis://127.0.0.1:6379") == "redis://127.0.0.1:6379"


def test_a_wrong_password_is_an_error_without_the_password(server):
    url = server.url.replace(server.password, "not-the-password")
    reading = RedisQueueReader(url, RedisKeys.for_spider("shop")).read()
    assert not reading.ok
    assert "not-the-password" not in reading.error
    assert "***" in reading.error


def test_priority_queue_sizes_and_head_without_popping(server, db):
    from scrapy_redis.queue import PriorityQueue

    push(PriorityQueue, db, [f"http://a.test/{n}" for n in range(5)] + ["http://b.test/x"])
    db.sadd("shop:dupefilter", "f1", "f2", "f3")
    db.rpush("shop:items", "{}", "{}")
    db.lpush("shop:start_urls", json.dumps({"url": "http://a.test/"}))
    reader = RedisQueueReader(server.url, RedisKeys.for_spider("shop"))
    reading = reader.read()
    assert reading.ok, reading.error
    assert (reading.queue_type, reading.queue_size) == (PRIORITY, 6)
    assert (reading.dupefilter_size, reading.items_size, reading.start_urls_size) == (3, 2, 1)
    page = reader.peek(0, 2)
    assert page.total == 6
    assert [e.url for e in page.entries] == ["http://b.test/x", "http://a.test/4"]  # highest first
    first = page.entries[0]
    assert (first.priority, first.method, first.callback, first.meta_keys, first.format) == (
        5, "GET", "parse_item", ("page",), "pickle",
    )  # fmt: skip
    assert [e.position for e in reader.peek(2, 2).entries] == [2, 3]
    assert db.zcard("shop:requests") == 6  # nothing popped
    assert dict(domain_counts(reader.sample())) == {"a.test": 5, "b.test": 1}


@pytest.mark.parametrize("kind", [FIFO, LIFO])
def test_list_queues_read_from_the_end_they_pop(server, db, kind):
    from scrapy_redis.queue import FifoQueue, LifoQueue

    queue_cls = FifoQueue if kind == FIFO else LifoQueue
    queue = push(queue_cls, db, [f"http://a.test/{n}" for n in range(4)])
    reader = RedisQueueReader(
        server.url,
        RedisKeys.for_spider("shop"),
        queue_class=f"scrapy_redis.queue.{queue_cls.__name__}",
    )
    assert reader.read().queue_type == kind
    head = reader.peek(0, 2).entries
    assert head[0].url == queue.pop().url  # what the worker would take next
    assert db.llen("shop:requests") == 3


def test_json_serializer_entries(server, db):
    from scrapy_redis.queue import PriorityQueue

    class JsonBytes:  # a serializer as a project writes one: bytes as text
        @staticmethod
        def dumps(obj):
            return json.dumps(obj, default=lambda b: b.decode("latin-1"))

        @staticmethod
        def loads(text):
            return json.loads(text)

    push(PriorityQueue, db, ["http://j.test/1"], serializer=JsonBytes)
    reader = RedisQueueReader(server.url, RedisKeys.for_spider("shop"), serializer="json")
    (entry,) = reader.peek().entries
    assert (entry.url, entry.format, entry.refused) == ("http://j.test/1", "json", None)


class Boom:
    def __reduce__(self):
        return (os.system, ("touch /tmp/workbench-pwned",))


class Evil:
    def __reduce__(self):
        return (eval, ("__import__('os').getpid()",))


@pytest.mark.parametrize("payload", [Boom(), Evil(), {"url": "http://x/", "meta": {"o": Boom()}}])
@pytest.mark.parametrize("protocol", [0, 2, 5])
def test_hostile_pickles_are_refused_never_run(tmp_path, payload, protocol):
    data = pickle.dumps(payload, protocol=protocol)
    with pytest.raises(Refused, match="names"):
        safe_loads(data)
    assert not os.path.exists("/tmp/workbench-pwned")


def test_plain_pickles_load_in_every_protocol():
    value = {"url": "http://x/", "body": b"\x00\xff", "headers": {b"A": [b"b"]}, "s": {1, 2},
             "t": (1.5, None, True), "f": frozenset({"a"})}  # fmt: skip
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert safe_loads(pickle.dumps(value, protocol=protocol)) == value


def test_broken_and_huge_entries_are_refused():
    with pytest.raises(Refused):
        safe_loads(b"\x80\x05garbage")
    with pytest.raises(Refused, match="over"):
        decode_entry(b"\x80" + b"x" * (2 * 1024 * 1024))
    deep: list = []
    for _ in range(100):
        deep = [deep]
    with pytest.raises(Refused, match="deep"):
        safe_loads(pickle.dumps(deep))


def test_a_hostile_entry_in_the_queue_shows_its_refusal(server, db):
    db.zadd("shop:requests", {pickle.dumps(Boom()): 0, b"\x80\x05not": 1, b"plain text": 2})
    entries = RedisQueueReader(server.url, RedisKeys.for_spider("shop")).peek().entries
    assert len(entries) == 3
    assert all(e.refused for e in entries)
    assert "posix.system" in entries[0].refused or "os.system" in entries[0].refused
    assert not os.path.exists("/tmp/workbench-pwned")


def test_history_rates_from_the_stats_hash_and_estimated(server, db):
    reader = RedisQueueReader(server.url, RedisKeys.for_spider("shop"))
    history = QueueHistory()
    db.hset("shop:stats", mapping={"scheduler/enqueued/redis": 10, "scheduler/dequeued/redis": 4})
    first = reader.read()
    history.add(first)
    db.hset("shop:stats", mapping={"scheduler/enqueued/redis": 40, "scheduler/dequeued/redis": 34})
    second = reader.read()
    object.__setattr__(second, "taken_at", first.taken_at + 30)
    history.add(second)
    rates = history.rates()
    assert (
        rates.exact and rates.enqueued == pytest.approx(60) and rates.dequeued == pytest.approx(60)
    )


def row(pid, state=RUNNING, **kw):
    return FleetRow(key=f"local:{pid}", host="localhost", source=LOCAL, state=state, pid=pid,
                    spider="shop", **kw)  # fmt: skip


def report(
    pid, *, persist=True, version="2.19.0", deq=0, enq=0, settings=None, key="shop:requests"
):
    data = {"pid": pid, "scrapy_version": version, "spider": "shop",
            "scheduler": "scrapy_redis.scheduler.Scheduler",
            "queue_class": "scrapy_redis.queue.PriorityQueue", "queue_key": key,
            "dupefilter_key": "shop:dupefilter", "persist": persist, "serializer": None,
            "stats_class": "scrapy.statscollectors.MemoryStatsCollector",
            "redis": {"host": "127.0.0.1", "port": 1, "db": 0}, "client_addrs": [],
            "enqueued": enq, "dequeued": deq, "filtered": 0, "items": 0,
            "settings": settings or {"CONCURRENT_REQUESTS": 16, "LOG_FILE": str(pid)}}  # fmt: skip
    return {"status": "ok", "output": json.dumps(data)}


def test_warnings_persist_and_mixed_settings(server, db):
    answers = {
        1: report(1, persist=False),
        2: report(2, version="2.13.0", settings={"CONCURRENT_REQUESTS": 2}),
        3: report(3, key="other:requests"),
    }
    watch = RedisWatch(server.url, "shop", execute=lambda r, code, t: answers[r.pid])
    rows = [row(1), row(2), row(3, queue_key=None)]
    view = watch.poll(rows)
    codes = {w.code: w for w in view.warnings}
    assert "persist" in codes
    assert "pid 1 (1 of 3" in codes["persist"].evidence[0]
    mixed = " ".join(codes["mixed"].evidence)
    assert "2.13.0 on pid 2" in mixed and "CONCURRENT_REQUESTS" in mixed
    assert "LOG_FILE" not in mixed  # differs per process on purpose
    assert "other:requests" in mixed


def test_a_wiped_queue_and_idle_workers_are_warned(server, db):
    watch = RedisWatch(server.url, "shop")
    db.zadd("shop:requests", {b"x": 0})
    db.sadd("shop:dupefilter", *[f"f{n}" for n in range(20)])
    watch.poll([row(1, in_flight=0), row(2, in_flight=0)])
    # worker 1 closes with SCHEDULER_PERSIST False; worker 2 adds one before the next poll
    db.delete("shop:requests", "shop:dupefilter")
    db.sadd("shop:dupefilter", "new")
    view = watch.poll([row(2, in_flight=0)])
    wiped = [w for w in view.warnings if w.code == "wiped"]
    assert wiped and "20 fingerprints to 1" in wiped[0].evidence[0]
    assert "pid 1 left the fleet then" in wiped[0].evidence[1]
    # empty for longer than EMPTY_FOR: shift the history back in time
    for reading, _, _ in watch.history.readings:
        object.__setattr__(reading, "taken_at", reading.taken_at - 60)
    view = watch.poll([row(2, in_flight=0)])
    assert "idle" in {w.code for w in view.warnings}


def test_the_annotator_marks_rows_on_the_queue(server, db):
    db.zadd("shop:requests", {b"a": 0, b"b": 1})
    watch = RedisWatch(server.url, "shop")
    other = FleetRow(key="x", host="h", source=LOCAL, state=RUNNING, spider="other")
    # the same spider's name with Scrapy's own scheduler: another crawl (workbench demo)
    own = row(3, scheduler="scrapy.core.scheduler.Scheduler")
    out = watch([row(1), row(2, queue_key="shop:requests"), other, own])
    assert out[3].queue_shared is None
    assert out[0].queue_shared == out[1].queue_shared == "redis shop:requests 2"
    assert out[2].queue_shared is None


def test_reports_are_checked_field_by_field():
    good = read_report(report(7))
    assert good.uses_redis and good.persist and good.pid == 7
    bad = report(7)
    bad["output"] = bad["output"].replace('"pid": 7', '"pid": "7"')
    with pytest.raises(ValueError):
        read_report(bad)
    with pytest.raises(ValueError):
        read_report({"status": "ok", "output": "[1]"})


def test_clients_are_matched_to_local_processes_through_proc(server, db):
    from workbench.core.fleet.redis_workers import pids_by_address

    mine = server.client()
    mine.ping()
    reading = RedisQueueReader(server.url, RedisKeys.for_spider("shop")).read()
    addrs = [c.addr for c in reading.clients]
    found = pids_by_address(addrs, {os.getpid()})
    assert found and set(found.values()) == {os.getpid()}
    time.sleep(0)  # the clients stay connected until here


def test_a_scrapy_redis_scheduler_says_where_its_queue_is_never_the_password(server):
    """What the Queue panel says of a scrapy-redis crawl, locally (core) and
    attached as a probe (the agent's own copy): the key, host, port and db."""
    import redis
    from scrapy.spiders import Spider as ScrapySpider
    from scrapy_redis.scheduler import Scheduler

    from workbench.core.fleet.redis_workers import shared_queue_note
    from workbench.remote.agent import _shared_queue

    class Shop(ScrapySpider):
        name = "shop"

    scheduler = Scheduler(redis.Redis.from_url(server.url), persist=True)
    scheduler.df = object()  # no dupefilter needed to open the queue
    scheduler.open(Shop())
    for note in (shared_queue_note(scheduler), _shared_queue(scheduler)):
        assert note is not None
        assert f"shop:requests at 127.0.0.1:{server.port}/0" in note
        assert "--spider shop" in note
        assert server.password not in note
    assert "SCHEDULER_PERSIST True" in shared_queue_note(scheduler)
    assert shared_queue_note(object()) is None and _shared_queue(None) is None


def test_reports_in_full_once_then_counters_and_a_stuck_worker_is_bounded(server, db):
    from workbench.core.fleet.redis_workers import COUNTERS_CODE, REPORT_CODE

    asked = []

    def execute(r, code, timeout):
        asked.append((r.pid, code))
        if r.pid == 9:
            time.sleep(3)  # a crawl whose loop does not answer (past the deadline)
        return report(r.pid, deq=len(asked))

    watch = RedisWatch(server.url, "shop", execute=execute, timeout=0.3)
    rows = [row(1), row(2), row(9)]
    started = time.monotonic()
    view = watch.poll(rows)
    assert time.monotonic() - started < 2.5  # bounded: 2 x timeout + 1 s
    by_pid = {w.pid: w for w in view.workers}
    assert by_pid[1].report and by_pid[2].report
    assert by_pid[9].report is None and "in time" in by_pid[9].report_error
    asked.clear()
    view = watch.poll(rows[:2])
    assert {code for _, code in asked} == {COUNTERS_CODE}
    assert all(w.report and w.report.persist for w in view.workers)  # kept from the full one
    assert REPORT_CODE != COUNTERS_CODE
    watch.close()


def test_the_docs_show_the_stats_workaround_the_tests_run():
    from tests.helpers.processes import REPO

    helper = (REPO / "tests" / "helpers" / "redis_stats.py").read_text()
    import textwrap

    code = helper.split("# --- the code docs/redis.md shows, from here to the end ---\n")[1]
    docs = (REPO / "docs" / "redis.md").read_text()
    blocks = [textwrap.dedent(b.split("```")[0]) for b in docs.split("```python\n")[1:]]
    assert code.strip() in [b.strip() for b in blocks]


def test_fleet_redis_options_refuse_bad_input_without_the_password(server, db, monkeypatch):
    import argparse

    from workbench.commands.base import CliError
    from workbench.commands.fleet_redis import add_redis_arguments, build_watch

    parser = argparse.ArgumentParser()
    add_redis_arguments(parser)
    parser.add_argument("--timeout", type=float, default=1.0)

    def watch_for(*argv):
        return build_watch(parser.parse_args(list(argv)))

    assert watch_for() is None
    for argv, needle in [
        (("--spider", "shop"), "--redis URL"),
        (("--redis", server.url), "--spider"),
        (("--redis", "http://:hunter2@127.0.0.1/", "--spider", "shop"), "redis://"),
        (("--redis", server.url, "--spider", "shop", "--redis-key", "nope=x"), "KIND=KEY"),
        (("--redis", "env:WB_NOT_SET", "--spider", "shop"), "not set"),
    ]:
        with pytest.raises(CliError) as caught:
            watch_for(*argv)
        assert needle in str(caught.value)
        assert "hunter2" not in str(caught.value) and server.password not in str(caught.value)
    monkeypatch.setenv("WB_REDIS", server.url)
    watch = watch_for("--redis", "env:WB_REDIS", "--spider", "shop", "--redis-key",
                      "queue=q:%(spider)s")  # fmt: skip
    assert watch.keys.queue == "q:shop" and watch.poll().reading.ok
    watch.close()


def test_a_dupefilter_kept_from_the_last_run_is_warned(server, db):
    db.sadd("shop:dupefilter", *[f"f{n}" for n in range(30)])
    answer = json.loads(report(1)["output"])
    answer.update(enqueued=0, dequeued=0, filtered=0)  # scrapy-redis counts no filtered
    watch = RedisWatch(
        server.url, "shop", execute=lambda r, c, t: {"status": "ok", "output": json.dumps(answer)}
    )
    watch.poll([row(1)])
    assert "stale" not in {w.code for w in watch.poll([row(1)]).warnings}  # not at once
    for reading, _, _ in watch.history.readings:
        object.__setattr__(reading, "taken_at", reading.taken_at - 10)
    view = watch.poll([row(1)])
    stale = [w for w in view.warnings if w.code == "stale"]
    assert stale and "pid 1 queued and took nothing" in stale[0].evidence[0]
    assert "redis-cli del shop:dupefilter" in stale[0].evidence[2]
    db.zadd("shop:requests", {b"x": 0})  # something queued: no warning
    assert "stale" not in {w.code for w in watch.poll([row(1)]).warnings}


def test_the_report_cuts_passwords_in_the_crawl():
    """REPORT_CODE as the crawl runs it: URL credentials and *PASS*/*TOKEN*
    settings are cut before the answer leaves the crawl."""
    import contextlib
    import io
    from types import SimpleNamespace

    from scrapy.settings import Settings

    from workbench.core.fleet.redis_workers import REPORT_CODE

    settings = Settings()
    settings.setdict(
        {
            "REDIS_URL": "redis://:hunter2@127.0.0.1:6379/0",
            "FTP_PASSWORD": "hunter3",
            "API_TOKEN": "hunter4",
            "FEEDS": {"s3://key:hunter5@bucket/items.jsonl": {"format": "jsonl"}},
            "CONCURRENT_REQUESTS": 4,
        },
        priority="cmdline",
    )
    crawler = SimpleNamespace(settings=settings, stats=None, spider=None)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(REPORT_CODE, {"crawler": crawler, "print": print})
    text = out.getvalue()
    for secret in ("hunter2", "hunter3", "hunter4", "hunter5"):
        assert secret not in text
    got = read_report({"status": "ok", "output": text})
    settings_seen = dict(got.settings)
    assert settings_seen["CONCURRENT_REQUESTS"] == "4"
    assert settings_seen["REDIS_URL"] == "redis://***@127.0.0.1:6379/0"


def test_one_poll_has_rates_since_the_workers_started(server, db):
    watch = RedisWatch(server.url, "shop", execute=lambda r, c, t: report(r.pid, enq=60, deq=30))
    view = watch.poll([row(1, uptime=60.0), row(2, uptime=30.0)])
    assert view.counters == "the workers' counters"
    assert view.rates.enqueued == pytest.approx(60 + 120)
    assert view.rates.dequeued == pytest.approx(30 + 60)


def test_a_worker_that_takes_nothing_while_requests_wait_is_named(server, db):
    from workbench.core.fleet.redis_history import QueueHistory
    from workbench.core.fleet.redis_warnings import stuck_worker
    from workbench.core.fleet.redis_watch import WorkerRow

    keys = RedisKeys.for_spider("shop")
    db.zadd("shop:requests", {f"r{n}".encode(): n for n in range(40)})
    history = QueueHistory()
    history.add(RedisQueueReader(server.url, keys).read())
    busy = WorkerRow(1, "localhost", "a", RUNNING, report=read_report(report(1, deq=90)),
                     span=30.0, dequeued_growth=45)  # fmt: skip
    stuck = WorkerRow(2, "localhost", "b", RUNNING, report=read_report(report(2, deq=3, enq=50)),
                      span=30.0, dequeued_growth=0)  # fmt: skip
    warning = stuck_worker(keys, history, [busy, stuck])
    assert warning is not None and len(warning.evidence) == 2
    assert warning.evidence[0].startswith("pid 2 (running): took nothing from shop:requests")
    assert "40 requests wait" in warning.evidence[1]
    young = WorkerRow(3, "localhost", "c", RUNNING, report=read_report(report(3)), span=5.0,
                      dequeued_growth=0)  # fmt: skip
    assert stuck_worker(keys, history, [busy, young]) is None  # not watched long enough
