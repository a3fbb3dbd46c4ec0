"""What the app's controls share: the source, the panels, the shell, the
refresh (implemented by ``WorkbenchApp``)."""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.widgets import TabbedContent

from workbench.core.sources.base import Snapshot, Source
from workbench.shell.session import Console, ShellManager
from workbench.ui.collector_hold import CollectorHold
from workbench.ui.panels.base import Panel
from workbench.ui.status_bar import StatusBar


class AppBase(App[None]):
    """The state ``WorkbenchApp`` sets up, as its controls see it."""

    source: Source
    panels: dict[str, Panel]
    tabs: TabbedContent
    status_bar: StatusBar
    last_snapshot: Snapshot | None
    shell: ShellManager | None
    shell_console: Console | None
    forced: bool  # the crawl was forced to stop (exit status 1)
    signalled: str | None  # "SIGTERM", "SIGHUP", "SIGINT": why the app left
    in_shell: bool  # a shell has the terminal (the app is suspended)
    stopped_on_signal: bool  # a signal (or the terminal closing) stopped the crawl
    _hit_seen: tuple[int, int | None] | None
    collector_hold: CollectorHold  # the collector off while a key is answered

    def refresh_panels(self) -> None:
        raise NotImplementedError

    def _focus_pane(self, pane: Any, now: bool = False) -> None:
        raise NotImplementedError

    def panel(self, pane_id: str) -> Panel:
        return self.panels[pane_id]

    def action_show_panel(self, pane_id: str) -> None:
        """Show the panel; shown already, give it back the keys (the focus had left it)."""
        if self.tabs.active == pane_id:
            pane = self.tabs.get_pane(pane_id)
            if not pane.has_focus_within:
                self._focus_pane(pane, now=True)
            return
        self.tabs.active = pane_id

    @property
    def remote(self) -> bool:
        """The crawl runs in another process (workbench attach): quitting detaches."""
        return self.source.capabilities.attached

    def _state(self) -> str:
        """The process's crawl state (several crawlers: all of them, whatever is shown)."""
        return self.source.process_state()

    def _stop_all(self) -> bool:
        return self.source.stop_all()

    def selected_flow_id(self) -> int | None:
        """The flow of the detail screen shown, else the one selected in Flows."""
        from workbench.core.recording.records import Flow
        from workbench.ui.widgets.record_table import RecordTable

        screen: Any = self.screen
        flow = getattr(screen, "flow", None)
        if isinstance(flow, Flow):
            return flow.id
        record = self.panels["flows"].query_one("#flow-table", RecordTable).current()
        return record.id if isinstance(record, Flow) else None
