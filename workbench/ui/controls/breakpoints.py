"""Breakpoints from the main screen: the hit bar, continue, step, adding one."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from rich.text import Text
from textual.widgets import Static

from workbench.core.formats.sanitize import clean_line
from workbench.core.sources.base import Snapshot
from workbench.ui.controls.base import AppBase
from workbench.ui.screens.breakpoints import BreakpointDialog, BreakpointsScreen


class BreakpointControl(AppBase):
    def _show_hit(self, snapshot: Snapshot) -> None:
        bar = self.query_one("#hit-bar", Static)
        hit = snapshot.hit
        if hit is None:
            if self._hit_seen is not None:
                bar.set_class(False, "-hit")
                self._hit_seen = None
                self.refresh_bindings()
            return
        more = f"  (+{snapshot.hits_waiting - 1} waiting)" if snapshot.hits_waiting > 1 else ""
        text = Text.assemble(
            ("❚❚ Breakpoint ", "bold"),
            (f"{hit.breakpoint_id} ", "bold"),
            (clean_line(hit.description, 80), "bold yellow"),
            f"  flow #{hit.flow_id}  " if hit.flow_id is not None else "  ",
            clean_line(hit.url or "", 160),
            (f"\n  {clean_line(hit.error, 200)}", "red") if hit.error else "",
            more,
            ("\n  s shell · c continue · n step · Enter details · B breakpoints", "dim"),
        )
        bar.update(text)
        if self._hit_seen == (hit.id, hit.flow_id):
            return
        self._hit_seen = (hit.id, hit.flow_id)
        bar.set_class(True, "-hit")
        self.refresh_bindings()
        if hit.flow_id is not None and self.screen is self.status_bar.screen:
            self.action_show_panel("flows")
            self.panels["flows"].select_flow(hit.flow_id)  # type: ignore[attr-defined]
        self.bell()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("continue", "step"):
            hit = self.last_snapshot.hit if self.last_snapshot is not None else None
            return hit is not None  # hidden from the footer without a hit
        return True

    def action_continue(self) -> None:
        if self.source.continue_():
            self.notify("Continuing.", timeout=2)
        else:
            self.notify("Not stopped at a breakpoint.", severity="warning", timeout=3)
        self.refresh_panels()

    def action_step(self) -> None:
        if self.source.step():
            self.notify("Stepping: breaks on the next response.", timeout=2)
        else:
            self.notify("Not stopped at a breakpoint.", severity="warning", timeout=3)
        self.refresh_panels()

    def action_add_breakpoint(self) -> None:
        # prefilled: the flows filter, else the selected flow's path
        flows = self.panels["flows"]
        current = getattr(flows, "filter_text", "")
        flow_id = self.selected_flow_id()
        flow = self.source.flow(flow_id) if flow_id is not None else None
        if current:
            value = f"response: {current}"
        elif flow is not None:
            value = f"response: ~u '{re.escape(urlsplit(flow.url).path)}$'"
        else:
            value = ""

        def added(text: str | None) -> None:
            if text:
                bp = self.source.add_breakpoint(text)
                self.notify(
                    f"Breakpoint {bp.id}: {clean_line(bp.text, 200)}", timeout=3, markup=False
                )

        self.push_screen(BreakpointDialog("New breakpoint (B lists them)", value), added)

    def action_breakpoints(self) -> None:
        self.push_screen(BreakpointsScreen(self.source))
