"""SVG snapshots of the selector playground, from a fixed source.

Update with ``pytest tests/test_selector_snapshots.py --snapshot-update`` after
a deliberate UI change, then look at the result before committing.
"""

from __future__ import annotations

import pytest

from tests.selector_fakes import PageSource
from workbench.ui.app import WorkbenchApp

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SIZE = (140, 36)


def drive(ups: int, keys: list[str]):
    async def run_before(pilot) -> None:
        await pilot.pause()
        for _ in range(ups):
            await pilot.press("k")
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("p")
        for key in keys:
            await pilot.press(key)
            if key == "enter":  # Enter evaluates at once: wait for that worker
                await pilot.pause()
                await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    return run_before


@pytest.mark.parametrize(
    ("name", "ups", "keys"),
    [
        ("css", 5, [*"li a::text", "enter"]),
        ("invalid_xpath", 5, ["ctrl+t", *"//li/a[@href]", "enter", "backspace", "enter"]),
        ("regex_on_text", 5, ["ctrl+t", "ctrl+t", *r"(\d+\.\d\d) EUR", "enter"]),
        ("jmespath", 1, [*"products[*].name", "enter"]),
        ("no_body", 2, []),
    ],
)
def test_selector_snapshot(snap_compare, name, ups, keys):
    app = WorkbenchApp(PageSource(), autostart=False)
    assert snap_compare(app, run_before=drive(ups, keys), terminal_size=SIZE)
