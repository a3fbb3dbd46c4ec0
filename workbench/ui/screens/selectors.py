"""The selector playground: type css / xpath / re / jmespath, see matches at once.

Typing is debounced (:attr:`SelectorScreen.DEBOUNCE`) and each evaluation
runs in an exclusive thread worker over one :class:`SelectorDocument` (the
body decoded and parsed once), so a 10 MB body never blocks typing.  Only the
newest result is shown; an invalid expression shows no results and no
highlights (not the previous expression's), under a red error line.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Input, Static
from textual.worker import Worker, WorkerState

from workbench.core.formats.sanitize import clean_line
from workbench.core.inspection.body import decoding_headers, human_size
from workbench.core.inspection.selection import KINDS, SelectorDocument, SelectorResult, python_line
from workbench.core.recording.records import Flow
from workbench.core.sources.base import Source
from workbench.ui import format as fmt
from workbench.ui.widgets.body_view import BodyView

EXAMPLES = {
    "css": "a CSS selector, e.g. h1::text  ·  a::attr(href)  ·  div.price",
    "xpath": "an XPath, e.g. //h1/text()  ·  //a/@href  ·  count(//li)",
    "re": r"a regular expression over the decoded text, e.g. Price: (\d+\.\d\d)",
    "jmespath": "a JMESPath query on the JSON body, e.g. items[*].name",
}
HINT = (
    "ctrl+t next kind  ·  Enter run now  ·  ctrl+y copy as Python  ·  "
    "ctrl+n next match  ·  Tab to the body  ·  Esc back"
)
VALUE_WIDTH = 300  # characters of each value shown in the list


class SelectorScreen(Screen[None]):
    """Selectors on one flow's stored response body."""

    HELP_TITLE: ClassVar[str] = "Selector playground (p on a flow)"  # its section in the ? screen

    DEBOUNCE = 0.15  # seconds of quiet typing before evaluating

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", priority=True, tooltip="Back to the previous screen"),
        Binding(
            "ctrl+t",
            "cycle_kind",
            "Kind",
            priority=True,
            tooltip="Cycle the selector kind: css, xpath, re, jmespath",
        ),
        Binding(
            "ctrl+y",
            "copy_python",
            "Copy as Python",
            priority=True,
            tooltip="Copy the equivalent scrapy shell line (and offer it to the shell)",
        ),
        Binding(
            "ctrl+n",
            "next_match",
            "Next match",
            priority=True,
            tooltip="Scroll the body to the next highlighted match",
        ),
    ]

    DEFAULT_CSS = """
    SelectorScreen #title { height: 1; padding: 0 1; background: $panel; }
    SelectorScreen #kinds { height: 1; padding: 0 1; margin-top: 1; }
    SelectorScreen #selector-input { margin: 0 1; }
    SelectorScreen #hint { height: 1; padding: 0 2; color: $text-muted; }
    SelectorScreen #error { height: auto; padding: 0 2; color: $error; text-style: bold; }
    SelectorScreen #error.-hidden { display: none; }
    SelectorScreen #panes { height: 1fr; }
    SelectorScreen #results {
        width: 2fr; border: round $primary 50%; padding: 0 1;
        border-title-color: $text; border-title-style: bold;
    }
    SelectorScreen #results:focus-within { border: round $primary; }
    SelectorScreen #body-view {
        width: 3fr; border: round $primary 50%;
        border-title-color: $text; border-title-style: bold;
    }
    SelectorScreen #body-view:focus { border: round $primary; }
    SelectorScreen #no-body { padding: 1 2; }
    """

    def __init__(self, source: Source, flow: Flow) -> None:
        super().__init__()
        self.source = source
        self.flow = flow
        self.document: SelectorDocument | None = None
        self.unavailable = self._open_document()
        self.kind = self.document.default_kind if self.document is not None else "css"
        self.result: SelectorResult | None = None  # the newest result shown
        self.valid: SelectorResult | None = None  # the newest result without an error
        self._generation = 0
        self._shown_generation = 0
        self._timer: Timer | None = None

    def _open_document(self) -> str | None:
        """Build the document, or say why there is nothing to select from."""
        flow = self.flow
        if flow.status is None:
            return "No response: the download failed, so there is no body to select from."
        stored = self.source.body(flow.id)
        if stored is None:
            if flow.size == 0:
                return "The response body is empty: nothing to select from."
            return (
                "The body is no longer kept (older bodies are dropped past "
                "WORKBENCH_MAX_BODIES / WORKBENCH_MAX_BODY_BYTES)."
            )
        headers = decoding_headers(flow.response_headers)  # 100,000 headers cost nothing
        document = SelectorDocument(flow.url, headers, stored.body, stored.size)
        if not document.selectable:
            what = clean_line(document.decoded.content_type or "no content type", 80)
            return f"The body is {document.kind} ({what}): selectors need text."
        self.document = document
        return None

    # -- layout -------------------------------------------------------------------

    def compose(self) -> Any:
        flow = self.flow
        yield Static(
            Text.assemble(
                ("Selectors  ", "bold"),
                (f"flow #{flow.id}  ", "dim"),
                fmt.status_cell(flow),
                "  ",
                clean_line(flow.method, 10),
                " ",
                clean_line(flow.url, 2000),
                no_wrap=True,
                overflow="ellipsis",
            ),
            id="title",
        )
        if self.document is None:
            yield Static(Text(self.unavailable or "", style="yellow"), id="no-body")
            yield Footer()
            return
        yield Static(self._kinds_text(), id="kinds")
        yield Input(placeholder=EXAMPLES[self.kind], id="selector-input")
        yield Static(HINT, id="hint")
        yield Static("", id="error", classes="-hidden")
        with Horizontal(id="panes"):
            with VerticalScroll(id="results"):
                yield Static(Text("Decoding the body…", style="dim"), id="summary")
                yield Static("", id="values")
            yield BodyView(id="body-view")
        yield Footer()

    def on_mount(self) -> None:
        if self.document is None:
            return
        self.query_one("#results").border_title = "Results"
        self._body_title()
        self.query_one("#selector-input", Input).focus()
        self.evaluate_now()  # decodes and parses in the worker, then shows the body

    def _kinds_text(self) -> Text:
        text = Text.assemble(("Kind ", "bold"))
        for kind in KINDS:
            if kind == self.kind:
                text.append(f" {kind} ", style="bold reverse")
            else:
                text.append(f" {kind} ", style="dim")
            text.append(" ")
        text.append("  ctrl+t switches", style="dim italic")
        return text

    def _body_title(self) -> None:
        document = self.document
        if document is None:
            return
        view = self.query_one(BodyView)
        parts = [document.kind, human_size(document.size)]
        if document.truncated:
            parts.append(f"only the first {human_size(document.kept)} kept")
        if self.result is not None and self.result.view == "pretty":
            parts.append("pretty-printed")
        view.border_title = "Body · " + " · ".join(parts)

    # -- evaluation -------------------------------------------------------------

    @property
    def expression(self) -> str:
        return self.query_one("#selector-input", Input).value

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.DEBOUNCE, self.evaluate_now)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.evaluate_now()

    def evaluate_now(self) -> None:
        """Evaluate the current expression in a thread worker (the newest wins)."""
        if self._timer is not None:
            self._timer.stop()
            self._timer = None
        if self.document is None:
            return
        self._generation += 1
        generation, kind, expression = self._generation, self.kind, self.expression
        document = self.document

        def work() -> tuple[int, SelectorResult, str] | None:
            if generation != self._generation:  # typed on meanwhile: skip
                return None
            result = document.evaluate(kind, expression)
            return generation, result, document.view_text(result.view)

        self.run_worker(work, thread=True, exclusive=True, group="selector", name="selector")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker.group != "selector" or event.state != WorkerState.SUCCESS:
            return
        outcome = event.worker.result
        if outcome is None:
            return
        generation, result, text = outcome
        if generation < self._shown_generation:
            return
        self._shown_generation = generation
        self.show_result(result, text)

    def show_result(self, result: SelectorResult, text: str) -> None:
        self.result = result
        view = self.query_one(BodyView)
        view.set_text(text)
        error = self.query_one("#error", Static)
        field = self.query_one("#selector-input", Input)
        if result.error is not None:  # nothing of the previous expression stays
            error.update(Text(f"✗ {clean_line(result.error, 400)}"))
            error.remove_class("-hidden")
            field.add_class("-invalid")
            self.query_one("#summary", Static).update(
                Text("No results: the expression is invalid.", style="dim")
            )
            self.query_one("#values", Static).update("")
            view.set_spans(())
            view.border_subtitle = ""
            self._body_title()
            return
        self.valid = result
        error.add_class("-hidden")
        field.remove_class("-invalid")
        self.query_one("#summary", Static).update(self._summary(result))
        self.query_one("#values", Static).update(self._values(result))
        view.set_spans(result.spans)
        if result.spans:
            view.scroll_to_offset(result.spans[0][0])
        self._body_title()
        shown = len(result.spans)
        view.border_subtitle = f"{fmt.number(shown)} highlighted" if shown else ""

    def _summary(self, result: SelectorResult) -> Text:
        empty = not result.expression if result.kind == "re" else not result.expression.strip()
        if empty:
            return Text(f"Type {EXAMPLES[result.kind]}", style="dim")
        count = fmt.number(result.count) + ("+" if result.count_capped else "")
        noun = "match" if result.count == 1 else "matches"
        text = Text(f"{count} {noun}", style="bold green" if result.count else "bold yellow")
        if result.took >= 0.1:  # worth knowing when a selector is slow
            text.append(f"  in {result.took:.1f} s", style="dim")
        if result.truncated:
            text.append(f"  (first {fmt.number(len(result.values))} listed)", style="dim")
        text.append("\n")
        text.append(clean_line(result.python_line, 2000), style="cyan")
        if result.note:
            text.append("\n" + clean_line(result.note, 300), style="yellow")
        text.append("\n")
        return text

    def _values(self, result: SelectorResult) -> Text:
        text = Text()
        width = len(str(len(result.values)))
        for index, value in enumerate(result.values, start=1):
            if index > 1:
                text.append("\n")
            text.append(f"{index:>{width}} ", style="dim")
            text.append(clean_line(value, VALUE_WIDTH))
        return text

    # -- actions ------------------------------------------------------------------

    def action_back(self) -> None:
        self.app.pop_screen()

    def action_cycle_kind(self) -> None:
        if self.document is None:
            return
        self.kind = KINDS[(KINDS.index(self.kind) + 1) % len(KINDS)]
        self.query_one("#kinds", Static).update(self._kinds_text())
        self.query_one("#selector-input", Input).placeholder = EXAMPLES[self.kind]
        self.evaluate_now()

    def action_copy_python(self) -> None:
        if self.document is None:
            self.notify("Nothing to copy: there is no body.", severity="warning")
            return
        line = python_line(self.kind, self.expression)
        valid = self.valid
        current = valid is not None and (valid.kind, valid.expression) == (
            self.kind,
            self.expression,
        )
        values = list(valid.data) if current and valid is not None else []
        self.app.copy_to_clipboard(line)
        offer = getattr(self.app, "offer_to_shell", None)
        if callable(offer):
            offer(line, values)
        # a selector is full of brackets: a[href], //div[@id]
        self.notify(clean_line(line, 300), title="Copied as Python", timeout=4, markup=False)

    def action_next_match(self) -> None:
        if self.document is not None and not self.query_one(BodyView).next_match():
            self.notify("No match to show.", timeout=2)
