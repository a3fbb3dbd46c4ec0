"""The one Flow factory: a plain GET that got a 200, with any field overridden."""

from __future__ import annotations

from typing import Any

from workbench.core.recording.records import Flow

DEFAULTS: dict[str, Any] = dict(
    id=1, time=0.0, method="GET", url="http://127.0.0.1:8000/x", status=200, error=None,
    size=0, latency=None, callback="parse", depth=0, priority=0, slot=None,
)  # fmt: skip


def make_flow(**overrides: Any) -> Flow:
    return Flow(**{**DEFAULTS, **overrides})
