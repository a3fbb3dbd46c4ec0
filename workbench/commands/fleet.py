"""``workbench fleet [--ssh HOST]... [--scrapyd URL]... [--json]``: every running
crawl, here (RemoteControl job files, as ``ps``), on other machines over ssh
and on Scrapyd nodes, in one live table; Enter attaches, q comes back.

This module wires ``core/fleet`` (which does not import ``remote``) to the
job listing, the RemoteControl client and the ssh port forward
(:func:`build_poller`), and runs the table and the attached panels one after
the other (:func:`run_fleet`).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import sys
from pathlib import Path
from typing import Any

from workbench.commands.base import THEME_HELP, CliError, Command, check_theme


class Fleet(Command):
    name = "fleet"
    help = "Every running crawl (here, over ssh, on Scrapyd nodes) in one live table"
    description = (
        "Every running crawl in one live table: this host's RemoteControl job files (as "
        "workbench ps), other machines' over ssh, and Scrapyd nodes' jobs (running, pending, "
        "finished). Enter attaches the panels to a crawl; q in them comes back."
    )
    usage_status = 1

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--ssh",
            action="append",
            default=[],
            metavar="[USER@]HOST",
            help="another machine's crawls, through your OpenSSH client (repeat for more)",
        )
        parser.add_argument(
            "--scrapyd",
            action="append",
            default=[],
            metavar="URL",
            help="a Scrapyd node, e.g. http://user:pass@host:6800 (credentials from the URL "
            "or ~/.netrc, never shown), or env:NAME to read the URL from that environment "
            "variable (out of ps's sight); repeat for more",
        )
        parser.add_argument(
            "--jobs-dir",
            type=Path,
            metavar="DIR",
            help="this host's job files (default: REMOTE_CONTROL_JOBS_DIR or Scrapy's state dir)",
        )
        parser.add_argument(
            "--remote-jobs-dir",
            metavar="DIR",
            help="the job files' directory on the --ssh machines (default: Scrapy's there)",
        )
        parser.add_argument("--no-local", action="store_true", help="not this host's job files")
        parser.add_argument("--json", action="store_true", help="print one snapshot as JSON")
        parser.add_argument(
            "--interval", type=float, default=2.0, metavar="SECONDS", help="between polls (2)"
        )
        parser.add_argument(
            "--timeout",
            type=float,
            default=5.0,
            metavar="SECONDS",
            help="for a host, node or crawl to answer before it shows unreachable (5)",
        )
        parser.add_argument("--workers", type=int, default=8, metavar="N", help="polls at once (8)")
        parser.add_argument("--filter", default="", metavar="EXPR", help="the table's filter")
        parser.add_argument("--theme", metavar="NAME", help=THEME_HELP)
        from workbench.commands.fleet_redis import add_redis_arguments

        add_redis_arguments(parser)  # --redis URL --spider NAME: the shared queue's view

    def parse(self, argv: list[str]) -> argparse.Namespace:
        parser = self.parser()
        opts = parser.parse_args(argv)
        for host in opts.ssh:
            if not host.strip() or host.startswith("-"):
                parser.error(f"--ssh takes a host, not {host!r}")
        return opts

    def execute(self, opts: argparse.Namespace) -> int:
        if opts.interval <= 0 or opts.timeout <= 0:
            raise CliError("--interval and --timeout must be positive")
        if not 1 <= opts.workers <= 256:
            raise CliError("--workers must be between 1 and 256")
        check_theme(opts.theme)
        from workbench.core.fleet.filter import FilterError, parse_fleet_filter

        try:
            parse_fleet_filter(opts.filter)
        except FilterError as exc:
            raise CliError(f"--filter: {exc}", limit=300) from None
        from workbench.commands.fleet_redis import build_watch

        watch = build_watch(opts)
        poller, sources = build_poller(opts, annotators=[watch] if watch else [])
        try:
            if opts.json:
                import json

                from workbench.core.fleet.export import snapshot_to_json

                out = snapshot_to_json(poller.poll_once())
                if watch is not None:
                    from workbench.core.fleet.redis_watch import view_to_json

                    out["redis"] = view_to_json(watch.view())
                print(json.dumps(out, indent=2))
                return 0
            if not sys.stdin.isatty() or not sys.stdout.isatty():
                raise CliError("the fleet table needs a terminal (--json prints a snapshot)")
            return run_fleet(poller, sources, opts, watch)
        finally:
            poller.close()
            if watch is not None:
                watch.close()


def _machine_of(host: str) -> str:
    """The host name of an ``--ssh`` argument (``user@box`` -> ``box``)."""
    return host.rpartition("@")[2]


def build_poller(opts: argparse.Namespace, annotators: Any = ()) -> tuple[Any, list[Any]]:
    """The poller over the sources the options name: (poller, sources)."""
    from workbench.core.fleet.local import LOCALHOST, JobFileSource, Prober
    from workbench.core.fleet.poller import FleetPoller
    from workbench.core.fleet.scrapyd import ScrapydSource, parse_node

    sources: list[Any] = []
    if not opts.no_local:
        sources.append(JobFileSource(_local_lister(opts.jobs_dir)))
    for host in opts.ssh:
        sources.append(JobFileSource(_ssh_lister(host, opts.remote_jobs_dir), ssh_host=host))
    machines = {_machine_of(host): host for host in opts.ssh}
    for url in opts.scrapyd:
        try:
            node = parse_node(_from_env(url))
        except ValueError as exc:
            raise CliError(f"--scrapyd: {exc}") from None
        machine = machines.get(node.host)
        if machine is None and node.loopback and not opts.no_local:
            machine = LOCALHOST
        sources.append(ScrapydSource(node, machine))
    if not sources:
        raise CliError("nothing to poll: --no-local without --ssh or --scrapyd")
    prober = Prober(connect, opts.timeout)
    poller = FleetPoller(
        sources,
        prober,
        interval=opts.interval,
        timeout=opts.timeout,
        workers=opts.workers,
        annotators=annotators,
    )
    return poller, sources


def _from_env(url: str) -> str:
    """``env:NAME``: the URL from that environment variable, out of ``ps``'s sight."""
    import os

    if not url.startswith("env:"):
        return url
    name = url[4:]
    value = os.environ.get(name)
    if not name or value is None:
        raise CliError(f"--scrapyd {url}: no environment variable {name!r}", limit=200)
    return value


def _local_lister(directory: Path | None) -> Any:
    """This host's job files; the directory is found once (reading the project's
    settings takes most of a second)."""
    from workbench.remote.jobs import jobs_dir, list_jobs

    found: list[Path] = [directory] if directory is not None else []

    def lister(timeout: float) -> Any:
        if not found:
            from workbench.commands.project import project_settings

            found.append(jobs_dir(project_settings()))
        return list_jobs(found[0])

    return lister


def _ssh_lister(host: str, remote_dir: str | None) -> Any:
    from workbench.remote.ssh import list_remote_jobs

    def lister(timeout: float) -> Any:
        return list_remote_jobs(host, remote_dir, timeout=timeout)

    return lister


def connect(target: Any, timeout: float) -> tuple[Any, Any]:
    """A RemoteControl client for a crawl of the fleet (over ssh: through a port
    forward, closed when the crawl is no longer listed)."""
    from workbench.remote.client import RemoteControlClient

    if target.ssh_host:
        from workbench.remote.ssh import Tunnel

        tunnel = Tunnel(target.ssh_host, target.job, timeout=timeout)
        return RemoteControlClient(tunnel.job, timeout=timeout), tunnel.close
    return RemoteControlClient(target.job, timeout=timeout), None


def log_fetcher(sources: list[Any]) -> Any:
    """Reads a Scrapyd job's log from the node that listed it."""
    from workbench.core.fleet.scrapyd import ScrapydSource

    nodes = {s.node.shown: s for s in sources if isinstance(s, ScrapydSource)}

    def fetch(row: Any) -> str:
        source = nodes.get(row.node or "")
        if source is None:
            raise ValueError("this job's node is not one of --scrapyd")
        return str(source.log(row))

    return fetch


def run_fleet(poller: Any, sources: list[Any], opts: argparse.Namespace, watch: Any = None) -> int:
    """The table; Enter ends it with a row, which is attached to; then the table again."""
    from workbench.ui.screens.fleet import FleetApp, FleetViewState

    state = FleetViewState(expr=opts.filter.strip())
    fetch = log_fetcher(sources)
    poller.start()
    while True:
        app = FleetApp(poller, state=state, theme=opts.theme, fetch_log=fetch, redis_watch=watch)
        row = _run_table(app)
        if row is None:
            return 0
        poller.pause()  # the attached crawl is polled by its panels meanwhile
        try:
            note = attach_row(row, opts.theme)
        finally:
            poller.resume()
        if note:
            state.notes.append(note)


def _run_table(app: Any) -> Any:
    """The fleet app with SIGTERM, SIGHUP and SIGINT leaving it (the crawls go on)."""
    import signal

    previous = {}

    def leave(sig: int, frame: Any) -> None:
        with contextlib.suppress(Exception):
            app.call_from_thread(app.exit, None)

    for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        with contextlib.suppress(ValueError):
            previous[sig] = signal.signal(sig, leave)
    try:
        return app.run()
    finally:
        for sig, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(sig, handler)


def attach_row(row: Any, theme: str | None) -> str | None:
    """The panels on the row's crawl until q; a line for the fleet afterwards."""
    from workbench.commands.attach import run_attached
    from workbench.core.control.watchdog import WATCHDOG
    from workbench.remote.client import RemoteControlClient, RemoteError
    from workbench.remote.ssh import SshError, Tunnel

    tunnel = None
    try:
        job = row.job
        if row.ssh_host:
            tunnel = Tunnel(row.ssh_host, job)
            job = tunnel.job
        client = RemoteControlClient(job)
        client.status()
        # what the attach prints when it ends ("detached from ...") becomes a note
        # on the fleet, which takes the terminal back at once
        said = io.StringIO()
        with contextlib.redirect_stdout(said), contextlib.redirect_stderr(said):
            run_attached(client, job_file_local=not row.ssh_host, theme=theme)
        lines = [line.strip() for line in said.getvalue().splitlines() if line.strip()]
        return " ".join(lines)[:500] or None
    except CliError as exc:
        return f"attach failed: {exc.line()}"
    except (RemoteError, SshError, ValueError) as exc:
        return f"attach failed: {exc}"
    finally:
        WATCHDOG.disarm()  # run_attached armed it for the detach, which is over
        if tunnel is not None:
            tunnel.close()
