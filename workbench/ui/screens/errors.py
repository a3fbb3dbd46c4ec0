"""Errors, grouped as Sentry groups them (``E`` from any panel).

:class:`ErrorsScreen` lists the groups (:mod:`workbench.core.recording.errors`):
the same exception type, message pattern and line of the user's code, with
how many times, the first and last time, and where; the highlighted group's
latest message and example flows show below.  ``o`` opens its latest example
flow; ``Enter`` opens :class:`ErrorGroupScreen`: every example flow kept
(``Enter`` opens one) and the group's traceback, folded on the user's frames
(``z`` unfolds the library's).  :class:`TracebackScreen` shows a log line's
traceback the same way (``Enter`` on a Log line that carries one).
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from workbench.core.formats.sanitize import clean, clean_line
from workbench.core.recording.errors import CALLBACK, DOWNLOAD, ITEM, ErrorGroup, ErrorsView
from workbench.core.recording.records import Flow
from workbench.core.sources.base import Source
from workbench.ui import format as fmt
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.status_bar import logged_errors
from workbench.ui.widgets.record_table import Column, RecordTable
from workbench.ui.widgets.traceback_view import TracebackView

KIND_STYLE = {CALLBACK: "bold red", DOWNLOAD: "yellow", ITEM: "magenta"}
KIND_WORDS = {CALLBACK: "callback", DOWNLOAD: "download", ITEM: "item pipeline"}
NOT_YOURS = "not in your code"


def where_text(group: ErrorGroup) -> Text:
    if group.location:
        return Text(clean_line(group.location, 300))
    return Text(NOT_YOURS, style="dim")


def group_cells(group: ErrorGroup) -> list[Any]:
    return [
        f"{group.count:,}",
        Text(group.kind, style=KIND_STYLE.get(group.kind, "")),
        Text(clean_line(group.title, 600)),
        where_text(group),
        fmt.clock(group.first),
        fmt.clock(group.last),
    ]


def example_line(source: Source, flow_id: int, kind: str | None = None) -> Text:
    """``#12 200 ✗ GET http://…/p/4`` for an example flow (or that it is gone), and
    with ``kind``, that flow's own message of the error."""
    flow = source.flow(flow_id)
    text = Text(no_wrap=True, overflow="ellipsis")  # one line each
    text.append(f"#{flow_id} ", style="bold")
    if flow is None:
        text.append("no longer kept", style="dim")
        return text
    text.append_text(fmt.status_cell(flow))
    text.append(" ")
    text.append(clean_line(f"{flow.method} {flow.url}", 2000))
    own = flow.callback_error if kind == CALLBACK else flow.error if kind == DOWNLOAD else None
    if own:
        text.append(f"  {clean_line(own, 400)}", style="dim")
    return text


class ErrorsScreen(Screen[None]):
    """The crawl's errors, one row per group; refreshed every second."""

    HELP_TITLE: ClassVar[str] = "Errors (E)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q", "close", "Back"),
        Binding("o", "open_latest", "Latest flow", tooltip="Open the group's most recent flow"),
    ]

    DEFAULT_CSS = """
    ErrorsScreen #errors-title { height: auto; max-height: 2; padding: 0 1; }
    ErrorsScreen #errors-box { border: round $primary; height: 1fr; padding: 0 1; }
    ErrorsScreen #errors-table { height: 1fr; }
    ErrorsScreen #errors-preview {
        height: auto; max-height: 12; border-top: solid $primary 50%; padding: 0 0;
    }
    """

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source
        self.view = ErrorsView()
        self._shown: tuple[Any, ...] | None = None

    def compose(self) -> Any:
        yield Static("", id="errors-title")
        with Vertical(id="errors-box"):
            yield RecordTable(
                [
                    Column("Count", 7, justify="right"),
                    Column("Kind", 8),
                    Column("Error", None, weight=3),
                    Column("Where (your code)", None, weight=2, min_width=16),
                    Column("First", 8),
                    Column("Last", 8),
                ],
                group_cells,
                row_key=lambda g: g.key,
                id="errors-table",
            )
            yield Static("", id="errors-preview")
        yield Footer()

    @property
    def table(self) -> RecordTable:
        return self.query_one("#errors-table", RecordTable)

    def on_mount(self) -> None:
        table = self.table
        table.follow = False
        table.focus()
        self.update()
        self.set_interval(1.0, self.update)

    def update(self) -> None:
        view = self.source.error_groups()
        self.view = view
        shown = tuple((g.key, g.count, g.last) for g in view.groups)
        if shown != self._shown:
            self._shown = shown
            self.table.set_rows(list(view.groups))
        snapshot = getattr(self.app, "last_snapshot", None)
        logged = logged_errors(snapshot.stats) if snapshot is not None else None
        self.query_one("#errors-title", Static).update(self._title(view, logged))
        self._preview()

    @staticmethod
    def _title(view: ErrorsView, logged: int | None = None) -> Text:
        groups = len(view.groups) + view.hidden
        title = Text(" Errors: ", style="bold")
        if not view.total:
            title.append("none recorded", style="green")
            return title
        title.append(f"{view.total:,} in {groups:,} group{'s' if groups != 1 else ''}")
        kinds = {k: sum(g.count for g in view.groups if g.kind == k) for k in (CALLBACK,
                 DOWNLOAD, ITEM)}  # fmt: skip
        words = [f"{n:,} {KIND_WORDS[k]}" for k, n in kinds.items() if n]
        if words:
            title.append(f" ({', '.join(words)})", style="dim")
        if view.hidden:
            title.append(f"  the {len(view.groups)} most frequent shown", style="yellow")
        if view.overflow:
            title.append(f"  {view.overflow:,} past the groups kept", style="yellow")
        title.append("   Enter: traceback and examples · o: latest flow · Esc: back", style="dim")
        if logged is not None and logged != view.total:
            # the status line's "errors N" is Scrapy's log_count/ERROR: a download
            # tried three times is three errors here, and two ERROR lines there
            # (RetryMiddleware's "Gave up retrying", the engine's "Error downloading")
            said = (
                f"the status line's errors {logged:,} are the lines Scrapy logged at ERROR"
                if logged
                else "Scrapy logged no line at ERROR, so the status line shows no errors"
            )
            title.append(
                f"\n Every failed attempt counts here, retries included; {said}.", style="dim"
            )
        return title

    def on_record_table_highlighted(self, event: RecordTable.Highlighted) -> None:
        event.stop()
        self._preview()

    def _preview(self) -> None:
        group: ErrorGroup | None = self.table.current()
        preview = self.query_one("#errors-preview", Static)
        if group is None:
            preview.update(Text("No errors: callbacks, downloads and item pipelines all went "
                                "through without an exception.", style="dim"))  # fmt: skip
            return
        text = Text()
        text.append(clean_line(f"{group.type}: {group.message}", 2000), style="bold red")
        text.append("\n")
        text.append(f"{KIND_WORDS.get(group.kind, group.kind)} error · ")
        text.append_text(where_text(group))
        times = "once" if group.count == 1 else f"{group.count:,} times"
        text.append(f" · {times}, {fmt.clock(group.first)}", style="")
        if group.count > 1:
            text.append(f" to {fmt.clock(group.last)}")
        if group.spider:
            text.append(f" · {clean_line(group.spider, 40)}", style="dim")
        examples = group.examples
        if examples:
            text.append(f"\nExamples ({len(examples)} of {group.count:,}):", style="bold")
            for flow_id in (*examples[:2], *examples[2:][-1:]):
                text.append("\n  ")
                text.append_text(example_line(self.source, flow_id))
        preview.update(text)

    def on_record_table_selected(self, event: RecordTable.Selected) -> None:
        event.stop()
        self.app.push_screen(ErrorGroupScreen(self.source, event.record))

    def action_open_latest(self) -> None:
        group: ErrorGroup | None = self.table.current()
        if group is None:
            return
        open_example(self, self.source, group)

    def action_close(self) -> None:
        self.app.pop_screen()


def open_example(screen: Screen[Any], source: Source, group: ErrorGroup) -> None:
    """The group's most recent example flow still kept, on its Error tab."""
    for flow_id in reversed(group.examples):
        flow = source.flow(flow_id)
        if flow is not None:
            open_flow(screen, source, flow)
            return
    screen.app.notify(
        "No flow of this group is kept (an item from start(), or flows past WORKBENCH_MAX_FLOWS).",
        title="Errors",
        severity="warning",
    )


def open_flow(screen: Screen[Any], source: Source, flow: Flow) -> None:
    tab = "error" if flow.failed else "request"
    screen.app.push_screen(FlowDetailScreen(source, flow, tab=tab))


class ErrorGroupScreen(Screen[None]):
    """One group: its example flows and its traceback, folded on the user's frames."""

    HELP_TITLE: ClassVar[str] = "An error group (Enter in Errors)"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back"),
        Binding("z", "toggle_frames", "Frames", tooltip="Fold or unfold the library's frames"),
        Binding("o", "open_latest", "Latest flow", tooltip="Open the group's most recent flow"),
        Binding("j", "cursor_down", "Down", show=False, tooltip="Next example"),
        Binding("k", "cursor_up", "Up", show=False, tooltip="Previous example"),
    ]

    DEFAULT_CSS = """
    ErrorGroupScreen #group-title { height: auto; padding: 0 1; background: $panel; }
    ErrorGroupScreen #group-examples {
        height: auto; max-height: 12; border: round $primary 50%; padding: 0 1;
        text-wrap: nowrap; text-overflow: ellipsis;
    }
    ErrorGroupScreen #group-examples:focus { border: round $primary; }
    ErrorGroupScreen #group-scroll { height: 1fr; border: round $primary 50%; padding: 0 1; }
    ErrorGroupScreen #group-scroll:focus { border: round $primary; }
    ErrorGroupScreen #group-examples > .option-list--option-disabled {
        color: $foreground; text-style: none;
    }
    """

    def __init__(self, source: Source, group: ErrorGroup) -> None:
        super().__init__()
        self.source = source
        self.group = group

    def compose(self) -> Any:
        group = self.group
        title = Text()
        title.append(clean_line(group.title, 2000), style="bold red")
        title.append("\n")
        times = "once" if group.count == 1 else f"{group.count:,} times"
        title.append(f"{KIND_WORDS.get(group.kind, group.kind)} error, {times}, ")
        title.append(fmt.clock(group.first))
        if group.count > 1:
            title.append(f" to {fmt.clock(group.last)}")
        title.append(" · ")
        title.append_text(where_text(group))
        if group.varies:  # the title is the pattern: one message as it was
            title.append("\nlatest: ", style="dim")
            title.append(clean_line(f"{group.type}: {group.message}", 2000))
        yield Static(title, id="group-title")
        examples = OptionList(*self._examples(), id="group-examples")
        examples.border_title = f"Example flows ({len(group.examples)} of {group.count:,})"
        yield examples
        scroll = VerticalScroll(id="group-scroll")
        scroll.border_title = "Traceback of the first (z folds or unfolds the library's frames)"
        with scroll:
            traceback = self._traceback()
            if traceback:
                yield TracebackView(traceback, id="group-traceback")
            else:
                yield Static(Text("No traceback was kept for this group.", style="dim"))
        yield Footer()

    def _examples(self) -> list[Option]:
        options = []
        kind = self.group.kind if self.group.varies else None
        for flow_id in self.group.examples:
            kept = self.source.flow(flow_id) is not None
            options.append(
                Option(
                    # each one's own message, when they differ
                    example_line(self.source, flow_id, kind),
                    id=f"flow-{flow_id}",
                    disabled=not kept,
                )
            )
        if not options:
            options.append(Option(Text("(no flow: an item from start(), or none kept)",
                                       style="dim"), disabled=True))  # fmt: skip
        return options

    def _traceback(self) -> str | None:
        group = self.group
        if group.traceback:
            return group.traceback
        found = self.source.error_traceback(group.key)
        if found:
            return found
        for flow_id in group.examples:  # an example's own (an older attached crawl)
            flow = self.source.flow(flow_id)
            if flow is None:
                continue
            own = flow.error_traceback if group.kind == DOWNLOAD else flow.callback_traceback
            if own:
                return own
        return None

    def on_mount(self) -> None:
        self.query_one("#group-examples", OptionList).focus()

    def action_toggle_frames(self) -> None:
        for view in self.query(TracebackView):
            view.toggle()

    def action_cursor_down(self) -> None:
        self.query_one("#group-examples", OptionList).action_cursor_down()

    def action_cursor_up(self) -> None:
        self.query_one("#group-examples", OptionList).action_cursor_up()

    def action_open_latest(self) -> None:
        open_example(self, self.source, self.group)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        option_id = event.option.id or ""
        flow = self.source.flow(int(option_id[5:])) if option_id.startswith("flow-") else None
        if flow is None:
            self.app.notify("That flow is no longer kept.", severity="warning")
            return
        open_flow(self, self.source, flow)


class TracebackScreen(Screen[None]):
    """A log line that carries a traceback: its message, then the traceback folded."""

    HELP_TITLE: ClassVar[str] = "A log line's traceback (Enter in Log)"

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back"),
        Binding("z", "toggle_frames", "Frames", tooltip="Fold or unfold the library's frames"),
    ]

    DEFAULT_CSS = """
    TracebackScreen VerticalScroll { border: round $primary; padding: 0 1; }
    """

    def __init__(self, title: str, text: str) -> None:
        super().__init__()
        self.title_text = clean_line(title, 200)
        at = text.find("Traceback (most recent call last):")
        self.head = text[:at].rstrip("\n") if at > 0 else ""
        self.traceback = text[at:] if at >= 0 else text

    def compose(self) -> Any:
        scroll = VerticalScroll()
        scroll.border_title = Text(f"{self.title_text}  (z unfolds the library's frames)")
        with scroll:
            if self.head:
                yield Static(Text(clean(self.head[:8000]), style="bold"))
            yield TracebackView(self.traceback)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(VerticalScroll).focus()

    def action_toggle_frames(self) -> None:
        for view in self.query(TracebackView):
            view.toggle()
