"""A fleet snapshot as JSON (``workbench fleet --json``): every row's public
fields (no job file, no token, no credentials: the node URLs carry none),
each source's answer, and the totals."""

from __future__ import annotations

import dataclasses
from typing import Any

from workbench.core.fleet.model import FleetRow, FleetSnapshot
from workbench.core.formats.sanitize import clean_line

HIDDEN = ("job",)


def _value(value: Any) -> Any:
    if isinstance(value, str):
        return clean_line(value, 2000)
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, tuple):
        return [_value(v) for v in value]
    return value


def row_to_json(row: FleetRow) -> dict[str, Any]:
    return {
        f.name: _value(getattr(row, f.name))
        for f in dataclasses.fields(row)
        if f.name not in HIDDEN
    }


def snapshot_to_json(snapshot: FleetSnapshot) -> dict[str, Any]:
    return {
        "taken_at": snapshot.taken_at,
        "poll_seconds": round(snapshot.seconds, 3),
        "totals": {k: _value(v) for k, v in dataclasses.asdict(snapshot.totals).items()},
        "sources": [
            {k: _value(v) for k, v in dataclasses.asdict(status).items()}
            for status in snapshot.sources
        ],
        "crawls": [row_to_json(row) for row in snapshot.rows],
    }
