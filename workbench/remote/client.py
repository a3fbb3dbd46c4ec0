"""A client for Scrapy 2.19's RemoteControl HTTP server (``/status``, ``/execute``).

Always 127.0.0.1, never through a proxy, the Bearer token from the job file.
The token is sent in a header and nowhere else: not in a URL, a log record
or an error message.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from workbench.remote.jobs import Job, JobFileError, JobList, list_jobs

HOST = "127.0.0.1"


class RemoteError(RuntimeError):
    """The crawl could not be reached or refused the request: the message says which."""


class CrawlGone(RemoteError):
    """Nothing listens on the crawl's port any more: it has ended."""


class RemoteControlClient:
    def __init__(self, job: Job, timeout: float = 10.0) -> None:
        self.job = job
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def __repr__(self) -> str:  # no token
        return f"<RemoteControlClient pid={self.job.pid} port={self.job.port}>"

    def _call(self, path: str, body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://{HOST}:{self.job.port}{path}",
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.job.token}",
                "Content-Type": "application/json",
            },
            method="POST" if body is not None else "GET",
        )
        try:
            with self._opener.open(request, timeout=timeout) as response:
                raw = response.read(16 * 1024 * 1024)
        except urllib.error.HTTPError as exc:
            if exc.code in (401, 403):
                raise RemoteError(
                    f"the crawl (pid {self.job.pid}) refused the token from its job file: "
                    "the file is out of date or not this crawl's"
                ) from None
            raise RemoteError(f"the crawl answered HTTP {exc.code} to {path}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, ConnectionRefusedError):
                raise CrawlGone(
                    f"the crawl (pid {self.job.pid}) no longer answers on port {self.job.port}"
                ) from None
            raise RemoteError(
                f"cannot reach the crawl (pid {self.job.pid}, port {self.job.port}): {reason}"
            ) from None
        try:
            data = json.loads(raw)
        except ValueError:
            raise RemoteError(f"the crawl's answer to {path} is not JSON") from None
        if not isinstance(data, dict):
            raise RemoteError(f"the crawl's answer to {path} is not a JSON object")
        return data

    def status(self) -> dict[str, Any]:
        return self._call("/status", None, self.timeout)

    def execute(self, code: str, timeout: float = 30.0) -> dict[str, Any]:
        """Run ``code`` in the crawl's process (top-level ``await`` allowed)."""
        return self._call("/execute", {"code": code, "timeout_sec": timeout}, timeout + 5)


def find_job(directory: Any, wanted: str | None) -> Job:
    """The job to attach to: by job id (or its start), by pid, or the only one running."""
    return choose_job(list_jobs(directory), wanted, str(directory))


def choose_job(found: JobList, wanted: str | None, where: str) -> Job:
    """The job of a listing: by job id (or its start), by pid, or the only one."""
    jobs = found.jobs
    if wanted:
        matches = [j for j in jobs if str(j.pid) == wanted or j.job_id.startswith(wanted)]
        if len(matches) == 1:
            return matches[0]
        if not matches:
            problems = "; ".join(found.problems)
            raise JobFileError(
                f"no running crawl matches {wanted!r}"
                + (f" ({problems})" if problems else "")
                + " (workbench ps lists them)"
            )
        raise JobFileError(f"{wanted!r} matches {len(matches)} crawls: give more of the job id")
    if len(jobs) == 1:
        return jobs[0]
    if not jobs:
        problems = "; ".join(found.problems)
        raise JobFileError(
            f"no running Scrapy crawl found in {where}" + (f" ({problems})" if problems else "")
        )
    listing = ", ".join(f"{j.pid} ({j.spider})" for j in jobs)
    raise JobFileError(f"{len(jobs)} crawls are running: {listing}; say which (a pid or job id)")
