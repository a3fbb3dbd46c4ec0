"""The fates summary: what became of the requests, by fate and by component.

The counts by fate come from the recorder (``Snapshot.fates``: every request,
kept as a row or only counted past ``WORKBENCH_MAX_DROPPED``); the split by
component (who decided: ``Flow.fate_by``), the hosts and the example URLs
from the rows kept.  :func:`fate_filter` is the Flows filter that selects a
row's flows (``~fate offsite``, ``~fate ignored & ~by MyMiddleware$``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.core.recording.fates import FATES, NEVER_DOWNLOADED, short_name

EXAMPLES = 3  # example URLs per row
HOSTS = 5  # hosts per row, the most frequent first


@dataclass(frozen=True, slots=True)
class FateRow:
    """A fate (all of its requests) or one component's share of it (``part``)."""

    fate: str
    component: str | None  # the class path of who decided (None: not named)
    count: int  # requests with this fate (the fate's row: kept or only counted)
    kept: int  # rows kept (Flows can show these)
    examples: tuple[tuple[int, str], ...]  # (flow id, URL), the first ones
    hosts: tuple[tuple[str, int], ...]  # (host, rows), the most frequent first
    part: bool = False  # one component's share (else the fate's own row)

    @property
    def never_downloaded(self) -> bool:
        return self.fate in NEVER_DOWNLOADED


@dataclass(frozen=True, slots=True)
class FateSummary:
    rows: tuple[FateRow, ...]  # each fate (most requests first), then its components
    downloaded: int  # responses received (plain downloads and the retried ones)
    unkept: int  # never-downloaded requests counted without a row (WORKBENCH_MAX_DROPPED)
    hosts_reached: frozenset[str] = frozenset()  # download slots (hosts) that were reached

    def row(self, fate: str) -> FateRow | None:
        """The fate's own row (None when no request had it)."""
        for r in self.rows:
            if r.fate == fate and not r.part:
                return r
        return None

    def count(self, fate: str) -> int:
        r = self.row(fate)
        return r.count if r is not None else 0

    @property
    def never_downloaded(self) -> int:
        return sum(r.count for r in self.rows if not r.part and r.never_downloaded)


class _Group:
    __slots__ = ("examples", "hosts", "kept")

    def __init__(self) -> None:
        self.kept = 0
        self.examples: list[tuple[int, str]] = []
        self.hosts: dict[str, int] = {}

    def add(self, flow: Any) -> None:
        self.kept += 1
        if len(self.examples) < EXAMPLES:
            self.examples.append((flow.id, flow.url))
        host = flow.host
        self.hosts[host] = self.hosts.get(host, 0) + 1

    def top_hosts(self) -> tuple[tuple[str, int], ...]:
        ordered = sorted(self.hosts.items(), key=lambda kv: (-kv[1], kv[0]))
        return tuple(ordered[:HOSTS])


def summarize_fates(
    flows: Iterable[Any], counts: Mapping[str, int], downloaded: int, unkept: int = 0
) -> FateSummary:
    """The summary of the flows kept, with the recorder's counts (``Snapshot.fates``)."""
    by_fate: dict[str, _Group] = {}
    by_component: dict[tuple[str, str | None], _Group] = {}
    reached: set[str] = set()
    for flow in flows:
        fate = flow.fate
        if fate not in NEVER_DOWNLOADED and flow.slot:
            reached.add(flow.slot)  # the download slot: its host, unless set otherwise
        if fate is None:
            continue
        group = by_fate.get(fate)
        if group is None:
            group = by_fate[fate] = _Group()
        group.add(flow)
        key = (fate, flow.fate_by)
        part = by_component.get(key)
        if part is None:
            part = by_component[key] = _Group()
        part.add(flow)
    order = {f: i for i, f in enumerate(FATES)}
    fates = set(by_fate) | {f for f, n in counts.items() if n}
    totals = {f: max(int(counts.get(f, 0) or 0), by_fate[f].kept if f in by_fate else 0)
              for f in fates}  # fmt: skip
    rows: list[FateRow] = []
    for fate in sorted(fates, key=lambda f: (-totals[f], order.get(f, len(order)), f)):
        group = by_fate.get(fate) or _Group()
        rows.append(
            FateRow(fate, None, totals[fate], group.kept, tuple(group.examples), group.top_hosts())
        )
        parts = [(c, g) for (f, c), g in by_component.items() if f == fate]
        if len(parts) == 1 and parts[0][0] is None:
            continue  # nobody named: the fate's row says it all
        for component, part in sorted(parts, key=lambda cg: (-cg[1].kept, cg[0] or "")):
            rows.append(
                FateRow(
                    fate,
                    component,
                    part.kept,
                    part.kept,
                    tuple(part.examples),
                    part.top_hosts(),
                    part=True,
                )
            )
    return FateSummary(tuple(rows), downloaded, unkept, frozenset(reached))


def fate_filter(row: FateRow) -> str:
    """The Flows filter that selects a row's flows."""
    expression = f"~fate {row.fate}"
    if row.component:
        expression += f" & ~by {short_name(row.component)}$"
    elif row.part:  # the share nobody was named for
        expression += " & !~by ."
    return expression
