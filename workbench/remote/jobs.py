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
import math
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_JOB_FILE = 64 * 1024  # a job file is a few hundred bytes
MAX_PID = 2**31 - 1  # what os.kill() takes; Linux pids stop at 2**22
LATEST = 1e11  # a start time after the year 5000 is not one
# Scrapy's token is secrets.token_urlsafe(32); any visible ASCII word is accepted,
# nothing that could end or split an HTTP header (CR, LF, spaces, controls).
TOKEN = re.compile(r"[\x21-\x7e]{1,1024}")
LONE_SURROGATE = re.compile("[\ud800-\udfff]")


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
    # False for a crawl on another machine (its job file read over SSH, its port
    # forwarded here): its pid is not a process here, so the client cannot check
    # that the pid is what listens on the port.
    local: bool = True

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
            "start_time": _start_time(self.start_time),
            "port": self.port,
            "job_file": str(self.path),
        }


def jobs_dir(settings: Any = None) -> Path:
    """Where RemoteControl writes job files (``REMOTE_CONTROL_JOBS_DIR`` or the state dir)."""
    from scrapy.settings import Settings
    from scrapy.utils._remote_control import job_files_dir  # Scrapy 2.19

    return job_files_dir(settings if settings is not None else Settings())


def shown(path: Any) -> str:
    """A path as text that can always be printed (bytes that are not UTF-8 as ``\\xff``)."""
    return os.fsencode(str(path)).decode("utf-8", "backslashreplace")


def _start_time(value: Any) -> float | None:
    """A start time JSON can carry and ``time.localtime`` can take (a finite number
    of seconds from 1970 to the year 5000), else None."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) and 0 <= number < LATEST else None


def pid_alive(pid: int) -> bool:
    if not 0 < pid <= MAX_PID:
        return False
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, OverflowError):
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
    where = shown(path)
    try:
        st = path.lstat()
    except OSError as exc:
        raise JobFileError(f"cannot read job file {where}: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise JobFileError(f"refusing job file {where}: not a regular file")
    check_private(where, st, "job file")
    if st.st_size > MAX_JOB_FILE:
        raise JobFileError(f"refusing job file {where}: {st.st_size} bytes is not a job file")
    if where != str(path):
        raise JobFileError(f"refusing job file {where}: its name is not UTF-8")
    try:
        with path.open("rb") as f:
            text = f.read(MAX_JOB_FILE + 1).decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise JobFileError(f"cannot read job file {where}: {type(exc).__name__}") from None
    return parse_job(path, text)


def _text(data: dict[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise JobFileError(f"job file {where}: {key} is not text")
    if LONE_SURROGATE.search(value):
        raise JobFileError(f"job file {where}: {key} is not valid Unicode (a lone surrogate)")
    return value


def parse_job(path: Path, text: str, local: bool = True) -> Job:
    """A job file's content, checked (also for a file read over SSH: ``local=False``).

    Anything a job file that Scrapy wrote cannot hold (a pid no process can have,
    a start time that is not a finite number, a token that is not one ASCII word,
    numbers of thousands of digits, JSON nested thousands deep, lone surrogates)
    is a :class:`JobFileError` of one line, which never shows the token.
    """
    where = shown(path)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise JobFileError(f"cannot read job file {where}: {type(exc).__name__}") from None
    except ValueError:  # Python's limit on the digits of an int (4300)
        raise JobFileError(f"cannot read job file {where}: a number too long to read") from None
    except RecursionError:
        raise JobFileError(f"cannot read job file {where}: JSON nested too deeply") from None
    if not isinstance(data, dict):
        raise JobFileError(f"job file {where}: not a RemoteControl job file")
    version = data.get("version")
    if version != 1 or isinstance(version, bool):
        shown_version = repr(version)[:40] if isinstance(version, (int, float, str)) else "?"
        raise JobFileError(f"job file {where}: format version {shown_version}, expected 1")
    if not all(key in data for key in ("pid", "port", "token")):
        raise JobFileError(f"job file {where}: not a RemoteControl job file")
    pid, port, token = data["pid"], data["port"], data["token"]
    if not (
        isinstance(pid, int)
        and not isinstance(pid, bool)
        and 0 < pid <= MAX_PID
        and isinstance(port, int)
        and not isinstance(port, bool)
        and 0 < port < 65536
    ):
        raise JobFileError(f"job file {where}: bad pid or port")
    if not isinstance(token, str) or not token:
        raise JobFileError(f"job file {where}: no token")
    if not TOKEN.fullmatch(token):
        raise JobFileError(
            f"job file {where}: its token is not one word of visible ASCII characters "
            "(not shown): refused"
        )
    start = data.get("start_time")
    start_time = _start_time(start)
    if start is not None and start_time is None:
        raise JobFileError(f"job file {where}: bad start_time (not a time since 1970)")
    return Job(
        path=path,
        pid=pid,
        port=port,
        spider=_text(data, "spider", where) or "?",
        project=_text(data, "project", where),
        scrapy_version=_text(data, "scrapy_version", where) or "?",
        start_time=start_time,
        token=token,
        local=local,
    )


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
