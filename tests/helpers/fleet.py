"""A fixed fleet for the fleet table's Pilot and snapshot tests: rows of every
kind (local, ssh, Scrapyd running, pending, finished, unreachable, stale), a
poller that only hands them out, and a fixed clock."""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from workbench.core.fleet.model import (
    FINISHED,
    LOCAL,
    PENDING,
    RUNNING,
    SCRAPYD,
    SSH,
    UNREACHABLE,
    FleetRow,
    FleetSnapshot,
    SourceStatus,
)

NOW = 1_800_000_000.0
NODE = "http://127.0.0.1:6800"


class _Job:
    """Stands in for a job file (the table only needs one to be there)."""

    pid = 0


def fleet_rows() -> list[FleetRow]:
    job = _Job()
    return [
        FleetRow(key="local:a", host="localhost", source=LOCAL, state=RUNNING, pid=4101,
                 project="shop", spider="products", job_id="4101-9f3c2a7d1b", started=NOW - 754,
                 uptime=754, pages=9120, items=8811, pages_per_min=742.4, items_per_min=701.2,
                 errors=3, retries=12, in_flight=16, queue=1204, rss=188_000_000,
                 last_response_age=0.4, job=job),
        FleetRow(key="local:b", host="localhost", source=LOCAL, state=RUNNING, pid=4188,
                 project="shop", spider="reviews", job_id="4188-0aa1b2c3d4", started=NOW - 4000,
                 uptime=4000, pages=2100, items=0, pages_per_min=0.0, items_per_min=0.0,
                 errors=41, retries=320, in_flight=8, queue=0, rss=120_000_000,
                 last_response_age=95.0, job=job),
        FleetRow(key="ssh:box:c", host="crawler@box", source=SSH, state=RUNNING, pid=977,
                 project="news", spider="feeds", job_id="977-5e6f7a8b9c", started=NOW - 130,
                 uptime=130, pages=400, items=380, pages_per_min=185.0, items_per_min=175.5,
                 errors=0, retries=0, in_flight=4, queue=77, rss=95_000_000,
                 last_response_age=1.2, ssh_host="crawler@box", job=job,
                 queue_shared="redis feeds:requests 1,204"),
        FleetRow(key="ssh:far", host="far.example", source=SSH, state=UNREACHABLE,
                 reason="ssh far.example did not answer in 5 s"),
        FleetRow(key="scrapyd:run", host="127.0.0.1:6800", source=SCRAPYD, state=RUNNING,
                 pid=5120, project="shop", spider="products",
                 job_id="b7167dfef18a11f1808602fc00000001", started=NOW - 60, uptime=60,
                 pages=700, items=650, pages_per_min=690.0, items_per_min=640.0, errors=0,
                 retries=2, in_flight=16, queue=310, rss=90_000_000, last_response_age=0.1,
                 node=NODE, log_url=NODE + "/logs/shop/products/b716.log", job=job),
        FleetRow(key="scrapyd:pend", host="127.0.0.1:6800", source=SCRAPYD, state=PENDING,
                 project="shop", spider="sitemap", job_id="c1a2b3c4f18a11f1808602fc00000001",
                 node=NODE),
        FleetRow(key="scrapyd:fin", host="127.0.0.1:6800", source=SCRAPYD, state=FINISHED,
                 project="shop", spider="products", job_id="a0b1c2d3f18a11f1808602fc00000001",
                 started=NOW - 3600, ended=NOW - 3000, items=3120, errors=1,
                 reason="finished", node=NODE,
                 log_url=NODE + "/logs/shop/products/a0b1.log"),
    ]  # fmt: skip


@dataclass
class FakePoller:
    rows: list[FleetRow] = field(default_factory=fleet_rows)
    polls: int = 1
    asked: int = 0
    problems: tuple[str, ...] = ()

    def snapshot(self) -> FleetSnapshot:
        return FleetSnapshot(
            rows=tuple(self.rows),
            sources=(SourceStatus("localhost", LOCAL, True, problems=self.problems),),
            taken_at=NOW - 1,
            seconds=0.05,
            polls=self.polls,
        )

    def poll_now(self) -> None:
        self.asked += 1


LOG = "\n".join(
    [
        "2026-12-06 15:00:00 [scrapy.utils.log] INFO: Scrapy 2.19.0 started (bot: shop)",
        "2026-12-06 15:00:01 [scrapy.core.engine] INFO: Spider opened",
        "2026-12-06 15:01:00 [scrapy.core.scraper] ERROR: Spider error processing <GET x>",
        "Traceback (most recent call last):",
        '  File "shop/spiders/products.py", line 11, in parse',
        "ValueError: no price \x1b[31m(red)\x1b[0m",
        "2026-12-06 15:10:00 [scrapy.statscollectors] INFO: Dumping Scrapy stats:",
        "{'finish_reason': 'finished',",
        " 'item_scraped_count': 3120,",
        " 'log_count/ERROR': 1}",
        "2026-12-06 15:10:00 [scrapy.core.engine] INFO: Spider closed (finished)",
    ]
)


def fetch_log(row: FleetRow) -> str:
    return LOG


# -- a fake RemoteControl server for many crawls ------------------------------------


def reading(pages: int = 100, items: int = 80, **extra) -> dict:
    """What the probe prints for a crawl (the fields read_probe names)."""
    return {
        "pid": os.getpid(),
        "time": time.time(),
        "state": "running",
        "start_time": time.time() - 60,
        "pages": pages,
        "items": items,
        "errors": 1,
        "retries": 2,
        "in_flight": 4,
        "queue": 30,
        "rss": 50_000_000,
        "finish_reason": None,
        "scheduler": "scrapy.core.scheduler.Scheduler",
        **extra,
    }


class FakeRemoteControl:
    """One RemoteControl-like server on 127.0.0.1 in this process for many job files
    (their pid is this process's, so the client's listener check passes): each
    token answers as ``behaviour[token]`` says: a reading, ``("sleep", s)``,
    ``("raw", bytes)`` (anything at all) or ``("output", text)``."""

    def __init__(self) -> None:
        self.behaviour: dict[str, object] = {}
        self.in_flight = 0
        self.max_in_flight = 0
        self.calls = 0
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                token = self.headers.get("Authorization", "").removeprefix("Bearer ")
                with fake.lock:
                    fake.calls += 1
                    fake.in_flight += 1
                    fake.max_in_flight = max(fake.max_in_flight, fake.in_flight)
                try:
                    self._answer(fake.behaviour.get(token))
                finally:
                    with fake.lock:
                        fake.in_flight -= 1

            def _answer(self, what) -> None:
                if isinstance(what, tuple) and what[0] == "sleep":
                    time.sleep(what[1])
                    what = reading()
                if isinstance(what, tuple) and what[0] == "raw":
                    self.wfile.write(what[1])
                    return
                if isinstance(what, tuple) and what[0] == "output":
                    output = what[1]
                else:
                    output = json.dumps(what if isinstance(what, dict) else reading())
                body = json.dumps({"status": "ok", "output": output + "\n",
                                   "traceback": None, "elapsed_sec": 0.0}).encode()  # fmt: skip
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.server.handle_error = lambda *args: None  # a client that gave up: no noise
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)

    def __enter__(self) -> FakeRemoteControl:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    def job_file(self, directory: Path, n: int, behaviour=None, **fields) -> str:
        """A job file (0600, in a 0700 directory) for crawl ``n`` on this server: its token."""
        directory.mkdir(mode=0o700, exist_ok=True)
        token = f"token-{n}-{os.urandom(6).hex()}"
        content = {"version": 1, "pid": os.getpid(), "port": self.port, "token": token,
                   "spider": f"spider{n}", "project": "shop", "scrapy_version": "2.19.0",
                   "start_time": time.time() - 60, **fields}  # fmt: skip
        path = directory / f"{os.getpid()}-{n:04d}{os.urandom(4).hex()}.json"
        path.write_text(json.dumps(content))
        path.chmod(0o600)
        self.behaviour[token] = behaviour
        return token
