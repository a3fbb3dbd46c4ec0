"""Log: the crawl's captured log records, with a level filter and a search.

A line that carries a traceback shows what was raised first (``ValueError:
bad price 4 · Spider error processing <GET …>``); Enter opens the traceback
folded on the user's frames."""

from __future__ import annotations

import logging
import re
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Input, Select

from workbench.core.formats.sanitize import clean_line
from workbench.core.recording.records import LogRecord
from workbench.core.recording.tracebacks import exception_line, short_exception
from workbench.core.sources.base import Snapshot, Source
from workbench.ui import format as fmt
from workbench.ui.panels.base import Panel
from workbench.ui.widgets.record_table import Column, RecordTable

LEVELS = [
    ("DEBUG", logging.DEBUG),
    ("INFO", logging.INFO),
    ("WARNING", logging.WARNING),
    ("ERROR", logging.ERROR),
]
LEVEL_STYLE = {
    "DEBUG": "dim",
    "INFO": "",
    "WARNING": "yellow",
    "ERROR": "bold red",
    "CRITICAL": "bold white on red",
}

TRACEBACK = "Traceback (most recent call last):"
# Scrapy logs its telnet console password at startup: never show it.
_SECRET = re.compile(r"(Telnet Password: )\S+")


def redact(message: str) -> str:
    return _SECRET.sub(r"\1********", message)


def log_cells(record: LogRecord, urls: fmt.UrlFit | None = None) -> list[Any]:
    """A log line's row; ``urls`` shortens the URLs of a message that does not fit."""
    lines = redact(record.message).split("\n")
    first = clean_line(lines[0], 4000)
    if len(lines) > 1:
        # a traceback: what was raised first, where it cannot be cut off
        raised = exception_line(record.message) if TRACEBACK in record.message else None
        if raised:
            first = f"{clean_line(short_exception(raised), 1000)} · {first}"
        first += f"  … (+{len(lines) - 1} lines, Enter)"
    return [
        fmt.clock(record.time),
        Text(record.levelname, style=LEVEL_STYLE.get(record.levelname, "")),
        clean_line(record.logger, 60),
        urls.text_cell(first) if urls is not None else first,
    ]


class LogPanel(Panel):
    TITLE = "Log"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("slash", "focus_search", "Search", tooltip="Search the log (regex)"),
        Binding("escape", "leave_search", "Back to log", show=False),
        Binding("l", "cycle_level", "Level", tooltip="Cycle the minimum level shown"),
    ]

    DEFAULT_CSS = """
    LogPanel #log-bar { height: 3; }
    LogPanel #log-level { width: 20; }
    LogPanel #log-search { width: 1fr; }
    """

    def __init__(self, source: Source, **kwargs: Any) -> None:
        super().__init__(source, **kwargs)
        self.cursor = 0
        self.kept: list[LogRecord] = []
        self.min_level = logging.DEBUG
        self.search: re.Pattern[str] | None = None
        self.scope: str | None = None  # several crawlers: the one shown (None: all)
        self.urls = fmt.UrlFit()  # what the URLs in the messages shown share

    def compose(self) -> Any:
        with Horizontal(id="log-bar"):
            yield Select(LEVELS, value=logging.DEBUG, allow_blank=False, id="log-level")
            yield Input(placeholder="No search.  / to search the log (a regex)", id="log-search")
        yield RecordTable(
            [
                Column("Time", 8),
                Column("Level", 7),
                Column("Logger", 24, drop=1),
                Column(self.urls.header("Message"), None, min_width=40),
            ],
            lambda record: log_cells(record, self.urls),
            row_key=lambda r: r.id,
            id="log-table",
        )

    @property
    def table(self) -> RecordTable:
        return self.query_one("#log-table", RecordTable)

    def _match(self, record: LogRecord) -> bool:
        if record.level < self.min_level:
            return False
        if self.scope is not None and record.spider not in (None, self.scope):
            return False  # another crawler's (lines of no crawler show in every scope)
        return self.search is None or bool(self.search.search(record.message))

    def refresh_from(self, snapshot: Snapshot) -> None:
        new = self.source.log_since(self.cursor)
        self.cursor = snapshot.log_total
        oldest = self.mirror(self.kept, new, snapshot.log_kept)
        if oldest is not None:
            self.table.trim_before(oldest)
        if snapshot.scope != self.scope:  # another crawler (S)
            self.scope = snapshot.scope
            self._set_rows([r for r in self.kept[: len(self.kept) - len(new)]
                            if self._match(r)])  # fmt: skip
        matching = [r for r in new if self._match(r)]
        if self.urls.see_text(r.message for r in matching):
            self.table.restyle()  # the URLs are shortened otherwise now
        self.table.append_rows(matching)
        counts = snapshot.log_counts
        parts = [f"{k} {counts[k]}" for k in ("ERROR", "WARNING", "INFO", "DEBUG") if k in counts]
        dropped = snapshot.log_total - snapshot.log_kept
        if dropped:
            parts.append(f"{dropped} oldest dropped")
        self.set_subtitle(" · ".join(parts))

    def _refilter(self) -> None:
        self._set_rows([r for r in self.kept if self._match(r)])

    def _set_rows(self, records: list[LogRecord]) -> None:
        self.urls.reset()
        self.urls.see_text(r.message for r in records)
        self.table.set_rows(records)

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "log-level" and isinstance(event.value, int):
            self.min_level = event.value
            self._refilter()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "log-search":
            return
        event.stop()
        text = event.value
        if not text:
            self.search = None
        else:
            try:
                self.search = re.compile(text, re.IGNORECASE)
            except re.error:
                self.search = re.compile(re.escape(text), re.IGNORECASE)
        self._refilter()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "log-search":
            event.stop()
            self.table.focus()

    def action_focus_search(self) -> None:
        self.query_one("#log-search", Input).focus()

    def action_leave_search(self) -> None:
        """Escape in the search box: back to the records (the search stays applied)."""
        self.table.focus()

    def action_cycle_level(self) -> None:
        values = [v for _, v in LEVELS]
        index = (values.index(self.min_level) + 1) % len(values) if self.min_level in values else 0
        self.query_one("#log-level", Select).value = values[index]

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        from workbench.ui.screens.errors import TracebackScreen
        from workbench.ui.screens.text_view import TextScreen

        record: LogRecord = event.record
        title = f"{record.levelname} {record.logger}"
        if TRACEBACK in record.message:  # folded on the user's frames (z unfolds)
            self.app.push_screen(TracebackScreen(title, redact(record.message)))
            return
        self.app.push_screen(TextScreen(title, redact(record.message)))
