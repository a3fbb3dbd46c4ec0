"""Diagnose (D) and the status line's headline: the worst verdict, when there is one.

The headline is the diagnosis of the visible source, made at most every
:data:`HEADLINE_EVERY` seconds on the refresh timer (without the flows: the
fates counts of the snapshot are enough for a headline), shown as its own
segment at the end of the status line.  The Diagnose screen closes with the
:class:`~workbench.core.inspection.diagnosis.Target` Enter chose, which
:meth:`DiagnoseControl.open_target` opens: the Flows panel with a filter,
a slot in Slots, the Queue, the Items panel with a filter.
"""

from __future__ import annotations

import logging
import time

from textual.widgets import Input

from workbench.core.inspection.diagnosis import LIMIT, PROBLEM, Target, diagnose
from workbench.core.inspection.diagnosis.evidence import evidence_of
from workbench.core.sources.base import Snapshot
from workbench.ui.controls.base import AppBase
from workbench.ui.screens.diagnose import DiagnoseScreen
from workbench.ui.widgets.record_table import RecordTable

logger = logging.getLogger(__name__)

HEADLINE_EVERY = 2.0  # seconds between two diagnoses for the status line


class DiagnoseControl(AppBase):
    """The D key, the headline, and opening what a verdict points at."""

    _headline_at = 0.0

    def update_headline(self, snapshot: Snapshot) -> None:
        """Diagnose again when due; the status line shows the worst verdict."""
        now = time.monotonic()
        if now - self._headline_at < HEADLINE_EVERY:
            return
        self._headline_at = now
        try:
            verdicts = diagnose(evidence_of(self.source, snapshot, flows=False)).verdicts
        except Exception:  # the headline must never cost the status line
            logger.exception("Diagnosing for the status line failed")
            verdicts = ()
        transfers = snapshot.status.transfers
        shown = transfers is not None and transfers.stalled  # the line says so already
        verdict = next(
            (
                v
                for v in verdicts
                if v.severity in (PROBLEM, LIMIT) and not (shown and v.code == "stalled")
            ),
            None,
        )
        headline = None
        if verdict is not None:
            style = "bold red" if verdict.severity == PROBLEM else "bold yellow"
            headline = (verdict.headline, style)
        self.status_bar.headline = headline

    def action_diagnose(self) -> None:
        if isinstance(self.screen, DiagnoseScreen):
            return
        self.push_screen(DiagnoseScreen(self.source), self.open_target)

    def open_target(self, target: Target | None) -> None:
        """Show what a verdict (or a fate) points at."""
        if target is None:
            return
        self.action_show_panel(target.panel)
        panel = self.panels[target.panel]
        if target.panel in ("flows", "items") and target.filter:
            boxes = panel.query(Input)
            if boxes:  # the panel's filter box: setting it filters at once
                boxes.first().value = target.filter
        self.refresh_panels()
        tables = panel.query(RecordTable)
        if not tables:
            return
        table = tables.first()
        if target.panel == "slots" and target.slot is not None:
            table.select_key(("slot", target.slot))
        table.focus()
