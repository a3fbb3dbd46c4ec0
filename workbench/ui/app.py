"""The Textual app: one screen of panels over a source, a status line, keys."""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Iterable
from typing import Any, ClassVar

from textual import events
from textual.app import App, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, TabbedContent, TabPane

from workbench.core.sanitize import clean_line
from workbench.core.source import Snapshot, Source
from workbench.ui.panels.base import Panel
from workbench.ui.panels.flows import FlowsPanel
from workbench.ui.panels.items import ItemsPanel
from workbench.ui.panels.log import LogPanel
from workbench.ui.panels.queue import QueuePanel
from workbench.ui.panels.stats import StatsPanel
from workbench.ui.screens.curl import NewRequestScreen
from workbench.ui.screens.dialogs import ConfirmScreen
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.screens.help import HelpScreen
from workbench.ui.screens.replay import ReplayScreen
from workbench.ui.status_bar import StatusBar
from workbench.ui.widgets.record_table import RecordTable

logger = logging.getLogger(__name__)

PANELS: list[tuple[str, str, type[Panel]]] = [
    ("flows", "1 Flows", FlowsPanel),
    ("queue", "2 Queue", QueuePanel),
    ("items", "3 Items", ItemsPanel),
    ("stats", "4 Stats", StatsPanel),
    ("log", "5 Log", LogPanel),
]

MIN_INTERVAL = float(os.environ.get("WORKBENCH_MIN_REFRESH", "0.25"))  # at most 4/s...
MAX_INTERVAL = 2.0  # ...and at least one every 2 s
# A refresh (pulling the snapshot, updating widgets, and the paint that follows)
# may take at most 1/COST_FACTOR of the time (4%).  The cost is measured up to the
# end of the next paint, so it includes the crawl work the loop did meanwhile:
# a busy crawl slows the UI down rather than the other way round.
COST_FACTOR = 25


class WorkbenchApp(App[None]):
    TITLE = "workbench"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_pause", "Pause/Resume", tooltip="Pause or resume the crawl"),
        Binding(
            "X,ctrl+c",
            "stop_crawl",
            "Stop",
            tooltip="Stop the crawl gracefully (again: force)",
            priority=True,
        ),
        Binding("q", "quit_app", "Quit", tooltip="Quit (asks first while a crawl runs)"),
        Binding(
            "ctrl+q",
            "quit_app",
            "Quit",
            show=False,
            priority=True,
            tooltip="Quit (asks first while a crawl runs)",
        ),
        Binding("question_mark", "help", "Help", tooltip="Show every key"),
        Binding("n", "new_request", "New request", show=False, tooltip="New request from curl"),
        Binding("1", "show_panel('flows')", "Flows", show=False, tooltip="Show the flows"),
        Binding("2", "show_panel('queue')", "Queue", show=False, tooltip="Show the queue"),
        Binding("3", "show_panel('items')", "Items", show=False, tooltip="Show the items"),
        Binding("4", "show_panel('stats')", "Stats", show=False, tooltip="Show the stats"),
        Binding("5", "show_panel('log')", "Log", show=False, tooltip="Show the log"),
    ]

    CSS = """
    Screen { layout: vertical; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    """

    def __init__(self, source: Source, *, autostart: bool = True, clock: Any = time.time) -> None:
        super().__init__()
        self.source = source
        self.autostart = autostart
        self.interval = MIN_INTERVAL
        self.refresh_cost = 0.0
        self.last_snapshot: Snapshot | None = None
        self.start_error: str | None = None
        self.forced = False
        self._timer: Any = None

    # -- layout ----------------------------------------------------------------

    def compose(self) -> Any:
        with TabbedContent(initial="flows", id="panels"):
            for pane_id, title, panel_cls in PANELS:
                with TabPane(title, id=pane_id):
                    yield panel_cls(self.source, id=f"{pane_id}-panel")
        yield StatusBar(id="status")
        yield Footer()

    def panel(self, pane_id: str) -> Panel:
        return self.panels[pane_id]

    @property
    def visible_panel(self) -> Panel:
        return self.panel(self.tabs.active or "flows")

    async def on_mount(self) -> None:
        # keep the main screen's widgets: other screens (detail, help) may be on top
        self.tabs = self.query_one("#panels", TabbedContent)
        self.status_bar = self.query_one(StatusBar)
        self.panels = {
            pane_id: self.query_one(f"#{pane_id}-panel", Panel) for pane_id, _, _ in PANELS
        }
        self.query_one("#flow-table", RecordTable).focus()
        # print() from spider code (or anything else) goes to the Log panel
        self._printed = {False: "", True: ""}
        self.begin_capture_print(self, stdout=True, stderr=True)
        # The widget tree and the imported modules live as long as the app: move
        # them out of the collector's way, so the crawl's many short-lived
        # objects do not make every full collection walk them again.
        gc.collect()
        gc.freeze()
        if self.autostart:
            try:
                await self.source.start()
            except Exception as exc:  # bad settings, reactor trouble: show, don't crash
                self.start_error = f"{type(exc).__name__}: {exc}"
                logger.exception("Could not start the crawl")
                self.notify(
                    self.start_error,
                    title="Could not start the crawl",
                    severity="error",
                    timeout=30,
                )
        self.refresh_panels()

    def on_unmount(self) -> None:
        gc.unfreeze()  # what the app held may now be collected again

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.interval, self.refresh_panels)

    # -- the refresh loop (the UI pulls) ----------------------------------------

    def refresh_panels(self) -> None:
        began = time.perf_counter()
        try:
            snapshot = self.source.snapshot()
        except Exception:
            logger.exception("Reading the crawl snapshot failed")
            self._schedule()
            return
        self.last_snapshot = snapshot
        self.status_bar.show(snapshot)
        panel = self.visible_panel
        if self.screen is self.status_bar.screen:  # nothing covers the panels
            try:
                panel.refresh_from(snapshot)
            except Exception as exc:  # contain a panel failure: the crawl goes on
                logger.exception("Panel %s failed to refresh", type(panel).__name__)
                panel.show_error(exc)
        finished = snapshot.status.state in ("finished", "failed")
        self.call_after_refresh(self._painted, began, finished)

    def _painted(self, began: float, finished: bool) -> None:
        self.refresh_cost = time.perf_counter() - began
        self.interval = min(MAX_INTERVAL, max(MIN_INTERVAL, self.refresh_cost * COST_FACTOR))
        if finished:
            self.interval = MAX_INTERVAL
        self._schedule()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.tabbed_content.id == "panels" and self.is_mounted:
            self.call_later(self.refresh_panels)
            tables = event.pane.query(RecordTable)
            if tables:
                tables.last().focus()

    # -- actions -----------------------------------------------------------------

    def action_show_panel(self, pane_id: str) -> None:
        self.tabs.active = pane_id

    def action_toggle_pause(self) -> None:
        paused = self.source.toggle_pause()
        if paused is None:
            self.notify("The crawl is not running.", severity="warning")
        elif paused:
            snapshot = self.source.snapshot()
            self.notify(
                f"Paused: no new requests leave the queue; {snapshot.status.in_flight} in flight "
                "still finish and their callbacks run.",
                title="Paused",
            )
        else:
            self.notify("Resumed.", timeout=2)
        self.refresh_panels()

    def _state(self) -> str:
        return self.source.snapshot().status.state

    def action_stop_crawl(self) -> None:
        state = self._state()
        if state in ("finished", "failed"):
            self.notify("The crawl has already finished. q quits.", timeout=3)
            return
        if state == "closing":
            self.push_screen(
                ConfirmScreen(
                    "The crawl is already closing (waiting for in-flight requests and feeds).\n"
                    "Force it to stop now? Feeds and JOBDIR may be left incomplete, "
                    "and workbench will exit.",
                    yes="Force stop",
                ),
                self._force_answer,
            )
            return
        if self.source.stop():
            self.notify(
                "Stopping gracefully: in-flight requests finish, feeds are closed. "
                "Press again to force.",
                title="Stopping",
            )
        self.refresh_panels()

    def _force_answer(self, force: bool | None) -> None:
        if force:
            self.forced = True
            logger.warning("Forced shutdown requested from workbench.")
            self.exit(return_code=1)

    def action_quit_app(self) -> None:
        state = self._state()
        if state in ("finished", "failed", "starting"):
            self.exit()
            return
        if state == "closing":
            self.action_stop_crawl()
            return
        self.push_screen(
            ConfirmScreen(
                "The crawl is still running.\nStop it gracefully (feeds are closed) and quit?",
                yes="Stop and quit",
            ),
            self._quit_answer,
        )

    def _quit_answer(self, answer: bool | None) -> None:
        if not answer:
            return
        self.source.stop()
        self.notify(
            "Stopping gracefully; workbench quits when the crawl has closed.", title="Quitting"
        )
        self.run_worker(self._exit_when_finished(), exclusive=True, group="quit")

    async def _exit_when_finished(self) -> None:
        import asyncio

        while self._state() not in ("finished", "failed"):
            await asyncio.sleep(0.1)
        self.exit()

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, list[BindingType]]]:
        sections: list[tuple[str, list[BindingType]]] = [("Everywhere", list(self.BINDINGS))]
        for _, title, panel_cls in PANELS:
            if panel_cls.BINDINGS:
                sections.append((f"{title.split(' ', 1)[1]} panel", list(panel_cls.BINDINGS)))
        sections.append(("Tables", list(RecordTable.BINDINGS)))
        sections.append(("Flow detail (Enter on a flow)", list(FlowDetailScreen.BINDINGS)))
        sections.append(("Replay (r on a flow)", list(ReplayScreen.BINDINGS)))
        return sections

    # -- messages -----------------------------------------------------------------

    def on_print(self, event: events.Print) -> None:
        """Log what was printed, a line at a time (logger "stdout" or "stderr")."""
        text = self._printed[event.stderr] + event.text
        *lines, rest = text.split("\n")
        self._printed[event.stderr] = rest[-100_000:]
        target = logging.getLogger("stderr" if event.stderr else "stdout")
        for line in lines:
            target.log(logging.WARNING if event.stderr else logging.INFO, "%s", line)

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        if event.table.id == "flow-table":
            self.push_screen(FlowDetailScreen(self.source, event.record))

    # -- command palette: every action -------------------------------------------

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        yield from super().get_system_commands(screen)
        yield SystemCommand("Pause / resume the crawl", "Space", self.action_toggle_pause)
        yield SystemCommand(
            "Stop the crawl gracefully", "X or Ctrl+C; again to force", self.action_stop_crawl
        )
        yield SystemCommand(
            "Quit workbench", "q; asks first while a crawl runs", self.action_quit_app
        )
        yield SystemCommand("Show every key", "?", self.action_help)
        yield SystemCommand(
            "New request from curl", "n; paste a curl command", self.action_new_request
        )
        for pane_id, title, _ in PANELS:
            name = title.split(" ", 1)[1]
            yield SystemCommand(
                f"Show {name}", f"Key {title[0]}", lambda p=pane_id: self.action_show_panel(p)
            )
        # every panel key, as "<Panel>: <what it does>", run on that panel
        for pane_id, title, panel_cls in PANELS:
            name = title.split(" ", 1)[1]
            for binding in panel_cls.BINDINGS:
                if not isinstance(binding, Binding) or binding.action.startswith("leave"):
                    continue
                yield SystemCommand(
                    f"{name}: {binding.tooltip or binding.description}",
                    f"Key {binding.key.split(',')[0]} on the {name} panel",
                    lambda p=pane_id, a=binding.action: self._panel_action(p, a),
                )
        yield SystemCommand("Follow newest flow", "G / End in a table", self._follow_flows)

    def _panel_action(self, pane_id: str, action: str) -> None:
        self.action_show_panel(pane_id)
        getattr(self.panel(pane_id), f"action_{action}")()

    def _follow_flows(self) -> None:
        self.action_show_panel("flows")
        self.panels["flows"].query_one("#flow-table", RecordTable).action_last()

    # -- new request from curl ------------------------------------------------------

    def action_new_request(self) -> None:
        self.push_screen(NewRequestScreen(self.source), self._request_added)

    def _request_added(self, message: str | None) -> None:
        if message:
            self.notify(clean_line(message, 500), title="Request added", timeout=6, markup=False)
