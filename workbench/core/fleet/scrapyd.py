"""A Scrapyd node, through its JSON API: ``daemonstatus.json``,
``listprojects.json``, ``listjobs.json`` (per project, which every version
answers), and its finished jobs' logs.

Credentials come from the URL's userinfo (``http://user:pass@host:6800``) or
from ``~/.netrc`` (the host's ``machine`` entry).  They are kept in
:class:`ScrapydNode` out of its ``repr`` and sent only in an
``Authorization`` header to that node: never through a proxy, never after a
redirect (refused), never to a log URL the node names on another host, and
never in a message (:attr:`ScrapydNode.shown` is the URL without them).

Every call is bounded in time (one deadline over connect and every read) and
in size; every answer is untrusted: only the fields named here are kept, of
the types expected, and what does not fit is a problem of one line.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import http.client
import json
import netrc
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from workbench.core.fleet.model import FINISHED, PENDING, RUNNING, SCRAPYD, FleetRow

MAX_JSON = 4 * 1024 * 1024
MAX_LOG = 8 * 1024 * 1024  # the Log view's share of a finished job's log (its end)
LOG_TAIL = 64 * 1024  # read for the finish reason and the items count
MAX_PROJECTS = 100
MAX_JOBS = 1000  # per project and state
TAILS_PER_POLL = 8  # finished jobs' logs read per poll (each once)
TEXT = 200
_ID = re.compile(r"[^\x00-\x1f\x7f]{1,200}")


class ScrapydError(RuntimeError):
    """The node could not be reached or its answer refused: one line, no credentials."""


@dataclass(frozen=True)
class ScrapydNode:
    """A node's address: ``shown`` (no credentials) and the header that carries them."""

    scheme: str
    host: str
    port: int
    path: str  # the prefix, "" or "/scrapyd"
    authorization: str | None = field(default=None, repr=False, compare=False)

    @property
    def shown(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{self.path}"

    @property
    def label(self) -> str:
        """What the host column shows: host:port."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")

    def url(self, path: str) -> str:
        return self.shown + path


def parse_node(text: str, netrc_file: str | None = None) -> ScrapydNode:
    """A node from ``--scrapyd URL`` (``host:port`` alone means http); ValueError
    with a message that never repeats the password."""
    raw = text.strip()
    if "://" not in raw:
        raw = "http://" + raw
    try:
        parts = urllib.parse.urlsplit(raw)
        port = parts.port
    except ValueError:
        raise ValueError("not a Scrapyd URL (expected http://[user:pass@]host:port)") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("not a Scrapyd URL (expected http://[user:pass@]host:port)")
    if parts.query or parts.fragment:
        raise ValueError("a Scrapyd URL has no query or fragment")
    host = parts.hostname
    port = port or (443 if parts.scheme == "https" else 6800)
    user = urllib.parse.unquote(parts.username) if parts.username is not None else None
    password = urllib.parse.unquote(parts.password) if parts.password is not None else None
    if user is None:
        user, password = _from_netrc(host, netrc_file)
    authorization = None
    if user is not None:
        token = base64.b64encode(f"{user}:{password or ''}".encode()).decode("ascii")
        authorization = f"Basic {token}"
    return ScrapydNode(parts.scheme, host, port, parts.path.rstrip("/"), authorization)


def _from_netrc(host: str, path: str | None) -> tuple[str | None, str | None]:
    try:
        found = netrc.netrc(path).authenticators(host)
    except (OSError, netrc.NetrcParseError):
        return None, None
    if not found:
        return None, None
    login, _, password = found
    return login, password


def _fail(node: ScrapydNode, what: str) -> ScrapydError:
    return ScrapydError(f"Scrapyd {node.label}: {what}")


def http_get(
    node: ScrapydNode,
    path: str,
    timeout: float,
    limit: int,
    headers: dict[str, str] | None = None,
    tail: bool = False,
) -> tuple[int, bytes, Any]:
    """GET ``path`` (with the node's prefix) from the node: (status, body, headers),
    the body cut at ``limit`` (``tail``: its last ``limit`` bytes, read to the end);
    one deadline over connect and every read."""
    deadline = time.monotonic() + timeout
    cls = http.client.HTTPSConnection if node.scheme == "https" else http.client.HTTPConnection
    conn = cls(node.host, node.port, timeout=timeout)
    sent = {"Accept": "application/json", "Connection": "close", **(headers or {})}
    if node.authorization:
        sent["Authorization"] = node.authorization
    try:
        conn.request("GET", node.path + path, headers=sent)
        if conn.sock is not None:
            conn.sock.settimeout(max(deadline - time.monotonic(), 0.001))
        response = conn.getresponse()
        body = bytearray()
        while tail or len(body) <= limit:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            if conn.sock is not None:
                conn.sock.settimeout(left)
            chunk = response.read1(64 * 1024)
            if not chunk:
                break
            body += chunk
            if tail and len(body) > 2 * limit:
                del body[:-limit]
        kept = body[-limit:] if tail else body[:limit]
        return response.status, bytes(kept), response.headers
    except TimeoutError:
        raise _fail(node, f"did not answer in {timeout:g} s") from None
    except (http.client.HTTPException, ValueError) as exc:
        # never str(exc): it may carry the bytes received
        raise _fail(node, f"does not speak HTTP as Scrapyd does ({type(exc).__name__})") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise _fail(node, f"cannot connect: {reason}") from None
    finally:
        conn.close()


def _json(node: ScrapydNode, path: str, timeout: float) -> dict[str, Any]:
    status, body, _ = http_get(node, path, timeout, MAX_JSON + 1)
    if status == 401:
        if node.authorization:
            raise _fail(node, "refused the credentials (HTTP 401)")
        raise _fail(node, "asks for credentials (HTTP 401): give user:pass@ in the URL or ~/.netrc")
    if status in (301, 302, 303, 307, 308):
        raise _fail(node, f"redirects (HTTP {status}): not followed (give the final URL)")
    if status != 200:
        raise _fail(node, f"answered HTTP {status} to {path.split('?')[0]}")
    if len(body) > MAX_JSON:
        raise _fail(node, f"sent more than {MAX_JSON // 1024**2} MB for {path.split('?')[0]}")
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        raise _fail(node, f"its answer to {path.split('?')[0]} is not JSON") from None
    if not isinstance(data, dict):
        raise _fail(node, f"its answer to {path.split('?')[0]} is not a JSON object")
    if data.get("status") == "error":
        message = data.get("message")
        words = message[:TEXT] if isinstance(message, str) else "no reason given"
        raise _fail(node, f"{path.split('?')[0]} failed: {words}")
    return data


def _id(value: Any) -> str | None:
    return value if isinstance(value, str) and _ID.fullmatch(value) else None


def _time(value: Any) -> float | None:
    """Scrapyd's ``str(datetime.now())`` (the node's local time) as epoch seconds."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    with contextlib.suppress(ValueError):
        return datetime.datetime.fromisoformat(value).timestamp()
    return None


def _pid(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and 0 < value < 2**31:
        return value
    return None


def log_path(node: ScrapydNode, value: Any) -> str | None:
    """A log or items URL the node gave, as a path on that node; None for anything
    else (an absolute URL, another host: credentials are never sent elsewhere)."""
    if not isinstance(value, str) or not value.startswith("/") or value.startswith("//"):
        return None
    if len(value) > 2000 or any(c in value for c in "\r\n\t \\"):
        return None
    path = value[len(node.path) :] if node.path and value.startswith(node.path + "/") else value
    return path


@dataclass(frozen=True)
class ScrapydJob:
    """A job as listjobs.json names it (checked)."""

    state: str  # PENDING, RUNNING or FINISHED
    project: str
    spider: str
    job_id: str
    pid: int | None = None
    start_time: float | None = None
    end_time: float | None = None
    log_path: str | None = None
    items_path: str | None = None


@dataclass
class NodeListing:
    jobs: list[ScrapydJob]
    problems: list[str]
    counts: dict[str, int]  # daemonstatus: pending, running, finished


def list_node(node: ScrapydNode, timeout: float) -> NodeListing:
    """The node's jobs: daemonstatus, listprojects, then listjobs per project."""
    deadline = time.monotonic() + timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _fail(node, f"did not answer in {timeout:g} s")
        return remaining

    status = _json(node, "/daemonstatus.json", left())
    counts = {
        k: v
        for k in ("pending", "running", "finished")
        if isinstance(v := status.get(k), int) and not isinstance(v, bool)
    }
    problems: list[str] = []
    projects = _json(node, "/listprojects.json", left()).get("projects")
    if not isinstance(projects, list):
        raise _fail(node, "listprojects.json has no list of projects")
    names = [p for p in projects if _id(p)]
    if len(names) != len(projects):
        problems.append(f"Scrapyd {node.label}: {len(projects) - len(names)} project names refused")
    if len(names) > MAX_PROJECTS:
        problems.append(f"Scrapyd {node.label}: only the first {MAX_PROJECTS} projects listed")
        names = names[:MAX_PROJECTS]
    jobs: list[ScrapydJob] = []
    for project in names:
        query = urllib.parse.urlencode({"project": project})
        data = _json(node, f"/listjobs.json?{query}", left())
        for state in (PENDING, RUNNING, FINISHED):
            entries = data.get(state, [])
            if not isinstance(entries, list):
                problems.append(f"Scrapyd {node.label}: {state} jobs of {project} not a list")
                continue
            refused = 0
            for entry in entries[:MAX_JOBS]:
                job = _job(node, state, project, entry)
                if job is None:
                    refused += 1
                else:
                    jobs.append(job)
            if refused:
                problems.append(
                    f"Scrapyd {node.label}: {refused} {state} job(s) of {project} refused "
                    "(not what listjobs.json answers)"
                )
    return NodeListing(jobs, problems, counts)


def _job(node: ScrapydNode, state: str, project: str, entry: Any) -> ScrapydJob | None:
    if not isinstance(entry, dict):
        return None
    job_id, spider = _id(entry.get("id")), _id(entry.get("spider"))
    if job_id is None or spider is None:
        return None
    pid = _pid(entry.get("pid"))
    if state == RUNNING and pid is None:
        return None
    return ScrapydJob(
        state=state,
        project=project,
        spider=spider,
        job_id=job_id,
        pid=pid,
        start_time=_time(entry.get("start_time")),
        end_time=_time(entry.get("end_time")),
        log_path=log_path(node, entry.get("log_url")),
        items_path=log_path(node, entry.get("items_url")),
    )


_FINISH = re.compile(rb"'finish_reason':\s*'([^'\\\r\n]{1,100})'")
_ITEMS = re.compile(rb"'item_scraped_count':\s*(\d{1,15})\b")
_ERRORS = re.compile(rb"'log_count/ERROR':\s*(\d{1,15})\b")


@dataclass(frozen=True)
class LogSummary:
    finish_reason: str | None
    items: int | None
    errors: int | None


def summarise_log(tail: bytes) -> LogSummary:
    """The finish reason and counts from the end of a Scrapy log (the stats dump
    Scrapy prints on close; read with regular expressions, never evaluated)."""

    def last(pattern: re.Pattern[bytes]) -> bytes | None:
        found = pattern.findall(tail)
        return found[-1] if found else None

    reason = last(_FINISH)
    items = last(_ITEMS)
    errors = last(_ERRORS)
    return LogSummary(
        reason.decode("utf-8", "replace") if reason else None,
        int(items) if items else None,
        int(errors) if errors else None,
    )


_CONTENT_RANGE = re.compile(r"bytes \d+-\d+/(\d{1,15})")


def fetch_log(node: ScrapydNode, path: str, timeout: float, limit: int = MAX_LOG) -> str:
    """The end of a job's log (its last ``limit`` bytes at most), as text.

    Its size first (a one-byte range), then the range from ``size - limit``;
    a node that does not serve ranges sends it all, of which the end is kept.
    (Twisted's static files answer a suffix range, ``bytes=-N``, longer than the
    file with HTTP 500, so it is not used.)"""
    deadline = time.monotonic() + timeout

    def left() -> float:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _fail(node, f"did not send the log in {timeout:g} s")
        return remaining

    status, body, headers = http_get(node, path, left(), 1, {"Range": "bytes=0-0"})
    if status == 416:  # an empty log
        return ""
    found = _CONTENT_RANGE.fullmatch(str(headers.get("Content-Range") or "").strip())
    if status == 206 and found:
        start = max(0, int(found.group(1)) - limit)
        status, body, _ = http_get(node, path, left(), limit, {"Range": f"bytes={start}-"})
    elif status in (200, 206):
        status, body, _ = http_get(node, path, left(), limit, tail=True)
    if status == 416:
        return ""
    if status not in (200, 206):
        raise _fail(node, f"answered HTTP {status} for the log")
    return body.decode("utf-8", "replace")


class ScrapydSource:
    """One node as a fleet source: pending and finished jobs as rows, running jobs
    as claims on the job files of the machine they run on (by pid)."""

    def __init__(self, node: ScrapydNode, machine: str | None) -> None:
        self.node = node
        self.name = node.shown
        self.kind = SCRAPYD
        # the machine whose job files hold its running crawls: "localhost" for a node
        # on the loopback address, the --ssh host of the same name, else None
        self.machine = machine
        self._summaries: dict[str, LogSummary] = {}  # finished job id -> summary
        self._lock = threading.Lock()

    def list(self, timeout: float) -> Any:
        from workbench.core.fleet.poller import Claim, Listing

        deadline = time.monotonic() + timeout
        found = list_node(self.node, timeout)
        rows: list[FleetRow] = []
        claims: list[Claim] = []
        tails = 0
        for job in found.jobs:
            row = self._row(job)
            if job.state == RUNNING and job.pid is not None:
                claims.append(Claim(self.machine, job.pid, row))
                continue
            if job.state == FINISHED:
                summary = self._summaries.get(job.job_id)
                if summary is None and job.log_path and tails < TAILS_PER_POLL:
                    left = deadline - time.monotonic()
                    if left > 0.2:
                        tails += 1
                        summary = self._summary(job, left)
                if summary is not None:
                    row = row.with_(
                        reason=summary.finish_reason, items=summary.items, errors=summary.errors
                    )
            rows.append(row)
        listed = {job.job_id for job in found.jobs if job.state == FINISHED}
        with self._lock:  # the summaries of jobs the node no longer lists go
            for job_id in [k for k in self._summaries if k not in listed]:
                del self._summaries[job_id]
        return Listing(rows=rows, claims=claims, problems=found.problems)

    def _summary(self, job: ScrapydJob, timeout: float) -> LogSummary | None:
        assert job.log_path is not None
        try:
            text = fetch_log(self.node, job.log_path, min(timeout, 5.0), LOG_TAIL)
        except ScrapydError:
            return None
        summary = summarise_log(text.encode("utf-8", "replace"))
        with self._lock:
            self._summaries[job.job_id] = summary
        return summary

    def _row(self, job: ScrapydJob) -> FleetRow:
        node = self.node
        return FleetRow(
            key=f"scrapyd:{node.label}:{job.project}:{job.job_id}",
            host=node.label,
            source=SCRAPYD,
            state=job.state,
            pid=job.pid,
            project=job.project,
            spider=job.spider,
            job_id=job.job_id,
            started=job.start_time,
            ended=job.end_time,
            node=node.shown,
            log_url=node.url(job.log_path) if job.log_path else None,
            items_url=node.url(job.items_path) if job.items_path else None,
        )

    def log(self, row: FleetRow, timeout: float = 10.0) -> str:
        """A job's log (its last MAX_LOG bytes) for the Log view (ScrapydError)."""
        if not row.log_url or not row.log_url.startswith(self.node.shown + "/"):
            raise _fail(self.node, "this job has no log URL on the node")
        path = row.log_url[len(self.node.shown) :]
        return fetch_log(self.node, path, timeout)

    def close(self) -> None:
        pass
