"""Where the runs' summaries (:mod:`workbench.core.recording.runs`) are kept.

Where: ``$WORKBENCH_STATE_DIR/runs``, else the platform's user state directory
(``$XDG_STATE_HOME/workbench/runs``, ``~/.local/state/workbench/runs`` on Linux).
One directory per spider *and project* (:func:`~workbench.core.recording.runs.run_key`),
in it one JSON file per run, written atomically (a temporary file, then
``os.replace``), private to the user (0600 in 0700).  Bounded: :data:`KEEP` runs
per spider (the oldest pruned), at most :data:`MAX_KEYS` spiders (the least
recently run pruned), each file under :data:`MAX_FILE` bytes (the longest lists
cut, and ``cut`` says so).

The commands that run a user's crawl (``crawl``, ``runspider``, ``demo``) set
the Scrapy setting :data:`KEEP_SETTING` (``WORKBENCH_KEEP_RUNS``) at the
command's priority; a project or ``-s WORKBENCH_KEEP_RUNS=0`` turns it off.
:class:`~workbench.core.control.host.CrawlHost` calls :func:`keep_run` when its
crawl is over.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from workbench.core.recording.runs import RunSummary, summary_of_crawl

KEEP = 50  # runs kept per spider (and project)
MAX_KEYS = 200  # spiders (and projects) kept; the least recently run go first
MAX_FILE = 64 * 1024  # bytes a summary takes at most
STATE_ENV = "WORKBENCH_STATE_DIR"
KEEP_SETTING = "WORKBENCH_KEEP_RUNS"


def state_dir() -> Path:
    """The user's state directory for workbench (``$WORKBENCH_STATE_DIR`` first)."""
    explicit = os.environ.get(STATE_ENV)
    if explicit:
        return Path(explicit)
    from platformdirs import user_state_dir

    return Path(user_state_dir("workbench", appauthor=False))


def runs_dir() -> Path:
    return state_dir() / "runs"


_FILE = re.compile(r"^(\d{13})-(\d+)\.json$")


class RunStore:
    """The kept runs, one directory per spider and project (see the module)."""

    def __init__(self, root: Path | None = None, keep: int = KEEP, max_keys: int = MAX_KEYS):
        self.root = Path(root) if root is not None else runs_dir()
        self.keep = keep
        self.max_keys = max_keys

    # -- writing ---------------------------------------------------------------------

    def save(self, summary: RunSummary) -> Path:
        """Write ``summary`` (atomically, privately), then prune; its path."""
        directory = self.root / summary.key
        _private_dir(self.root)
        _private_dir(directory)
        data = encode(summary)
        name = f"{int(summary.started * 1000):013d}-{os.getpid()}.json"
        path = directory / name
        tmp = directory / f".{name}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise
        self.prune(directory)
        return path

    def prune(self, directory: Path | None = None) -> None:
        """Keep the newest ``keep`` runs of a spider, and ``max_keys`` spiders."""
        if directory is not None:
            for path in self._files(directory)[self.keep :]:
                with contextlib.suppress(OSError):
                    path.unlink()
        keys = self._keys()
        if len(keys) > self.max_keys:
            keys.sort(key=_mtime, reverse=True)
            for stale in keys[self.max_keys :]:
                for path in stale.iterdir():
                    with contextlib.suppress(OSError):
                        path.unlink()
                with contextlib.suppress(OSError):
                    stale.rmdir()

    # -- reading ---------------------------------------------------------------------

    def _keys(self) -> list[Path]:
        try:
            return [p for p in self.root.iterdir() if p.is_dir() and not p.is_symlink()]
        except OSError:
            return []

    def _files(self, directory: Path) -> list[Path]:
        """A spider's run files, newest first (by the start time in the name)."""
        try:
            names = [p for p in directory.iterdir() if _FILE.match(p.name)]
        except OSError:
            return []
        return sorted(names, key=lambda p: p.name, reverse=True)

    def runs(self, key: str | None = None) -> Iterator[RunSummary]:
        """The kept runs, newest first: one spider's (its ``key``) or all of them.
        Unreadable files are skipped."""
        keys = [self.root / key] if key is not None else self._keys()
        files = [f for k in keys for f in self._files(k)]
        files.sort(key=lambda p: p.name, reverse=True)
        for path in files:
            summary = read(path)
            if summary is not None:
                yield summary

    def previous(self, key: str, before: float | None = None) -> RunSummary | None:
        """The newest finished run of a spider that started before ``before``."""
        for summary in self.runs(key):
            if summary.finished is None:
                continue
            if before is None or summary.started < before:
                return summary
        return None

    def previous_of(self, summary: RunSummary) -> RunSummary | None:
        return self.previous(summary.key, before=summary.started)


def _private_dir(path: Path) -> None:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    with contextlib.suppress(OSError):
        os.chmod(path, 0o700)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def encode(summary: RunSummary) -> bytes:
    """The summary as JSON, under MAX_FILE: the longest lists cut when it is not."""
    data = summary.to_json()
    text = json.dumps(data, separators=(",", ":")).encode()
    while len(text) > MAX_FILE:
        lists = {name: data[name] for name in ("stats", "fields", "errors") if data[name]}
        if not lists:
            break
        longest = max(lists, key=lambda name: len(json.dumps(lists[name])))
        value = lists[longest]
        half = len(value) // 2
        if isinstance(value, dict):
            data[longest] = dict(list(value.items())[:half])
        else:
            data[longest] = value[:half]
        data["cut"] = True
        text = json.dumps(data, separators=(",", ":")).encode()
    return text


def read(path: Path) -> RunSummary | None:
    """A kept summary, or None when the file cannot be read as one."""
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE * 2 + 1)
        if len(raw) > MAX_FILE * 2:
            return None
        return RunSummary.from_json(json.loads(raw), str(path))
    except (OSError, ValueError):
        return None


# -- at the end of a crawl -----------------------------------------------------------


def keep_run(
    crawler: Any,
    recorder: Any,
    started: float | None,
    finished: float | None,
    shared: bool = False,
    store: RunStore | None = None,
) -> Path | None:
    """Keep the summary of a crawl that is over, if its settings say so
    (:data:`KEEP_SETTING`); the file written, or None."""
    settings = getattr(crawler, "settings", None)
    if settings is None or not settings.getbool(KEEP_SETTING, False) or started is None:
        return None
    summary = summary_of_crawl(crawler, recorder, started, finished or time.time(), shared)
    return (store or RunStore()).save(summary)
