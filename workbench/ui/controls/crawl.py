"""Pause, stop and quit: graceful first, forced on the second ask; attached,
quitting detaches and the crawl goes on."""

from __future__ import annotations

import asyncio
import logging

from workbench.core.formats.sanitize import clean_line
from workbench.ui.controls.base import AppBase
from workbench.ui.screens.dialogs import ConfirmScreen

logger = logging.getLogger("workbench.ui.app")


class CrawlControl(AppBase):
    def action_toggle_pause(self) -> None:
        paused = self.source.toggle_pause()
        if paused is None:
            self.notify("The crawl is not running.", severity="warning")
        elif paused:
            status = self.source.snapshot().status
            held = (
                f"; {status.held} waiting in the downloader's slots are held until you resume"
                if status.held
                else ""
            )
            self.notify(
                f"Paused: no new requests leave the queue; {status.in_flight} in flight "
                f"still finish and their callbacks run{held}.",
                title="Paused",
            )
        else:
            self.notify("Resumed.", timeout=2)
        self.refresh_panels()

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
        question = ConfirmScreen(
            "The crawl is already closing (waiting for in-flight requests and feeds).\n"
            "Force it to stop now? Feeds and JOBDIR may be left incomplete, "
            "and workbench will exit. If it closes first, workbench quits.",
            yes="Force stop",
        )
        self.push_screen(question, self._force_answer)
        self._quit_if_finished_before(question)

    def _quit_if_finished_before(self, question: ConfirmScreen) -> None:
        """q asked a question (stop the crawl? force it?): if the crawl ends before
        the answer, the question is moot and workbench quits, as q asked (the
        question was left open, and the app with it).  Its own group: a "Stop and
        quit" answered before still quits when closed."""
        self.run_worker(self._exit_when_finished(question), exclusive=True, group="quit-question")

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
        question = ConfirmScreen(
            "The crawl is still running.\nStop it gracefully (feeds are closed) and quit?",
            yes="Stop and quit",
        )
        self.push_screen(question, self._quit_answer)
        self._quit_if_finished_before(question)

    def _quit_answer(self, answer: bool | None) -> None:
        if not answer:
            return
        self._stop_all()
        self.notify(
            "Stopping gracefully; workbench quits when the crawl has closed.", title="Quitting"
        )
        self.run_worker(self._exit_when_finished(), exclusive=True, group="quit")

    async def _exit_when_finished(self, question: ConfirmScreen | None = None) -> None:
        """Quit once the crawl has closed; not if ``question`` is answered first."""
        while self._state() not in ("finished", "failed"):
            if question is not None and question not in self.screen_stack:
                return
            await asyncio.sleep(0.1)
        self.exit()

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
