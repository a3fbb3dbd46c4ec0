"""The command registry: every command is in ``COMMANDS`` once, the top-level help
and the dispatch come from it, and each one answers ``workbench NAME --help``."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import workbench.commands
from workbench.cli import main
from workbench.commands.base import Command
from workbench.commands.registry import COMMANDS


def _listed(text: str) -> list[str]:
    """The command names under "Commands:" in the top-level help."""
    block = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0]
    return [line.split()[0] for line in block.splitlines()]


def test_the_top_help_lists_exactly_the_registry(capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert _listed(out) == list(COMMANDS)
    for name, command in COMMANDS.items():
        assert f"  {name:<11} {command.help}\n" in out


def test_an_unknown_command_lists_the_registry(capsys):
    assert main(["nosuch"]) == 1
    err = capsys.readouterr().err
    assert err == f"workbench: unknown command 'nosuch' (commands: {', '.join(COMMANDS)})\n"


def test_every_command_class_is_registered_once_under_its_name():
    """A Command written in a module of workbench/commands/ but not put in COMMANDS
    would be unreachable: each concrete one is there, under its own name."""
    found = {}
    for info in pkgutil.iter_modules(workbench.commands.__path__):
        module = importlib.import_module(f"workbench.commands.{info.name}")
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, Command)
                and value.__module__ == module.__name__
                and "name" in vars(value)
            ):
                found[value.name] = value
    assert sorted(found) == sorted(COMMANDS)
    for name, command in COMMANDS.items():
        assert type(command) is found[name]
        assert command.help and "\n" not in command.help, name


@pytest.mark.slow  # a process per command
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_registered_command_answers_help(name, tmp_path):
    from tests.helpers.processes import run

    result = run(name, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"workbench {name}" in result.stdout
    assert result.stderr == ""
