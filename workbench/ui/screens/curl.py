"""curl: show an exported command; paste one to add a request to the crawl."""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widgets import Button, Input, Label, Static, TextArea

from workbench.core.formats.sanitize import clean, clean_line
from workbench.core.sources.base import Source


class CurlScreen(ModalScreen[None]):
    """The curl command of a flow (already copied to the clipboard)."""

    HELP_TITLE: ClassVar[str] = "curl command (x on a flow)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape,enter", "app.pop_screen", "Close", tooltip="Close"),
        Binding("c", "copy", "Copy again", tooltip="Copy the command to the clipboard again"),
    ]

    DEFAULT_CSS = """
    CurlScreen { align: center middle; }
    CurlScreen > Vertical {
        width: 90%; max-width: 120; height: auto; max-height: 80%;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    CurlScreen #curl-command { height: auto; margin: 1 0; }
    CurlScreen #curl-hint { color: $text-muted; }
    """

    def __init__(self, title: str, command: str) -> None:
        super().__init__()
        self.title_text = clean_line(title, 200)
        self.command = command

    def compose(self) -> Any:
        with Vertical() as box:
            box.border_title = Text(self.title_text)  # a str would be markup
            yield Static(Text(clean(self.command)), id="curl-command")
            yield Static(
                "Copied to the clipboard (if your terminal allows it; else select the text "
                "with the mouse).  c copies again · Esc closes",
                id="curl-hint",
            )

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self.command)
        self.app.notify("Copied the curl command again.", timeout=2)


class NewRequestScreen(ModalScreen[str | None]):
    """Paste a curl command, choose a callback, add the request to the crawl.

    Dismisses with the source's message once the request is queued; a bad
    command or callback is shown inline and the dialog stays open.
    """

    HELP_TITLE: ClassVar[str] = "New request (i)"  # its section in the ? screen

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "submit", "Add to crawl", tooltip="Add the request to the crawl"),
        Binding("escape", "cancel", "Cancel", tooltip="Close without adding anything"),
    ]

    DEFAULT_CSS = """
    NewRequestScreen { align: center middle; }
    NewRequestScreen > Vertical {
        width: 90%; max-width: 110; height: auto;
        border: thick $primary; background: $surface; padding: 0 1;
    }
    NewRequestScreen #curl-text { height: 8; }
    NewRequestScreen #callback-row { height: auto; margin-top: 1; }
    NewRequestScreen #callback-row Label { padding: 1 1 0 0; }
    NewRequestScreen #curl-callback { width: 40; }
    NewRequestScreen #curl-error { color: $error; height: auto; margin-top: 1; }
    NewRequestScreen #curl-error.-hidden { display: none; }
    NewRequestScreen #buttons { height: auto; align-horizontal: right; margin-top: 1; }
    NewRequestScreen Button { margin-left: 2; }
    """

    def __init__(self, source: Source) -> None:
        super().__init__()
        self.source = source

    def compose(self) -> Any:
        try:
            callbacks = self.source.callbacks()
        except Exception:
            callbacks = ["parse"]
        with Vertical() as box:
            box.border_title = "New request from curl"
            yield Static(
                'Paste a curl command (e.g. from your browser\'s "Copy as cURL"). '
                "It goes through the scheduler like any request.",
                id="curl-help",
            )
            yield TextArea(
                "",
                id="curl-text",
                soft_wrap=True,
                placeholder="curl 'https://example.com/page' -H 'Accept: text/html'",
            )
            with Horizontal(id="callback-row"):
                yield Label("Callback")
                yield Input(
                    "parse",
                    id="curl-callback",
                    suggester=SuggestFromList(callbacks, case_sensitive=True),
                    tooltip=Text("A method of the spider: " + ", ".join(callbacks)),
                )
            yield Static("", id="curl-error", classes="-hidden")
            with Horizontal(id="buttons"):
                yield Button("Add to crawl (Ctrl+S)", variant="primary", id="add")
                yield Button("Cancel (Esc)", id="cancel")

    def on_mount(self) -> None:
        self.query_one("#curl-text", TextArea).focus()

    def show_error(self, message: str) -> None:
        error = self.query_one("#curl-error", Static)
        error.update(Text(clean(message)))
        error.remove_class("-hidden")

    def action_submit(self) -> None:
        text = self.query_one("#curl-text", TextArea).text
        callback = self.query_one("#curl-callback", Input).value.strip() or "parse"
        try:
            message = self.source.inject_curl(text, callback)
        except ValueError as exc:
            self.show_error(str(exc))
            return
        except Exception as exc:
            self.show_error(f"{type(exc).__name__}: {exc}")
            return
        self.dismiss(message)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add":
            self.action_submit()
        else:
            self.action_cancel()
