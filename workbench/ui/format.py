"""Small formatting helpers shared by panels (all output is sanitised)."""

from __future__ import annotations

import time

from rich.text import Text

from workbench.core.body import human_size
from workbench.core.events import Flow
from workbench.core.sanitize import clean_line

URL_LIMIT = 2000


def clock(ts: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts))


def duration(seconds: float) -> str:
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:d}:{minutes:02d}:{secs:02d}"


def size(n: int | None) -> str:
    if not n:
        return "0"
    return human_size(n).replace(" ", "")


def latency(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    return f"{seconds:.2f}s"


def status_cell(flow: Flow) -> Text:
    if flow.status is None:
        short = (flow.error or "error").split(":", 1)[0]
        return Text(clean_line(short, 40), style="bold red")
    style = "green"
    if flow.status >= 500:
        style = "bold red"
    elif flow.status >= 400:
        style = "red"
    elif flow.status >= 300:
        style = "yellow"
    label = str(flow.status)
    if flow.callback_error:
        return Text(label + " ✗", style="bold red")
    return Text(label, style=style)


def safe(text: object, limit: int = URL_LIMIT) -> str:
    return clean_line(str(text), limit)


def number(n: float) -> str:
    return f"{n:,.0f}"
