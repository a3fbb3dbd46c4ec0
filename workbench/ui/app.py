"""The Textual app: one screen of panels over a source, a status line, keys."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import gc
import io
import logging
import os
import re
import signal
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar
from urllib.parse import urlsplit

from rich.text import Text
from textual import events
from textual.app import App, SuspendNotSupported, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static, TabbedContent, TabPane

from workbench.core.formats.sanitize import clean_line
from workbench.core.recording.records import Flow
from workbench.core.sources.base import ShellTarget, Snapshot, Source
from workbench.shell.session import Console, ShellManager
from workbench.shell.session import attach as attach_shell
from workbench.ui.panels.base import Panel
from workbench.ui.panels.flows import FlowsPanel
from workbench.ui.panels.items import ItemsPanel
from workbench.ui.panels.log import LogPanel
from workbench.ui.panels.memory import MemoryPanel
from workbench.ui.panels.queue import QueuePanel
from workbench.ui.panels.refs import RefsPanel
from workbench.ui.panels.slots import SlotsPanel
from workbench.ui.panels.stats import StatsPanel
from workbench.ui.screens.breakpoints import BreakpointDialog, BreakpointsScreen
from workbench.ui.screens.checks import ChecksScreen
from workbench.ui.screens.curl import CurlScreen, NewRequestScreen
from workbench.ui.screens.dialogs import ConfirmScreen
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.screens.help import HelpScreen, key_label
from workbench.ui.screens.live_objects import LiveObjectsScreen
from workbench.ui.screens.parse_tree import ParseScreen
from workbench.ui.screens.prefs import PrefsScreen
from workbench.ui.screens.replay import ReplayScreen
from workbench.ui.screens.selectors import SelectorScreen
from workbench.ui.status_bar import StatusBar
from workbench.ui.widgets.record_table import RecordTable

logger = logging.getLogger(__name__)

PANELS: list[tuple[str, str, type[Panel]]] = [
    ("flows", "1 Flows", FlowsPanel),
    ("queue", "2 Queue", QueuePanel),
    ("items", "3 Items", ItemsPanel),
    ("stats", "4 Stats", StatsPanel),
    ("log", "5 Log", LogPanel),
    ("refs", "6 Refs", RefsPanel),
    ("memory", "7 Memory", MemoryPanel),
    ("slots", "8 Slots", SlotsPanel),
]

MIN_INTERVAL = float(os.environ.get("WORKBENCH_MIN_REFRESH", "0.25"))  # at most 4/s...
MAX_INTERVAL = 2.0  # ...and at least one every 2 s
# A refresh (pulling the snapshot, updating widgets, and the paint that follows)
# may take at most 1/COST_FACTOR of the time (4%).  The cost is measured up to the
# end of the next paint, so it includes the crawl work the loop did meanwhile:
# a busy crawl slows the UI down rather than the other way round.
COST_FACTOR = 25
QUIT_TIP = "Quit (asks first while a crawl runs; attached: detaches, the crawl goes on)"
# the screens whose keys the ? screen lists after the panels', in this order
HELP_SCREENS: tuple[Any, ...] = (
    FlowDetailScreen,
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
}


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
        Binding("1", "show_panel('flows')", "Flows", show=False, tooltip="Show the flows"),
        Binding("2", "show_panel('queue')", "Queue", show=False, tooltip="Show the queue"),
        Binding("3", "show_panel('items')", "Items", show=False, tooltip="Show the items"),
        Binding("4", "show_panel('stats')", "Stats", show=False, tooltip="Show the stats"),
        Binding("5", "show_panel('log')", "Log", show=False, tooltip="Show the log"),
        Binding("6", "show_panel('refs')", "Refs", show=False, tooltip="Show the live refs"),
        Binding("7", "show_panel('memory')", "Memory", show=False, tooltip="Show the memory"),
        Binding("8", "show_panel('slots')", "Slots", show=False, tooltip="Show the slots"),
    ]

    CSS = """
    Screen { layout: vertical; }
    TabbedContent { height: 1fr; }
    TabPane { padding: 0; }
    #hit-bar { height: auto; background: $error 30%; padding: 0 1; display: none; }
    #hit-bar.-hit { display: block; }
    """

    def __init__(
        self,
        source: Source,
        *,
        autostart: bool = True,
        clock: Any = time.time,
        shell_console: Console | None = None,
        theme: str | None = None,
        panel: str = "flows",
    ) -> None:
        super().__init__()
        self.initial_panel = panel  # the tab shown first
        self._setup_themes(theme)
        self.shell_console = shell_console  # tests: a stand-in for the terminal IPython
        self.shell: ShellManager | None = None
        # (hit id, flow id): several crawlers number their hits each from 1
        self._hit_seen: tuple[int, int | None] | None = None
        self.source = source
        self.autostart = autostart
        self.interval = MIN_INTERVAL
        self.refresh_cost = 0.0
        self.last_snapshot: Snapshot | None = None
        self.start_error: str | None = None
        self.forced = False
        self.signalled: str | None = None  # "SIGTERM", "SIGHUP", "SIGINT": why the app left
        self.in_shell = False  # a shell has the terminal (the app is suspended)
        self.leftover_output = LeftoverOutput()  # printed by logging while the app ran
        self.exit_requested: Any = None  # called once the app is asked to exit (a watchdog)
        self.exiting = False  # exit() was called: input is ignored from then on
        self.stopped_on_signal = False  # a signal (or the terminal closing) stopped the crawl
        self._timer: Any = None

    # -- layout ----------------------------------------------------------------

    def compose(self) -> Any:
        with TabbedContent(initial=self.initial_panel, id="panels"):
            for pane_id, title, panel_cls in PANELS:
                with TabPane(title, id=pane_id):
                    yield panel_cls(self.source, id=f"{pane_id}-panel")
        yield Static("", id="hit-bar")
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
        # the first panel's table (focusing another panel's would switch to it)
        self._focus_pane(self.tabs.get_pane(self.initial_panel))
        # print() from spider code (or anything else) goes to the Log panel
        self._printed = {False: "", True: ""}
        self.begin_capture_print(self, stdout=True, stderr=True)
        # The widget tree and the imported modules live as long as the app: move
        # them out of the collector's way, so the crawl's many short-lived
        # objects do not make every full collection walk them again.
        gc.collect()
        gc.freeze()
        self.theme_changed_signal.subscribe(self, self._theme_changed)
        self._remember_theme = True
        for problem in self.theme_problems:
            self.notify(
                clean_line(problem, 400),
                title="Theme",
                severity="warning",
                timeout=15,
                markup=False,
            )
        self._setup_shell()
        job = self.source.resumed_job  # a JOBDIR to resume (core.control.jobdir)
        if self.autostart and job is not None and job.problem:
            # a job that was not stopped cleanly: say so before resuming it
            question = Text(f"{clean_line(job.problem, 400)}\n\n{clean_line(job.summary(), 400)}")
            question.append("\n\nResume it anyway?", style="bold")
            self.push_screen(
                ConfirmScreen(question, yes="Resume", no="Quit"),  # type: ignore[arg-type]
                self._resume_answered,
            )
            self.refresh_panels()
            return
        if self.autostart:
            await self._start_source()
        if self.source.capabilities.checks:
            self.action_checks()
        if self.source.capabilities.parse_tree:
            self.action_parse_tree()
        self.refresh_panels()

    def action_cycle_crawler(self) -> None:
        """``workbench crawl S1 S2``: every panel shows all the crawlers, or one."""
        source = self.source
        if len(source.crawlers()) < 2:
            self.notify("One crawler here (workbench crawl S1 S2 runs several).")
            return
        scope = source.cycle()
        shown = f"crawler {scope}" if scope else "all the crawlers"
        self.notify(f"Showing {clean_line(shown, 60)} (S: the next).", timeout=3, markup=False)
        self.refresh_panels()

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

    async def _resume_answered(self, resume: bool | None) -> None:
        if not resume:
            self.exit()
            return
        await self._start_source()
        self.refresh_panels()

    async def _start_source(self) -> None:
        job = self.source.resumed_job
        try:
            await self.source.start()
        except Exception as exc:  # bad settings, reactor trouble: show, don't crash
            self.start_error = f"{type(exc).__name__}: {exc}"
            logger.exception("Could not start the crawl")
            self.notify(
                clean_line(self.start_error, 500),
                title="Could not start the crawl",
                severity="error",
                timeout=30,
                markup=False,
            )
            return
        if job is not None:
            self.notify(clean_line(job.summary(), 400), title="JOBDIR", timeout=20, markup=False)

    def on_unmount(self) -> None:
        gc.unfreeze()  # what the app held may now be collected again

    # -- themes ------------------------------------------------------------------

    def _setup_themes(self, wanted: str | None) -> None:
        from workbench.ui.themes import DEFAULT_THEME, load_themes, remembered_theme

        self.workbench_themes, self.theme_problems = load_themes()
        for found in self.workbench_themes.values():
            self.register_theme(found.theme)
        self._remember_theme = False  # only what the user picks in the app is remembered
        name = wanted or remembered_theme() or DEFAULT_THEME
        if name not in self.available_themes:
            self.theme_problems.append(
                f"no theme named {name!r}; using {DEFAULT_THEME!r} "
                f"(themes: {', '.join(sorted(self.workbench_themes))})"
            )
            name = DEFAULT_THEME
        self.theme = name
        self._apply_ansi(name)

    def _apply_ansi(self, name: str) -> None:
        """The theme's 16 terminal colours (Textual's own for Textual's themes)."""
        from textual._ansi_theme import ALABASTER, MONOKAI

        found = self.workbench_themes.get(name)
        self.ansi_theme_dark = found.ansi if found and found.theme.dark else MONOKAI
        self.ansi_theme_light = found.ansi if found and not found.theme.dark else ALABASTER

    def _theme_changed(self, theme: Any) -> None:
        self._apply_ansi(theme.name)
        for table in self.query(RecordTable):
            table.restyle()  # cached rows carry the old colours
        if self._remember_theme:
            from workbench.ui.themes import remember_theme

            try:
                remember_theme(theme.name)
            except OSError as exc:
                self.notify(
                    f"cannot remember the theme: {clean_line(str(exc), 300)}",
                    severity="warning",
                    markup=False,
                )

    @property
    def ui_error(self) -> BaseException | None:
        """The unhandled error that ended the app (Textual keeps it), if any."""
        return getattr(self, "_exception", None)

    # -- signals -----------------------------------------------------------------

    def on_signal(self, sig: int) -> None:
        """SIGTERM, SIGINT or SIGHUP (the terminal closed) while the app runs (the
        command line routes them here): leave the app, after which the crawl stops
        gracefully (``cli.run_app``).  A second one forces, as Scrapy's does."""
        name = signal.Signals(sig).name
        if sig == signal.SIGINT and self.in_shell:
            return  # Ctrl-C typed in the shell: it interrupts the shell's code, not the app
        if self.signalled is not None:
            if sig == signal.SIGHUP:  # the terminal closing (its EOF, then the signal) never forces
                return
            self.forced = not self.remote
            self.exit(return_code=1)
            return
        self.signalled = name
        logger.warning("Received %s; workbench exits and the crawl stops gracefully.", name)
        if sig == signal.SIGHUP:
            leave_terminal()
        if not self.remote:  # now, not once the app has gone: it takes a moment to close
            with contextlib.suppress(Exception):
                self.stopped_on_signal = self._stop_all()
        self.exit()

    def exit(self, *args: Any, **kwargs: Any) -> None:
        self.exiting = True
        if self.exit_requested is not None:
            self.exit_requested()
        super().exit(*args, **kwargs)

    async def on_event(self, event: events.Event) -> None:
        # Keys and clicks after q (the app is closing): a screen pushed now would be
        # mounted half-way through the shutdown, and crash it (NoMatches).
        if self.exiting and isinstance(event, events.InputEvent):
            return
        await super().on_event(event)

    def terminal_lost(self) -> None:
        """The terminal is gone (the driver read EOF or EIO, or a write failed) without
        a SIGHUP reaching us: leave as SIGHUP does."""
        if self.signalled is None:
            self.on_signal(signal.SIGHUP)

    def get_driver_class(self) -> Any:
        """Textual's terminal driver, made to notice a closed terminal (``ui.terminal``)."""
        driver = super().get_driver_class()
        from textual.drivers.linux_driver import LinuxDriver

        if driver is LinuxDriver:
            from workbench.ui.terminal import GuardedLinuxDriver

            return GuardedLinuxDriver
        return driver

    def _schedule(self) -> None:
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.interval, self.refresh_panels)

    # -- the refresh loop (the UI pulls) ----------------------------------------

    def refresh_panels(self) -> None:
        if not self.screen_stack:  # the app is closing: a last timer fired after the screens
            return
        began = time.perf_counter()
        try:
            snapshot = self.source.snapshot()
        except Exception:
            logger.exception("Reading the crawl snapshot failed")
            self._schedule()
            return
        self.last_snapshot = snapshot
        self.status_bar.show(snapshot)
        self._show_hit(snapshot)
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
        # a panel whose data changes once a second is not refreshed more often
        floor = max(MIN_INTERVAL, self.visible_panel.MIN_REFRESH)
        self.interval = min(MAX_INTERVAL, max(floor, self.refresh_cost * COST_FACTOR))
        if finished:
            self.interval = MAX_INTERVAL
        self._schedule()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.tabbed_content.id == "panels":
            self.call_later(self.refresh_panels)
            self._focus_pane(event.pane)

    def _focus_pane(self, pane: Widget) -> None:
        """Focus what a panel's keys act on: its DEFAULT_FOCUS, else its last table."""
        panels = pane.query(Panel)
        wanted = panels.first().DEFAULT_FOCUS if panels else None
        if wanted:
            pane.query_one(wanted).focus()
            return
        tables = pane.query(RecordTable)
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
        """The process's crawl state (several crawlers: all of them, whatever is shown)."""
        return self.source.process_state()

    def _stop_all(self) -> bool:
        return self.source.stop_all()

    @property
    def remote(self) -> bool:
        """The crawl runs in another process (workbench attach): quitting detaches."""
        return self.source.capabilities.attached

    def action_stop_crawl(self) -> None:
        snapshot = self.source.snapshot()
        state = snapshot.status.state
        if state in ("finished", "failed"):
            self.notify("The crawl has already finished. q quits.", timeout=3)
            return
        if self.remote:
            if state == "closing":
                self.notify("The crawl is already closing.", timeout=3)
                return
            self.push_screen(
                ConfirmScreen(
                    f"Stop the crawl you are attached to ({snapshot.attached})?\n"
                    "It stops gracefully, as after one Ctrl-C in its own terminal: "
                    "in-flight requests finish, feeds are closed.",
                    yes="Stop it",
                ),
                self._remote_stop_answer,
            )
            return
        if state == "closing":
            self._ask_force()
            return
        if self.source.stop():
            self.notify(
                "Stopping gracefully: in-flight requests finish, feeds are closed. "
                "Press again to force.",
                title="Stopping",
            )
        self.refresh_panels()

    def _ask_force(self) -> None:
        self.push_screen(
            ConfirmScreen(
                "The crawl is already closing (waiting for in-flight requests and feeds).\n"
                "Force it to stop now? Feeds and JOBDIR may be left incomplete, "
                "and workbench will exit.",
                yes="Force stop",
            ),
            self._force_answer,
        )

    def _remote_stop_answer(self, answer: bool | None) -> None:
        if answer and self.source.stop():
            self.notify("Stopping gracefully.", title="Stopping")
        self.refresh_panels()

    def _force_answer(self, force: bool | None) -> None:
        if force:
            self.forced = True
            logger.warning("Forced shutdown requested from workbench.")
            self.exit(return_code=1)

    def action_quit_app(self) -> None:
        if self.remote:  # detach: the crawl goes on
            self.exit()
            return
        state = self._state()
        if state in ("finished", "failed", "starting"):
            self.exit()
            return
        if state == "closing":
            self._ask_force()
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
        self._stop_all()
        self.notify(
            "Stopping gracefully; workbench quits when the crawl has closed.", title="Quitting"
        )
        self.run_worker(self._exit_when_finished(), exclusive=True, group="quit")

    async def _exit_when_finished(self) -> None:
        import asyncio

        while self._state() not in ("finished", "failed"):
            await asyncio.sleep(0.1)
        self.exit()

    # -- shell -------------------------------------------------------------------

    def _setup_shell(self) -> None:
        source = self.source
        if not source.capabilities.local_shell:  # a remote crawl or a HAR: no local shell
            return
        kwargs: dict[str, Any] = {"suspend": self._suspended}
        if self.shell_console is not None:
            kwargs = {"console": self.shell_console}
        # fetch() goes to the crawler in scope (several crawlers: S)
        self.shell = ShellManager(source.shell_crawler, asyncio.get_running_loop(), **kwargs)
        for each in source.crawl_hosts():  # inspect_response() in any of them
            attach_shell(each.create(), self.shell)

    @contextlib.contextmanager
    def _suspended(self) -> Iterator[None]:
        # batch_update: no repaint is queued to the suspended driver (it would block)
        self.in_shell = True  # the terminal is the shell's: Ctrl-C is its SIGINT
        try:
            with self.batch_update(), self.suspend():
                yield
        finally:
            self.in_shell = False
        self.refresh(layout=True)

    def selected_flow_id(self) -> int | None:
        screen = self.screen
        flow = getattr(screen, "flow", None)
        if isinstance(flow, Flow):
            return flow.id
        record = self.panels["flows"].query_one("#flow-table", RecordTable).current()
        return record.id if isinstance(record, Flow) else None

    def _shell_ready(self) -> bool:
        """A shell can open now on this source (else the user is told why)."""
        if self.shell is None or not self.source.capabilities.local_shell:
            self.notify("No shell for this source.", severity="warning")
            return False
        if self.shell.busy:
            self.notify("A shell is already open.", severity="warning")
            return False
        return True

    def action_shell(self) -> None:
        if self.is_web and not self.remote:
            self._no_shell_here()
            return
        if self.remote:
            self.run_worker(self._remote_shell(self.selected_flow_id()), group="shell")
            return
        if not self._shell_ready():
            return
        self.run_worker(self.open_shell(self.selected_flow_id()), group="shell")

    async def open_shell(self, flow_id: int | None) -> None:
        await self._open_shell_on(lambda: self.source.shell_on_flow(flow_id))

    async def _remote_shell(self, flow_id: int | None) -> None:
        """The remote shell in this terminal, with the flow's request and response."""
        from workbench.remote.repl import RemoteShell, interact

        source: Any = self.source
        try:
            note = await asyncio.to_thread(source.prepare_remote_shell, flow_id)
        except Exception as exc:
            self.notify(clean_line(str(exc), 300), title="No shell", severity="error", markup=False)
            return
        snapshot = source.snapshot()
        status = {"spider": snapshot.spider, "pid": source.job.pid,
                  "scrapy_version": source.job.scrapy_version}  # fmt: skip
        try:
            with self._suspended():
                await asyncio.to_thread(interact, RemoteShell(source.client), status, note)
        except SuspendNotSupported:
            self._no_shell_here()
        self.refresh_panels()

    def _no_shell_here(self) -> None:
        if self.is_web:  # a browser page: the remote shell is one command away
            self.notify(
                "The shell needs a terminal, not a browser page. In a terminal, "
                f"`workbench attach --shell {os.getpid()}` opens a Python shell in this crawl.",
                title="No shell in the browser",
                severity="warning",
                timeout=20,
                markup=False,
            )
        else:
            self.notify("This terminal cannot hand over to a shell.", severity="error")

    def shell_on_object(self, object_key: int) -> None:
        """Open the shell with a live object (from the Refs panel) as ``obj``."""
        if not self._shell_ready():
            return
        target = self.source.shell_on_object(object_key)
        if not target.extra:  # collected meanwhile
            self.notify(clean_line(target.note, 300), severity="warning", markup=False)
            return
        self.run_worker(self._open_shell_on(lambda: target), group="shell")

    async def _open_shell_on(self, target: Callable[[], ShellTarget]) -> None:
        assert self.shell is not None
        try:
            got = target()
            await self.shell.open(
                response=got.response, request=got.request, extra=got.extra, note=got.note
            )
        except SuspendNotSupported:
            self._no_shell_here()
        except Exception as exc:
            logger.exception("The shell failed")
            self.notify(
                clean_line(f"{type(exc).__name__}: {exc}", 300),
                title="Shell failed",
                severity="error",
                markup=False,
            )
        self.refresh_panels()

    def offer_to_shell(self, line: str, value: Any = None) -> None:
        """A Python line for the next shell's history (and ``sel`` = its value)."""
        if self.shell is not None:
            self.shell.offer(line, "sel", value)

    # -- breakpoints -------------------------------------------------------------

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

    # -- messages -----------------------------------------------------------------

    def on_print(self, event: events.Print) -> None:
        """Log what was printed, a line at a time (logger "stdout" or "stderr").

        A handler that itself writes to stdout or stderr (logging's last resort
        when nothing else handles the record, as in ``workbench attach``) would
        be captured again, and so on for ever: what logging prints here is kept
        for after the app instead (``leftover_output``)."""
        text = self._printed[event.stderr] + event.text
        *lines, rest = text.split("\n")
        self._printed[event.stderr] = rest[-100_000:]
        target = logging.getLogger("stderr" if event.stderr else "stdout")
        with (
            contextlib.redirect_stdout(self.leftover_output),
            contextlib.redirect_stderr(self.leftover_output),
        ):
            for line in lines:
                target.log(logging.WARNING if event.stderr else logging.INFO, "%s", line)

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        if event.table.id == "flow-table":
            self.push_screen(FlowDetailScreen(self.source, event.record))

    # -- command palette: every action -------------------------------------------

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

    # -- new request from curl ------------------------------------------------------

    def action_new_request(self) -> None:
        self.push_screen(NewRequestScreen(self.source), self._request_added)

    def _request_added(self, message: str | None) -> None:
        if message:
            self.notify(clean_line(message, 500), title="Request added", timeout=6, markup=False)


class LeftoverOutput(io.StringIO):
    """What logging printed while the app had the terminal: the last lines, kept
    to be printed after the app (bounded: a flood keeps its end)."""

    LIMIT = 200

    def __init__(self) -> None:
        super().__init__()
        self.lines: collections.deque[str] = collections.deque(maxlen=self.LIMIT)
        self.dropped = 0

    def write(self, text: str) -> int:
        for line in text.splitlines():
            if len(self.lines) == self.LIMIT:
                self.dropped += 1
            self.lines.append(line[:2000])
        return len(text)


def leave_terminal() -> None:
    """The terminal is gone (SIGHUP): what is still written goes nowhere, not to EIO."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, 1)
        os.dup2(null, 2)
        os.close(null)
