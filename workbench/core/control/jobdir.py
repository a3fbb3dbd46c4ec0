"""What a JOBDIR holds before a crawl resumes from it, and whether the crawl
that wrote it stopped cleanly.

Scrapy keeps a job in three places: ``requests.queue/`` (the scheduler's
disk queues, and ``active.json``, which it writes only when the crawl closes
cleanly), ``requests.seen`` (the duplicate filter's fingerprints: in Scrapy
2.19, each is its length in two big-endian bytes, then its bytes; an older
Scrapy wrote a hex line each, which 2.19 does not read) and ``spider.state``
(the spider's ``state`` dict, pickled when the spider closes).  A job whose
crawl was killed has fingerprints but no ``active.json``: Scrapy then starts
with empty queues, and every request that was waiting on disk is lost (its
fingerprint says it was seen).

workbench also leaves ``workbench.run`` (its pid) in the JOBDIR while a crawl
runs and removes it after a clean stop, which catches a killed run even
when an older ``active.json`` is still there; and ``workbench.ports``, the
ports of the local site its command served (``workbench demo``'s), which the
next run listens on again so the URLs in the job still lead to that site.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import pickle
import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "workbench.run"
PORTS = "workbench.ports"

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobReport:
    path: str
    pending: int  # requests waiting in the disk queues
    seen: int  # fingerprints in requests.seen
    state: tuple[tuple[str, str], ...]  # spider.state: (key, short repr)
    problem: str | None  # why the job was not stopped cleanly, if it was not

    def summary(self) -> str:
        keys = ", ".join(k for k, _ in self.state[:8]) or "empty"
        return (
            f"resuming the job in {self.path}: {self.pending:,} requests on disk, "
            f"{self.seen:,} fingerprints seen, spider state: {keys}"
        )


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process that its parent has not reaped yet is gone too
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _pending(queue_dir: Path) -> int:
    """Requests in the disk queues: a FIFO queue is a directory with ``info.json``
    (its size) and chunk files; a LIFO queue (Scrapy's default) is one file whose
    first four bytes are its size."""
    total = 0
    for entry in queue_dir.rglob("*"):
        try:
            if entry.is_dir():
                if (entry / "info.json").is_file():
                    info = json.loads((entry / "info.json").read_text())
                    total += int(info.get("size", 0))
            elif entry.name != "active.json" and not (entry.parent / "info.json").exists():
                with open(entry, "rb") as f:
                    header = f.read(4)
                if len(header) == 4:
                    total += struct.unpack(">L", header)[0]
        except (OSError, ValueError):
            continue
    return total


SIZE_BYTES = 2  # scrapy.dupefilters: a fingerprint's length, big-endian, before it


def _count_fingerprints(path: Path) -> tuple[int, bool]:
    """The fingerprints Scrapy's ``RFPDupeFilter`` will read back from ``path`` (a
    record cut short by an unclean shutdown is not one), and whether the file is in
    the text format of an older Scrapy instead (hex fingerprints, a line each)."""
    count = 0
    with open(path, "rb") as f:
        head = f.read(1 << 16)
        if head and not head.strip(b"0123456789abcdefABCDEF\r\n"):
            return 0, True
        data, pos = head, 0
        while True:
            while pos + SIZE_BYTES <= len(data):
                end = pos + SIZE_BYTES + int.from_bytes(data[pos : pos + SIZE_BYTES], "big")
                if end > len(data):
                    break
                count += 1
                pos = end
            chunk = f.read(1 << 20)
            if not chunk:
                return count, False
            data, pos = data[pos:] + chunk, 0


def _state(path: Path) -> tuple[tuple[str, str], ...]:
    try:
        with open(path, "rb") as f:
            state = pickle.load(f)  # the user's own job, which Scrapy loads too
    except Exception:
        return (("(unreadable)", ""),)
    if not isinstance(state, dict):
        return ()
    return tuple((str(k)[:80], repr(v)[:120]) for k, v in list(state.items())[:50])


def inspect_job(path: str | os.PathLike[str]) -> JobReport | None:
    """What resuming from ``path`` will restore; None for a new (empty) job."""
    root = Path(path).expanduser()
    seen_file, queue_dir = root / "requests.seen", root / "requests.queue"
    if not root.is_dir() or not (seen_file.exists() or queue_dir.exists()):
        return None
    problem = None
    marker = root / MARKER
    if marker.exists():
        try:
            data: dict[str, Any] = json.loads(marker.read_text())
            pid, started = int(data.get("pid", 0)), float(data.get("started", 0))
        except (OSError, ValueError):
            pid, started = 0, 0.0
        if pid and _alive(pid) and pid != os.getpid():
            problem = f"another crawl (pid {pid}) is using this job now"
        else:
            when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started)) if started else "?"
            problem = (
                f"the workbench crawl that ran it (pid {pid}, started {when}) did not stop "
                "cleanly: requests that were waiting on disk then may be lost"
            )
    elif seen_file.exists() and not (queue_dir / "active.json").exists():
        problem = (
            "requests.queue/active.json is missing: the crawl that wrote this job did not "
            "stop cleanly (killed?); Scrapy will start with empty queues, and requests that "
            "were waiting on disk are lost"
        )
    seen, text_format = _count_fingerprints(seen_file) if seen_file.exists() else (0, False)
    if text_format:
        older = (
            "requests.seen is in an older Scrapy's text format, which this Scrapy does not "
            "read: every request will look new, and pages already crawled are crawled again"
        )
        problem = f"{problem}; {older}" if problem else older
    return JobReport(
        path=str(root),
        pending=_pending(queue_dir) if queue_dir.is_dir() else 0,
        seen=seen,
        state=_state(root / "spider.state") if (root / "spider.state").exists() else (),
        problem=problem,
    )


def mark_running(path: str | os.PathLike[str]) -> None:
    root = Path(path).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text(json.dumps({"pid": os.getpid(), "started": time.time()}))


def mark_stopped(path: str | os.PathLike[str]) -> None:
    (Path(path).expanduser() / MARKER).unlink(missing_ok=True)


def _kept_ports(root: Path) -> list[int]:
    try:
        ports = json.loads((root / PORTS).read_text()).get("ports", [])
        return [int(p) for p in ports if 0 < int(p) < 65536]
    except (OSError, ValueError, TypeError, AttributeError):
        return []


@contextlib.contextmanager
def keeping_ports(path: str | os.PathLike[str]) -> Iterator[None]:
    """While a command starts the local site its crawl needs (``workbench demo``'s):
    a port it asks the reactor for as "any free one" (port 0) is the port the job's
    previous run had, so the URLs in the job's queue and fingerprints still lead to
    that site; the ports it got are kept in the job for the next run.  When that
    port is taken now, the site gets a free one and a warning says what will fail.
    """
    from twisted.internet import reactor as installed
    from twisted.internet.error import CannotListenError

    reactor: Any = installed

    root = Path(path).expanduser()
    kept = _kept_ports(root)
    got: list[int] = []
    listen_tcp = reactor.listenTCP

    def listen(port: int, factory: Any, backlog: int = 50, interface: str = "") -> Any:
        if port == 0 and kept:
            wanted = kept.pop(0)
            try:
                listening = listen_tcp(wanted, factory, backlog, interface)
            except CannotListenError as exc:
                listening = listen_tcp(0, factory, backlog, interface)
                logger.warning(
                    "The job's site port %d cannot be used (%s); the site listens on %d "
                    "instead, and the job's requests for port %d will fail",
                    wanted, exc.socketError, listening.getHost().port, wanted,
                )  # fmt: skip
        else:
            listening = listen_tcp(port, factory, backlog, interface)
        got.append(listening.getHost().port)
        return listening

    reactor.listenTCP = listen
    try:
        yield
    finally:
        del reactor.listenTCP  # the reactor's own again
    if got:
        root.mkdir(parents=True, exist_ok=True)
        (root / PORTS).write_text(json.dumps({"ports": got}))
