"""A real Scrapyd (PyPI ``scrapyd``) for the fleet's tests: started on
127.0.0.1 and a free port, in a directory of its own, with basic auth; a
project deployed to it as an egg built here (``addversion.json``); jobs
scheduled (``schedule.json``) whose RemoteControl job files go to a directory
the test names."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import socket
import subprocess
import sys
import textwrap
import time
import urllib.parse
import urllib.request
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.helpers.processes import DEMO_SPIDER, env

USER = "fleetuser"
PASSWORD = "s3cret-Pa55-" + uuid.uuid4().hex[:8]  # distinct enough to search for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Scrapyd:
    port: int
    root: Path
    proc: subprocess.Popen[bytes]
    user: str | None
    password: str | None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url_with_auth(self) -> str:
        if self.user is None:
            return self.url
        return f"http://{self.user}:{self.password}@127.0.0.1:{self.port}"

    def call(self, path: str, data: dict | None = None, files: bytes | None = None) -> dict:
        """A call to the API as scrapyd-client makes it (multipart for the egg)."""
        headers = {}
        if self.user is not None:
            token = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
            headers["Authorization"] = f"Basic {token}"
        body = None
        if files is not None:
            boundary = uuid.uuid4().hex
            parts = io.BytesIO()
            for name, value in (data or {}).items():
                parts.write(f"--{boundary}\r\nContent-Disposition: form-data; "
                            f'name="{name}"\r\n\r\n{value}\r\n'.encode())  # fmt: skip
            parts.write(f"--{boundary}\r\nContent-Disposition: form-data; name=\"egg\"; "
                        'filename="project.egg"\r\nContent-Type: application/octet-stream'
                        "\r\n\r\n".encode())  # fmt: skip
            parts.write(files + f"\r\n--{boundary}--\r\n".encode())
            body = parts.getvalue()
            headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
        elif data is not None:
            body = urllib.parse.urlencode(data, doseq=True).encode()
        request = urllib.request.Request(self.url + path, body, headers)
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=30) as answer:
            return json.loads(answer.read())

    def jobs(self, project: str) -> dict:
        return self.call("/listjobs.json?" + urllib.parse.urlencode({"project": project}))

    def log(self) -> str:
        return (self.root / "scrapyd.log").read_text(errors="replace")


SETTINGS = """
BOT_NAME = "shop"
SPIDER_MODULES = ["shop.spiders"]
ROBOTSTXT_OBEY = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
"""


def build_egg(project: str = "shop") -> bytes:
    """An egg of a Scrapy project holding the demo spider, as ``scrapyd-deploy``
    makes it (the package, and EGG-INFO naming its settings module)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as egg:
        egg.writestr(f"{project}/__init__.py", "")
        egg.writestr(f"{project}/settings.py", SETTINGS.replace("shop", project))
        egg.writestr(f"{project}/spiders/__init__.py", "")
        egg.writestr(f"{project}/spiders/demo.py", DEMO_SPIDER.read_text())
        egg.writestr("EGG-INFO/PKG-INFO", f"Metadata-Version: 1.0\nName: {project}\nVersion: 1.0\n")
        egg.writestr("EGG-INFO/entry_points.txt", f"[scrapy]\nsettings = {project}.settings\n")
        egg.writestr("EGG-INFO/top_level.txt", f"{project}\n")
        egg.writestr("EGG-INFO/zip-safe", "")
    return out.getvalue()


@contextlib.contextmanager
def scrapyd(
    root: Path, user: str | None = USER, password: str | None = PASSWORD, max_proc: int = 2
) -> Iterator[Scrapyd]:
    """Scrapyd on 127.0.0.1, a free port, ``max_proc`` jobs at once (more wait pending)."""
    root.mkdir(parents=True, exist_ok=True)
    port = free_port()
    (root / "scrapyd.conf").write_text(
        textwrap.dedent(
            f"""
            [scrapyd]
            bind_address = 127.0.0.1
            http_port = {port}
            username = {user or ""}
            password = {password or ""}
            max_proc = {max_proc}
            poll_interval = 0.2
            logs_dir = {root / "logs"}
            eggs_dir = {root / "eggs"}
            dbs_dir = {root / "dbs"}
            items_dir =
            jobs_to_keep = 5
            """
        )
    )
    log = (root / "scrapyd.log").open("wb")
    child_env = env()
    child_env.pop("SCRAPYD_USERNAME", None)
    child_env.pop("SCRAPYD_PASSWORD", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrapyd"], cwd=root, env=child_env, stdout=log, stderr=log
    )
    node = Scrapyd(port, root, proc, user, password)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, f"scrapyd exited: {node.log()[-2000:]}"
            with contextlib.suppress(OSError):
                node.call("/daemonstatus.json")
                break
            assert time.monotonic() < deadline, "scrapyd did not start"
            time.sleep(0.2)
        yield node
    finally:
        for job_proc in _children(proc.pid):
            with contextlib.suppress(OSError):
                job_proc_kill(job_proc)
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def job_proc_kill(pid: int) -> None:
    import os
    import signal

    os.kill(pid, signal.SIGTERM)


def deploy(node: Scrapyd, project: str = "shop") -> dict:
    return node.call(
        "/addversion.json", {"project": project, "version": "1.0"}, files=build_egg(project)
    )


def schedule(node: Scrapyd, url: str, jobs_dir: Path, *settings: str, project: str = "shop") -> str:
    """A demo job on ``url`` whose job file goes to ``jobs_dir``: its Scrapyd job id."""
    data = {
        "project": project,
        "spider": "demo",
        "url": url,
        "setting": [f"REMOTE_CONTROL_JOBS_DIR={jobs_dir}", *settings],
    }
    answer = node.call("/schedule.json", data)
    assert answer.get("status") == "ok", answer
    return str(answer["jobid"])


def wait_until(predicate, timeout: float = 60.0, what: str = "a condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)
