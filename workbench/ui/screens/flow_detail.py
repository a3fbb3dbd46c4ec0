"""Flow detail: request, response (headers and body), what it produced, errors.

The Error tab says what was raised, where in the user's code and how often
the same error happened (its group: ``E`` lists them all); its traceback
opens on the user's frames, the library's folded (``z`` unfolds them).

A flow with a fate says at the top of its Request tab what became of the
request, which component decided and why; a duplicate names the flow it
duplicates and a redirect its target (``o`` opens it); the Produced tab lists
each request the flow produced with its fate (``Enter`` opens its flow)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static, TabbedContent, TabPane
from textual.widgets.option_list import Option

from workbench.core.formats.sanitize import clean, clean_line
from workbench.core.inspection.body import decoding_headers, render_body
from workbench.core.recording import errors, fates, tracebacks
from workbench.core.recording.records import Flow, header_items
from workbench.core.sources.base import Source
from workbench.ui import flow_actions
from workbench.ui import format as fmt
from workbench.ui.flow_actions import FLOW_KEYS
from workbench.ui.panels.browser import browser_part
from workbench.ui.panels.items import inline_fields
from workbench.ui.widgets.body_view import BodyView
from workbench.ui.widgets.traceback_view import library_frames, traceback_text

SYNTAX_LIMIT = 200_000  # characters highlighted at most; beyond that, a BodyView
BODY_LIMIT = 8_000_000  # characters of a body shown at most (the view renders rows on screen)


HEADER_LIMIT = 200  # header lines drawn in a tab; past that, all go to a BodyView below
PAIRS_LIMIT = 200  # meta or cb_kwargs rows drawn (a HAR file may carry any number)


def _header_pairs(headers: Any) -> Iterator[tuple[str, str]]:
    """(name, value) of every header line, cleaned for one line."""
    for name, values in header_items(headers):
        key = clean_line(name.decode("latin-1") if isinstance(name, bytes) else str(name), 200)
        for value in values:
            val = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)
            yield key, clean_line(val, 4000)


def header_count(headers: Any) -> int:
    return sum(len(values) for _, values in header_items(headers))


def header_lines(headers: Any) -> Text:
    text = Text()
    if not headers:
        text.append("(none)", style="dim")
        return text
    for key, value in _header_pairs(headers):
        text.append(key, style="bold cyan")
        text.append(": ")
        text.append(value)
        text.append("\n")
    text.rstrip()
    return text


def headers_part(headers: Any) -> list[Any]:
    """The Headers heading and lines; past HEADER_LIMIT lines, only the heading
    (the tab lists them all in a BodyView below: see FlowDetailScreen._fields_pane)."""
    count = header_count(headers)
    if count <= HEADER_LIMIT:
        return [Text("\nHeaders", style="bold underline"), header_lines(headers)]
    return [
        Text.assemble(
            (f"\nHeaders ({count:,})", "bold underline"),
            ("  all of them below: j/k, PgUp/PgDn, g/G scroll", "dim"),
        )
    ]


def header_list(headers: Any) -> str:
    """Every header, one a line, for a BodyView (which draws only the rows on screen)."""
    return "\n".join(f"{key}: {value}" for key, value in _header_pairs(headers))


def field_table(rows: list[tuple[str, Any]]) -> Table:
    """Name: value rows.  Every cell is a Text: a str cell would be Rich markup."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for name, value in rows:
        table.add_row(
            Text(clean_line(name, 100)),
            value if isinstance(value, Text) else Text(clean_line(str(value), 4000)),
        )
    return table


def pairs_table(pairs: Sequence[tuple[str, str]]) -> Table | Text:
    """Meta or cb_kwargs: untrusted keys and reprs, as text (never markup)."""
    if not pairs:
        return Text("(empty)", style="dim")
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold green", no_wrap=True)
    table.add_column()
    for key, value in pairs[:PAIRS_LIMIT]:
        table.add_row(Text(clean_line(key, 100)), Text(clean_line(value, 400)))
    if len(pairs) > PAIRS_LIMIT:
        table.add_row(Text(f"… {len(pairs) - PAIRS_LIMIT:,} more", style="dim"), Text(""))
    return table


class ProducedList(OptionList):
    """The Produced tab: items and requests, one a line; Enter opens a request's flow."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("j", "cursor_down", "Down", show=False, tooltip="Next request"),
        Binding("k", "cursor_up", "Up", show=False, tooltip="Previous request"),
    ]


FRAMES_TIP = "Fold or unfold the library's frames (Scrapy, Twisted...) of the Error tab"


class FlowDetailScreen(Screen[None]):
    HELP_TITLE: ClassVar[str] = "Flow detail (Enter on a flow)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "app.pop_screen", "Back"),
        Binding("1", "tab('request')", "Request", show=False),
        Binding("2", "tab('response')", "Response", show=False),
        Binding("3", "tab('body')", "Body", show=False),
        Binding("4", "tab('produced')", "Produced", show=False),
        Binding("5", "tab('error')", "Error", show=False),
        Binding("tab", "next_tab", "Next tab"),
        *FLOW_KEYS,  # p, r, x, o: as on the flow's row in the Flows table
        Binding("z", "toggle_frames", "Frames", show=False, tooltip=FRAMES_TIP),
    ]

    DEFAULT_CSS = """
    FlowDetailScreen TabPane { padding: 0 1; }
    FlowDetailScreen #title { height: auto; padding: 0 1; background: $panel; }
    FlowDetailScreen #body-info { height: auto; }
    FlowDetailScreen #body-lines { height: 1fr; }
    FlowDetailScreen .-above-headers { height: auto; max-height: 50%; }
    FlowDetailScreen #request-headers, FlowDetailScreen #response-headers { height: 1fr; }
    FlowDetailScreen #produced-view { height: 1fr; border: none; padding: 0; }
    FlowDetailScreen #produced-view > .option-list--option-disabled {
        color: $foreground; text-style: none;
    }
    """

    def __init__(self, source: Source, flow: Flow, tab: str = "request") -> None:
        super().__init__()
        self.source = source
        self.flow = flow
        self.initial_tab = tab  # request, response, body, produced or error
        self.folded = True  # the Error tab's library frames (z)
        self._flows: list[Flow] | None = None

    @property
    def flows(self) -> list[Flow]:
        """Every flow kept (to resolve links), read once per screen."""
        if self._flows is None:
            self._flows = list(self.source.flows_since(0))
        return self._flows

    def linked(self) -> Flow | None:
        """The flow this one links to: a duplicate's original, a redirect's target."""
        return flow_actions.linked_flow(self.flows, self.flow)

    def compose(self) -> Any:
        flow = self.flow
        fate = fmt.fate_cell(flow)
        yield Static(
            Text.assemble(
                (f"Flow #{flow.id}  ", "bold"),
                fmt.status_cell(flow),
                "  ",
                *((fate, "  ") if fate else ()),
                clean_line(flow.method, 10),
                " ",
                clean_line(flow.url, 2000),
            ),
            id="title",
        )
        with TabbedContent(initial=self.initial_tab):
            with TabPane("1 Request", id="request"):
                yield from self._fields_pane("request", self._request(), flow.request_headers)
            with TabPane("2 Response", id="response"):
                headers = flow.response_headers if flow.status is not None else None
                yield from self._fields_pane("response", self._response(), headers)
            with TabPane("3 Body", id="body"):
                yield from self._body_widgets()
            with TabPane("4 Produced", id="produced"):
                yield ProducedList(*self._produced(), id="produced-view")
            with TabPane("5 Error", id="error"), VerticalScroll():
                yield Static(self._error(), id="error-view")
        yield Footer()

    def _request(self) -> Group:
        flow = self.flow
        parent = f"#{flow.parent_id}" if flow.parent_id is not None else "— (start request)"
        parent_flow = self.source.flow(flow.parent_id) if flow.parent_id is not None else None
        if parent_flow is not None:
            parent += f"  {clean_line(parent_flow.url, 300)}"
        callback: Any = flow.callback or "parse"
        if flow.inline is not None:  # awaited in a callback: its response went back there
            callback = Text.assemble(
                ("none: downloaded inline, awaited in ", "cyan"),
                (clean_line(flow.inline, 200), "bold cyan"),
                (" (engine.download_async), which got the response", "cyan"),
            )
        rows: list[tuple[str, Any]] = [
            ("Method", flow.method),
            ("URL", flow.url),
            ("Callback", callback),
            ("Priority", flow.priority),
            ("Depth", flow.depth),
            ("Slot", flow.slot or "-"),
            ("Parent flow", parent),
        ]
        if flow.spider:  # the crawler's (workbench crawl S1 S2 runs several)
            rows.insert(0, ("Spider", flow.spider))
        return Group(
            *self._fate(),
            field_table(rows),
            *headers_part(flow.request_headers),
            Text("\nMeta", style="bold underline"),
            pairs_table(flow.meta),
            Text("\ncb_kwargs", style="bold underline"),
            pairs_table(flow.cb_kwargs),
        )

    def _fate(self) -> list[Any]:
        """What became of the request, first on the Request tab (nothing for a plain
        download)."""
        flow = self.flow
        if flow.fate is None:
            return []
        never = fates.never_downloaded(flow)
        rows: list[tuple[str, Any]] = [
            ("Fate", Text(clean_line(fates.fate_text(flow), 4000), style="bold")),
        ]
        if flow.fate_by:
            rows.append(("Decided by", flow.fate_by))
        if flow.fate == fates.DUPLICATE:
            original = self.linked()
            rows.append(("Duplicate of", self._link_text(original, "o opens it")
                         if original is not None else Text(
                             "an earlier request with the same fingerprint (not kept, or "
                             "not downloaded yet)", style="dim")))  # fmt: skip
        heading = "Never downloaded" if never else "What became of it"
        note = "The request as it was:" if never else ""
        return [
            Text(heading, style="bold underline"),
            field_table(rows),
            Text(f"\n{note}" if note else "", style="dim"),
        ]

    @staticmethod
    def _link_text(target: Flow, hint: str) -> Text:
        return Text.assemble(
            (f"#{target.id} ", "bold"),
            fmt.status_cell(target),
            " ",
            fmt.fate_cell(target),
            " ",
            clean_line(f"{target.method} {target.url}", 2000),
            (f"  ({hint})", "dim"),
        )

    def _response(self) -> Group:
        flow = self.flow
        if fates.never_downloaded(flow):
            return Group(
                Text("No response: the request never reached the network.", style="bold"),
                Text(clean_line(fates.fate_text(flow), 4000)),
            )
        if flow.status is None:
            return Group(
                Text("No response: the download failed.", style="bold red"),
                Text(clean_line(flow.error or "", 2000)),
                *browser_part(self.source, flow),
            )
        rows: list[tuple[str, Any]] = [
            ("Status", fmt.status_cell(flow)),
            ("Class", flow.response_class or "-"),
            ("Size", f"{fmt.number(flow.size)} bytes"),
            ("Latency", fmt.latency(flow.latency)),
            ("Received", fmt.clock(flow.time)),
        ]
        if flow.stored:  # a files/images pipeline's download
            rows.append(("Stored", Text(clean_line(flow.stored, 2000), style="cyan")))
        if 300 <= flow.status < 400 and flow.requests:
            target = self.linked()
            rows.append(("Redirected to", self._link_text(target, "o opens it")
                         if target is not None else Text(
                             "no outcome recorded yet", style="dim")))  # fmt: skip
        if flow.fate is not None:
            rows.append(("Fate", Text(clean_line(fates.fate_text(flow), 4000), style="bold")))
        browser = browser_part(self.source, flow)  # the page's final URL, console, errors
        return Group(field_table(rows), *browser, *headers_part(flow.response_headers))

    def _fields_pane(self, tab: str, fields: Group, headers: Any) -> Any:
        """A tab's fields, scrolled; past HEADER_LIMIT header lines, every header in a
        BodyView below them (100,000 headers: only the rows on screen are drawn)."""
        many = header_count(headers) > HEADER_LIMIT
        with VerticalScroll(classes="-above-headers" if many else None):
            yield Static(fields, id=f"{tab}-view")
        if many:
            yield BodyView(header_list(headers), id=f"{tab}-headers")

    def _body_widgets(self) -> Any:
        """The body: highlighted when it is short; beyond SYNTAX_LIMIT characters a
        BodyView, which renders only the rows on screen (a 10 MB line scrolls)."""
        flow = self.flow
        message: Text | None = None
        stored = self.source.body(flow.id) if flow.status is not None else None
        if fates.never_downloaded(flow):
            message = Text("No body: the request never reached the network.", style="dim")
        elif flow.status is None:
            message = Text("No body: the download failed.", style="dim")
        elif stored is None and flow.size == 0:
            message = Text("Empty body.", style="dim")
        elif stored is None:
            message = Text(
                "The body is no longer kept (WORKBENCH_MAX_BODIES / WORKBENCH_MAX_BODY_BYTES).",
                style="yellow",
            )
        if message is not None or stored is None:
            assert message is not None  # each branch above that leaves stored None sets it
            with VerticalScroll():
                yield Static(message, id="body-view")
            return
        rendered = render_body(
            flow.url, decoding_headers(flow.response_headers), stored.body, stored.size, BODY_LIMIT
        )
        info = Text(
            f"{rendered.kind} · {fmt.size(rendered.size)}"
            + (f" · {rendered.encoding}" if rendered.encoding else "")
            + (f" · {rendered.note}" if rendered.note else ""),
            style="dim",
        )
        if len(rendered.text) > SYNTAX_LIMIT:
            yield Static(info, id="body-info")
            yield BodyView(rendered.text, id="body-lines")
            return
        body: Any = Text(rendered.text)
        if rendered.lexer:
            from rich.syntax import Syntax  # pygments: 2.5 MiB, loaded when first needed

            body = Syntax(
                rendered.text,
                rendered.lexer,
                word_wrap=True,
                theme="ansi_dark" if self.app.current_theme.dark else "ansi_light",
                background_color="default",
            )
        with VerticalScroll():
            yield Static(Group(info, body), id="body-view")

    def _produced(self) -> list[Option]:
        """Items, then each request the flow produced with what became of it (an
        option with the flow's id: Enter opens it)."""
        flow = self.flow
        lines: list[Option] = []

        def line(text: Text, flow_id: int | None = None) -> None:
            option_id = f"flow-{flow_id}-{len(lines)}" if flow_id is not None else None
            lines.append(Option(text, id=option_id, disabled=flow_id is None))

        items = self.source.items_of(flow)
        line(Text(f"Items ({len(flow.items)})", style="bold underline"))
        if not items:
            line(Text("(none)", style="dim"))
        for record in items[:200]:
            text = Text(f"#{record.id} {clean_line(record.item_class, 60)}: ")
            line(text.append_text(inline_fields(record)))  # None and "" highlighted
        line(Text(""))
        line(Text(f"Requests ({len(flow.requests)})", style="bold underline"))
        produced = fates.produced(self.flows, flow) if flow.requests else []
        if not produced:
            line(Text("(none)", style="dim"))
        for method, url, child in produced[:500]:
            text = Text.assemble(
                fmt.status_cell(child) if child is not None else ("…", "dim"),
                " ",
                fmt.fate_cell(child) if child is not None else Text(""),
                " ",
                clean_line(f"{method} {url}", 2000),
            )
            if child is None:
                text.append("  no outcome recorded (queued, in flight, or not kept)", "dim")
                line(text)
            else:
                text.append(f"  #{child.id}", "dim")
                line(text, child.id)
        return lines

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        if option_id.startswith("flow-"):
            event.stop()
            self._open(int(option_id.split("-")[1]))

    def _open(self, flow_id: int) -> None:
        flow_actions.open_flow(self.app, self.source, flow_id)

    # -- the flow's keys (FLOW_KEYS), as on its row in the Flows table ---------------

    def action_open_linked(self) -> None:
        flow_actions.open_linked(self.app, self.source, self.flow, self.flows)

    def _error(self) -> Group:
        """Each error: what was raised, where in the user's code, how often the same
        error happened (its group), then the traceback folded on the user's frames."""
        flow = self.flow
        parts: list[Any] = []
        if flow.error:
            # with a status, it was downloaded and then dropped by a downloader middleware
            heading = "Download error" if flow.status is None else "Dropped after download"
            parts += self._error_part(heading, errors.DOWNLOAD, flow.error, flow.error_traceback)
        if flow.callback_error:
            parts += self._error_part(
                "Callback error", errors.CALLBACK, flow.callback_error, flow.callback_traceback
            )
        if not parts:
            parts.append(Text("No error.", style="dim"))
        return Group(*parts)

    def _error_part(self, heading: str, kind: str, error: str, traceback: str | None) -> list[Any]:
        rows: list[tuple[str, Any]] = []
        where = tracebacks.location_text(tracebacks.user_frame(traceback))
        mine = "not in your code (no frame of the project's in the traceback)"
        rows.append(("Where", Text(clean_line(where, 400)) if where else Text(mine, style="dim")))
        group = self._group_of(kind, error, traceback)
        if group is not None and group.count > 1:
            seen = Text(f"{group.count:,} times, {fmt.clock(group.first)} to "
                        f"{fmt.clock(group.last)}  ", style="bold")  # fmt: skip
            seen.append("(E lists every error group)", style="dim")
            rows.append(("Seen", seen))
        parts: list[Any] = [
            Text(heading, style="bold red"),
            Text(clean(error), style="bold"),
            field_table(rows),
        ]
        if traceback:
            hidden = library_frames(traceback)
            note = "z folds the library's frames" if not self.folded else (
                f"{hidden} frames of the library folded: z unfolds" if hidden else "")  # fmt: skip
            parts.append(Text.assemble(("\nTraceback", "bold underline"), (f"  {note}", "dim")))
            parts.append(traceback_text(traceback, self.folded))
        parts.append(Text(""))
        return parts

    def _group_of(self, kind: str, error: str, traceback: str | None) -> errors.ErrorGroup | None:
        key = errors.key_for(kind, error, traceback, self.flow.spider)
        try:
            groups = self.source.error_groups().groups
        except Exception:  # the group is a bonus: never lose the Error tab over it
            return None
        return next((g for g in groups if g.key == key), None)

    def action_toggle_frames(self) -> None:
        """Fold or unfold the library's frames of the Error tab's tracebacks."""
        self.folded = not self.folded
        self.query_one("#error-view", Static).update(self._error())
        self.query_one(TabbedContent).active = "error"

    def on_mount(self) -> None:
        if self.flow.failed:
            self.query_one(TabbedContent).active = "error"

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.call_after_refresh(self._focus_content)

    def _focus_content(self) -> None:
        """The shown tab's content takes the keys: j/k, PgUp/PgDn, g/G scroll it.
        (Always the active pane's, whatever order the activations came in.)"""
        pane = self.query_one(TabbedContent).active_pane
        if pane is None:
            return
        # the long list first
        scrollers = [*pane.query(OptionList), *pane.query(BodyView), *pane.query(VerticalScroll)]
        if scrollers:
            scrollers[0].focus()

    def action_selectors(self) -> None:
        flow_actions.open_selectors(self.app, self.source, self.flow)

    def action_next_tab(self) -> None:
        tabs = ["request", "response", "body", "produced", "error"]
        content = self.query_one(TabbedContent)
        content.active = tabs[(tabs.index(content.active) + 1) % len(tabs)]

    def action_replay(self) -> None:
        flow_actions.open_replay(self.app, self.source, self.flow)

    def action_export_curl(self) -> None:
        flow_actions.export_curl(self.app, self.source, self.flow)
