"""Pretty-printed JSON that knows where each node is.

:func:`pretty_json` writes what ``json.dumps(data, indent=2)`` writes and
remembers each node's span, so a jmespath result (an object of the parsed
document) is found by identity and highlighted.
"""

from __future__ import annotations

import json
from typing import Any

from workbench.core.inspection.selection.result import Span

JSON_SPAN_NODES = 200_000  # JSON nodes whose position is remembered


def pretty_json(data: Any, max_nodes: int = JSON_SPAN_NODES) -> tuple[str, dict[int, list[Span]]]:
    """``json.dumps(data, indent=2, ensure_ascii=False)``, plus where each node
    is: ``id(node) -> [(start, end), ...]`` for the first ``max_nodes`` nodes."""
    parts: list[str] = []
    spans: dict[int, list[Span]] = {}
    pos = 0
    recorded = 0
    dumps = json.dumps

    def emit(piece: str) -> None:
        nonlocal pos
        parts.append(piece)
        pos += len(piece)

    def walk(node: Any, level: int) -> None:
        nonlocal recorded
        start = pos
        if isinstance(node, dict):
            if not node:
                emit("{}")
            else:
                inner = "  " * (level + 1)
                emit("{\n")
                for index, (key, value) in enumerate(node.items()):
                    if index:
                        emit(",\n")
                    emit(f"{inner}{dumps(key, ensure_ascii=False)}: ")
                    walk(value, level + 1)
                emit("\n" + "  " * level + "}")
        elif isinstance(node, list):
            if not node:
                emit("[]")
            else:
                inner = "  " * (level + 1)
                emit("[\n")
                for index, value in enumerate(node):
                    if index:
                        emit(",\n")
                    emit(inner)
                    walk(value, level + 1)
                emit("\n" + "  " * level + "]")
        else:
            emit(dumps(node, ensure_ascii=False))
        if recorded < max_nodes:
            spans.setdefault(id(node), []).append((start, pos))
            recorded += 1

    walk(data, 0)
    return "".join(parts), spans
