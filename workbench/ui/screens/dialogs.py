"""Small modal dialogs: confirmation, and a value to type."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static


class ConfirmScreen(ModalScreen[bool]):
    """Ask a yes/no question; y/enter confirms, n/escape cancels."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n,escape", "answer(False)", "No"),
    ]

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 64; height: auto; border: thick $warning; background: $surface; padding: 1 2;
    }
    ConfirmScreen #question { margin-bottom: 1; }
    ConfirmScreen Horizontal { height: auto; align-horizontal: right; }
    ConfirmScreen Button { margin-left: 2; }
    """

    def __init__(self, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__()
        self.question = question
        self.yes = yes
        self.no = no

    def compose(self) -> Any:
        with Vertical():
            yield Static(self.question, id="question", markup=False)  # str: plain text
            with Horizontal():
                # \[ : the key hints are text, not markup
                yield Button(f"{self.yes} \\[y]", variant="warning", id="yes")
                yield Button(f"{self.no} \\[n]", id="no")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "yes")

    def action_answer(self, value: bool) -> None:
        self.dismiss(value)


class PromptScreen(ModalScreen[str | None]):
    """Ask for one value.  ``apply`` gets the text and returns an error message
    (the dialog stays open and shows it) or None (the dialog closes with the text)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel"),
    ]

    DEFAULT_CSS = """
    PromptScreen { align: center middle; }
    PromptScreen > Vertical {
        width: 72; height: auto; border: thick $accent; background: $surface; padding: 1 2;
    }
    PromptScreen #prompt-hint { color: $text-muted; margin-top: 1; }
    PromptScreen #prompt-error { color: $error; height: auto; }
    """

    def __init__(
        self,
        title: str,
        value: str,
        hint: str,
        apply: Callable[[str], str | None],
    ) -> None:
        super().__init__()
        self.title_text = title
        self.value = value
        self.hint = hint
        self.apply = apply

    def compose(self) -> Any:
        with Vertical():
            yield Static(self.title_text, id="prompt-title", markup=False)
            yield Input(self.value, id="prompt-input", select_on_focus=True)
            yield Static("", id="prompt-error", markup=False)
            yield Static(
                self.hint + "  Enter applies, Escape cancels.", id="prompt-hint", markup=False
            )

    def on_mount(self) -> None:
        self.query_one("#prompt-input", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        error = self.apply(event.value.strip())
        if error:
            self.query_one("#prompt-error", Static).update(error)
            return
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
