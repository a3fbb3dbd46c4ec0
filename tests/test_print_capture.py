"""Printed output while the app runs: logged once, never looping back into itself."""

from __future__ import annotations

import asyncio
import logging
import sys

from tests.fakes import FakeSource
from workbench.ui.app import WorkbenchApp


async def test_a_print_logged_with_no_handler_is_kept_for_after_the_app_not_looped(monkeypatch):
    """With no logging handler (as in ``workbench attach``), logging's last resort
    writes the record to stderr, which the app captures as a new print: this
    spun for ever at full CPU once anything was printed (a thread's traceback)."""
    root = logging.getLogger()
    handlers, root.handlers = root.handlers, []
    try:
        seen: list[str] = []
        original = WorkbenchApp.on_print

        def counting(self, event):
            seen.append(event.text)
            if len(seen) > 50:  # the loop never yields: end it by failing the app
                raise AssertionError("one print came back as prints, again and again")
            original(self, event)

        monkeypatch.setattr(
            WorkbenchApp, "on_print", counting
        )  # Textual looks handlers up on the class
        app = WorkbenchApp(FakeSource(), autostart=False)
        async with app.run_test(size=(120, 30)):
            print("printed once \x1b]0;title\x07", file=sys.stderr)
            await asyncio.sleep(0.5)  # not pilot.pause(): a looping app is never idle
            assert len(seen) <= 2, f"{len(seen):,} prints from one"  # the line and its newline
        assert any("printed once" in line for line in app.leftover_output.lines)
    finally:
        root.handlers = handlers


def test_leftover_output_is_bounded():
    from workbench.ui.output import LeftoverOutput

    out = LeftoverOutput()
    out.write("\n".join(f"line {n}" for n in range(1000)) + "\n")
    assert len(out.lines) == LeftoverOutput.LIMIT
    assert out.dropped == 1000 - LeftoverOutput.LIMIT
    assert out.lines[-1] == "line 999"
