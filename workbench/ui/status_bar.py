"""The status line: crawl state, counts and rates."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import Static

from workbench.core.control.in_flight import closing_text, stall_text
from workbench.core.formats.sanitize import clean_line
from workbench.core.recording.runs import ERRORS
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


# How long a segment stays when the line is too narrow: the lowest goes first.
# The answers (a stall, the closing countdown, Diagnose's headline, the errors)
# outlast the counts, which outlast the rates and the clock.
# WORDS: an answer's words (a stall, the countdown, the headline), never left
# out: when nothing else is left to leave out they are cut, and keep their key.
RATE, CLOCK, DETAIL, QUEUE, DROPPED, SPIDER, COUNTS, ANSWER, WORDS, STATE = range(10)


def status_segments(snapshot: Snapshot) -> list[tuple[Text, int]]:
    """The status line's parts in order, each with how long it stays (above)."""
    status = snapshot.status
    label, style = STATE_STYLE.get(status.state, (status.state, "bold"))
    out: list[tuple[Text, int]] = [(Text(f" {label} ", style=style), STATE)]
    if len(snapshot.crawlers) > 1:
        crawlers = Text()
        _crawlers(crawlers, snapshot)
        out.append((crawlers, SPIDER))
    else:
        out.append((Text(f" {clean_line(snapshot.spider, 40)} ", style="bold"), SPIDER))
    if snapshot.attached:
        out.append((Text(f"⇄ {clean_line(snapshot.attached, 40)} ", style="cyan"), COUNTS))
    if snapshot.warning:
        out.append((Text(f" {clean_line(snapshot.warning, 80)} ", style="bold red"), ANSWER))
    if status.state == "paused":
        held = f", {status.held} held" if status.held else ""
        out.append((Text(f" {status.in_flight} still in flight{held} ", style="yellow"), ANSWER))
    transfers = status.transfers
    if transfers is not None and transfers.count:
        # the words, then the key as a segment of its own: cut, the words keep it
        if status.state == "closing":
            line = f" {clean_line(closing_text(transfers), 120)}"
            out.append((Text(line, style="bold magenta"), WORDS))
            out.append((Text(" (I) ", style="magenta"), ANSWER))
        elif transfers.stalled and status.state in ("running", "paused"):
            line = f" {clean_line(stall_text(transfers), 120)}"
            out.append((Text(line, style="bold yellow"), WORDS))
            out.append((Text(" (I) ", style="yellow"), ANSWER))
    if status.state in ("finished", "failed"):
        failed = status.error if status.state == "failed" else None  # e.g. one of several
        reason = failed or status.finish_reason or status.error or "?"
        out.append((Text(f" ({clean_line(reason, 80)}) ", style="dim"), COUNTS))
    stats = snapshot.stats
    errors = logged_errors(stats)
    running = status.state == "running"
    out.append((Text(f" pages {fmt.number(snapshot.pages)}"), COUNTS))
    if running:
        out.append((Text(f" ({snapshot.pages_per_min:,.0f}/min)", style="dim"), RATE))
    out.append((Text(f"  items {fmt.number(snapshot.items_scraped)}"), COUNTS))
    if running:
        out.append((Text(f" ({snapshot.items_per_min:,.0f}/min)", style="dim"), RATE))
    if snapshot.items_dropped:
        dropped = Text(f"  dropped {fmt.number(snapshot.items_dropped)}", style="yellow")
        out.append((dropped, DROPPED))
    out.append((Text(f"  queue {fmt.number(status.queued)}  in flight {status.in_flight}"), QUEUE))
    if errors:
        text = Text(f"  errors {errors}", style="bold red")
        text.append(" (E)", style="red")  # the key that groups them
        out.append((text, ANSWER))
    out.append((Text(f"  {fmt.duration(snapshot.elapsed)}", style="dim"), CLOCK))
    return out


def logged_errors(stats: dict[str, Any]) -> int:
    """The status line's "errors N": the lines Scrapy logged at ERROR."""
    return int(stats.get(ERRORS, 0))


def status_text(
    snapshot: Snapshot, width: int | None = None, headline: tuple[str, str] | None = None
) -> Text:
    """The status line, with Diagnose's ``headline`` (its words, its style) last;
    in ``width`` cells when given: the segments that stay the shortest time go
    first (the rates, the clock, the headline's parenthesis, the queue...), then
    the headline's words are cut, then the line."""
    segments = status_segments(snapshot)
    words = ""
    if headline is not None:
        words, style = clean_line(headline[0], 200), headline[1]
        main, _, detail = words.partition(" (")
        segments.append((Text(f"  ⚑ {main}", style=style), WORDS))
        if detail:  # "bound by DOWNLOAD_DELAY (127.0.0.1: 1.00 s)"
            segments.append((Text(f" ({detail}", style=style), DETAIL))
        segments.append((Text(" (D)", style="dim"), ANSWER))
    if width:
        while sum(t.cell_len for t, _ in segments) > width:
            lowest = min(keep for _, keep in segments)
            if lowest >= ANSWER:
                break
            drop = max(i for i, (_, keep) in enumerate(segments) if keep == lowest)
            del segments[drop]
        over = sum(t.cell_len for t, _ in segments) - width
        while over > 0:  # the longest answer's words, cut (never under 14 cells)
            index = max(range(len(segments)), key=lambda i: _cuttable(segments[i]))
            cut, keep = segments[index]
            room = max(cut.cell_len - over - 1, 14)
            if _cuttable(segments[index]) == 0 or room + 1 >= cut.cell_len:
                break  # nothing left to cut: the line is cut at the end
            cut = cut[:room]
            cut.append("…")
            segments[index] = (cut, keep)
            over = sum(t.cell_len for t, _ in segments) - width
    text = Text().join(t for t, _ in segments)
    if width and text.cell_len > width:
        text.truncate(width, overflow="ellipsis")
    return text


def _cuttable(segment: tuple[Text, int]) -> int:
    """How many cells of an answer's words there are to cut (0: not words)."""
    text, keep = segment
    return text.cell_len if keep == WORDS else 0


class StatusBar(Static):
    DEFAULT_CSS = """
    StatusBar { height: 1; background: $panel; }
    """

    # the worst verdict of Diagnose (D), when there is one: (its headline, its style)
    headline: tuple[str, str] | None = None

    def show(self, snapshot: Snapshot) -> None:
        width = self.size.width  # 0 before the first layout: no fitting then
        self.update(status_text(snapshot, width or None, self.headline), layout=False)


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
