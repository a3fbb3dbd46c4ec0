"""The app's keys in one table (as mitmproxy's ``defaultkeys``), and what is
derived from the bindings: the ? screen and the command palette.

A key is one ``Binding`` with a tooltip, in ``APP_BINDINGS`` here, a panel's
or a screen's ``BINDINGS``; nothing else lists it (``tests/test_bindings.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from textual.app import SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen

from workbench.core.formats.sanitize import clean_line
from workbench.ui.controls.base import AppBase
from workbench.ui.layout import PANELS
from workbench.ui.screens.breakpoints import BreakpointsScreen
from workbench.ui.screens.checks import ChecksScreen
from workbench.ui.screens.curl import CurlScreen, NewRequestScreen
from workbench.ui.screens.diagnose import DiagnoseScreen
from workbench.ui.screens.errors import ErrorGroupScreen, ErrorsScreen, TracebackScreen
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.screens.help import HelpScreen, key_label
from workbench.ui.screens.item_detail import ItemScreen
from workbench.ui.screens.item_health import ItemHealthScreen
from workbench.ui.screens.live_objects import LiveObjectsScreen
from workbench.ui.screens.parse_tree import ParseScreen
from workbench.ui.screens.prefs import PrefsScreen
from workbench.ui.screens.replay import ReplayScreen
from workbench.ui.screens.selectors import SelectorScreen
from workbench.ui.widgets.record_table import RecordTable

QUIT_TIP = "Quit (asks first while a crawl runs; attached: detaches, the crawl goes on)"
# the screens whose keys the ? screen lists after the panels', in this order
HELP_SCREENS: tuple[Any, ...] = (
    FlowDetailScreen,
    ItemScreen,
    ItemHealthScreen,
    DiagnoseScreen,
    ErrorsScreen,
    ErrorGroupScreen,
    TracebackScreen,
    SelectorScreen,
    ReplayScreen,
    CurlScreen,
    NewRequestScreen,
    BreakpointsScreen,
    LiveObjectsScreen,
    PrefsScreen,
    ChecksScreen,
    ParseScreen,
)
# app keys the command palette offers only to a source with one of these capabilities
ACTION_NEEDS: dict[str, tuple[str, ...]] = {
    "toggle_pause": ("live",),
    "stop_crawl": ("live",),
    "shell": ("local_shell", "remote_shell"),
    "continue": ("breakpoints",),
    "step": ("breakpoints",),
    "add_breakpoint": ("breakpoints",),
    "breakpoints": ("breakpoints",),
    "new_request": ("inject",),
    "checks": ("checks",),
    "parse_tree": ("parse_tree",),
    "cycle_crawler": ("crawlers",),
    "in_flight": ("live",),
}


APP_BINDINGS: list[BindingType] = [
    Binding("space", "toggle_pause", "Pause/Resume", tooltip="Pause or resume the crawl"),
    Binding(
        "X,ctrl+c",
        "stop_crawl",
        "Stop",
        tooltip="Stop the crawl gracefully (again: force)",
        priority=True,
    ),
    Binding("q", "quit_app", "Quit", tooltip=QUIT_TIP),
    Binding(
        "ctrl+q",
        "quit_app",
        "Quit",
        show=False,
        priority=True,
        tooltip=QUIT_TIP,
    ),
    Binding("s", "shell", "Shell", tooltip="IPython shell on the selected response"),
    Binding("c", "continue", "Continue", tooltip="Continue from the breakpoint"),
    Binding("n", "step", "Step", tooltip="Continue, and break on the next response"),
    Binding("b", "add_breakpoint", "Break", tooltip="Add a breakpoint"),
    Binding("B", "breakpoints", "Breakpoints", show=False, tooltip="List the breakpoints"),
    Binding("question_mark", "help", "Help", tooltip="Show every key"),
    Binding(
        "D",
        "diagnose",
        "Diagnose",
        show=False,  # the status line names it (D) when a verdict applies
        tooltip="Diagnose: what limits or breaks the crawl, and what became of the requests",
    ),
    Binding(
        "E",
        "errors",
        "Errors",
        show=False,
        tooltip="Errors grouped by type, message and line of your code (with examples)",
    ),
    Binding("i", "new_request", "Inject", show=False, tooltip="Inject a new request from curl"),
    Binding("K", "checks", "Checks", show=False, tooltip="Contract checks (workbench check)"),
    Binding("T", "parse_tree", "Parse tree", show=False, tooltip="The tree of workbench parse"),
    Binding(
        "S",
        "cycle_crawler",
        "Crawler",
        show=False,
        tooltip="Several spiders at once: show all of them, or the next one",
    ),
    Binding(
        "I",
        "in_flight",
        "In flight",
        show=False,
        tooltip="The requests in flight, oldest first: age, timeout, retries, bytes (Queue)",
    ),
    Binding("1", "show_panel('flows')", "Flows", show=False, tooltip="Show the flows"),
    Binding("2", "show_panel('queue')", "Queue", show=False, tooltip="Show the queue"),
    Binding("3", "show_panel('items')", "Items", show=False, tooltip="Show the items"),
    Binding("4", "show_panel('stats')", "Stats", show=False, tooltip="Show the stats"),
    Binding("5", "show_panel('log')", "Log", show=False, tooltip="Show the log"),
    Binding("6", "show_panel('refs')", "Refs", show=False, tooltip="Show the live refs"),
    Binding("7", "show_panel('memory')", "Memory", show=False, tooltip="Show the memory"),
    Binding("8", "show_panel('slots')", "Slots", show=False, tooltip="Show the slots"),
    Binding(
        "9",
        "show_panel('browser')",
        "Browser",
        show=False,
        tooltip="Show the headless browser's pages, contexts and memory (scrapy-playwright)",
    ),
]


class KeysControl(AppBase):
    """The ? screen, the command palette, and the keys that open screens."""

    def action_help(self) -> None:
        self.push_screen(HelpScreen(self.help_sections()))

    def help_sections(self) -> list[tuple[str, list[BindingType]]]:
        """The ? screen: the app's keys, each panel's, the tables', then each
        screen's (its HELP_TITLE), all from the bindings."""
        sections: list[tuple[str, list[BindingType]]] = [("Everywhere", list(self.BINDINGS))]
        for _, title, panel_cls in PANELS:
            if panel_cls.BINDINGS:
                sections.append((f"{title.split(' ', 1)[1]} panel", list(panel_cls.BINDINGS)))
        sections.append(("Tables", list(RecordTable.BINDINGS)))
        for screen in HELP_SCREENS:
            if screen is ChecksScreen and not self.source.capabilities.checks:
                continue
            if screen is ParseScreen and not self.source.capabilities.parse_tree:
                continue
            sections.append((screen.HELP_TITLE, list(screen.BINDINGS)))
        return sections

    def get_system_commands(self, screen: Screen[Any]) -> Iterable[SystemCommand]:
        """Textual's own commands, then one per key of the app and of every panel,
        from the bindings (their tooltip, their key): nothing listed twice."""
        yield from super().get_system_commands(screen)
        seen: set[str] = set()
        for binding in self.BINDINGS:
            if not isinstance(binding, Binding) or binding.action in seen:
                continue
            seen.add(binding.action)
            if not self._offered(binding.action):
                continue
            yield SystemCommand(
                binding.tooltip or binding.description,
                f"Key {key_label(binding.key)}",
                lambda a=binding.action: self.run_action(a),
            )
        # every panel key, as "<Panel>: <what it does>", run on that panel
        for pane_id, title, panel_cls in PANELS:
            name = title.split(" ", 1)[1]
            for binding in panel_cls.BINDINGS:
                if not isinstance(binding, Binding) or binding.action.startswith("leave"):
                    continue
                yield SystemCommand(
                    f"{name}: {binding.tooltip or binding.description}",
                    f"Key {key_label(binding.key.split(',')[0])} on the {name} panel",
                    lambda p=pane_id, a=binding.action: self._panel_action(p, a),
                )
        yield SystemCommand("Follow newest flow", "G / End in a table", self._follow_flows)

    def _offered(self, action: str) -> bool:
        """An app key the palette offers for this source (the keys themselves all
        work, and say why when the source cannot)."""
        need = ACTION_NEEDS.get(action.split("(", 1)[0])
        capabilities = self.source.capabilities
        return need is None or any(getattr(capabilities, n) for n in need)

    async def _panel_action(self, pane_id: str, action: str) -> None:
        self.action_show_panel(pane_id)
        await self.run_action(action, self.panel(pane_id))

    def _follow_flows(self) -> None:
        self.action_show_panel("flows")
        self.panels["flows"].query_one("#flow-table", RecordTable).action_last()

    def action_errors(self) -> None:
        """The crawl's errors, grouped, over the panels."""
        if not isinstance(self.screen, ErrorsScreen):
            self.push_screen(ErrorsScreen(self.source))

    def action_new_request(self) -> None:
        self.push_screen(NewRequestScreen(self.source), self._request_added)

    def _request_added(self, message: str | None) -> None:
        if message:
            self.notify(clean_line(message, 500), title="Request added", timeout=6, markup=False)

    def action_parse_tree(self) -> None:
        """The tree of responses, items and requests (``workbench parse``), over the panels."""
        if not self.source.capabilities.parse_tree:
            self.notify("The parse tree comes with workbench parse URL.", severity="warning")
            return
        if not isinstance(self.screen, ParseScreen):
            self.push_screen(ParseScreen(self.source))

    def action_checks(self) -> None:
        """The contract checks (``workbench check``), over the panels."""
        if not self.source.capabilities.checks:
            self.notify("Contract checks run with workbench check.", severity="warning")
            return
        if not isinstance(self.screen, ChecksScreen):
            self.push_screen(ChecksScreen(self.source))

    def action_in_flight(self) -> None:
        """The requests in flight, oldest first: the Queue panel's list, focused on
        the oldest (from any panel or screen: the screens over the panels close)."""
        while len(self.screen_stack) > 1:
            self.pop_screen()
        self.action_show_panel("queue")
        table = self.panels["queue"].query_one("#in-flight-table", RecordTable)
        table.focus()
        self.refresh_panels()
        table.cursor = 0 if table.rows else -1
        status = self.last_snapshot.status if self.last_snapshot is not None else None
        if status is not None and not status.in_flight and not table.rows:
            self.notify("Nothing in flight.", timeout=3)
