"""Themes: TOML files, workbench's own (``themes/`` in the repository, installed
as ``workbench.themes``) and the user's (``<config dir>/themes/*.toml``).

A file holds Textual's theme fields (``name``, ``dark``, ``primary``, ...)
and, under ``[ansi]``, the 16 terminal colours.  The panels draw status
codes, log levels, charts and highlighted bodies with terminal colour names
("red", "green"...); Textual turns those into true colours through the app's
ANSI theme, so a theme's ``[ansi]`` table recolours every panel at once.

The theme picked in the app is remembered in ``<config dir>/settings.json``.
The config directory is ``$WORKBENCH_CONFIG_DIR``, else
``$XDG_CONFIG_HOME/workbench``, else ``~/.config/workbench``.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from rich.terminal_theme import TerminalTheme
from textual.color import Color, ColorParseError
from textual.theme import Theme

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

DEFAULT_THEME = "dark"
ANSI_NAMES = ("black", "red", "green", "yellow", "blue", "magenta", "cyan", "white")
THEME_FIELDS = ("primary", "secondary", "accent", "warning", "error", "success", "foreground",
                "background", "surface", "panel", "boost")  # fmt: skip
MAX_FILE = 64 * 1024


class ThemeError(ValueError):
    """A theme file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class WorkbenchTheme:
    theme: Theme
    ansi: TerminalTheme
    description: str
    path: str  # where it was read from
    user: bool  # from the user's config directory

    @property
    def name(self) -> str:
        return self.theme.name


def config_dir() -> Path:
    explicit = os.environ.get("WORKBENCH_CONFIG_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "workbench"


def user_theme_dir() -> Path:
    return config_dir() / "themes"


def _rgb(value: Any, where: str) -> tuple[int, int, int]:
    if not isinstance(value, str):
        raise ThemeError(f'{where}: expected a colour such as "#1a2b3c", got {value!r}')
    try:
        color = Color.parse(value)
    except ColorParseError:
        raise ThemeError(f"{where}: not a colour: {value!r}") from None
    return color.rgb


def parse_theme(data: dict[str, Any], path: str, user: bool = False) -> WorkbenchTheme:
    """A theme from a parsed TOML document; ThemeError says what is wrong."""
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 40:
        raise ThemeError(f"{path}: 'name' must be a short string")
    known = {"name", "description", "dark", "ansi", *THEME_FIELDS}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ThemeError(f"{path}: unknown key {unknown[0]!r} (known: {', '.join(sorted(known))})")
    dark = data.get("dark", True)
    if not isinstance(dark, bool):
        raise ThemeError(f"{path}: 'dark' must be true or false")
    if "primary" not in data:
        raise ThemeError(f"{path}: 'primary' is required")
    fields = {}
    for key in THEME_FIELDS:
        if key in data:
            _rgb(data[key], f"{path}: {key}")
            fields[key] = data[key]
    ansi = data.get("ansi")
    if not isinstance(ansi, dict):
        raise ThemeError(f"{path}: an [ansi] table with the 16 terminal colours is required")
    names = [*ANSI_NAMES, *(f"bright_{n}" for n in ANSI_NAMES)]
    missing = [n for n in ("background", "foreground", *names) if n not in ansi]
    if missing:
        raise ThemeError(f"{path}: [ansi] lacks {', '.join(missing)}")
    extra = sorted(set(ansi) - {"background", "foreground", *names})
    if extra:
        raise ThemeError(f"{path}: [ansi] has an unknown colour {extra[0]!r}")
    colors = {n: _rgb(ansi[n], f"{path}: ansi.{n}") for n in ansi}
    terminal = TerminalTheme(
        colors["background"],
        colors["foreground"],
        [colors[n] for n in ANSI_NAMES],
        [colors[f"bright_{n}"] for n in ANSI_NAMES],
    )
    description = data.get("description", "")
    if not isinstance(description, str):
        raise ThemeError(f"{path}: 'description' must be a string")
    theme = Theme(name=name, dark=dark, **fields)
    return WorkbenchTheme(theme, terminal, description[:200], path, user)


def load_theme_file(path: Path, user: bool = False) -> WorkbenchTheme:
    try:
        if path.stat().st_size > MAX_FILE:
            raise ThemeError(f"{path}: larger than {MAX_FILE // 1024} KiB")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ThemeError(f"{path}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ThemeError(f"{path}: not valid TOML: {exc}") from None
    return parse_theme(data, str(path), user)


def load_themes() -> tuple[dict[str, WorkbenchTheme], list[str]]:
    """workbench's themes, then the user's; (themes by name, problems found).

    A user theme cannot take the name of one of workbench's (it is skipped,
    with a problem); a broken file is skipped, with a problem."""
    themes: dict[str, WorkbenchTheme] = {}
    problems: list[str] = []
    shipped = resources.files("workbench.themes")
    for entry in sorted(shipped.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".toml"):
            with resources.as_file(entry) as path:
                found = load_theme_file(Path(path))  # ours must load: let it raise
            themes[found.name] = found
    directory = user_theme_dir()
    if directory.is_dir():
        for path in sorted(directory.glob("*.toml")):
            try:
                found = load_theme_file(path, user=True)
            except ThemeError as exc:
                problems.append(str(exc))
                continue
            if found.name in themes and not themes[found.name].user:
                problems.append(f"{path}: the name {found.name!r} is one of workbench's themes")
                continue
            themes[found.name] = found
    return themes, problems


def _settings_path() -> Path:
    return config_dir() / "settings.json"


def remembered_theme() -> str | None:
    try:
        data = json.loads(_settings_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    name = data.get("theme") if isinstance(data, dict) else None
    return name if isinstance(name, str) else None


def remember_theme(name: str) -> None:
    """Write the choice (atomically; other settings in the file are kept)."""
    path = _settings_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(data, dict):
            data = {}
    except (OSError, ValueError):
        data = {}
    data["theme"] = name
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
