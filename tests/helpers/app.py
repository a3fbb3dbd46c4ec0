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
