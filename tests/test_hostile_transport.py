"""Hostile input on the way out and in: curl export, the RemoteControl client,
job files, HAR files and the remote shell's history.

What a web page, a HAR file, a job file or whatever answers on a port says is
untrusted: it must not run commands when a curl export is pasted, hang or
crash `workbench attach`, reach the token, or turn into a traceback.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from scrapy import Request

from workbench.core.curl import CurlError, flow_to_curl
from workbench.core.events import Flow
from workbench.core.rebuild import rebuild_request

BASH = shutil.which("bash")
needs_bash = pytest.mark.skipif(BASH is None, reason="bash is not installed")


def make_flow(**overrides) -> Flow:
    values = dict(
        id=1, time=0.0, method="GET", url="http://127.0.0.1:8000/x", status=200, error=None,
        size=0, latency=None, callback="parse", depth=0, priority=0, slot=None,
    )  # fmt: skip
    values.update(overrides)
    return Flow(**values)


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
