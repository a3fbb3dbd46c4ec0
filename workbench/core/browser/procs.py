"""The browser's processes, read from ``/proc``: this process's descendants that
are Chromium (browser, renderers, GPU, utilities) or Playwright's driver, with
their memory.  Linux only; elsewhere the list is empty.

Chromium's processes share much of their memory, so their RSS summed counts
the shared pages once per process (twelve processes of one headless browser
summed to 1.3 GB here).  Each process's PSS (``smaps_rollup``: its shared
pages split among their sharers) sums to what the browser really holds; RSS
stands in where PSS cannot be read."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


@dataclass(frozen=True, slots=True)
class BrowserProcess:
    """One process of the browser: its pid, its kind, its resident memory."""

    pid: int
    kind: str  # browser, renderer, gpu, utility, zygote, driver (Playwright's node)
    rss: int  # bytes resident
    pss: int  # bytes, shared pages split among their processes (RSS when unreadable)


def _parent(pid: str, proc: Path) -> int | None:
    try:
        stat = (proc / pid / "stat").read_text()
    except OSError:
        return None
    # "pid (comm) state ppid ...": comm may hold spaces and parentheses
    rest = stat.rsplit(")", 1)[-1].split()
    return int(rest[1]) if len(rest) > 1 else None


def descendants(root: int, proc: Path = PROC) -> list[int]:
    """The pids under ``root`` (children, their children...), from ``/proc``."""
    try:
        entries = [e for e in os.listdir(proc) if e.isdigit()]
    except OSError:
        return []
    children: dict[int, list[int]] = {}
    for pid in entries:
        parent = _parent(pid, proc)
        if parent is not None:
            children.setdefault(parent, []).append(int(pid))
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo and len(found) < 2000:
        child = todo.pop()
        found.append(child)
        todo.extend(children.get(child, []))
    return found


def kind_of(cmdline: list[str]) -> str | None:
    """What a process of the browser is, from its command line; None: not one."""
    if not cmdline:
        return None
    if len(cmdline) == 1 and " " in cmdline[0]:  # Chromium rewrites its title: one string
        cmdline = cmdline[0].split()
    program = os.path.basename(cmdline[0]).lower()
    joined = " ".join(cmdline[:4]).lower()
    if "chrom" in program or "headless_shell" in program or "chrome" in joined:
        for arg in cmdline[1:]:
            if arg.startswith("--type="):
                kind = arg.split("=", 1)[1]
                return "gpu" if kind == "gpu-process" else kind
        return "browser"
    if "playwright" in joined and ("node" in program or "driver" in joined):
        return "driver"
    return None


def _rss(pid: int, proc: Path) -> int:
    try:
        fields = (proc / str(pid) / "statm").read_text().split()
    except OSError:
        return 0
    return int(fields[1]) * PAGE_SIZE if len(fields) > 1 else 0


def _pss(pid: int, proc: Path) -> int | None:
    try:
        with open(proc / str(pid) / "smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def browser_processes(root: int | None = None, proc: Path = PROC) -> list[BrowserProcess]:
    """The browser's processes under ``root`` (this process by default)."""
    if not proc.is_dir():
        return []
    found = []
    for pid in descendants(os.getpid() if root is None else root, proc):
        try:
            raw = (proc / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        kind = kind_of([a.decode("utf-8", "replace") for a in raw.split(b"\0") if a])
        if kind is not None:
            rss = _rss(pid, proc)
            pss = _pss(pid, proc)
            found.append(BrowserProcess(pid, kind, rss, rss if pss is None else pss))
    return sorted(found, key=lambda p: -p.pss)
