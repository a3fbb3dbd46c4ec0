"""Replay: a flow's callback run again on its stored response, next to the original."""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.core.formats.sanitize import clean, clean_line
from workbench.core.inspection.replay import (
    ADDED,
    CHANGED,
    REMOVED,
    SAME,
    DiffRow,
    OutputItem,
    OutputRequest,
    ReplayResult,
)
from workbench.core.recording.records import Flow
from workbench.core.sources.base import Source
from workbench.ui import format as fmt
from workbench.ui.panels.items import value_text

logger = logging.getLogger(__name__)

MARKS = {SAME: ("=", ""), ADDED: ("+", "green"), REMOVED: ("-", "red"), CHANGED: ("~", "yellow")}
MAX_ROWS = 500  # rows drawn per table; the rest are counted


def _item_cell(item: OutputItem | None, changed: tuple[str, ...], style: str) -> Text:
    if item is None:
        return Text("")
    text = Text(clean_line(item.item_class, 80), style="bold")
    if "class" in changed:
        text.stylize("bold yellow")
    if item.note:
        text.append(f"  ({clean_line(item.note, 200)})", style="italic")
    for name, value in item.fields:
        text.append("\n")
        field_style = "yellow" if name in changed else style
        text.append(f"{clean_line(name, 60)}: ", style=f"bold {field_style}".strip())
        text.append(value_text(value, 300), style=field_style)
    return text


def _request_cell(request: OutputRequest | None, changed: tuple[str, ...], style: str) -> Text:
    if request is None:
        return Text("")
    text = Text(f"{clean_line(request.method, 10)} ", style=f"bold {style}".strip())
    text.append(clean_line(request.url, 2000), style=style)
    callback = request.callback or "?"
    cb_style = "yellow" if "callback" in changed else "dim"
    text.append(f"\n→ {clean_line(callback, 100)}", style=cb_style)
    return text


def diff_table(title: str, rows: list[DiffRow]) -> Any:
    if not rows:
        return Text.assemble((title, "bold"), ("  none on either side", "dim"))
    table = Table(
        title=title,
        title_justify="left",
        title_style="bold",
        expand=True,
        show_lines=True,
        pad_edge=False,
    )
    table.add_column("", width=1, no_wrap=True)
    table.add_column("Original", ratio=1, overflow="fold")
    table.add_column("Replay", ratio=1, overflow="fold")
    for row in rows[:MAX_ROWS]:
        mark, style = MARKS[row.mark]
        cell = _item_cell if row.kind == "item" else _request_cell
        original = cell(row.original, row.changed, style if row.mark == REMOVED else "")  # type: ignore[arg-type]
        replayed = cell(row.replayed, row.changed, style if row.mark == ADDED else "")  # type: ignore[arg-type]
        table.add_row(Text(mark, style=f"bold {style}".strip()), original, replayed)
    if len(rows) > MAX_ROWS:
        table.add_row("…", Text(f"{len(rows) - MAX_ROWS} more rows", style="dim"), "")
    return table


def _counts(result: ReplayResult, kind: str) -> str:
    parts = []
    for mark in (SAME, CHANGED, ADDED, REMOVED):
        count = result.count(mark, kind)
        if count:
            parts.append(f"{count} {mark}")
    return ", ".join(parts) or "none"


def summary(result: ReplayResult) -> Text:
    text = Text()
    if result.error is not None:
        text.append("✗ The replay raised ", style="bold red")
        text.append(clean_line(str(result.error), 300), style="bold red")
    elif result.identical:
        text.append("✓ Same output as the original", style="bold green")
    else:
        text.append("≠ The output differs from the original", style="bold yellow")
    text.append(f"   ({fmt.latency(result.took)})", style="dim")
    text.append("\nItems: ", style="bold")
    text.append(_counts(result, "item"))
    if sum(1 for r in result.rows if r.kind == "item") > 1:
        text.append(f" ({result.item_rule})", style="dim")
    text.append("   Requests: ", style="bold")
    text.append(_counts(result, "request"))
    text.append("\nLegend: ", style="dim")
    text.append("= same  ", style="dim")
    text.append("~ changed  ", style="yellow")
    text.append("+ added  ", style="green")
    text.append("- removed", style="red")
    return text


def replay_view(result: ReplayResult) -> Group:
    """Everything the screen shows for one replay result (all text sanitised)."""
    parts: list[Any] = [summary(result)]
    for note in result.notes:
        parts.append(Text(f"Note: {clean_line(note, 500)}", style="italic"))
    if result.original_error:
        parts.append(
            Text(f"The original run raised {clean_line(result.original_error, 300)}", style="red")
        )
    if result.error is not None:
        parts.append(Text("\nReplay error", style="bold red underline"))
        parts.append(Text(clean(str(result.error)), style="red"))
        if result.error.traceback:
            parts.append(Text(clean(result.error.traceback.rstrip()), style="dim"))
    for kind, title in (("item", "Items"), ("request", "Requests")):
        rows = [r for r in result.rows if r.kind == kind]
        before = sum(1 for r in rows if r.original is not None)
        after = sum(1 for r in rows if r.replayed is not None)
        parts.append(Text(""))
        parts.append(diff_table(f"{title} ({before} → {after})", rows))
    return Group(*parts)


class ReplayScreen(Screen[None]):
    """Runs the flow's callback again on its stored response and shows the diff."""

    HELP_TITLE: ClassVar[str] = "Replay (r on a flow)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back", tooltip="Back to the flow"),
        Binding("r", "replay", "Replay again", tooltip="Run the callback again on the response"),
        Binding(
            "R",
            "reload_and_replay",
            "Reload spider + replay",
            tooltip="Re-import the spider's module (after an edit), then replay",
        ),
    ]

    DEFAULT_CSS = """
    ReplayScreen #replay-title { height: auto; padding: 0 1; background: $panel; }
    ReplayScreen VerticalScroll { padding: 0 1; }
    """

    def __init__(self, source: Source, flow: Flow) -> None:
        super().__init__()
        self.source = source
        self.flow = flow
        self.result: ReplayResult | None = None
        self.refusal: str | None = None

    def compose(self) -> Any:
        flow = self.flow
        title = Text()
        title.append(f"Replay of flow #{flow.id}", style="bold")
        title.append(" · callback ")
        title.append(clean_line(flow.callback or "parse", 100), style="bold cyan")
        title.append(" · ")
        title.append_text(fmt.status_cell(flow))
        title.append(f" {clean_line(flow.method, 10)} {clean_line(flow.url, 2000)}")
        yield Static(
            title,
            id="replay-title",
        )
        with VerticalScroll():
            yield Static(Text("Replaying…", style="dim"), id="replay-view")
        yield Footer()

    def on_mount(self) -> None:
        self.action_replay()

    def _show(self, renderable: Any) -> None:
        self.query_one("#replay-view", Static).update(renderable)

    def action_replay(self) -> None:
        self.run_worker(self._replay(reload=False), exclusive=True, group="replay")

    def action_reload_and_replay(self) -> None:
        self.run_worker(self._replay(reload=True), exclusive=True, group="replay")

    async def _replay(self, reload: bool) -> None:
        self._show(Text("Reloading the spider…" if reload else "Replaying…", style="dim"))
        if reload:
            try:
                message = self.source.reload_spider()
            except Exception as exc:  # SyntaxError, ImportError...: say it, keep the screen
                text = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
                self.app.notify(
                    clean_line(text, 500), title="Reload failed", severity="error", markup=False
                )
                self._show(Text(f"Reload failed: {clean(text)}", style="bold red"))
                return
            self.app.notify(
                clean_line(message, 300), title="Spider reloaded", timeout=4, markup=False
            )
        try:
            result = await self.source.replay(self.flow.id)
        except ValueError as exc:
            self.refusal = str(exc)
            self._show(Text(f"Cannot replay: {clean(str(exc))}", style="bold yellow"))
            return
        except Exception as exc:
            logger.exception("Replaying flow #%s failed", self.flow.id)
            self.refusal = f"{type(exc).__name__}: {exc}"
            self._show(Text(f"Replay failed: {clean(self.refusal)}", style="bold red"))
            return
        self.result = result
        self.refusal = None
        self._show(replay_view(result))
