"""The ``workbench`` command line: ``main()``, behind the ``workbench`` script and
``python -m workbench``.

Each command is a module of ``workbench/commands/``; ``COMMANDS`` (in
``workbench/commands/registry.py``) lists them once, and both the dispatch
below and the top-level help come from it.  Bad input anywhere in a command
is a ``CliError``: one sanitised line on stderr, exit status 1.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from workbench.commands.base import CliError
from workbench.commands.registry import COMMANDS


def version() -> str:
    import scrapy

    from workbench import __version__

    return f"workbench {__version__} (Scrapy {scrapy.__version__})"


def top_help() -> str:
    """``workbench --help``: every command of ``COMMANDS`` with its line."""
    lines = [
        version(),
        "",
        "Usage: workbench <command> [options] [args]",
        "",
        "Commands:",
    ]
    lines += [f"  {name:<11} {command.help}" for name, command in COMMANDS.items()]
    lines += [
        "",
        "Options:",
        "  --version   show the version and exit",
        "  -h, --help  show this help and exit",
        "",
        'Use "workbench <command> -h" for the options of a command.',
        "In the app, press ? for every key.",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(top_help())
        return 0
    if argv[0] == "--version":
        print(version())
        return 0
    name, rest = argv[0], argv[1:]
    command = COMMANDS.get(name)
    if command is None:
        print(
            f"workbench: unknown command {name!r} (commands: {', '.join(COMMANDS)})",
            file=sys.stderr,
        )
        return 1
    try:
        return command.run(rest)
    except CliError as exc:
        print(f"workbench {name}: error: {exc.line()}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
