"""``workbench attach [--shell] [--probe] [--ssh HOST] [JOB|PID]``: the panels, or a
Python shell, on a crawl running in another process (here, or on HOST through an
SSH port forward), through Scrapy's RemoteControl extension."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from workbench.commands.base import THEME_HELP, CliError, Command, check_theme
from workbench.commands.jobs import add_job_options, check_ssh, jobs_directory, list_jobs
from workbench.commands.running import AppRun, print_leftovers, say, summary


class Attach(Command):
    name = "attach"
    help = "Attach the panels to a running crawl (--shell: a Python shell inside it)"
    description = (
        "Attach to a crawl running elsewhere (scrapy crawl, Scrapyd, another "
        "terminal) through Scrapy's RemoteControl extension."
    )
    usage_status = 1

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("job", nargs="?", help="a pid or job id from workbench ps (default: "
                            "the only running crawl)")  # fmt: skip
        parser.add_argument("--shell", action="store_true", help="open a Python shell in the crawl")
        parser.add_argument(
            "--probe",
            action="store_true",
            help="install only the light probe (recent responses, log, stats, slots, queue, "
            "refs), not workbench's recorder: for crawls where every percent counts",
        )
        parser.add_argument(
            "--timeout", type=float, default=30.0, metavar="SECONDS", help="per shell entry (30)"
        )
        parser.add_argument("--theme", metavar="NAME", help=THEME_HELP)
        add_job_options(parser)

    def parse(self, argv: list[str]) -> argparse.Namespace:
        parser = self.parser()
        opts = parser.parse_args(argv)
        check_ssh(parser, opts)
        return opts

    def execute(self, opts: argparse.Namespace) -> int:
        from workbench.remote.client import RemoteControlClient, RemoteError, choose_job
        from workbench.remote.jobs import JobFileError
        from workbench.remote.repl import RemoteShell, interact
        from workbench.remote.ssh import SshError, Tunnel

        directory = jobs_directory(opts)
        if opts.timeout <= 0:
            raise CliError("--timeout must be positive")
        check_theme(opts.theme)
        tunnel = None
        try:
            found = list_jobs(opts, directory)
            where = opts.ssh or str(directory)
            if opts.job is None and sys.stdin.isatty():
                job = pick_job(found, where)
                if job is None:
                    return 1
            else:
                job = choose_job(found, opts.job, where)
            if opts.ssh:
                tunnel = Tunnel(opts.ssh, job)
                job = tunnel.job
            client = RemoteControlClient(job)
            status = client.status()
            if not sys.stdin.isatty():
                what = "--shell needs" if opts.shell else "the panels need"
                raise CliError(f"{what} a terminal")
            if opts.shell:
                return interact(RemoteShell(client, opts.timeout), status)
            return run_attached(
                client, job_file_local=not opts.ssh, probe=opts.probe, theme=opts.theme
            )
        except (JobFileError, RemoteError, SshError) as exc:
            raise CliError(str(exc), limit=500) from None
        finally:
            if tunnel is not None:
                tunnel.close()


def pick_job(found: Any, where: str) -> Any:
    """The only running crawl, or the one the user picks from a numbered list."""
    from workbench.core.formats.sanitize import clean_line
    from workbench.remote.client import choose_job

    jobs = found.jobs
    if len(jobs) < 2:
        return choose_job(found, None, where)  # the only one, or the error that says why
    print("Running crawls:")
    for number, job in enumerate(jobs, 1):
        print(
            f"  {number}. pid {job.pid}  {clean_line(job.spider, 40)}  "
            f"({clean_line(job.project or '-', 40)})  job {clean_line(job.job_id, 60)}"
        )
    while True:
        try:
            answer = input(f"Attach to which one? [1-{len(jobs)}, Enter to cancel] ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            return None
        if not answer:
            return None
        if answer.isdigit() and 1 <= int(answer) <= len(jobs):
            return jobs[int(answer) - 1]
        print(f"  a number from 1 to {len(jobs)}, please")


def run_attached(
    client: Any, job_file_local: bool = True, probe: bool = False, theme: str | None = None
) -> int:
    """The panels on a crawl in another process; quitting detaches."""
    from workbench.core.control.watchdog import SHUTDOWN_GRACE, WATCHDOG
    from workbench.core.formats.sanitize import clean_line
    from workbench.remote.client import RemoteError
    from workbench.remote.source import RemoteSource
    from workbench.ui.app import WorkbenchApp

    source = RemoteSource(client, job_file_local=job_file_local, probe=probe)
    try:
        hello = source.attach()
    except (RemoteError, ValueError) as exc:
        raise CliError(str(exc), limit=500) from None
    app = WorkbenchApp(source, theme=theme)
    run = AppRun(app)  # SIGTERM, SIGINT, SIGHUP, a closed terminal: detach, as q does
    try:
        run.run()
    finally:
        WATCHDOG.arm(SHUTDOWN_GRACE, "detaching")  # the detach's calls are bounded in time
        run.remove()
        source.close()
    print_leftovers(app)
    snapshot = source.snapshot()
    pid = client.job.pid
    if source.gone:
        say(f"workbench: the crawl (pid {pid}) has ended: {summary(source).split(': ', 1)[1]}",
            err=False)  # fmt: skip
        return 0
    what = "removed what it installed" if not hello.get("existing") else "left its recorder"
    say(
        f"workbench: detached from {clean_line(snapshot.spider, 40)} (pid {pid}), "
        f"{what}; the crawl goes on ({snapshot.status.state}).",
        err=False,
    )
    return 0
