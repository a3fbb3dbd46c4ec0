"""Every panel survives the terminal shrinking to tiny sizes and growing back."""

from __future__ import annotations

import pytest

from tests.fakes import FakeSource
from workbench.ui.app import PANELS, WorkbenchApp

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite


@pytest.mark.parametrize("key", [title[0] for _, title, _ in PANELS])
async def test_tiny_terminal_does_not_crash(key):
    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.press(key)
        await pilot.pause()
        for size in ((20, 6), (1, 1), (45, 12), (3, 40), (140, 36)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            app.refresh_panels()
            await pilot.pause()
        assert app.is_running
        panel = app.visible_panel
        assert "panel error" not in str(panel.border_subtitle)
