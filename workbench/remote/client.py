"""A client for Scrapy 2.19's RemoteControl HTTP server (``/status``, ``/execute``).

Always 127.0.0.1, never through a proxy, the Bearer token from the job file.
The token is sent in a header and nowhere else: not in a URL, a log record
or an error message.

Whatever answers on the job file's port is not trusted until it is shown to be
the crawl: a job file can be out of date, its pid reused, its port taken by
another local user.  So, before the token is sent:

* on Linux, the sockets listening on 127.0.0.1:PORT (``/proc/net/tcp`` and
  ``tcp6``) must be this user's and, for a local crawl, open in the job's pid
  (a ``socket:[INODE]`` link in ``/proc/PID/fd``);
* without ``/proc`` (macOS, the BSDs) only the pid can be checked: alive and
  this user's;
* through an SSH tunnel (``Job.local`` is False) the listener is ssh, not the
  crawl's pid: only that it is this user's is checked.

Every call is bounded in total time (a deadline over connect, send and every
read, not a timeout per read) and in size, and every failure (garbage that is
not HTTP, a trickle, 20 MB of answer) is one :class:`RemoteError` line that
shows none of the bytes received.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import socket
import struct
import time
from typing import Any

from workbench.remote.jobs import TOKEN, Job, JobFileError, JobList, list_jobs, pid_alive, shown

HOST = "127.0.0.1"
MAX_ANSWER = 16 * 1024 * 1024  # the body of one answer
MAX_HEAD = 64 * 1024  # status line and headers


def _proc_word(packed: bytes) -> str:
    """Address words as /proc/net/tcp* print them (each 32 bits in host order, %08X)."""
    return "".join(f"{w:08X}" for w in struct.unpack(f"={len(packed) // 4}I", packed))


# Listening addresses a connection to 127.0.0.1 can reach: 127.0.0.1 and 0.0.0.0,
# and in tcp6 the wildcard :: and ::ffff:127.0.0.1.
_REACHABLE = {
    "tcp": {_proc_word(socket.inet_aton(HOST)), _proc_word(bytes(4))},
    "tcp6": {
        _proc_word(bytes(16)),
        _proc_word(socket.inet_pton(socket.AF_INET6, "::ffff:" + HOST)),
    },
}
_LISTEN = "0A"


class RemoteError(RuntimeError):
    """The crawl could not be reached or refused the request: the message says which."""


class CrawlGone(RemoteError):
    """Nothing listens on the crawl's port any more: it has ended."""


class _TooLarge(Exception):
    pass


def listeners(port: int) -> list[tuple[int, int]] | None:
    """(uid, inode) of each socket listening where a connection to 127.0.0.1:``port``
    can arrive; None where there is no ``/proc/net/tcp`` (not Linux)."""
    found: list[tuple[int, int]] = []
    tables = 0
    for table, reachable in _REACHABLE.items():
        try:
            f = open(f"/proc/net/{table}", encoding="ascii", errors="replace")  # noqa: SIM115
        except OSError:
            continue
        tables += 1
        with f:
            next(f, None)  # the header
            for line in f:
                fields = line.split()
                if len(fields) < 10 or fields[3] != _LISTEN:
                    continue
                address, _, hex_port = fields[1].partition(":")
                try:
                    if int(hex_port, 16) != port or address not in reachable:
                        continue
                    found.append((int(fields[7]), int(fields[9])))
                except ValueError:
                    continue
    return found if tables else None


def socket_inodes(pid: int) -> set[int]:
    """The inodes of the sockets open in ``pid`` (``socket:[N]`` links in /proc/PID/fd).

    OSError (PermissionError: not this user's process) when they cannot be read."""
    inodes: set[int] = set()
    with os.scandir(f"/proc/{pid}/fd") as entries:
        for entry in entries:
            try:
                link = os.readlink(entry.path)
            except OSError:  # closed meanwhile
                continue
            if link.startswith("socket:[") and link.endswith("]"):
                inodes.add(int(link[8:-1]))
    return inodes


class _DeadlineReader(io.RawIOBase):
    """A socket's bytes, each read bounded by what is left of one deadline and
    all of them by a total size."""

    def __init__(self, sock: socket.socket, deadline: float, limit: int) -> None:
        self.sock = sock
        self.deadline = deadline
        self.limit = limit
        self.received = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        if self.received >= self.limit:
            raise _TooLarge
        view = memoryview(buffer).cast("B")[: self.limit - self.received]
        self.sock.settimeout(left)
        count = self.sock.recv_into(view)
        self.received += count
        return count


class _Answer:
    """What :class:`http.client.HTTPResponse` reads from (it calls ``makefile``)."""

    def __init__(self, reader: _DeadlineReader) -> None:
        self.reader = reader

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(self.reader, 64 * 1024)


class RemoteControlClient:
    def __init__(self, job: Job, timeout: float = 10.0) -> None:
        self.job = job
        self.timeout = timeout
        self._verified: set[int] = set()  # listening sockets shown to be the crawl's

    def __repr__(self) -> str:  # no token
        return f"<RemoteControlClient pid={self.job.pid} port={self.job.port}>"

    def _gone(self) -> CrawlGone:
        return CrawlGone(
            f"the crawl (pid {self.job.pid}) no longer answers on port {self.job.port}"
        )

    def check_listener(self) -> None:
        """Raise unless what listens on the port is the crawl (see the module's doc)."""
        job = self.job
        me = os.getuid()
        found = listeners(job.port)
        if found is None:
            # No /proc (macOS, the BSDs): which process listens on the port cannot be
            # seen without lsof, so only the pid is checked, alive and ours (kill(pid, 0)
            # fails with EPERM on another user's process).  Through a tunnel, nothing.
            if job.local:
                self._check_pid_is_ours()
            return
        if not found:
            raise self._gone()
        foreign = sorted({uid for uid, _ in found if uid != me})
        if foreign:
            raise RemoteError(
                f"refusing to send the token: port {job.port} is served by uid {foreign[0]}, "
                f"not by you ({me}); the job file {shown(job.path)} is out of date"
            )
        if not job.local:
            return
        inodes = {inode for _, inode in found}
        if inodes <= self._verified:
            return
        try:
            owner = os.stat(f"/proc/{job.pid}").st_uid
            if owner != me:  # root reads every process's fds: the uid says whose it is
                raise PermissionError
            owned = socket_inodes(job.pid)
        except FileNotFoundError:
            raise CrawlGone(
                f"the crawl (pid {job.pid}) has ended; something else listens on its "
                f"port {job.port}"
            ) from None
        except OSError:
            raise RemoteError(
                f"refusing to send the token: pid {job.pid} of the job file is not your "
                "process (the job file is out of date and its pid reused)"
            ) from None
        if not inodes <= owned:
            raise RemoteError(
                f"refusing to send the token: what listens on port {job.port} is not the "
                f"crawl's process (pid {job.pid}): the job file {shown(job.path)} is out of "
                "date, or its pid or port reused"
            )
        self._verified |= inodes

    def _check_pid_is_ours(self) -> None:
        pid = self.job.pid
        if not pid_alive(pid):
            raise self._gone()
        try:
            os.kill(pid, 0)
        except PermissionError:
            raise RemoteError(
                f"refusing to send the token: pid {pid} of the job file is not your process"
            ) from None
        except OSError:
            raise self._gone() from None

    def _request(self, path: str, body: dict[str, Any] | None) -> bytes:
        token = self.job.token
        if not isinstance(token, str) or not TOKEN.fullmatch(token):
            raise RemoteError(
                f"the token of job file {shown(self.job.path)} is not one word of visible "
                "ASCII characters (not shown): refused"
            )
        payload = json.dumps(body).encode() if body is not None else b""
        lines = [
            f"{'POST' if body is not None else 'GET'} {path} HTTP/1.1",
            f"Host: {HOST}:{self.job.port}",
            f"Authorization: Bearer {token}",
            "Accept: application/json",
            "Connection: close",
        ]
        if body is not None:
            lines += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii") + payload

    def _exchange(
        self, path: str, body: dict[str, Any] | None, deadline: float
    ) -> tuple[int, bytearray]:
        request = self._request(path, body)
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError
        sock = socket.create_connection((HOST, self.job.port), timeout=left)
        try:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            sock.sendall(request)
            reader = _DeadlineReader(sock, deadline, MAX_HEAD + MAX_ANSWER + 1024**2)
            response = http.client.HTTPResponse(
                _Answer(reader),  # type: ignore[arg-type]
                method="POST" if body is not None else "GET",
            )
            try:
                response.begin()
                if response.length is not None and response.length > MAX_ANSWER:
                    raise _TooLarge  # its Content-Length says so: not read at all
                answer = bytearray()
                while chunk := response.read(64 * 1024):
                    answer += chunk
                    if len(answer) > MAX_ANSWER:
                        raise _TooLarge
                return response.status, answer
            finally:
                response.close()
        finally:
            sock.close()

    def _call(self, path: str, body: dict[str, Any] | None, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        self.check_listener()
        where = f"the crawl (pid {self.job.pid}, port {self.job.port})"
        try:
            status, raw = self._exchange(path, body, deadline)
        except ConnectionRefusedError:
            raise self._gone() from None
        except TimeoutError:
            raise RemoteError(f"{where} did not answer {path} in {timeout:g} s") from None
        except _TooLarge:
            raise RemoteError(
                f"{where} sent more than {MAX_ANSWER // 1024**2} MB for {path}: "
                "not the answer of a crawl"
            ) from None
        except (http.client.HTTPException, ValueError) as exc:
            # never str(exc): BadStatusLine and LineTooLong carry the bytes received
            raise RemoteError(
                f"what answers on port {self.job.port} does not speak HTTP as the crawl does "
                f"({type(exc).__name__}): is the job file {shown(self.job.path)} out of date?"
            ) from None
        except OSError as exc:
            reason = exc.strerror or type(exc).__name__
            raise RemoteError(f"cannot reach {where}: {reason}") from None
        if status in (401, 403):
            raise RemoteError(
                f"the crawl (pid {self.job.pid}) refused the token from its job file: "
                "the file is out of date or not this crawl's"
            )
        if status != 200:
            raise RemoteError(f"the crawl answered HTTP {status} to {path}")
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
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
