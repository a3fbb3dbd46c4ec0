"""Every key binding resolves to an action that exists, and the help lists them."""

from __future__ import annotations

import dataclasses

import pytest
from textual.binding import Binding

from tests.fakes import FakeSource
from workbench.ui.app import PANELS, WorkbenchApp
from workbench.ui.screens.dialogs import ConfirmScreen
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.screens.help import HelpScreen
from workbench.ui.widgets.record_table import RecordTable

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite


def _screens() -> list[type]:
    """Every screen class of workbench.ui.screens (a new one is checked without listing)."""
    import importlib
    import inspect
    import pkgutil

    from textual.screen import Screen

    import workbench.ui.screens as package

    found = []
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Screen) and cls.__module__ == module.__name__:
                found.append(cls)
    return found


SCREENS = _screens()
OWNERS = [WorkbenchApp, RecordTable, *SCREENS] + [cls for _, _, cls in PANELS]


def _action_name(action: str) -> tuple[str, str]:
    namespace = ""
    if "." in action.split("(")[0]:
        namespace, action = action.split(".", 1)
    return namespace, action.split("(")[0]


@pytest.mark.parametrize("owner", OWNERS, ids=lambda c: c.__name__)
def test_every_binding_has_an_action(owner):
    for binding in owner.BINDINGS:
        assert isinstance(binding, Binding)
        namespace, name = _action_name(binding.action)
        target = {"app": WorkbenchApp, "screen": FlowDetailScreen, "": owner}[namespace]
        from textual.app import App

        if namespace == "app" and hasattr(App, f"action_{name}"):
            continue
        assert callable(getattr(target, f"action_{name}", None)), (
            f"{owner.__name__}: {binding.key} -> {binding.action} has no action_{name}"
        )


# screens whose only keys answer or close them: no section of their own in ?
NO_HELP_SECTION = {"BreakpointDialog", "ConfirmScreen", "PromptScreen", "HelpScreen", "TextScreen"}


def test_help_lists_every_key_of_the_app_the_panels_and_the_screens():
    from workbench.ui.app import HELP_SCREENS

    for screen in SCREENS:  # a new screen gets a HELP_TITLE, or is a dialog
        if getattr(screen, "HELP_APP", None) is not None:
            continue  # another app's screen (workbench fleet's): its own ? lists it
        assert hasattr(screen, "HELP_TITLE") != (screen.__name__ in NO_HELP_SECTION), screen
        if hasattr(screen, "HELP_TITLE"):
            assert screen in HELP_SCREENS, screen
    app = WorkbenchApp(FakeSource(), autostart=False)
    sections = app.help_sections()
    listed = {b.key for _, bindings in sections for b in bindings}
    titles = [title for title, _ in sections]
    owners = [WorkbenchApp, RecordTable, *[c for _, _, c in PANELS]]
    for owner in owners + [s for s in HELP_SCREENS if s.HELP_TITLE in titles]:
        for binding in owner.BINDINGS:
            assert binding.key in listed, binding.key
    # the commands' own screens are listed where the source has them
    assert "Contract checks (workbench check)" not in titles
    app.source.capabilities = dataclasses.replace(app.source.capabilities, checks=True)
    assert "Contract checks (workbench check)" in [t for t, _ in app.help_sections()]


async def test_keys_drive_the_app():
    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        for key, pane in [
            ("2", "queue"),
            ("3", "items"),
            ("4", "stats"),
            ("5", "log"),
            ("1", "flows"),
        ]:
            await pilot.press(key)
            await pilot.pause()
            assert app.query_one("#panels").active == pane
        await pilot.press("space")
        assert source.paused is True
        await pilot.press("space")
        assert source.paused is False
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)
        await pilot.press("q")
        await pilot.pause()
        assert not isinstance(app.screen, FlowDetailScreen)
        # quitting a running crawl asks first; "n" keeps the app
        await pilot.press("q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("n")
        await pilot.pause()
        assert not isinstance(app.screen, ConfirmScreen)
        # stop: graceful first
        await pilot.press("X")
        await pilot.pause()
        assert source.stopped
        # a second stop while closing asks before forcing
        await pilot.press("X")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
    assert app.forced


async def test_command_palette_holds_every_action(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # W (save the flows as HAR) writes here
    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.pause()
        commands = list(app.get_system_commands(app.screen))
        titles = [c.title for c in commands]
        # every app key, by its tooltip, once: where the source can do it
        offered = {b.action: b for b in WorkbenchApp.BINDINGS}
        for action, binding in offered.items():
            wanted = binding.tooltip or binding.description
            if action in ("shell", "checks", "parse_tree", "cycle_crawler"):
                assert wanted not in titles, action  # the fake has no shell, checks...
            else:
                assert titles.count(wanted) == 1, wanted
        for text in ("Pause or resume", "Stop the crawl", "Quit", "Show every key",
                     "Show the flows", "Show the queue", "Show the items", "Show the stats",
                     "Show the log"):  # fmt: skip
            assert any(text in t for t in titles), text
        panel_keys = [
            b for _, _, cls in PANELS for b in cls.BINDINGS if not b.action.startswith("leave")
        ]
        panel_commands = [c for c in commands if c.help.endswith(" panel")]
        assert len(panel_commands) == len(panel_keys)
        for command in panel_commands:  # each runs without error
            await command.callback()
            await pilot.pause()
            if app.focused is not None and app.focused.id in ("flow-filter", "log-search"):
                app.set_focus(None)
        # a source with several crawlers is offered the crawler key
        app.source.capabilities = dataclasses.replace(app.source.capabilities, crawlers=True)
        titles = [c.title for c in app.get_system_commands(app.screen)]
        assert offered["cycle_crawler"].tooltip in titles


async def test_print_from_crawl_code_goes_to_the_log():
    import logging

    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep()
    logging.getLogger("stdout").addHandler(handler)
    logging.getLogger("stdout").setLevel(logging.INFO)
    try:
        app = WorkbenchApp(FakeSource(), autostart=False)
        async with app.run_test(size=(120, 30)) as pilot:
            await pilot.pause()
            print("from a spider", "\x1b[2J")
            await pilot.pause(0.2)
    finally:
        logging.getLogger("stdout").removeHandler(handler)
    assert [r.getMessage() for r in records] == ["from a spider \x1b[2J"]


async def test_enter_on_a_slot_lists_its_in_flight_requests():
    from workbench.ui.screens.text_view import TextScreen

    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=(140, 40)) as pilot:
        await pilot.press("2")
        await pilot.pause()
        app.query_one("#slots-table", RecordTable).focus()
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, TextScreen)
        assert "http://127.0.0.1:8000/product/7.html" in app.screen.text
        assert "3 active" in app.screen.text
