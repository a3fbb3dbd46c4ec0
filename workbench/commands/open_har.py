"""``workbench open FILE.har``: a saved session (workbench's or a browser's),
read-only, in the same panels."""

from __future__ import annotations

import argparse
import os
import sys

from workbench.commands.base import THEME_HELP, CliError, Command, check_theme
from workbench.commands.running import run_app


class OpenHar(Command):
    name = "open"
    help = "Open a saved HAR file (workbench's or a browser's) read-only in the panels"
    description = (
        "Open a HAR file read-only in the panels: one saved with --har or W, "
        "or exported from a browser's Network tool."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", help="a .har file")
        parser.add_argument("--theme", metavar="NAME", help=THEME_HELP)

    def execute(self, opts: argparse.Namespace) -> int:
        from workbench.core.formats.sanitize import clean_line
        from workbench.core.sources.har_file import HarError, HarSource

        check_theme(opts.theme)
        try:
            source = HarSource(opts.file)
        except HarError as exc:
            raise CliError(str(exc), limit=500) from None
        if not sys.stdin.isatty() or os.environ.get("WORKBENCH_NO_UI"):
            snapshot = source.snapshot()
            print(f"workbench open: {snapshot.flows_total:,} flows in {source.path} "
                  f"({clean_line(source.creator.strip(), 80) or 'unknown creator'}); "
                  "the panels need a terminal")  # fmt: skip
            return 1 if not os.environ.get("WORKBENCH_NO_UI") else 0
        return run_app(source, theme=opts.theme)
