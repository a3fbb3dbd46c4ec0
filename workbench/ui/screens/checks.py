"""``workbench check``: one row per contract hook that ran, pass or fail, live."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.core.formats.sanitize import clean, clean_line
from workbench.ui.widgets.record_table import Column, RecordTable

RESULT_STYLE = {"pass": "green", "fail": "bold red", "error": "bold red"}


def check_cells(outcome: Any) -> list[Any]:
    lines = outcome.message.strip().splitlines()
    return [
        clean_line(outcome.spider, 40),
        clean_line(outcome.callback, 60),
        clean_line(outcome.contract, 60),
        Text(outcome.result, style=RESULT_STYLE.get(outcome.result, "")),
        clean_line(lines[-1] if lines else "", 400),
    ]


class ChecksScreen(Screen[None]):
    """The contract checks; Enter opens a check's request and response."""

    HELP_TITLE: ClassVar[str] = "Contract checks (workbench check)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back to the panels"),
        Binding("t", "traceback", "Traceback", tooltip="The failing check's whole traceback"),
    ]

    DEFAULT_CSS = """
    ChecksScreen #checks-title { height: 1; padding: 0 1; text-style: bold; }
    ChecksScreen #checks-table { height: 1fr; }
    ChecksScreen #checks-box { border: round $primary; height: 1fr; padding: 0 1; }
    """

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.source = source

    def compose(self) -> Any:
        yield Static("", id="checks-title")
        with Vertical(id="checks-box"):
            yield RecordTable(
                [
                    Column("Spider", 14),
                    Column("Callback", 22),
                    Column("Contract", 22),
                    Column("Result", 6),
                    Column("Message", None),
                ],
                check_cells,
                row_key=lambda o: o.id,
                row_style=lambda o: "red" if o.result != "pass" else None,
                id="checks-table",
            )
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(RecordTable)
        table.follow = False
        table.focus()
        self.update()
        self.set_interval(0.5, self.update)

    def update(self) -> None:
        outcomes = self.source.checks()
        table = self.query_one(RecordTable)
        if len(outcomes) != len(table.rows):
            table.set_rows(outcomes)
        failed = sum(1 for o in outcomes if o.result != "pass")
        run = self.source.run
        state = "done" if run.finished else f"running {run.index + 1}/{len(run.hosts)}"
        title = Text(f" Contract checks ({state}): {len(outcomes)} ran, ")
        title.append(f"{len(outcomes) - failed} passed", style="green")
        title.append(", ")
        title.append(f"{failed} failed", style="bold red" if failed else "")
        hint = "   Enter: the check's request and response · t: traceback · Esc: panels"
        title.append(hint, style="dim")
        self.query_one("#checks-title", Static).update(title)

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        outcome = event.record
        flow = self.source.flow(outcome.flow_id) if outcome.flow_id is not None else None
        if flow is None:
            self.notify("This check ran on no recorded response.", severity="warning")
            return
        from workbench.ui.screens.flow_detail import FlowDetailScreen

        self.app.push_screen(FlowDetailScreen(self.source, flow))

    def action_traceback(self) -> None:
        outcome = self.query_one(RecordTable).current()
        if outcome is None:
            return
        from workbench.ui.screens.text_view import TextScreen

        text = outcome.traceback or outcome.message or "This check passed."
        self.app.push_screen(TextScreen(f"{outcome.callback} {outcome.contract}", clean(text)))

    def action_close(self) -> None:
        self.app.pop_screen()
