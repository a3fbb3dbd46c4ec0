"""Every ``workbench`` command, once: ``main()`` dispatches from ``COMMANDS`` and
the top-level help lists it, in this order."""

from __future__ import annotations

from workbench.commands import attach, check, open_har, ps
from workbench.commands.base import Command

COMMANDS: dict[str, Command] = {
    command.name: command
    for command in (
        open_har.OpenHar(),
        check.Check(),
        ps.Ps(),
        attach.Attach(),
    )
}
