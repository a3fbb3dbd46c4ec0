"""The keys for one flow, alike in the Flows table and in the flow detail.

:data:`FLOW_KEYS` is bound in both places (``FlowsPanel`` and
``FlowDetailScreen``, which the ? screen lists), and each action is one
function here, given the flow the table has selected or the detail shows.
``s`` (a shell on the flow) and ``b`` (a breakpoint from it) are the app's:
they take the same flow (``AppBase.selected_flow_id``).
"""

from __future__ import annotations

from typing import Any

from textual.app import App
from textual.binding import Binding, BindingType

from workbench.core.formats.sanitize import clean_line
from workbench.core.recording import fates
from workbench.core.recording.records import Flow
from workbench.core.sources.base import Source

LINKED_TIP = "Open the flow this one links to: a duplicate's original, a redirect's target"

FLOW_KEYS: list[BindingType] = [
    Binding("p", "selectors", "Selectors", tooltip="Selector playground on the flow's response"),
    Binding("r", "replay", "Replay", tooltip="Replay the flow's callback and compare the output"),
    Binding("x", "export_curl", "curl", tooltip="Copy the flow's request as a curl command"),
    Binding("o", "open_linked", "Linked flow", tooltip=LINKED_TIP),
]


def linked_flow(flows: list[Flow], flow: Flow) -> Flow | None:
    """The flow ``flow`` links to: a duplicate's original, a redirect's target."""
    if flow.fate == fates.DUPLICATE:
        return fates.duplicated_flow(flows, flow)
    if flow.status is not None and 300 <= flow.status < 400 and flow.requests:
        return next((c for _, _, c in fates.produced(flows, flow) if c), None)
    return None


def open_selectors(app: App[Any], source: Source, flow: Flow) -> None:
    from workbench.ui.screens.selectors import SelectorScreen

    app.push_screen(SelectorScreen(source, flow))


def open_replay(app: App[Any], source: Source, flow: Flow) -> None:
    """The replay screen, which runs the callback again (or says why it cannot)."""
    from workbench.ui.screens.replay import ReplayScreen

    app.push_screen(ReplayScreen(source, flow))


def export_curl(app: App[Any], source: Source, flow: Flow) -> None:
    """Copy the flow's request as a curl command, and show it."""
    from workbench.ui.screens.curl import CurlScreen

    try:
        command = source.curl(flow.id)
    except Exception as exc:  # never crash on a flow that cannot be exported
        text = str(exc) if isinstance(exc, ValueError) else f"{type(exc).__name__}: {exc}"
        app.notify(clean_line(text, 500), title="Cannot export", severity="error", markup=False)
        return
    app.copy_to_clipboard(command)
    app.notify("Copied the request as a curl command.", title="curl", timeout=3)
    app.push_screen(CurlScreen(f"curl for flow #{flow.id}", command))


def open_flow(app: App[Any], source: Source, flow_id: int) -> None:
    """The detail of flow ``flow_id`` (or why it cannot open)."""
    from workbench.ui.screens.flow_detail import FlowDetailScreen

    target = source.flow(flow_id)
    if target is None:
        app.notify(f"Flow #{flow_id} is no longer kept.", severity="warning")
        return
    app.push_screen(FlowDetailScreen(source, target))


def open_linked(app: App[Any], source: Source, flow: Flow, flows: list[Flow] | None = None) -> None:
    """The detail of the flow ``flow`` links to, or a note that there is none."""
    target = linked_flow(list(source.flows_since(0)) if flows is None else flows, flow)
    if target is None:
        app.notify(
            "No linked flow: only a duplicate (its original) and a redirect (its "
            "target) link to another flow; the Produced tab (4 in the detail) lists "
            "what this one made.",
            title="Linked flow",
        )
        return
    open_flow(app, source, target.id)


def no_flow(app: App[Any]) -> None:
    app.notify("No flow selected.", severity="warning", timeout=3)
