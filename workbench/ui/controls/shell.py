"""The shell: IPython in this terminal on the crawl's own objects (the app is
suspended meanwhile), or, attached, a shell in the crawl's process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable, Iterator
from typing import Any

from textual.app import SuspendNotSupported

from workbench.core.formats.sanitize import clean_line
from workbench.core.sources.base import ShellTarget
from workbench.shell.session import ShellManager
from workbench.shell.session import attach as attach_shell
from workbench.ui.controls.base import AppBase

logger = logging.getLogger("workbench.ui.app")


class ShellControl(AppBase):
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
        self.collector_hold.release()  # the shell's code runs with the collector on
        try:
            with self.batch_update(), self.suspend():
                yield
        finally:
            self.in_shell = False
        self.refresh(layout=True)

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
        self.collector_hold.release()  # the shell's code runs with the collector on
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
