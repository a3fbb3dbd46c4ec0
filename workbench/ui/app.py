"""The Textual app: one screen of panels over a source, a status line, keys."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import time
from typing import Any, ClassVar

from rich.text import Text
from textual import events
from textual.binding import BindingType
from textual.widget import Widget
from textual.widgets import Footer, Static, TabbedContent, TabPane

from workbench.core.formats.sanitize import clean_line
from workbench.core.sources.base import Source
from workbench.shell.session import Console
from workbench.ui.collector_hold import CollectorHold
from workbench.ui.controls.breakpoints import BreakpointControl
from workbench.ui.controls.crawl import CrawlControl
from workbench.ui.controls.diagnose import DiagnoseControl
from workbench.ui.controls.keys import APP_BINDINGS, HELP_SCREENS, KeysControl
from workbench.ui.controls.shell import ShellControl
from workbench.ui.layout import PANELS
from workbench.ui.output import LeftoverOutput, leave_terminal
from workbench.ui.panels.base import Panel
from workbench.ui.screens.dialogs import ConfirmScreen
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.status_bar import StatusBar
from workbench.ui.widgets.record_table import RecordTable

__all__ = ["HELP_SCREENS", "PANELS", "LeftoverOutput", "WorkbenchApp", "leave_terminal"]

logger = logging.getLogger(__name__)


MIN_INTERVAL = float(os.environ.get("WORKBENCH_MIN_REFRESH", "0.25"))  # at most 4/s...
MAX_INTERVAL = 2.0  # ...and at least one every 2 s
# A refresh (pulling the snapshot, updating widgets, and the paint that follows)
# may take at most 1/COST_FACTOR of the time (4%), measured up to the end of the
# next paint.  When the process is busy (a crawl bound by its CPU: it used more
# than BUSY of a core since the last refresh), 1/BUSY_COST_FACTOR (2%): every
# millisecond the interface takes then comes out of the crawl.  Since the
# interface's callbacks go first on the loop (core/control/lanes.py), the
# measured cost is the interface's own work, no longer stretched by the crawl's.
COST_FACTOR = 25
BUSY_COST_FACTOR = 50
BUSY = 0.7
# AutoThrottle reads the time from a request's send to its response's arrival
# as the site's latency, and sets the next delays from it (at least the last
# latency, halving back): a paint holding the loop while a response comes in
# is counted several times over.  While the crawl says a response may come in
# (Source.response_due), the periodic refresh looks for a gap between
# responses every GAP_POLL seconds, for at most GAP_WAIT.
GAP_WAIT = 0.1
GAP_POLL = 0.002


class WorkbenchApp(KeysControl, CrawlControl, ShellControl, BreakpointControl, DiagnoseControl):
    TITLE = "workbench"

    BINDINGS: ClassVar[list[BindingType]] = APP_BINDINGS

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
        self.shell = None
        # (hit id, flow id): several crawlers number their hits each from 1
        self._hit_seen = None
        self.source = source
        self.autostart = autostart
        self.interval = MIN_INTERVAL
        self.refresh_cost = 0.0
        self._load_since = (time.perf_counter(), time.process_time())  # the busy test
        self.last_snapshot = None
        self.start_error: str | None = None
        self.forced = False
        self.signalled = None  # "SIGTERM", "SIGHUP", "SIGINT": why the app left
        self.in_shell = False  # a shell has the terminal (the app is suspended)
        self.leftover_output = LeftoverOutput()  # printed by logging while the app ran
        self.exit_requested: Any = None  # called once the app is asked to exit (a watchdog)
        self.exiting = False  # exit() was called: input is ignored from then on
        self.stopped_on_signal = False  # a signal (or the terminal closing) stopped the crawl
        self._timer: Any = None
        self._gap: asyncio.TimerHandle | None = None  # the refresh waits for a gap
        self._gap_since = 0.0
        self.collector_hold = CollectorHold(self)

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
        self.watch(self.tabs, "active", self._tab_switched, init=False)
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

    async def on_ready(self) -> None:
        """The first frame is on the terminal (Textual's Ready): start the crawl now.
        Laying out and painting the first frame takes about 0.1 s of the one core
        (measured on the demo); a crawl started before it would wait on it, and the
        first responses' latencies, which AutoThrottle sets its delays from, with it."""
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
        self.collector_hold.release()

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
        gracefully (``commands.running.run_app``).  A second one forces, as Scrapy's does."""
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
        self.collector_hold.release()  # the collector on again whatever happens next
        if self.exit_requested is not None:
            self.exit_requested()
        super().exit(*args, **kwargs)

    async def on_event(self, event: events.Event) -> None:
        # Keys and clicks after q (the app is closing): a screen pushed now would be
        # mounted half-way through the shutdown, and crash it (NoMatches).
        if self.exiting and isinstance(event, events.InputEvent):
            return
        if isinstance(event, events.Key):
            # the key's way to the screen without the collector (ui/collector_hold.py):
            # it arrives, goes to the focused widget, and comes back to the app, whose
            # bindings (the panel keys...) run then
            if not event.is_forwarded:
                self.collector_hold.hold()
                await super().on_event(event)
                return
            try:
                await super().on_event(event)
            finally:
                self.collector_hold.until_painted()
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
        self._timer = self.set_timer(self.interval, self._refresh_due)

    # -- the refresh loop (the UI pulls) ----------------------------------------

    def _refresh_due(self) -> None:
        """The periodic refresh: now, or in the next gap between responses."""
        self._gap_since = time.perf_counter()
        self._refresh_in_gap()

    def _refresh_in_gap(self) -> None:
        self._gap = None
        if self.screen_stack and time.perf_counter() - self._gap_since < GAP_WAIT:
            try:
                due = self.source.response_due()
            except Exception:  # the refresh goes on whatever the crawl says
                due = False
            if due:  # a raw loop timer: Textual's cost a task each
                self._gap = asyncio.get_running_loop().call_later(GAP_POLL, self._refresh_in_gap)
                return
        self.refresh_panels()

    def refresh_panels(self) -> None:
        if self._gap is not None:  # a key refreshed before the gap came
            self._gap.cancel()
            self._gap = None
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
        self.update_headline(snapshot)
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
        now = time.perf_counter()
        self.refresh_cost = now - began
        # a panel whose data changes once a second is not refreshed more often
        floor = max(MIN_INTERVAL, self.visible_panel.MIN_REFRESH)
        wall, cpu = self._load_since
        used = time.process_time()
        self._load_since = (now, used)
        busy = now > wall and (used - cpu) / (now - wall) > BUSY
        factor = BUSY_COST_FACTOR if busy else COST_FACTOR
        self.interval = min(MAX_INTERVAL, max(floor, self.refresh_cost * factor))
        if finished:
            self.interval = MAX_INTERVAL
        self._schedule()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        if event.tabbed_content.id == "panels":
            self.call_later(self.refresh_panels)

    def _tab_switched(self, active: str) -> None:
        """Focus the panel shown as the tab changes (a number key, a click),
        not later: the widget that had the focus is being hidden, and when its
        Hide event comes first (a busy loop), Textual hands the focus to a sibling
        still in the old pane (Flows' filter box), whose tab then comes back.
        Focusing on TabActivated, as before, lost that race under load, and a
        late one stole the focus from a search box opened right after the key."""
        if active:
            self._focus_pane(self.tabs.get_pane(active), now=True)

    def _focus_pane(self, pane: Widget, now: bool = False) -> None:
        """Focus what a panel's keys act on: its DEFAULT_FOCUS, else its last table
        (``now``: at once, not after the messages already queued)."""
        panels = pane.query(Panel)
        wanted = panels.first().DEFAULT_FOCUS if panels else None
        widget: Widget | None = pane.query_one(wanted) if wanted else None
        if widget is None:
            tables = pane.query(RecordTable)
            widget = tables.last() if tables else None
        if widget is None:
            return
        if now:
            widget.screen.set_focus(widget)
        else:
            widget.focus()

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
