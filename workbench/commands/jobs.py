"""What ``ps`` and ``attach`` share: the ``--jobs-dir`` and ``--ssh`` options and
the listing of RemoteControl job files, here or on another machine."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from workbench.commands.project import project_settings


def add_job_options(parser: argparse.ArgumentParser) -> None:
    """``--jobs-dir`` and ``--ssh``."""
    parser.add_argument(
        "--jobs-dir",
        type=Path,
        metavar="DIR",
        help="where the job files are (default: REMOTE_CONTROL_JOBS_DIR or Scrapy's state dir; "
        "with --ssh, on that machine)",
    )
    parser.add_argument(
        "--ssh",
        metavar="[USER@]HOST",
        help="crawls on another machine, through your OpenSSH client (ssh HOST must work); "
        "the crawl's port is forwarded to 127.0.0.1 here",
    )


def check_ssh(parser: argparse.ArgumentParser, opts: argparse.Namespace) -> None:
    """An ``--ssh`` that is an ssh option rather than a host is argparse's error (it exits)."""
    if opts.ssh is not None and (not opts.ssh.strip() or opts.ssh.startswith("-")):
        parser.error(f"--ssh takes a host, not {opts.ssh!r}")


def jobs_directory(opts: argparse.Namespace) -> Path:
    """Where the job files are: --jobs-dir, or (here) the project's REMOTE_CONTROL_JOBS_DIR
    or Scrapy's state directory."""
    if opts.ssh:
        return opts.jobs_dir or Path("")
    from workbench.remote.jobs import jobs_dir

    return opts.jobs_dir or jobs_dir(project_settings())


def list_jobs(opts: argparse.Namespace, directory: Path) -> Any:
    """The job listing, here or over SSH (SshError, JobFileError on failure)."""
    if opts.ssh:
        from workbench.remote.ssh import list_remote_jobs

        return list_remote_jobs(opts.ssh, str(opts.jobs_dir) if opts.jobs_dir else None)
    from workbench.remote.jobs import list_jobs as local_jobs

    return local_jobs(directory)
