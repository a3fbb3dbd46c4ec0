"""Driving the app under Pilot: wait for a condition, read what a widget draws."""

from __future__ import annotations

import asyncio


async def wait_for(predicate, pilot, timeout: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await pilot.pause(0.05)


def widget_text(widget) -> str:
    """The text a widget draws on the terminal, line by line."""
    from textual.geometry import Region

    size = widget.size
    return "\n".join(s.text for s in widget.render_lines(Region(0, 0, size.width, size.height)))


def press_then_still(keys, settle: float = 0.2):
    """A snapshot's ``run_before``: wait for the app, press ``keys``, let it
    settle, and stop every cursor blinking (a blink makes snapshots flaky)."""

    async def run_before(pilot) -> None:
        await pilot.pause(0.2)
        await pilot.press(*keys)
        await pilot.pause(settle)
        for widget in pilot.app.screen.query("TextArea, Input"):
            widget.cursor_blink = False
        await pilot.pause()

    return run_before
