"""Hostile input on the way out and in: curl export, the RemoteControl client,
job files, HAR files and the remote shell's history.

What a web page, a HAR file, a job file or whatever answers on a port says is
untrusted: it must not run commands when a curl export is pasted, hang or
crash `workbench attach`, reach the token, or turn into a traceback.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import tracemalloc
from pathlib import Path

import pytest
from scrapy import Request

from tests.helpers.factories import make_flow
from workbench.core.formats.har import save_har
from workbench.core.inspection.curl import CurlError, flow_to_curl
from workbench.core.inspection.rebuild import rebuild_request
from workbench.core.recording.records import Flow
from workbench.core.sources.har_file import HarError, HarSource
from workbench.remote import client as client_module
from workbench.remote.client import CrawlGone, RemoteControlClient, RemoteError
from workbench.remote.jobs import Job, JobFileError, list_jobs, parse_job, read_job
from workbench.remote.ssh import parse_listing

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


# -- curl export -------------------------------------------------------------------------

SHELL = "$(touch pwned-a) `touch pwned-b`; touch pwned-c & 'q' \"dq\" !! !x \\ ${Z,,} >pwned-d"
CONTROL = "\x1b]0;PWNED\x07 \x1b[31m red \n next \r\t \x9b31m \u202e \u2028 \ufeff \x7f"
HOSTILE_FLOWS = {
    "method": make_flow(method="X;Z=TOUCH;${Z,,} Q"),
    "method with controls": make_flow(method="GET\x1b[2J\x07\n$(touch pwned-m)\x9b\u202e"),
    "url": make_flow(url=f"http://127.0.0.1:8000/a?q={SHELL}{CONTROL}#!frag"),
    "header value": make_flow(request_headers=((b"X-Note", (SHELL.encode() + CONTROL.encode(),)),)),
    "header name": make_flow(
        request_headers=(("X-\x1b[1m;$(touch pwned-h)`id`'\u202e".encode(), (b"v",)),)
    ),
    "header not UTF-8": make_flow(request_headers=((b"X-Raw", (b"\xff\xfe'\x1b\xc2",)),)),
    "body": make_flow(method="POST", request_body=(SHELL + CONTROL + "é £ 😀").encode()),
    "printable only": make_flow(
        method="PUT",
        url="http://127.0.0.1:8000/p?a=1&b=$(x)",
        request_body=f"body {SHELL}".encode(),
        request_headers=((b"X-Shell", (SHELL.encode(),)), (b"Accept", (b"*/*",))),
    ),
}


def intended_argv(flow: Flow) -> list[bytes]:
    """What curl must receive: the request as Scrapy would send it (first header values)."""
    request = rebuild_request(flow)
    argv = [b"-X", request.method.encode(), request.url.encode()]
    if request.body:
        argv += [b"--data-raw", request.body]
    for name, values in request.headers.items():
        argv += [b"-H", name + b": " + values[0]]
    return argv


def bash_argv(command: str, cwd: Path, interactive: bool = False) -> list[bytes]:
    """The arguments bash gives ``curl`` for ``command`` (curl replaced by a function
    that writes its argv), run as ``bash -c``, or typed into an interactive bash
    (history expansion on: ``!!`` means something there)."""
    out = cwd / "argv.bin"
    define = "curl() { printf '%s\\0' \"$@\" > argv.bin; }"
    if interactive:
        subprocess.run(
            [BASH, "--norc", "--noprofile", "-i"],
            input=f"{define}\n{command}\nexit\n".encode(),
            cwd=cwd,
            capture_output=True,
            timeout=30,
            env={"PATH": "/usr/bin:/bin", "HOME": str(cwd.parent), "HISTFILE": os.devnull},
        )
    else:
        subprocess.run([BASH, "-c", f"{define}\n{command}"], cwd=cwd, check=True, timeout=30)
    data = out.read_bytes()
    out.unlink()
    assert data.endswith(b"\0")
    return data[:-1].split(b"\0")


def assert_one_printable_line(command: str) -> None:
    assert command.isprintable(), [c for c in command if not c.isprintable()]
    raw = command.encode("utf-8")
    assert not [b for b in raw if b < 0x20 or b == 0x7F]
    assert not [c for c in command if 0x7F <= ord(c) <= 0x9F]  # C1, 0x9b (CSI) among them


@needs_bash
@pytest.mark.parametrize("interactive", [False, True], ids=["bash -c", "pasted"])
@pytest.mark.parametrize("name", list(HOSTILE_FLOWS))
def test_curl_export_pastes_as_exactly_the_request(tmp_path, name, interactive):
    flow = HOSTILE_FLOWS[name]
    tmp_path = tmp_path / "cwd"
    tmp_path.mkdir()
    command = flow_to_curl(flow)
    assert command.startswith("curl -X ")
    assert_one_printable_line(command)
    assert bash_argv(command, tmp_path, interactive) == intended_argv(flow)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # nothing touched, nothing ran


def test_curl_export_round_trips_through_scrapy_where_it_can():
    """Printable requests (shell syntax included) read back with Scrapy's own parser;
    with control characters the command uses bash's $'...', which Python's shlex
    (Scrapy's parser) cannot read.  Scrapy also drops a body's leading "$" (it
    takes it for the $ of $'...'), so the body here does not start with one."""
    for name in ("method", "printable only"):
        flow = HOSTILE_FLOWS[name]
        command = flow_to_curl(flow)
        assert "$'" not in command
        request = rebuild_request(flow)
        again = Request.from_curl(command)
        assert (again.method, again.url, again.body) == (request.method, request.url, request.body)
        assert {k: v[0] for k, v in again.headers.items()} == {
            k: v[0] for k, v in request.headers.items()
        }
    assert Request.from_curl(flow_to_curl(HOSTILE_FLOWS["method"])).method == "X;Z=TOUCH;${Z,,} Q"


@pytest.mark.parametrize(
    ("flow", "message"),
    [
        (make_flow(method="POST", request_body=b"a\0b"), "body holds a NUL byte"),
        (make_flow(request_headers=((b"X-A", (b"a\0b",)),)), "header X-A holds a NUL byte"),
        (make_flow(url="-o://127.0.0.1/pwned"), "the URL starts with '-'"),
        (make_flow(request_headers=((b"@/etc/passwd", (b"x",)),)), "starts with '@'"),
    ],
)
def test_what_a_command_line_cannot_carry_is_refused(flow, message):
    with pytest.raises(CurlError, match=message):
        flow_to_curl(flow)


# -- the RemoteControl client: whatever answers on the port ------------------------------

TOKEN = "s3cret-token-value"
PWNED = b"\x1b]0;PWNED\x07 SSH-2.0-OpenSSH_9.2 \x9b31m not HTTP\r\n\r\n"
needs_proc = pytest.mark.skipif(
    not Path("/proc/net/tcp").exists(), reason="the listener check reads /proc (Linux)"
)


class FakeServer:
    """A TCP server on 127.0.0.1 in a thread of this process (so this process's pid
    owns the listening socket): it records what it receives and answers with
    ``reply(conn, stop)``."""

    def __init__(self, reply) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.sent = 0
        self.reply = reply
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                try:
                    self.received += conn.recv(65536)
                    self.reply(self, conn)
                except OSError:
                    pass

    def send(self, conn: socket.socket, data: bytes) -> None:
        conn.sendall(data)
        self.sent += len(data)

    def close(self) -> None:
        self.stop.set()
        self.sock.close()
        self.thread.join(10)

    def __enter__(self) -> FakeServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def garbage(server: FakeServer, conn: socket.socket) -> None:
    server.send(conn, PWNED)


def trickle(server: FakeServer, conn: socket.socket) -> None:
    for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 60:  # one byte a second
        server.send(conn, bytes([byte]))
        if server.stop.wait(1.0):
            return


def flood(server: FakeServer, conn: socket.socket) -> None:
    server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n")
    chunk = b"[" * (1024 * 1024)
    for _ in range(20):  # 20 MB, no Content-Length: until the connection closes
        server.send(conn, chunk)


def announced_flood(server: FakeServer, conn: socket.socket) -> None:
    server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: 20971520\r\n\r\n[")


def deep_json(server: FakeServer, conn: socket.socket) -> None:
    body = b"[" * 100_000 + b"]" * 100_000
    server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def ok(server: FakeServer, conn: socket.socket) -> None:
    body = b'{"ok": true}'
    server.send(conn, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body)


def make_job(tmp_path: Path, port: int, pid: int | None = None, **fields) -> Job:
    values = dict(
        path=tmp_path / f"{pid or os.getpid()}-abc.json", pid=pid or os.getpid(), port=port,
        spider="books", project=None, scrapy_version="2.19.0", start_time=None, token=TOKEN,
    )  # fmt: skip
    values.update(fields)
    return Job(**values)


def assert_one_clean_line(message: str) -> None:
    assert "\n" not in message and "\r" not in message
    assert "PWNED" not in message and "\x1b" not in message and "\x9b" not in message
    assert TOKEN not in message and "Traceback" not in message


def test_garbage_on_the_port_is_a_one_line_error(tmp_path):
    with FakeServer(garbage) as server:
        client = RemoteControlClient(make_job(tmp_path, server.port))
        with pytest.raises(RemoteError) as info:
            client.status()
    assert_one_clean_line(str(info.value))
    assert "does not speak HTTP as the crawl does (BadStatusLine)" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_a_trickle_ends_at_the_deadline(tmp_path):
    with FakeServer(trickle) as server:
        client = RemoteControlClient(make_job(tmp_path, server.port), timeout=2)
        started = time.monotonic()
        with pytest.raises(RemoteError, match=r"did not answer /status in 2 s"):
            client.status()
        assert time.monotonic() - started < 3.5  # the total, not 2 s per byte
        assert server.sent >= 2  # it was trickling


@pytest.mark.parametrize("reply", [flood, announced_flood], ids=["20 MB", "Content-Length"])
def test_an_answer_of_20_mb_is_refused(tmp_path, reply):
    with FakeServer(reply) as server:
        client = RemoteControlClient(make_job(tmp_path, server.port), timeout=20)
        tracemalloc.start()
        try:
            with pytest.raises(RemoteError, match=r"sent more than 16 MB for /status") as info:
                client.status()
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
    assert_one_clean_line(str(info.value))
    assert peak < 24 * 1024**2  # the answer kept, not 20 MB twice over


def test_json_nested_too_deep_is_not_an_answer(tmp_path):
    with FakeServer(deep_json) as server:
        client = RemoteControlClient(make_job(tmp_path, server.port))
        with pytest.raises(RemoteError, match="answer to /status is not JSON"):
            client.status()


LISTENER = """\
import socket, sys
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
while True:
    conn, _ = server.accept()
    with conn:
        data = conn.recv(65536)
        with open(sys.argv[1], "ab") as f:
            f.write(data or b"(connected, nothing sent)")
        body = b'{"ok": true}'
        conn.sendall(b"HTTP/1.1 200 OK\\r\\nContent-Length: %d\\r\\n\\r\\n" % len(body) + body)
"""


@pytest.fixture
def other_listener(tmp_path):
    """A process that listens on 127.0.0.1: (pid, port, the file of what it received)."""
    record = tmp_path / "received.bin"
    proc = subprocess.Popen(
        [sys.executable, "-c", LISTENER, str(record)], stdout=subprocess.PIPE, text=True
    )
    try:
        port = int(proc.stdout.readline())
        yield proc.pid, port, record
    finally:
        proc.kill()
        proc.wait(10)


@needs_proc
def test_the_token_goes_only_to_the_job_files_pid(tmp_path, other_listener):
    pid, port, record = other_listener
    # a job file whose pid (this test process) is not what listens on its port
    client = RemoteControlClient(make_job(tmp_path, port, pid=os.getpid()))
    with pytest.raises(RemoteError, match=r"refusing to send the token: what listens on port"):
        client.status()
    assert not record.exists()  # refused before connecting: no token, not even a connection
    # the same port with the listener's own pid: the token goes, the answer comes
    assert RemoteControlClient(make_job(tmp_path, port, pid=pid)).status() == {"ok": True}
    assert f"Authorization: Bearer {TOKEN}".encode() in record.read_bytes()


@needs_proc
def test_a_stale_pid_or_another_users_port_is_refused(tmp_path, other_listener, monkeypatch):
    pid, port, record = other_listener
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(30)
    with pytest.raises(CrawlGone, match=r"has ended; something else listens"):
        RemoteControlClient(make_job(tmp_path, port, pid=dead.pid)).status()
    me = os.getuid()
    monkeypatch.setattr(client_module.os, "getuid", lambda: me + 1)
    with pytest.raises(RemoteError, match=rf"port {port} is served by uid {me}, not by you"):
        RemoteControlClient(make_job(tmp_path, port, local=False)).status()
    # the listener's uid is "ours", but the job's pid is another user's process
    (listener,) = client_module.listeners(port)
    monkeypatch.setattr(client_module, "listeners", lambda port: [(me + 1, listener[1])])
    with pytest.raises(RemoteError, match=r"pid \d+ of the job file is not your process"):
        RemoteControlClient(make_job(tmp_path, port, pid=pid)).status()
    assert not record.exists()


@needs_proc
def test_through_a_tunnel_only_the_listeners_user_is_checked(tmp_path, other_listener):
    _, port, record = other_listener
    # an SSH forward: ssh (or its ControlMaster) listens, not the remote crawl's pid
    job = make_job(tmp_path, port, pid=os.getpid(), local=False)
    assert RemoteControlClient(job).status() == {"ok": True}
    assert record.exists()


def test_without_proc_the_pid_must_be_alive(tmp_path, monkeypatch):
    monkeypatch.setattr(client_module, "listeners", lambda port: None)  # macOS, the BSDs
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait(30)
    with FakeServer(ok) as server:
        assert RemoteControlClient(make_job(tmp_path, server.port)).status() == {"ok": True}
        with pytest.raises(CrawlGone):
            RemoteControlClient(make_job(tmp_path, server.port, pid=dead.pid)).status()


def test_nothing_listening_is_the_crawl_gone(tmp_path):
    with socket.create_server(("127.0.0.1", 0)) as sock:
        port = sock.getsockname()[1]
    with pytest.raises(CrawlGone, match="no longer answers"):
        RemoteControlClient(make_job(tmp_path, port)).status()


def test_a_token_with_cr_lf_is_never_sent_nor_shown(tmp_path):
    evil = "abc\r\nX-Evil: 1"
    with FakeServer(ok) as server:
        client = RemoteControlClient(make_job(tmp_path, server.port, token=evil))
        with pytest.raises(RemoteError, match="not one word of visible ASCII") as info:
            client.status()
        assert evil not in str(info.value) and "X-Evil" not in str(info.value)
        assert server.received == b""
    path = write_job_file(tmp_path / "jobs", "1-evil.json", token=evil)
    with pytest.raises(JobFileError, match="token is not one word") as info:
        read_job(path)
    assert "X-Evil" not in str(info.value) and "\n" not in str(info.value)


# -- the command line: one line, never a traceback ----------------------------------------

REPO = Path(__file__).resolve().parents[1]


def run_workbench(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["PYTHONPATH"] = str(REPO)
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True, text=True, cwd=cwd, env=env, timeout=120,
    )  # fmt: skip


def write_job_file(directory: Path, name: str, raw: str | None = None, **fields) -> Path:
    directory.mkdir(mode=0o700, exist_ok=True)
    content = {
        "version": 1, "pid": os.getpid(), "port": 40000, "token": TOKEN, "spider": "books",
        "project": "shop", "scrapy_version": "2.19.0", "start_time": 1_790_000_000.0, **fields,
    }  # fmt: skip
    path = directory / name
    path.write_text(raw if raw is not None else json.dumps(content))
    path.chmod(0o600)
    return path


@pytest.mark.parametrize(
    ("reply", "token", "needle"),
    [
        (garbage, TOKEN, "does not speak HTTP as the crawl does"),
        (ok, "abc\r\nX-Evil: 1", "no running crawl matches"),  # the job file is refused
    ],
    ids=["garbage", "token with CR/LF"],
)
def test_attach_says_one_line(tmp_path, reply, token, needle):
    with FakeServer(reply) as server:
        write_job_file(tmp_path / "jobs", f"{os.getpid()}-x.json", port=server.port, token=token)
        result = run_workbench(
            "attach", "--jobs-dir", str(tmp_path / "jobs"), str(os.getpid()), cwd=tmp_path
        )
    assert result.returncode == 1, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("workbench attach: error: ") and needle in line
    assert_one_clean_line(result.stderr.rstrip("\n"))
    assert "X-Evil" not in result.stderr + result.stdout


# -- job files: each bad one is one problem, the listing goes on -------------------------

BAD_JOB_FILES = {
    "pid 10**30": {"pid": 10**30},
    "pid true": {"pid": True},
    "start_time 1e999": '"start_time": 1e999',
    "start_time NaN": '"start_time": NaN',
    "start_time -Infinity": '"start_time": -Infinity',
    "start_time 10**400": {"start_time": 10**400},
    "start_time 1e300": {"start_time": 1e300},  # time.localtime() cannot take it
    "5,000-digit int": '"port": ' + "9" * 5000,
    "lone surrogate": '"spider": "\\ud800"',
    "deep JSON": '"extra": ' + "[" * 30_000 + "]" * 30_000,
    "token CR/LF": {"token": "abc\r\nX-Evil: 1"},
    "not an object": "[1, 2]",
}


def bad_job_text(spec: dict | str) -> str:
    good = {
        "version": 1, "pid": os.getpid(), "port": 40000, "token": TOKEN, "spider": "books",
        "project": "shop", "scrapy_version": "2.19.0", "start_time": 1_790_000_000.0,
    }  # fmt: skip
    if isinstance(spec, dict):
        return json.dumps({**good, **spec})
    if spec.startswith("["):
        return spec
    key = spec.split(":")[0].strip('"')
    rest = json.dumps({k: v for k, v in good.items() if k != key})
    return rest[:-1] + ", " + spec + "}"


def test_bad_job_files_are_one_problem_each_and_the_listing_goes_on(tmp_path):
    directory = tmp_path / "jobs"
    good = write_job_file(directory, "1-good.json")
    for number, spec in enumerate(BAD_JOB_FILES.values(), 2):
        write_job_file(directory, f"{number}-bad.json", raw=bad_job_text(spec))
    odd_name = os.path.join(os.fsencode(directory), b"\xff\x1b-odd.json")
    with open(odd_name, "w") as f:
        f.write(bad_job_text({}))
    os.chmod(odd_name, 0o600)
    found = list_jobs(directory)
    assert [job.path for job in found.jobs] == [good]
    assert len(found.problems) == len(BAD_JOB_FILES) + 1, found.problems
    for problem in found.problems:
        assert "\n" not in problem and "X-Evil" not in problem and TOKEN not in problem
        problem.encode("utf-8")  # printable: no lone surrogates
    assert any("\\xff" in p and "its name is not UTF-8" in p for p in found.problems)
    # the command line: the good crawl listed, one line per bad file, valid JSON
    result = run_workbench("ps", "--jobs-dir", str(directory), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.splitlines()) == len(BAD_JOB_FILES) + 1
    assert all(line.startswith("workbench ps: ") for line in result.stderr.splitlines())
    assert len(result.stdout.splitlines()) == 2 and "books" in result.stdout
    listed = run_workbench("ps", "--jobs-dir", str(directory), "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr

    def strict(name):
        raise ValueError(f"{name} is not JSON")

    (job,) = json.loads(listed.stdout, parse_constant=strict)
    assert job["pid"] == os.getpid() and job["start_time"] == 1_790_000_000.0


def test_job_file_content_limits():
    with pytest.raises(JobFileError, match="nested too deeply"):
        parse_job(Path("1-x.json"), "[" * 100_000 + "]" * 100_000)
    with pytest.raises(JobFileError, match="a number too long to read"):
        parse_job(Path("1-x.json"), '{"pid": ' + "1" * 5000 + "}")
    job = make_job(Path("."), 1, start_time=float("nan"))
    assert job.public()["start_time"] is None  # what ps --json prints is always JSON


def test_a_bad_ssh_listing_line_is_one_problem():
    good = base64.b64encode(bad_job_text({"pid": 42}).encode()).decode()
    text = "\n".join([
        "uid " + "9" * 5000,  # not a uid: a problem, the listing goes on
        "uid 0" if os.getuid() == 0 else f"uid {os.getuid()}",
        f"dir {os.getuid()} 700",
        "file garbage",
        f"file {os.getuid()} 600 10 1 /j/42-a.json",
        good,
    ])  # fmt: skip
    found = parse_listing(text, "box")
    assert [j.pid for j in found.jobs] == [42] and len(found.problems) == 2
    assert not found.jobs[0].local  # its pid is a process over there, not here


# -- HAR files: a one-line HarError, or the bad fields read as absent --------------------


def har_text(entry_extra: str = "", request_extra: str = "", response_extra: str = "") -> str:
    """One entry, with raw JSON text spliced in (NaN, 1e999 and the like are not
    what json.dumps writes)."""
    return (
        '{"log": {"entries": [{"startedDateTime": "2026-01-01T00:00:00Z", '
        '"request": {"method": "GET", "url": "http://127.0.0.1/a"' + request_extra + "}, "
        '"response": {"status": 200, "headers": [], '
        '"content": {"size": 3, "mimeType": "text/html", "text": "abc"}' + response_extra + "}"
        + entry_extra + "}]}}"
    )  # fmt: skip


LOADABLE_HARS = {
    "size 1e999": har_text(response_extra=', "bodySize": 1e999').replace(
        '"size": 3', '"size": 1e999'
    ),
    "size NaN": har_text().replace('"size": 3', '"size": NaN'),
    "size -Infinity": har_text().replace('"size": 3', '"size": -Infinity'),
    "size 10**4000": har_text().replace('"size": 3', '"size": ' + "9" * 4000),
    "wait 1e999": har_text(entry_extra=', "timings": {"wait": 1e999}, "time": 1e999'),
    "wait NaN": har_text(entry_extra=', "timings": {"wait": NaN}, "time": NaN'),
    "time 1e300": har_text(entry_extra=', "timings": {"wait": 1e300}, "time": 1e300'),
    "status 10**4000": har_text().replace('"status": 200', '"status": ' + "9" * 4000),
    "depth 10**4000": har_text(
        entry_extra=', "_workbench": {"depth": ' + "9" * 4000 + ', "priority": -1e999}'
    ),
    "date 9999": har_text().replace("2026-01-01T00:00:00Z", "9999-12-31T23:59:59+14:00"),
    "date 0001": har_text().replace("2026-01-01T00:00:00Z", "0001-01-01T00:00:00-14:00"),
    "lone surrogates": har_text(
        request_extra=', "headers": [{"name": "X-\\udc80", "value": "\\ud800v"}], '
        '"postData": {"text": "\\udfff"}',
        entry_extra=', "_workbench": {"meta": {"k\\ud800": "\\udc00"}, "callback": "\\ud801"}',
    )
    .replace('"text": "abc"', '"text": "a\\ud800bc"')
    .replace("http://127.0.0.1/a", "http://127.0.0.1/\\udc80"),
    "url http://[": har_text().replace("http://127.0.0.1/a", "http://[::1/x"),
    "meta nested deep": har_text(
        entry_extra=', "_workbench": {"meta": {"k": ' + "[" * 900 + "]" * 900 + "}}"
    ),
}
BROKEN_HARS = {
    "100,000-deep JSON": ("[" * 100_000 + "]" * 100_000, "JSON nested too deeply"),
    "5,000-digit number": (har_text().replace('"size": 3', '"size": ' + "9" * 5000), "4300 digits"),
}


def assert_sane(flow: Flow) -> None:
    """Nothing the app could trip on later: finite, bounded numbers; encodable text."""
    import math

    for value in (flow.time, flow.latency):
        assert value is None or (math.isfinite(value) and 0 <= value < 1e11), flow
    assert 0 <= flow.size <= 2**53 and abs(flow.depth) <= 2**63 and abs(flow.priority) <= 2**63
    assert flow.status is None or 100 <= flow.status <= 999
    texts = [flow.method, flow.url, flow.callback or "", flow.slot or "", flow.error or ""]
    texts += [k + v for k, v in flow.meta + flow.cb_kwargs]
    for text in texts:
        text.encode("utf-8")


@pytest.mark.parametrize("name", list(LOADABLE_HARS))
def test_bad_har_fields_load_as_absent(tmp_path, name):
    path = tmp_path / "x.har"
    path.write_text(LOADABLE_HARS[name])
    source = HarSource(path)
    (flow,) = source.flows_since(0)
    assert_sane(flow)
    body = source.body(flow.id)
    assert body is None or body.body.decode("utf-8")
    source.snapshot()
    # what the app does with a flow: curl export, and HAR export back to a file
    with contextlib.suppress(CurlError):
        flow_to_curl(flow)
    saved = save_har(source, [flow], tmp_path / "again.har")
    json.loads(saved.read_text(encoding="utf-8"))
    HarSource(saved)


@pytest.mark.parametrize("name", list(BROKEN_HARS))
def test_unreadable_hars_are_one_line_errors(tmp_path, name):
    text, needle = BROKEN_HARS[name]
    path = tmp_path / "x.har"
    path.write_text(text)
    with pytest.raises(HarError, match=needle) as info:
        HarSource(path)
    assert "\n" not in str(info.value)


def test_workbench_open_never_prints_a_traceback(tmp_path):
    cases = {**LOADABLE_HARS, **{k: v for k, (v, _) in BROKEN_HARS.items()}}
    for number, text in enumerate(cases.values()):
        path = tmp_path / f"{number}.har"
        path.write_text(text)
    # one process opens them all (a process each would take long on two cores)
    script = (
        "import sys\n"
        "from workbench.core.sources.har_file import HarError, HarSource\n"
        "for path in sys.argv[1:]:\n"
        "    try:\n"
        "        HarSource(path)\n"
        "        print('ok', path)\n"
        "    except HarError as exc:\n"
        "        print('error', exc)\n"
    )
    paths = [str(tmp_path / f"{n}.har") for n in range(len(cases))]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-c", script, *paths], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == len(cases)
    assert sum(line.startswith("ok ") for line in lines) == len(LOADABLE_HARS)
    # and the command itself, on the worst two
    for path, needle in ((paths[-2], "nested too deeply"), (paths[-1], "4300 digits")):
        result = run_workbench("open", path, cwd=tmp_path)
        assert result.returncode == 1 and "Traceback" not in result.stderr
        (line,) = result.stderr.splitlines()
        assert line.startswith("workbench open: error: ") and needle in line


async def test_the_app_runs_on_every_bad_field(tmp_path):
    """Loaded is not enough: the panels and the flow detail draw each of those flows."""
    from workbench.ui.app import WorkbenchApp
    from workbench.ui.screens.flow_detail import FlowDetailScreen

    entries = []
    for text in LOADABLE_HARS.values():
        entries += json.loads(text, parse_constant=lambda name: name)["log"]["entries"]
    path = tmp_path / "all.har"
    # json.loads keeps NaN/Infinity as the strings "NaN"...: put the literals back
    text = json.dumps({"log": {"entries": entries}}, allow_nan=True)
    for literal in ("NaN", "Infinity", "-Infinity"):
        text = text.replace(f'"{literal}"', literal)
    path.write_text(text)
    source = HarSource(path)
    assert len(source.flows_since(0)) == len(LOADABLE_HARS)
    app = WorkbenchApp(source)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        await pilot.press("home")
        for _ in range(len(LOADABLE_HARS)):
            await pilot.press("enter")
            await pilot.pause()
            assert isinstance(app.screen, FlowDetailScreen)
            await pilot.press(*"123x")  # request, response, body; the curl export
            await pilot.pause()
            await pilot.press("escape", "down")
    assert app.return_code in (None, 0)


# -- the remote shell's history: what was typed into a crawl can hold secrets --------------


class EchoShell:
    timeout = 30.0

    def run(self, source: str) -> str:
        return f"ran {source}\n"

    def completions(self, text: str) -> list[str]:
        return []


def test_the_shell_history_is_private_and_existing_modes_are_fixed(tmp_path, monkeypatch, capsys):
    from prompt_toolkit.application import create_app_session
    from prompt_toolkit.input import create_pipe_input
    from prompt_toolkit.output import DummyOutput

    from workbench.remote.repl import history_path, interact

    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    path = history_path()
    assert path.is_relative_to(tmp_path)
    # as an earlier version left them: 0755 and 0644
    path.parent.mkdir(parents=True, mode=0o755)
    path.parent.chmod(0o755)
    path.write_text("\n# old\n+token = 'abc'\n")
    path.chmod(0o644)
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("secret = 'hunter2'\r")
        pipe.send_text("\x04")
        assert interact(EchoShell(), {"spider": "books", "pid": 1}) == 0
    assert "ran secret = 'hunter2'" in capsys.readouterr().out
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert "hunter2" in path.read_text() and "token = 'abc'" in path.read_text()
    # a fresh one is created private
    path.unlink()
    path.parent.rmdir()
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("1\r\x04")
        interact(EchoShell(), {"spider": "books", "pid": 1})
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # a symlink in its place is not followed: the history is then kept in memory only
    path.unlink()
    target = tmp_path / "elsewhere"
    path.symlink_to(target)
    with create_pipe_input() as pipe, create_app_session(input=pipe, output=DummyOutput()):
        pipe.send_text("2\r\x04")
        interact(EchoShell(), {"spider": "books", "pid": 1})
    assert "history not saved" in capsys.readouterr().out
    assert not target.exists()
