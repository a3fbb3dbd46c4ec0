"""``workbench ps [--json] [--jobs-dir DIR] [--ssh HOST]``: the running crawls,
from RemoteControl job files."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from workbench.commands.base import CliError, Command
from workbench.commands.jobs import add_job_options, check_ssh, jobs_directory, list_jobs

if TYPE_CHECKING:
    from workbench.remote.jobs import Job


class Ps(Command):
    name = "ps"
    help = "List this user's running Scrapy crawls (RemoteControl job files)"
    description = (
        help + ". Stale job files (their process is gone) are removed; "
        "files another user could read are refused."
    )
    usage_status = 1

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--json", action="store_true", help="print the jobs as a JSON array")
        add_job_options(parser)

    def parse(self, argv: list[str]) -> argparse.Namespace:
        parser = self.parser()
        opts = parser.parse_args(argv)
        check_ssh(parser, opts)
        return opts

    def execute(self, opts: argparse.Namespace) -> int:
        import json

        from workbench.core.formats.sanitize import clean_line
        from workbench.remote.ssh import SshError

        directory = jobs_directory(opts)
        try:
            found = list_jobs(opts, directory)
        except SshError as exc:
            raise CliError(str(exc), limit=500) from None
        for problem in found.problems:
            print(f"workbench ps: {clean_line(problem, 500)}", file=sys.stderr)
        if opts.json:
            print(json.dumps([job.public() for job in found.jobs], indent=2))
            return 0
        if not found.jobs:
            where = f"on {opts.ssh}" if opts.ssh else f"job files in {directory}"
            print(f"No running Scrapy crawls ({clean_line(where, 300)}).")
            return 0
        print_table(found.jobs)
        return 0


def print_table(jobs: list[Job]) -> None:
    """One row a crawl: pid, spider, project, Scrapy's version, start, job id."""
    import time

    from workbench.core.formats.sanitize import clean_line

    rows = [("PID", "SPIDER", "PROJECT", "SCRAPY", "STARTED", "JOB")]
    for job in jobs:
        started = (
            time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(job.start_time))
            if job.start_time
            else "-"
        )
        rows.append(
            (
                str(job.pid),
                clean_line(job.spider, 40),
                clean_line(job.project or "-", 40),
                clean_line(job.scrapy_version, 20),
                started,
                clean_line(job.job_id, 60),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        cells = [cell.ljust(w) for cell, w in zip(row, widths, strict=False)]
        print("  ".join([*cells, row[-1]]))
