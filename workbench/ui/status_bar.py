"""The status line: crawl state, counts and rates."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from workbench.core.control.in_flight import closing_text, stall_text
from workbench.core.formats.sanitize import clean_line
from workbench.core.sources.base import Snapshot
from workbench.ui import format as fmt

STATE_STYLE = {
    "starting": ("◌ starting", "bold cyan"),
    "running": ("● running", "bold green"),
    "paused": ("❚❚ paused", "bold black on yellow"),
    "closing": ("◍ closing", "bold magenta"),
    "finished": ("■ finished", "bold blue"),
    "failed": ("✗ failed", "bold white on red"),
}

SYMBOL_STYLE = {  # a crawler's state symbol, among several
    "starting": "cyan",
    "running": "green",
    "paused": "yellow",
    "closing": "magenta",
    "finished": "blue",
    "failed": "bold red",
}


def status_text(snapshot: Snapshot) -> Text:
    status = snapshot.status
    label, style = STATE_STYLE.get(status.state, (status.state, "bold"))
    text = Text()
    text.append(f" {label} ", style=style)
    if len(snapshot.crawlers) > 1:
        _crawlers(text, snapshot)
    else:
        text.append(f" {clean_line(snapshot.spider, 40)} ", style="bold")
    if snapshot.attached:
        text.append(f"⇄ {clean_line(snapshot.attached, 40)} ", style="cyan")
    if snapshot.warning:
        text.append(f" {clean_line(snapshot.warning, 80)} ", style="bold red")
    if status.state == "paused":
        held = f", {status.held} held" if status.held else ""
        text.append(f" {status.in_flight} still in flight{held} ", style="yellow")
    transfers = status.transfers
    if transfers is not None and transfers.count:
        if status.state == "closing":
            text.append(f" {clean_line(closing_text(transfers), 120)} (I) ", style="bold magenta")
        elif transfers.stalled and status.state in ("running", "paused"):
            text.append(f" {clean_line(stall_text(transfers), 120)} (I) ", style="bold yellow")
    if status.state in ("finished", "failed"):
        failed = status.error if status.state == "failed" else None  # e.g. one of several
        reason = failed or status.finish_reason or status.error or "?"
        text.append(f" ({clean_line(reason, 80)}) ", style="dim")
    stats = snapshot.stats
    errors = int(stats.get("log_count/ERROR", 0))
    text.append(f" pages {fmt.number(snapshot.pages)}")
    if status.state == "running":
        text.append(f" ({snapshot.pages_per_min:,.0f}/min)", style="dim")
    text.append(f"  items {fmt.number(snapshot.items_scraped)}")
    if status.state == "running":
        text.append(f" ({snapshot.items_per_min:,.0f}/min)", style="dim")
    if snapshot.items_dropped:
        text.append(f"  dropped {fmt.number(snapshot.items_dropped)}", style="yellow")
    text.append(f"  queue {fmt.number(status.queued)}  in flight {status.in_flight}")
    if errors:
        text.append(f"  errors {errors}", style="bold red")
        text.append(" (E)", style="red")  # the key that groups them
    text.append(f"  {fmt.duration(snapshot.elapsed)}", style="dim")
    return text


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    """

    # the worst verdict of Diagnose (D), when there is one: (its headline, its style)
    headline: tuple[str, str] | None = None

    def show(self, snapshot: Snapshot) -> None:
        text = status_text(snapshot)
        if self.headline is not None:  # a segment of its own, last
            text.append("  ")
            width = self.size.width  # 0 before the first layout: no fitting then
            room = width - text.cell_len - 2 if width else None
            text.append(fit_headline(*self.headline, room))
        self.update(text, layout=False)  # one line, always


def fit_headline(words: str, style: str, room: int | None) -> Text:
    """ "⚑ WORDS (D)" in ``room`` cells (None: as it is): without its parenthesis,
    then cut, when it does not fit; never shorter than a dozen characters."""
    words = clean_line(words, 200)
    space = (room if room is not None else 10_000) - len("⚑  (D)")
    if len(words) > space and " (" in words:
        words = words.split(" (", 1)[0]  # "bound by DOWNLOAD_DELAY (127.0.0.1: 1.00 s)"
    if len(words) > space:
        words = words[: max(space - 1, 12)] + "…"
    text = Text(f"⚑ {words}", style=style)
    text.append(" (D)", style="dim")
    return text


def _crawlers(text: Text, snapshot: Snapshot) -> None:
    """Several crawlers: the one shown (S switches), then each with its state and pages."""
    scope = snapshot.scope
    text.append(f" [{clean_line(scope, 30) if scope else 'all'}] ", style="bold reverse")
    for line in snapshot.crawlers:
        symbol = STATE_STYLE.get(line.state, (line.state, ""))[0].split()[0]
        text.append(" ")
        text.append(clean_line(line.spider, 30), style="bold" if line.spider == scope else "")
        text.append(f" {symbol}", style=SYMBOL_STYLE.get(line.state, ""))
        text.append(f" {fmt.number(line.pages)}p {fmt.number(line.items)}i", style="dim")
    text.append(" ")
