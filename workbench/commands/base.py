"""The shape every command has (``Command``), the one error for bad input
(``CliError``), and the option every command shares (``--theme``).

A command is a ``Command`` subclass in a module of its own under
``workbench/commands/``, listed once in ``registry.COMMANDS``: ``main()``'s
dispatch and the top-level help come from there.
"""

from __future__ import annotations

import argparse
from typing import ClassVar


class CliError(Exception):
    """Bad input, anywhere in a command: ``main()`` prints it as one sanitised line,
    ``workbench NAME: error: MESSAGE``, on stderr, and exits with status 1.

    ``limit`` bounds a message that carries text from outside (an exception from
    a job file, a remote crawl, a HAR file) before it is made safe to print."""

    def __init__(self, message: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.limit = limit

    def line(self) -> str:
        """The message as one line, control characters made visible."""
        from workbench.core.formats.sanitize import clean_line

        return clean_line(str(self), self.limit)


class Command:
    """One ``workbench NAME`` command.

    A subclass sets ``name`` and ``help`` (the line the top-level help shows),
    then either declares its options in ``add_arguments`` and does its work in
    ``execute`` (argparse parses in between), or overrides ``run`` outright (the
    commands that parse with Scrapy's own command classes do).  Bad input is a
    ``CliError``; what ``run`` returns is the exit status."""

    name: ClassVar[str]
    help: ClassVar[str]  # one line, in the top-level help
    description: ClassVar[str | None] = None  # what -h says under the usage (default: help)
    usage_status: ClassVar[int] = 2  # the exit status after argparse's own error

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """The command's options and arguments."""

    def parser(self) -> argparse.ArgumentParser:
        parser = argparse.ArgumentParser(
            prog=f"workbench {self.name}", description=self.description or self.help
        )
        self.add_arguments(parser)
        return parser

    def parse(self, argv: list[str]) -> argparse.Namespace:
        """The options; SystemExit after --help or argparse's error (printed)."""
        return self.parser().parse_args(argv)

    def run(self, argv: list[str]) -> int:
        """Parse ``argv`` and execute it: the exit status."""
        try:
            opts = self.parse(argv)
        except SystemExit as exc:  # --help (0), or argparse's error (already printed)
            return int(exc.code or 0) and self.usage_status
        return self.execute(opts)

    def execute(self, opts: argparse.Namespace) -> int:
        raise NotImplementedError


THEME_HELP = (
    "colour theme for this run: dark (the default), light, high-contrast, or one of "
    "yours from ~/.config/workbench/themes/; Ctrl+P > theme switches live and "
    "remembers the choice"
)


def check_theme(name: str | None) -> str | None:
    """The theme name if it exists; CliError listing the themes otherwise."""
    if name is None:
        return None
    from workbench.ui.themes import ThemeError, load_themes

    try:
        themes, _ = load_themes()
    except ThemeError as exc:
        raise CliError(str(exc)) from None
    from textual.theme import BUILTIN_THEMES

    if name not in themes and name not in BUILTIN_THEMES:
        mine = ", ".join(sorted(themes))
        raise CliError(
            f"unknown theme {name!r}; workbench's and yours: {mine}; "
            f"Textual's: {', '.join(sorted(BUILTIN_THEMES))}"
        )
    return name
