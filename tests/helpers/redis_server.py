"""A real Redis server for the tests: Debian's ``redis-server`` started on 127.0.0.1
and a free port, with a password, no persistence, in a temporary directory.

``redis_server()`` yields a :class:`RedisServer` (its URL as ``REDIS_URL`` writes
it, password included).  When ``redis-server`` or redis-py is missing the test is
skipped with the reason, unless ``CI_REQUIRE_REDIS`` is set (``.ci/run`` sets it),
where it fails instead.
"""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server")


def require_redis() -> None:
    """Skip (or, under CI_REQUIRE_REDIS, fail) when Redis or redis-py is missing."""
    missing = []
    if REDIS_SERVER is None:
        missing.append("redis-server is not installed (apt-get install redis-server)")
    try:
        import redis  # noqa: F401
        import scrapy_redis  # noqa: F401
    except ImportError:
        missing.append("redis-py or scrapy-redis is not installed (pip install -e '.[redis]')")
    if missing:
        reason = "; ".join(missing)
        if os.environ.get("CI_REQUIRE_REDIS"):
            pytest.fail(f"CI_REQUIRE_REDIS is set but {reason}")
        pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class RedisServer:
    port: int
    password: str
    process: subprocess.Popen

    @property
    def url(self) -> str:
        return f"redis://:{self.password}@127.0.0.1:{self.port}/0"

    def client(self):
        import redis

        return redis.Redis.from_url(self.url)


@contextmanager
def redis_server():
    """Start redis-server on 127.0.0.1:<free port> with a random password."""
    require_redis()
    assert REDIS_SERVER is not None
    password = "pw-" + secrets.token_hex(8)
    with tempfile.TemporaryDirectory(prefix="workbench-redis-") as tmp:
        for _ in range(3):  # a port taken between free_port() and the bind: try another
            port = free_port()
            proc = subprocess.Popen(
                [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1",
                 "--requirepass", password, "--save", "", "--appendonly", "no",
                 "--dir", tmp, "--protected-mode", "yes", "--loglevel", "warning",
                 "--logfile", str(Path(tmp) / "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            server = RedisServer(port, password, proc)
            if _wait_ready(server):
                break
            _stop(proc)
        else:
            raise AssertionError("redis-server did not start")
        try:
            yield server
        finally:
            _stop(proc)


def _wait_ready(server: RedisServer) -> bool:
    import redis

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if server.client().ping():
                return True
        except redis.RedisError:
            time.sleep(0.05)
    return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
