"""Crawls on another machine, through the system's OpenSSH client.

``ssh HOST`` runs one fixed POSIX shell script there that lists the job
files (owner, mode, whether the pid is alive, the content), and they are
checked here as local ones are.  Then ``ssh -N -L 127.0.0.1:PORT:127.0.0.1:
REMOTE_PORT HOST`` forwards a local port to the crawl's RemoteControl
server; it listens on the loopback address only, and everything else
(attach, the shell) talks to it as to a local crawl.  Authentication,
host keys and ``~/.ssh/config`` are OpenSSH's.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import dataclasses
import os
import shlex
import shutil
import socket
import stat
import subprocess
import time
from pathlib import PurePosixPath
from typing import Any

from workbench.remote.jobs import MAX_JOB_FILE, Job, JobFileError, JobList, check_private, parse_job

# Fixed: the jobs directory is its only argument ($1, quoted by shlex).
LIST_SCRIPT = r"""
d=${1:-${XDG_STATE_HOME:-$HOME/.local/state}/scrapy/job_files}
echo "uid $(id -u)"
if [ ! -d "$d" ]; then echo "nodir"; exit 0; fi
echo "dir $(stat -c '%u %a' "$d")"
for f in "$d"/*.json; do
  [ -e "$f" ] || continue
  if [ -L "$f" ] || [ ! -f "$f" ]; then echo "notfile $f"; continue; fi
  n=${f##*/}; p=${n%%-*}; a=0
  case "$p" in (*[!0-9]*|'') ;; (*) kill -0 "$p" 2>/dev/null && a=1 ;; esac
  echo "file $(stat -c '%u %a %s' "$f") $a $f"
  head -c 65536 "$f" | base64 | tr -d '\n'; echo
done
"""


class SshError(RuntimeError):
    """ssh failed: the message has its own words."""


def ssh_command() -> str:
    found = shutil.which("ssh")
    if found is None:
        raise SshError("no ssh client found (install OpenSSH's client)")
    return found


def _stat(uid: int, mode: str, size: int = 0) -> os.stat_result:
    return os.stat_result((stat.S_IFREG | int(mode, 8), 0, 0, 1, uid, 0, size, 0, 0, 0))


def parse_listing(text: str, where: str) -> JobList:
    """The script's output as checked jobs (the checks ``workbench ps`` makes locally).

    A line that is not what the script writes is one problem, and the listing goes on.
    """
    result = JobList([], [], [])
    lines = iter(text.splitlines())
    uid: int | None = None
    for line in lines:
        kind, _, rest = line.partition(" ")
        try:
            if kind == "uid":
                uid = int(rest)
            elif kind == "nodir":
                return result
            elif kind == "dir":
                owner, mode = rest.split()[:2]
                label = f"{where} jobs directory"
                check_private(label, _stat(int(owner), mode), "job directory", uid)
            elif kind == "notfile":
                result.problems.append(f"refusing {where}:{rest}: not a regular file")
            elif kind == "file":
                owner, mode, size, alive, path = rest.split(" ", 4)
                content = next(lines, "")
                label = f"{where}:{path}"
                check_private(label, _stat(int(owner), mode), "job file", uid)
                if int(size) > MAX_JOB_FILE:
                    raise JobFileError(f"refusing job file {label}: too large")
                try:
                    data = base64.b64decode(content, validate=True).decode("utf-8")
                except (ValueError, binascii.Error) as exc:  # bad base64 or UTF-8
                    raise JobFileError(f"cannot read job file {label}: {exc}") from None
                job = parse_job(PurePosixPath(path), data, local=False)  # type: ignore[arg-type]
                if alive == "1":
                    result.jobs.append(job)
        except JobFileError as exc:
            result.problems.append(str(exc))
            if kind == "dir":
                return result
        except (ValueError, OverflowError):  # a line the script does not write
            result.problems.append(f"{where}: cannot read the job listing at {line[:80]!r}")
    result.jobs.sort(key=lambda j: (j.start_time or 0.0, j.pid))
    return result


def list_remote_jobs(host: str, remote_dir: str | None = None, timeout: float = 30) -> JobList:
    argv = [ssh_command(), "-o", "BatchMode=no", host, "--", "sh", "-c",
            shlex.quote(LIST_SCRIPT), "workbench-ps"]  # fmt: skip
    if remote_dir:
        argv.append(shlex.quote(remote_dir))
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, errors="replace", timeout=timeout
        )
    except subprocess.TimeoutExpired:
        raise SshError(f"ssh {host} did not answer in {timeout:g} s") from None
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or [f"exit status {done.returncode}"])[-1]
        raise SshError(f"ssh {host}: {last}")
    return parse_listing(done.stdout, host)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Tunnel:
    """``ssh -N -L 127.0.0.1:LOCAL:127.0.0.1:REMOTE HOST`` for as long as it is open."""

    def __init__(self, host: str, job: Job, timeout: float = 30) -> None:
        self.host = host
        self.remote_job = job
        self.port = free_port()
        forward = f"127.0.0.1:{self.port}:127.0.0.1:{job.port}"
        self.proc = subprocess.Popen(
            [ssh_command(), "-N", "-o", "ExitOnForwardFailure=yes", "-o", "BatchMode=no",
             "-L", forward, host],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
            text=True, errors="replace",
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while not self._listening():
            if self.proc.poll() is not None:
                err = (self.proc.stderr.read() if self.proc.stderr else "").strip()
                raise SshError(f"ssh {host}: the port forward failed: {err.splitlines()[-1:]}")
            if time.monotonic() > deadline:
                self.close()
                raise SshError(f"ssh {host}: the port forward did not open in {timeout:g} s")
            time.sleep(0.05)

    def _listening(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), 0.5):
            return True
        return False

    @property
    def job(self) -> Job:
        """The job as seen through the tunnel: the same token, the local port.

        Not ``local``: what listens on the port is ssh (or its ControlMaster), not
        the crawl's pid, so the client checks only that the listener is this user's.
        """
        return dataclasses.replace(self.remote_job, port=self.port, local=False)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def __enter__(self) -> Tunnel:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
