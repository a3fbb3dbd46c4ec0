"""Running Scrapy crawls of this user, from the RemoteControl extension's job files.

Scrapy 2.19's RemoteControl extension (on by default) serves ``/status`` and
``/execute`` on 127.0.0.1 with a Bearer token, and writes the port and token
to a job file (0600, in a 0700 directory under the user's state dir, or
``REMOTE_CONTROL_JOBS_DIR``).  A job file is trusted only when it is this
user's and nobody else can read or write it; one whose process is gone is
stale and removed.  The token stays in :class:`Job` (never in its ``repr``,
never in :meth:`Job.public`): nothing here prints, logs or returns it.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_JOB_FILE = 64 * 1024  # a job file is a few hundred bytes


class JobFileError(ValueError):
    """A job file that cannot be trusted or read: the message says why."""


@dataclass(frozen=True)
class Job:
    path: Path
    pid: int
    port: int
    spider: str
    project: str | None
    scrapy_version: str
    start_time: float | None
    token: str = field(repr=False)

    @property
    def job_id(self) -> str:
        """The job file's name without ``.json`` (``PID-UUID``)."""
        return self.path.stem

    def public(self) -> dict[str, Any]:
        """What may be shown or printed: everything but the token."""
        return {
            "job": self.job_id,
            "pid": self.pid,
            "spider": self.spider,
            "project": self.project,
            "scrapy_version": self.scrapy_version,
            "start_time": self.start_time,
            "port": self.port,
            "job_file": str(self.path),
        }


def jobs_dir(settings: Any = None) -> Path:
    """Where RemoteControl writes job files (``REMOTE_CONTROL_JOBS_DIR`` or the state dir)."""
    from scrapy.settings import Settings
    from scrapy.utils._remote_control import job_files_dir  # Scrapy 2.19

    return job_files_dir(settings if settings is not None else Settings())


def pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # somebody else's process: alive, but not ours
        return True
    return True


def check_private(path: Any, st: os.stat_result, what: str, uid: int | None = None) -> None:
    """Refuse a file or directory that is another user's or open to others."""
    uid = os.getuid() if uid is None else uid
    if st.st_uid != uid:
        raise JobFileError(
            f"refusing {what} {path}: it belongs to uid {st.st_uid}, not to you ({uid})"
        )
    loose = stat.S_IMODE(st.st_mode) & 0o077
    if loose:
        mode = stat.S_IMODE(st.st_mode)
        fix = "chmod 600" if what == "job file" else "chmod 700"
        raise JobFileError(
            f"refusing {what} {path}: its mode {mode:04o} lets other users read or change "
            f"it, and it holds an access token ({fix} it if you trust it)"
        )


def read_job(path: Path) -> Job:
    """One job file, checked (owner, mode, size, format)."""
    try:
        st = path.lstat()
    except OSError as exc:
        raise JobFileError(f"cannot read job file {path}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise JobFileError(f"refusing job file {path}: not a regular file")
    check_private(path, st, "job file")
    if st.st_size > MAX_JOB_FILE:
        raise JobFileError(f"refusing job file {path}: {st.st_size} bytes is not a job file")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JobFileError(f"cannot read job file {path}: {type(exc).__name__}") from None
    return parse_job(path, text)


def parse_job(path: Path, text: str) -> Job:
    """A job file's content, checked (also for a file read over SSH)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobFileError(f"cannot read job file {path}: {type(exc).__name__}") from None
    try:
        version = data.get("version")
        if version != 1:
            raise JobFileError(f"job file {path}: format version {version!r}, expected 1")
        pid, port, token = data["pid"], data["port"], data["token"]
        if not (isinstance(pid, int) and isinstance(port, int) and 0 < port < 65536):
            raise JobFileError(f"job file {path}: bad pid or port")
        if not isinstance(token, str) or not token:
            raise JobFileError(f"job file {path}: no token")
        start = data.get("start_time")
        return Job(
            path=path,
            pid=pid,
            port=port,
            spider=str(data.get("spider") or "?"),
            project=str(data["project"]) if data.get("project") else None,
            scrapy_version=str(data.get("scrapy_version") or "?"),
            start_time=float(start) if isinstance(start, (int, float)) else None,
            token=token,
        )
    except (AttributeError, KeyError, TypeError):
        raise JobFileError(f"job file {path}: not a RemoteControl job file") from None


@dataclass
class JobList:
    jobs: list[Job]
    problems: list[str]  # files refused, each with the reason
    removed: list[Path]  # stale files (their process is gone), deleted


def list_jobs(directory: Path, clean: bool = True) -> JobList:
    """The running crawls whose job files are in ``directory``, oldest first."""
    result = JobList([], [], [])
    try:
        st = directory.stat()
    except FileNotFoundError:
        return result
    except OSError as exc:
        result.problems.append(f"cannot read {directory}: {exc.strerror}")
        return result
    try:
        check_private(directory, st, "job directory")
    except JobFileError as exc:
        result.problems.append(str(exc))
        return result
    for path in sorted(directory.glob("*.json")):
        try:
            job = read_job(path)
        except JobFileError as exc:
            result.problems.append(str(exc))
            continue
        if not pid_alive(job.pid):
            if clean:
                with contextlib.suppress(OSError):
                    path.unlink()
                result.removed.append(path)
            continue
        result.jobs.append(job)
    result.jobs.sort(key=lambda j: (j.start_time or 0.0, j.pid))
    return result
