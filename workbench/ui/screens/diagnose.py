"""Diagnose (D): verdicts on what bounds or breaks the crawl, then the fates summary.

The verdicts come from ``core/inspection/diagnosis`` (the rules of Scrapy's
own docs applied to the live figures); each names its evidence and the
setting to change, and Enter opens what supports it (the flows, a slot, the
queue, the items).  Below them, what became of the requests, by fate and by
component, with example URLs; Enter opens those flows.  Refreshed every
second while shown.
"""

from __future__ import annotations

from typing import Any, ClassVar
from urllib.parse import urlsplit

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.inspection.diagnosis import (
    LIMIT,
    NOTE,
    PROBLEM,
    RULES,
    Diagnosis,
    Evidence,
    FateRow,
    Target,
    Verdict,
    diagnose,
    fate_filter,
)
from workbench.core.inspection.diagnosis.evidence import evidence_of, pace_figures
from workbench.core.recording.fates import DOWNLOADED, short_name
from workbench.ui import format as fmt
from workbench.ui.widgets.record_table import Column, RecordTable

MARK = {PROBLEM: ("✗", "bold red"), LIMIT: ("▲", "bold yellow"), NOTE: ("•", "cyan")}
WORD = {PROBLEM: "problem", LIMIT: "limit", NOTE: "note"}
REFRESH = 1.0  # seconds between two diagnoses while the screen is shown


class Healthy:
    """The one row of the verdicts table when no rule found anything."""

    def __init__(self, checked: int) -> None:
        self.checked = checked


def verdict_cells(row: Verdict | Healthy) -> list[Any]:
    if isinstance(row, Healthy):
        return [
            Text("✓", style="bold green"),
            Text(f"Nothing looks wrong: {row.checked} checks found nothing", style="green"),
            "",
        ]
    mark, style = MARK.get(row.severity, ("?", ""))
    opens = row.target.label if row.target is not None else ""
    return [
        Text(mark, style=style),
        Text(clean_line(row.headline, 200), style="bold" if row.severity != NOTE else ""),
        Text(clean_line(opens, 80), style="dim"),
    ]


VERDICT_COLUMNS = [
    Column("", 1),
    Column("Verdict", None, min_width=30, weight=3),
    Column("Enter opens", 30),
]


def _example(url: str) -> str:
    """The part of an example URL that tells it apart: its path and query (the
    host is in the Hosts column)."""
    parts = urlsplit(url)
    if not parts.netloc:
        return clean_line(url, 300)
    rest = parts.path + (f"?{parts.query}" if parts.query else "")
    return clean_line(rest or "/", 300)


def fate_cells(row: FateRow) -> list[Any]:
    if row.part:
        fate = Text("  └ ", style="dim")
        fate.append(short_name(row.component) if row.component else "(not named)")
        by = clean_line(row.component or "", 200)
    else:
        fate = Text(row.fate, style="bold" if row.fate != DOWNLOADED else "")
        by = ""
    counted_only = not row.part and row.fate != DOWNLOADED and row.kept != row.count
    kept = f"{row.kept:,}" if counted_only else ""
    hosts = ", ".join(f"{clean_line(h, 40)} ×{n:,}" for h, n in row.hosts[:2])
    example = row.examples[0][1] if row.examples else ""
    return [
        fate,
        Text(by, style="dim"),
        f"{row.count:,}",
        Text(kept, style="yellow"),
        hosts,
        _example(example) if example else "",
    ]


FATE_COLUMNS = [
    Column("Fate / component", 26),
    Column("By (class path)", 28),
    Column("Requests", 9, "right"),
    Column("Rows", 7, "right"),
    Column("Hosts", 26),
    Column("Example (path)", None, min_width=16),
]


def verdict_detail(verdict: Verdict) -> Text:
    """The highlighted verdict: finding, figures, setting, rule."""
    mark, style = MARK.get(verdict.severity, ("?", ""))
    text = Text()
    text.append(f"{mark} {WORD.get(verdict.severity, verdict.severity)}: ", style=style)
    text.append(clean_line(verdict.finding, 400))
    width = max((len(what) for what, _ in verdict.evidence), default=0)
    for what, figure in verdict.evidence:
        text.append(f"\n  {clean_line(what, 40):<{min(width, 32)}}  ", style="dim")
        text.append(clean_line(figure, 300))
    text.append("\nSetting: ", style="bold")
    text.append(clean_line(verdict.setting or "none", 400))
    text.append(f"\nRule: {clean_line(verdict.doc, 200)}", style="dim")
    if verdict.target is not None:
        text.append(f"   Enter: {clean_line(verdict.target.label, 80)}", style="dim")
    return text


class DiagnoseScreen(Screen[Target | None]):
    """Verdicts, then the fates summary; closes with what Enter chose to open."""

    HELP_TITLE: ClassVar[str] = "Diagnose (D)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,D", "close", "Back"),
        Binding(
            "tab",
            "switch_table",
            "Verdicts/Fates",
            tooltip="Move between the verdicts and the fates summary",
        ),
        Binding(
            "enter",
            "open",
            "Open",
            tooltip="Open what supports the verdict, or the flows of the fate",
            show=True,
        ),
    ]

    DEFAULT_CSS = """
    DiagnoseScreen #diagnose-title { height: auto; padding: 0 1; }
    DiagnoseScreen #verdicts-box { border: round $primary; height: auto; max-height: 70%; }
    DiagnoseScreen #verdict-table { height: auto; max-height: 8; }
    DiagnoseScreen #verdict-detail {
        height: auto; max-height: 14; padding: 0 1; border-top: solid $primary 50%;
    }
    DiagnoseScreen #fates-box { border: round $primary 50%; height: 1fr; min-height: 8; }
    DiagnoseScreen #fate-table { height: 1fr; }
    DiagnoseScreen #fates-note { height: auto; padding: 0 1; }
    DiagnoseScreen #unchecked { height: auto; max-height: 4; padding: 0 1; color: $text-muted; }
    """

    def __init__(self, source: Any) -> None:
        super().__init__()
        self.source = source
        self.diagnosis: Diagnosis | None = None
        self.evidence: Evidence | None = None

    def compose(self) -> Any:
        yield Static("", id="diagnose-title")
        with Vertical(id="verdicts-box"):
            yield RecordTable(
                VERDICT_COLUMNS,
                verdict_cells,
                row_key=lambda v: ("healthy",) if isinstance(v, Healthy) else (v.code,),
                row_version=lambda v: None if isinstance(v, Healthy) else v,
                id="verdict-table",
            )
            yield Static("", id="verdict-detail")
        with Vertical(id="fates-box"):
            yield RecordTable(
                FATE_COLUMNS,
                fate_cells,
                row_key=lambda r: (r.fate, r.part, r.component),
                row_style=lambda r: "dim" if r.part else None,
                row_version=lambda r: r,
                id="fate-table",
            )
            yield Static("", id="fates-note")
        yield Static("", id="unchecked")
        yield Footer()

    @property
    def verdicts(self) -> RecordTable:
        return self.query_one("#verdict-table", RecordTable)

    @property
    def fates(self) -> RecordTable:
        return self.query_one("#fate-table", RecordTable)

    def on_mount(self) -> None:
        self.query_one("#verdicts-box").border_title = "Verdicts"
        self.query_one("#fates-box").border_title = "What became of the requests"
        for table in (self.verdicts, self.fates):
            table.follow = False
        self.update()
        self.verdicts.focus()
        self.set_interval(REFRESH, self.update)

    # -- drawing -------------------------------------------------------------------

    def update(self) -> None:
        snapshot = self.source.snapshot()
        evidence = evidence_of(self.source, snapshot)
        diagnosis = diagnose(evidence)
        self.evidence, self.diagnosis = evidence, diagnosis
        rows: list[Any] = list(diagnosis.verdicts) or [Healthy(len(diagnosis.checked))]
        self.verdicts.set_rows(rows)
        height = min(len(rows) + 1, 8)
        if self.verdicts.styles.height is None or self.verdicts.styles.height.value != height:
            self.verdicts.styles.height = height
        self._title(evidence, diagnosis)
        self._detail()
        summary = evidence.fates
        fate_rows: list[FateRow] = []
        if summary is not None:
            fate_rows.append(FateRow(DOWNLOADED, None, summary.downloaded, 0, (), ()))
            fate_rows.extend(summary.rows)
        self.fates.set_rows(fate_rows)
        self._fates_note(evidence)
        self._unchecked(diagnosis)

    def _title(self, evidence: Evidence, diagnosis: Diagnosis) -> None:
        title = Text("Diagnose", style="bold")
        snapshot = evidence.snapshot
        title.append(f" · {snapshot.status.state} {fmt.duration(snapshot.elapsed)}", style="dim")
        counts = [
            (sum(1 for v in diagnosis.verdicts if v.severity == s), s)
            for s in (PROBLEM, LIMIT, NOTE)
        ]
        for n, severity in counts:
            if n:
                title.append(f" · {n} {WORD[severity]}{'s' if n > 1 else ''}", MARK[severity][1])
        figures = pace_figures(evidence)
        if figures:
            title.append("\nthe last 10 s: ", style="dim")
            for n, (what, figure) in enumerate(figures):
                title.append(" · " if n else "", style="dim")
                title.append(f"{what} ", style="dim")
                title.append(figure)
        self.query_one("#diagnose-title", Static).update(title)

    def _detail(self) -> None:
        detail = self.query_one("#verdict-detail", Static)
        current = self.verdicts.current()
        diagnosis = self.diagnosis
        if isinstance(current, Verdict):
            detail.update(verdict_detail(current))
            return
        text = Text("No rule found a problem, a limit or anything worth a note.", "green")
        if diagnosis is not None and diagnosis.checked:
            text.append("\nChecked: ", style="dim")
            text.append(", ".join(diagnosis.checked), style="dim")
        detail.update(text)

    def _fates_note(self, evidence: Evidence) -> None:
        note = self.query_one("#fates-note", Static)
        summary = evidence.fates
        text = Text("Enter: these flows in the Flows panel", style="dim")
        if summary is not None and summary.unkept:
            text = Text(
                f"{summary.unkept:,} never-downloaded requests were only counted, past "
                "WORKBENCH_MAX_DROPPED (Rows: the rows kept, which Flows shows) · ",
                style="yellow",
            ).append(text)
        if summary is not None and not summary.rows:
            text = Text("Every request so far was downloaded: none dropped, retried or "
                        "given up.  ", style="green").append(text)  # fmt: skip
        note.update(text)

    def _unchecked(self, diagnosis: Diagnosis) -> None:
        widget = self.query_one("#unchecked", Static)
        if not diagnosis.unchecked:
            widget.update("")
            widget.display = False
            return
        widget.display = True
        codes = {r.title: r.code for r in RULES}  # the rules by their codes: shorter
        reasons: dict[str, list[str]] = {}
        for title, why in diagnosis.unchecked:
            reasons.setdefault(why, []).append(codes.get(title, title))
        text = Text("Not checked: ", style="bold")
        for n, (why, names) in enumerate(reasons.items()):
            text.append("; " if n else "")
            text.append(", ".join(names), style="bold")
            text.append(f" ({why})")
        widget.update(text)

    # -- keys ----------------------------------------------------------------------

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        event.stop()
        if event.table.id == "verdict-table":
            self._detail()

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        self._open(event.record)

    def action_open(self) -> None:
        table = self.focused if isinstance(self.focused, RecordTable) else self.verdicts
        self._open(table.current())

    def _open(self, record: Any) -> None:
        if isinstance(record, Verdict):
            if record.target is None:
                self.notify("This verdict has nothing to open.", severity="warning")
                return
            self.dismiss(record.target)
        elif isinstance(record, FateRow):
            label = f"the {record.fate} requests"
            self.dismiss(Target("flows", fate_filter(record), label=label))

    def action_switch_table(self) -> None:
        other = self.fates if self.focused is self.verdicts else self.verdicts
        other.focus()

    def action_close(self) -> None:
        self.dismiss(None)
