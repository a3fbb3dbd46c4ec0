"""workbench fleet's core: the probe's answer checked, the poller (concurrent,
bounded, a slow or hostile crawl shown unreachable in time), Scrapyd's answers
(hostile ones refused or escaped, credentials in no message), the filter, the
JSON export."""

from __future__ import annotations

import argparse
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.helpers.fleet import FakeRemoteControl, reading
from workbench.commands.fleet import build_poller
from workbench.core.fleet.export import snapshot_to_json
from workbench.core.fleet.filter import FilterError, parse_fleet_filter
from workbench.core.fleet.model import FINISHED, PENDING, RUNNING, UNREACHABLE, FleetRow
from workbench.core.fleet.probe import ProbeError, read_probe
from workbench.core.fleet.scrapyd import (
    ScrapydError,
    ScrapydSource,
    list_node,
    log_path,
    parse_node,
    summarise_log,
)


def options(**kw) -> argparse.Namespace:
    base = dict(ssh=[], scrapyd=[], jobs_dir=None, remote_jobs_dir=None, no_local=False,
                interval=2.0, timeout=2.0, workers=4)  # fmt: skip
    base.update(kw)
    return argparse.Namespace(**base)


def ok(output: str) -> dict:
    return {"status": "ok", "output": output, "traceback": None, "elapsed_sec": 0.0}


# -- the probe's answer --------------------------------------------------------------


def test_a_reading_is_read_field_by_field():
    got = read_probe(ok(json.dumps(reading(pages=10, items=3, queue_key="demo:requests"))))
    assert (got.pages, got.items, got.state, got.queue_key) == (10, 3, "running", "demo:requests")


@pytest.mark.parametrize(
    "output",
    [
        "not json",
        "[1, 2]",
        json.dumps(reading(state="exploded")),
        json.dumps(reading(pages=-1)),
        json.dumps(reading(pages=True)),
        json.dumps(reading(items="12")),
        json.dumps(reading(time=float("inf"))).replace("Infinity", "1e999"),
        json.dumps(reading(rss=2**80)),
        json.dumps(reading(finish_reason=["a"])),
        "[" * 100_000,
    ],
    # ids of their own: the readings hold this process's pid and the time, and
    # pytest-xdist's workers must collect the same names
    ids=["text", "list", "state", "negative", "bool", "str", "inf", "huge", "reason", "deep"],
)
def test_a_hostile_reading_is_refused_with_a_line_that_shows_none_of_it(output):
    with pytest.raises(ProbeError) as caught:
        read_probe(ok(output))
    assert "exploded" not in str(caught.value) and len(str(caught.value)) < 100


def test_a_probe_that_failed_or_timed_out_says_so():
    with pytest.raises(ProbeError, match="in time"):
        read_probe({"status": "timeout"})
    with pytest.raises(ProbeError, match="could not run"):
        read_probe({"status": "error", "traceback": "\x1b[2J boom"})


# -- the poller ------------------------------------------------------------------------


def test_fifty_crawls_polled_concurrently_in_a_bounded_pool(tmp_path):
    jobs = tmp_path / "jobs"
    with FakeRemoteControl() as fake:
        for n in range(50):
            fake.job_file(jobs, n, ("sleep", 0.1))
        # a generous timeout: on a loaded machine a call can take a second (each one
        # reads /proc/net/tcp before it sends the token); what is tested is the pool
        poller, _ = build_poller(options(jobs_dir=jobs, workers=8, timeout=10.0))
        try:
            began = time.monotonic()
            snapshot = poller.poll_once()
            took = time.monotonic() - began
        finally:
            poller.close()
    assert len(snapshot.rows) == 50
    assert all(r.state == RUNNING and r.pages == 100 for r in snapshot.rows)
    assert fake.max_in_flight <= 8  # bounded
    assert fake.max_in_flight >= 3  # and concurrent: 50 x 100 ms one by one is 5 s
    assert took < 5.0, took


def test_a_crawl_that_does_not_answer_is_unreachable_in_time_and_not_asked_again(tmp_path):
    jobs = tmp_path / "jobs"
    with FakeRemoteControl() as fake:
        stuck = fake.job_file(jobs, 1, ("sleep", 4.0))
        fake.job_file(jobs, 2)
        fake.job_file(jobs, 3, ("raw", b"\x1b]0;pwned\x07 HTTP/9 garbage\r\n\r\n"))
        fake.job_file(jobs, 4, ("output", json.dumps(reading(state="\x1b[31mevil"))))
        poller, _ = build_poller(options(jobs_dir=jobs, timeout=1.0))
        try:
            began = time.monotonic()
            first = poller.poll_once()
            assert time.monotonic() - began < 2.5  # the stuck crawl held nothing up
            calls = fake.calls
            second = poller.poll_once()
        finally:
            poller.close()
    by_spider = {r.spider: r for r in first.rows}
    assert by_spider["spider2"].state == RUNNING
    assert by_spider["spider1"].state == UNREACHABLE
    assert "did not answer in 1 s" in by_spider["spider1"].reason
    assert by_spider["spider3"].state == UNREACHABLE
    assert "pwned" not in by_spider["spider3"].reason
    assert by_spider["spider4"].state == UNREACHABLE
    assert "evil" not in by_spider["spider4"].reason
    # the stuck crawl's call still runs: the next poll does not stack another on it
    assert fake.calls - calls == 3
    again = {r.spider: r for r in second.rows}
    assert "earlier poll" in again["spider1"].reason
    assert stuck not in json.dumps(snapshot_to_json(first))


def test_rates_come_from_the_readings_and_the_last_response_age_from_growth(tmp_path):
    jobs = tmp_path / "jobs"
    with FakeRemoteControl() as fake:
        token = fake.job_file(jobs, 1)
        poller, _ = build_poller(options(jobs_dir=jobs))
        try:
            now = time.time()
            fake.behaviour[token] = reading(pages=100, items=10, time=now, start_time=now - 60)
            first = poller.poll_once().rows[0]
            fake.behaviour[token] = reading(pages=160, items=40, time=now + 30, start_time=now - 60)
            second = poller.poll_once().rows[0]
            fake.behaviour[token] = reading(pages=160, items=40, time=now + 50, start_time=now - 60)
            third = poller.poll_once().rows[0]
        finally:
            poller.close()
    assert first.pages_per_min == pytest.approx(100.0)  # one reading: since the start
    assert first.last_response_age is None
    assert second.pages_per_min == pytest.approx(120.0)  # 60 pages in 30 s
    assert second.items_per_min == pytest.approx(60.0)
    assert second.last_response_age == pytest.approx(0.0)
    assert third.last_response_age == pytest.approx(20.0)
    assert third.uptime == pytest.approx(110.0)


def test_an_annotator_sets_the_shared_queue(tmp_path):
    jobs = tmp_path / "jobs"
    with FakeRemoteControl() as fake:
        fake.job_file(jobs, 1, reading(queue_key="demo:requests"))
        poller, _ = build_poller(options(jobs_dir=jobs))
        poller.annotators.append(
            lambda rows: [r.with_(queue_shared=f"redis {r.queue_key} 12") for r in rows]
        )
        try:
            row = poller.poll_once().rows[0]
        finally:
            poller.close()
    assert row.queue_shared == "redis demo:requests 12"


def test_a_job_directory_others_can_read_is_a_problem_not_a_crash(tmp_path):
    jobs = tmp_path / "jobs"
    jobs.mkdir(mode=0o755)
    jobs.chmod(0o755)
    poller, _ = build_poller(options(jobs_dir=jobs))
    try:
        snapshot = poller.poll_once()
    finally:
        poller.close()
    assert snapshot.rows == ()
    assert any("mode" in p for p in snapshot.sources[0].problems)


def test_an_ssh_host_that_fails_shows_unreachable_with_its_reason(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "ssh").write_text(
        "#!/bin/sh\necho 'ssh: connect to host box: refused' >&2\nexit 255\n"
    )
    (bin_dir / "ssh").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    poller, _ = build_poller(options(no_local=True, ssh=["box", "crawler@other"]))
    try:
        snapshot = poller.poll_once()
    finally:
        poller.close()
    assert [(r.host, r.state) for r in snapshot.rows] == [
        ("box", UNREACHABLE),
        ("crawler@other", UNREACHABLE),
    ]
    assert "refused" in snapshot.rows[0].reason


# -- Scrapyd ----------------------------------------------------------------------------


class FakeScrapyd:
    """An HTTP server answering Scrapyd's paths with whatever the test says."""

    def __init__(self, answers: dict[str, tuple[int, bytes]]) -> None:
        self.answers = answers
        self.headers: list[dict[str, str]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                fake.headers.append(dict(self.headers))
                path = self.path.split("?")[0]
                status, body = fake.answers.get(path, (404, b"{}"))
                if status == 0:
                    time.sleep(float(body))
                    status, body = 200, b"{}"
                self.send_response(status)
                if status in (301, 302):
                    self.send_header("Location", "http://127.0.0.2:1/elsewhere")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *args: None  # a client that gave up: no noise
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def jobs_answer(**states) -> bytes:
    return json.dumps(
        {"status": "ok", "pending": [], "running": [], "finished": [], **states}
    ).encode()


@pytest.fixture
def fake_scrapyd():
    servers = []

    def make(answers):
        base = {
            "/daemonstatus.json": (200, b'{"status": "ok", "pending": 0, "running": 0}'),
            "/listprojects.json": (200, b'{"status": "ok", "projects": ["shop"]}'),
            "/listjobs.json": (200, jobs_answer()),
        }
        server = FakeScrapyd({**base, **answers})
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.close()


def test_credentials_from_the_url_are_sent_and_never_shown(fake_scrapyd):
    server = fake_scrapyd({})
    node = parse_node(server.url.replace("http://", "http://al%40ice:p%3Ass@"))
    assert "p:ss" not in repr(node) and "p:ss" not in node.shown
    list_node(node, 2.0)
    import base64

    sent = server.headers[0]["Authorization"]
    assert base64.b64decode(sent.split()[1]).decode() == "al@ice:p:ss"


def test_credentials_from_netrc(tmp_path, fake_scrapyd):
    server = fake_scrapyd({})
    rc = tmp_path / "netrc"
    rc.write_text("machine 127.0.0.1 login bob password hunter2\n")
    rc.chmod(0o600)
    node = parse_node(server.url, netrc_file=str(rc))
    list_node(node, 2.0)
    assert server.headers[0]["Authorization"].startswith("Basic ")
    assert "hunter2" not in repr(node)


@pytest.mark.parametrize(
    ("answers", "needle"),
    [
        ({"/daemonstatus.json": (401, b"")}, "refused the credentials"),
        ({"/daemonstatus.json": (302, b"")}, "redirects"),
        ({"/daemonstatus.json": (500, b"\x1b[2Jboom")}, "HTTP 500"),
        ({"/daemonstatus.json": (200, b"\x1b[2J not json")}, "not JSON"),
        ({"/daemonstatus.json": (200, b"[1]")}, "not a JSON object"),
        ({"/listprojects.json": (200, b'{"projects": 3}')}, "no list of projects"),
        ({"/daemonstatus.json": (0, b"3")}, "did not answer"),
        (
            {"/listprojects.json": (200, b'{"status": "error", "message": "\\u001b[2J no"}')},
            "failed",
        ),
    ],
)
def test_a_hostile_or_broken_node_is_one_line_without_the_password(fake_scrapyd, answers, needle):
    server = fake_scrapyd(answers)
    node = parse_node(server.url.replace("http://", "http://u:topsecret@"))
    with pytest.raises(ScrapydError) as caught:
        list_node(node, 1.0)
    message = str(caught.value)
    assert needle in message and "topsecret" not in message
    assert "\n" not in message


def test_hostile_jobs_are_refused_or_kept_as_text(fake_scrapyd):
    evil_id = "\x1b]52;c;cHduZWQ=\x07job"
    answer = jobs_answer(
        running=[
            {"id": "ok1", "spider": "demo", "pid": 4242, "start_time": "2026-12-06 15:00:00.1"},
            {"id": "nopid", "spider": "demo", "pid": "4242"},
            {"id": 12, "spider": "demo", "pid": 1},
        ],
        pending=[{"id": "p" * 500, "spider": "demo"}, {"id": "p1", "spider": "[b]x[/b]"}],
        finished=[
            {"id": "f1", "spider": "demo", "log_url": "http://evil.example/steal",
             "start_time": "yesterday", "end_time": None},
            {"id": evil_id, "spider": "demo"},
        ],
    )  # fmt: skip
    server = fake_scrapyd({"/listjobs.json": (200, answer)})
    node = parse_node(server.url)
    listing = list_node(node, 2.0)
    ids = {(j.state, j.job_id) for j in listing.jobs}
    assert ("running", "ok1") in ids and ("pending", "p1") in ids
    assert not any(j.job_id in ("nopid", 12, "p" * 500) for j in listing.jobs)
    finished = {j.job_id: j for j in listing.jobs if j.state == FINISHED}
    assert finished["f1"].log_path is None  # another host's URL: never fetched
    assert finished["f1"].start_time is None
    assert len(listing.problems) == 3  # running, pending and finished each refused some


def test_log_paths_stay_on_the_node():
    node = parse_node("http://127.0.0.1:6800/scrapyd")
    assert log_path(node, "/scrapyd/logs/a/b/c.log") == "/logs/a/b/c.log"
    for bad in ("//evil/x", "http://evil/x", "/a b", "/a\r\nX: y", None, 3):
        assert log_path(node, bad) is None


def test_the_finish_reason_and_items_come_from_the_log_tail_never_evaluated():
    tail = (
        b"INFO: Dumping Scrapy stats:\n{'finish_reason': 'closespider_timeout',\n"
        b" 'item_scraped_count': 42,\n 'log_count/ERROR': 3,\n"
        b" 'x': __import__('os').system('touch /tmp/pwned')}\n"
    )
    summary = summarise_log(tail)
    assert (summary.finish_reason, summary.items, summary.errors) == ("closespider_timeout", 42, 3)


def test_a_scrapyd_source_lists_pending_and_finished_and_claims_the_running(fake_scrapyd):
    log = b"...\n{'finish_reason': 'finished',\n 'item_scraped_count': 7}\n"
    answer = jobs_answer(
        running=[{"id": "r1", "spider": "demo", "pid": 999999}],
        pending=[{"id": "p1", "spider": "demo"}],
        finished=[{"id": "f1", "spider": "demo", "log_url": "/logs/shop/demo/f1.log"}],
    )
    server = fake_scrapyd({"/listjobs.json": (200, answer), "/logs/shop/demo/f1.log": (200, log)})
    source = ScrapydSource(parse_node(server.url), "localhost")
    listing = source.list(2.0)
    assert [c.pid for c in listing.claims] == [999999]
    rows = {r.job_id: r for r in listing.rows}
    assert rows["p1"].state == PENDING
    assert (rows["f1"].reason, rows["f1"].items) == ("finished", 7)
    assert source.log(rows["f1"]).endswith("'item_scraped_count': 7}\n")
    assert any(h.get("Range") for h in server.headers)  # only the log's end is read


def test_a_running_scrapyd_job_without_a_job_file_says_why(fake_scrapyd, tmp_path):
    answer = jobs_answer(running=[{"id": "r1", "spider": "demo", "pid": 999999}])
    server = fake_scrapyd({"/listjobs.json": (200, answer)})
    poller, _ = build_poller(
        options(jobs_dir=tmp_path / "none", scrapyd=[server.url.replace("//", "//u:pw123@")])
    )
    try:
        snapshot = poller.poll_once()
    finally:
        poller.close()
    (row,) = snapshot.rows
    assert row.state == RUNNING and "no job file here for pid 999999" in row.reason
    assert "pw123" not in json.dumps(snapshot_to_json(snapshot))


def test_an_unreachable_node_is_a_row_with_the_reason():
    node_url = "http://u:pw123@127.0.0.1:9"  # discard: nothing listens
    poller, _ = build_poller(options(no_local=True, scrapyd=[node_url], timeout=1.0))
    try:
        snapshot = poller.poll_once()
    finally:
        poller.close()
    (row,) = snapshot.rows
    assert row.state == UNREACHABLE and row.host == "127.0.0.1:9"
    assert "cannot connect" in row.reason and "pw123" not in row.reason


def test_bad_scrapyd_urls_are_refused_without_repeating_them():
    for bad in ("ftp://u:pw@host", "http://u:pw@host:99999", "http://u:pw@host/?q=1"):
        with pytest.raises(ValueError) as caught:
            parse_node(bad)
        assert "pw" not in str(caught.value)


# -- the filter and the export ----------------------------------------------------------


def row(**kw) -> FleetRow:
    return FleetRow(**{"key": "k", "host": "box", "source": "ssh", "state": RUNNING, **kw})


def test_the_fleet_filter():
    rows = [
        row(key="a", spider="shop", errors=2, last_response_age=100.0),
        row(key="b", spider="news", host="localhost", last_response_age=1.0),
        row(key="c", spider="shop", state=FINISHED),
    ]

    def keys(expr):
        return [r.key for r in rows if parse_fleet_filter(expr)(r)]

    assert keys("") == ["a", "b", "c"]
    assert keys("~spider shop & !~state finished") == ["a"]
    assert keys("~e | ~host local") == ["a", "b"]
    assert keys("~stale 60") == ["a"]
    assert keys("news") == ["b"]
    for bad in ("~u x", "~spider (", "~stale soon", "(~e"):
        with pytest.raises(FilterError):
            parse_fleet_filter(bad)


def test_the_export_has_no_job_file_and_cleans_text():
    class Job:
        token = "tok-secret"

    snapshot_rows = (row(spider="\x1b[2Jevil", job=Job()),)
    from workbench.core.fleet.model import FleetSnapshot

    out = json.dumps(snapshot_to_json(FleetSnapshot(rows=snapshot_rows, polls=1)))
    assert "tok-secret" not in out and "\\x1b[2J" in json.loads(out)["crawls"][0]["spider"]


def test_the_command_refuses_bad_options(tmp_path):
    from tests.helpers.processes import run

    result = run("fleet", "--json", "--no-local")
    assert result.returncode == 1 and "nothing to poll" in result.stderr
    result = run("fleet", "--json", "--scrapyd", "ftp://u:pw9@x")
    assert result.returncode == 1 and "pw9" not in result.stderr
    result = run("fleet", "--json", "--filter", "~nope x")
    assert result.returncode == 1 and "unknown operator" in result.stderr


def test_json_prints_one_snapshot(tmp_path):
    from tests.helpers.processes import run

    jobs = tmp_path / "jobs"
    jobs.mkdir(mode=0o700)
    result = run("fleet", "--json", "--jobs-dir", str(jobs))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["crawls"] == [] and data["sources"][0]["ok"] is True
    assert Path(jobs).exists()


def test_a_node_url_from_the_environment(fake_scrapyd, monkeypatch, tmp_path):
    from workbench.commands.base import CliError

    server = fake_scrapyd({})
    monkeypatch.setenv("FLEET_NODE", server.url.replace("//", "//u:envpw42@"))
    poller, sources = build_poller(options(jobs_dir=tmp_path / "none", scrapyd=["env:FLEET_NODE"]))
    try:
        snapshot = poller.poll_once()
    finally:
        poller.close()
    assert sources[1].node.authorization and snapshot.sources[1].ok
    assert "envpw42" not in json.dumps(snapshot_to_json(snapshot))
    with pytest.raises(CliError, match="no environment variable 'NOPE_NODE'"):
        build_poller(options(scrapyd=["env:NOPE_NODE"]))


def test_a_forward_that_opens_after_the_fleet_closed_is_closed_at_once():
    from workbench.core.fleet.local import Prober, ProbeTarget

    opening, release, closed = threading.Event(), threading.Event(), []

    def connect(target, timeout):
        opening.set()
        release.wait(5)
        return object(), lambda: closed.append(target.key)

    prober = Prober(connect, 1.0)
    target = ProbeTarget("ssh:box:1", "box", "box", "ssh", job=None, ssh_host="box")
    errors = []
    thread = threading.Thread(target=lambda: errors.append(_raises(prober.probe, target)))
    thread.start()
    opening.wait(5)
    prober.close()  # the fleet leaves while ssh is still opening the forward
    release.set()
    thread.join(5)
    assert closed == ["ssh:box:1"] and errors == [True]


def _raises(call, *args) -> bool:
    try:
        call(*args)
    except RuntimeError:
        return True
    return False
