"""The tabs of the main screen: each panel, its key and title, in order."""

from __future__ import annotations

from workbench.ui.panels.base import Panel
from workbench.ui.panels.browser import BrowserPanel
from workbench.ui.panels.flows import FlowsPanel
from workbench.ui.panels.items import ItemsPanel
from workbench.ui.panels.log import LogPanel
from workbench.ui.panels.memory import MemoryPanel
from workbench.ui.panels.queue import QueuePanel
from workbench.ui.panels.refs import RefsPanel
from workbench.ui.panels.slots import SlotsPanel
from workbench.ui.panels.stats import StatsPanel

# (pane id, "<key> <title>", panel class): the number key shows the panel
PANELS: list[tuple[str, str, type[Panel]]] = [
    ("flows", "1 Flows", FlowsPanel),
    ("queue", "2 Queue", QueuePanel),
    ("items", "3 Items", ItemsPanel),
    ("stats", "4 Stats", StatsPanel),
    ("log", "5 Log", LogPanel),
    ("refs", "6 Refs", RefsPanel),
    ("memory", "7 Memory", MemoryPanel),
    ("slots", "8 Slots", SlotsPanel),
    ("browser", "9 Browser", BrowserPanel),
]
