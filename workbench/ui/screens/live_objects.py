"""The live objects of one tracked class, oldest first, and what holds each.

Enter on an object searches its referrers back to a root in the background
(bounded in depth and time) and shows the chains, each edge named; ``s``
opens the shell with the object as ``obj``.  The screen holds keys, not
objects, so looking at a leak does not make it worse.
"""

from __future__ import annotations

import logging
from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, Static

from workbench.core.formats.sanitize import clean, clean_line
from workbench.core.leaks.chains import ReferrerReport
from workbench.core.leaks.memprobe import LiveObject, ObjectList
from workbench.core.sources.base import Source
from workbench.ui.panels.refs import age
from workbench.ui.widgets.record_table import Column, RecordTable

logger = logging.getLogger(__name__)

LIMIT = 1000


def object_cells(obj: LiveObject) -> list[Any]:
    return [age(obj.age), f"0x{obj.key:x}", clean_line(obj.label, 2000)]


def report_text(report: ReferrerReport) -> Text:
    """The chains, one hop per line, the root first."""
    out = Text()
    bound = "" if report.complete else " (stopped at the bound)"
    out.append(
        f"Searched {report.depth} levels, {report.scanned:,} referrers in "
        f"{report.elapsed:.2f}s{bound}\n",
        style="dim",
    )
    if report.note:
        out.append(clean_line(report.note, 300) + "\n", style="yellow")
    for n, chain in enumerate(report.chains, 1):
        out.append(f"\nChain {n}: ", style="bold")
        out.append(clean_line(chain.text(), 2000) + "\n", style="bold cyan")
        out.append(f"  root  {clean_line(chain.root, 300)}", style="green")
        if chain.origin:  # a class attribute: where the class is
            out.append(f"  ({clean_line(chain.origin, 300)})", style="dim")
        out.append("\n")
        for hop in chain.hops:
            if not hop.type_name and not hop.edge:
                continue
            name = clean_line(hop.type_name, 80) or "·"
            style = "dim" if hop.container else ""
            edge = clean_line(hop.edge, 200) if hop.edge else "  ← this object"
            out.append(f"  {name:<28}", style=style)
            out.append(f" {edge}\n", style="bold" if not hop.edge else "")
    if report.direct:
        out.append("\nDirect referrers: ", style="bold")
        out.append(clean_line(", ".join(report.direct), 1000) + "\n")
    return out


class LiveObjectsScreen(Screen[None]):
    HELP_TITLE: ClassVar[str] = "Live objects (Enter in Refs)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back"),
        Binding("enter", "referrers", "Who holds it", tooltip="Search its referrers to a root"),
        Binding("s", "shell", "Shell", tooltip="Open the shell with the object as obj"),
        Binding("r", "reload", "Reload", tooltip="List the live objects again"),
    ]

    DEFAULT_CSS = """
    LiveObjectsScreen #objects-table { height: 2fr; border: round $primary; }
    LiveObjectsScreen #referrers { height: 3fr; border: round $primary 50%; padding: 0 1; }
    """

    def __init__(self, source: Source, class_key: str, class_name: str) -> None:
        super().__init__()
        self.source = source
        self.class_key = class_key
        self.class_name = clean_line(class_name, 80)
        self.listing: ObjectList | None = None

    def compose(self) -> Any:
        table = RecordTable(
            [Column("Age", 8, "right"), Column("Id", 14), Column("Object", None)],
            object_cells,
            row_key=lambda o: o.key,
            id="objects-table",
        )
        yield table
        with VerticalScroll(id="referrers"):
            yield Static(
                Text("Enter on an object: what holds it (its referrers back to a root).", "dim"),
                id="referrers-text",
            )
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one("#objects-table", RecordTable)
        table.follow = False
        self.query_one("#referrers").border_title = "Referrers"
        self.action_reload()
        table.focus()

    def action_reload(self) -> None:
        listing = self.source.live_objects(self.class_key, LIMIT)
        self.listing = listing
        table = self.query_one("#objects-table", RecordTable)
        first_load = not table.rows
        table.set_rows(list(listing.objects))
        if first_load and listing.objects:
            table.action_first()  # the oldest: the likeliest leak
        shown = len(listing.objects)
        more = f", the oldest {shown:,} shown" if listing.total > shown else ""
        # Text: a str border title is markup, and a class name is anyone's
        table.border_title = Text(f"{self.class_name}: {listing.total:,} live, oldest first{more}")
        table.border_subtitle = "Enter: who holds it · s: shell · r: reload"

    def _current(self) -> LiveObject | None:
        obj = self.query_one("#objects-table", RecordTable).current()
        return obj if isinstance(obj, LiveObject) else None

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        self.action_referrers()

    def action_referrers(self) -> None:
        obj = self._current()
        if obj is None:
            return
        self.query_one("#referrers-text", Static).update(
            Text(f"Searching what holds 0x{obj.key:x}…", style="italic")
        )
        label = clean_line(obj.label, 100)  # a repr: "[1, 2]", "{'[/]': ...}"
        self.query_one("#referrers").border_title = Text(f"Referrers of {label}")
        self.run_worker(self._search(obj), group="referrers", exclusive=True)

    async def _search(self, obj: LiveObject) -> None:
        text = self.query_one("#referrers-text", Static)
        try:
            report = await self.source.referrers(obj.key)
        except Exception as exc:
            logger.exception("Searching the referrers failed")
            text.update(Text(clean(f"{type(exc).__name__}: {exc}"), style="red"))
            return
        text.update(report_text(report))

    def action_shell(self) -> None:
        obj = self._current()
        if obj is not None:
            self.app.shell_on_object(obj.key)  # type: ignore[attr-defined]
