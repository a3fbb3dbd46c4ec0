"""``workbench runs [SPIDER] [--json] [-n N]``: the runs kept in the user's state
directory (``workbench.core.recording.run_store``), newest first, each with what
changed since the run before it of the same spider (and project)."""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
from typing import Any

from workbench.commands.base import CliError, Command

DEFAULT_COUNT = 20


class Runs(Command):
    name = "runs"
    help = "List past runs of your spiders (crawl, runspider, demo) and what changed in each"
    description = (
        "List the runs workbench kept (crawl, runspider and demo keep a summary of each "
        "finished crawl: stats, fates, field fill rates, error groups, finish reason), "
        "newest first, with what changed since the previous run of the same spider in "
        "the same project. They are kept in $WORKBENCH_STATE_DIR/runs, else the user "
        "state directory (~/.local/state/workbench/runs), the last 50 per spider; "
        "set WORKBENCH_KEEP_RUNS = False in a project, or -s WORKBENCH_KEEP_RUNS=0, "
        "to keep none."
    )
    usage_status = 1

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("spider", nargs="?", help="only this spider's runs (any project)")
        parser.add_argument(
            "--json",
            action="store_true",
            help="print the runs as a JSON array, each with its summary and its changes",
        )
        parser.add_argument(
            "-n",
            dest="count",
            type=int,
            default=DEFAULT_COUNT,
            metavar="N",
            help=f"the N newest runs (default: {DEFAULT_COUNT}; 0: all of them)",
        )

    def execute(self, opts: argparse.Namespace) -> int:
        import json

        from workbench.core.formats.sanitize import clean_line
        from workbench.core.recording.run_store import RunStore

        if opts.count < 0:
            raise CliError("-n must be 0 (all) or more")
        store = RunStore()
        listed = newest(store, opts.spider, opts.count)
        if opts.json:
            print(json.dumps([as_json(*each) for each in listed],
                             indent=2))  # fmt: skip
            return 0
        if not listed:
            whose = f" of {clean_line(opts.spider, 100)}" if opts.spider else ""
            print(f"No runs{whose} kept yet (in {clean_line(str(store.root), 300)}).")
            return 0
        print_table(listed, width=shutil.get_terminal_size((120, 24)).columns)
        return 0


def newest(store: Any, spider: str | None, count: int) -> list[tuple[Any, Any, list[Any]]]:
    """(run, the previous run of its spider or None, the changes) for the newest runs."""
    from workbench.core.recording.run_changes import compare

    runs = (r for r in store.runs() if spider is None or r.spider == spider)
    chosen = list(itertools.islice(runs, count or None))
    by_key: dict[str, list[Any]] = {}  # each spider's runs, newest first, read once
    out = []
    for run in chosen:
        if run.key not in by_key:
            by_key[run.key] = list(store.runs(run.key))
        previous = next(
            (p for p in by_key[run.key] if p.finished is not None and p.started < run.started),
            None,
        )
        out.append((run, previous, compare(previous, run) if previous is not None else []))
    return out


def as_json(run: Any, previous: Any, changes: list[Any]) -> dict[str, Any]:
    data = run.to_json()
    del data["version"]
    data.update(
        file=run.path,
        duration=run.duration,
        pages=run.pages,
        items=run.items,
        items_dropped=run.items_dropped,
        errors_logged=run.errors_logged,
        fields=[
            {"item_type": f.item_type, "field": f.field, "total": f.total, "filled": f.filled}
            for f in run.fields
        ],
        errors=[
            {
                "origin": e.origin,
                "type": e.exc_type,
                "pattern": e.pattern,
                "where": e.where,
                "count": e.count,
            }
            for e in run.errors
        ],
        previous=None if previous is None else {"file": previous.path, "started": previous.started},
        changes=[c.to_json() for c in changes],
    )
    return data


def print_table(listed: list[tuple[Any, Any, list[Any]]], width: int = 120) -> None:
    """One row a run: start, spider, duration, pages, items, errors, finish reason, and
    what changed since the previous run."""
    import time

    from workbench.core.formats.sanitize import clean_line
    from workbench.core.recording.run_changes import clock, short

    projects = {run.project for run, _, _ in listed}
    rows = [("STARTED", "SPIDER", "TOOK", "PAGES", "ITEMS", "ERRORS", "REASON")]
    for run, _, _ in listed:
        spider = clean_line(run.spider, 30)
        if len(projects) > 1:  # which project's spider
            spider += f" ({clean_line(_project_name(run.project), 30)})"
        took = clock(run.duration) if run.duration is not None else "-"
        rows.append(
            (
                time.strftime("%Y-%m-%d %H:%M", time.localtime(run.started)),
                spider,
                took,
                f"{run.pages:,}",
                f"{run.items:,}",
                f"{run.errors_logged:,}",
                clean_line(run.finish_reason or "-", 30),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    numeric = {2, 3, 4, 5}
    left = max(width - sum(widths) - 2 * len(widths) - 1, 30)  # for VS PREVIOUS
    for n, row in enumerate(rows):
        cells = [
            cell.rjust(w) if i in numeric else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        ]
        if n == 0:
            last = "VS PREVIOUS"
        else:
            _, previous, changes = listed[n - 1]
            last = "(the first run kept)" if previous is None else short(changes, left)
        print("  ".join([*cells, last]).rstrip(), file=sys.stdout)


def _project_name(project: str) -> str:
    from pathlib import PurePath

    return PurePath(project).name or project
