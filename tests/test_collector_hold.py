"""A key is answered before the garbage collector runs (ui/collector_hold.py)."""

from __future__ import annotations

import gc

from tests.fakes import FakeSource
from workbench.ui.app import WorkbenchApp
from workbench.ui.collector_hold import CollectorHold


async def test_the_collector_is_off_from_a_key_until_the_screen_is_painted():
    app = WorkbenchApp(FakeSource(), autostart=False)
    seen: list[bool] = []
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        original = app.action_show_panel

        def show(pane_id: str) -> None:
            seen.append(gc.isenabled())  # the key's action: the collector held
            original(pane_id)

        app.action_show_panel = show  # type: ignore[method-assign]
        assert gc.isenabled()
        await pilot.press("4")
        await pilot.pause(0.1)
        assert seen == [False]
        assert gc.isenabled() and not app.collector_hold.held  # on again after the paint
        assert app.tabs.active == "stats"
    assert gc.isenabled()


async def test_the_hold_is_bounded_and_leaves_a_disabled_collector_alone():
    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        hold = CollectorHold(app)
        hold.hold()
        assert not gc.isenabled() and hold.held
        await pilot.pause(0.6)  # no paint asked for: the limit (0.3 s) lets it go
        assert gc.isenabled() and not hold.held
        gc.disable()  # someone else's choice: the hold neither takes nor gives it back
        try:
            hold.hold()
            assert not hold.held
            hold.release()
            assert not gc.isenabled()
        finally:
            gc.enable()


async def test_quitting_while_held_turns_the_collector_back_on():
    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        app.collector_hold.hold()
        assert not gc.isenabled()
        app.exit()
    assert gc.isenabled()
