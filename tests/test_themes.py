"""Themes: the shipped files load, stay readable (contrast, colour-blind pairs),
user files are picked up, the choice is remembered, and the CLI checks names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.fakes import FakeSource
from workbench.ui import themes
from workbench.ui.app import WorkbenchApp
from workbench.ui.themes import ThemeError, load_theme_file, load_themes

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

REPO = Path(__file__).resolve().parents[1]
TEXT_COLOURS = ("red", "green", "yellow", "blue", "magenta", "cyan")


@pytest.fixture(autouse=True)
def config(tmp_path, monkeypatch) -> Path:
    directory = tmp_path / "config"
    monkeypatch.setenv("WORKBENCH_CONFIG_DIR", str(directory))
    return directory


def luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        c = c / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


# Machado, Oliveira & Fernandes (2009), severity 1.0, on linear RGB
SIMULATIONS = {
    "protanopia": ((0.152286, 1.052583, -0.204868), (0.114503, 0.786281, 0.099216),
                   (-0.003882, -0.048116, 1.051998)),
    "deuteranopia": ((0.367322, 0.860646, -0.227968), (0.280085, 0.672501, 0.047413),
                     (-0.011820, 0.042940, 0.968881)),
    "tritanopia": ((1.255528, -0.076749, -0.178779), (-0.078411, 0.930809, 0.147602),
                   (0.004733, 0.691367, 0.303900)),
}  # fmt: skip


def _linear(rgb):
    return [(c / 255) / 12.92 if c / 255 <= 0.04045 else ((c / 255 + 0.055) / 1.055) ** 2.4
            for c in rgb]  # fmt: skip


def _lab(linear):
    r, g, b = (min(1.0, max(0.0, c)) for c in linear)
    x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047
    y = 0.2126 * r + 0.7152 * g + 0.0722 * b
    z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883

    def f(t: float) -> float:
        return t ** (1 / 3) if t > 0.008856 else 7.787 * t + 16 / 116

    return 116 * f(y) - 16, 500 * (f(x) - f(y)), 200 * (f(y) - f(z))


def seen_distance(a, b, simulation: str | None = None) -> float:
    """CIE76 colour difference of two colours, as seen with a colour vision deficiency."""
    la, lb = _linear(a), _linear(b)
    if simulation is not None:
        m = SIMULATIONS[simulation]
        la = [sum(m[i][j] * la[j] for j in range(3)) for i in range(3)]
        lb = [sum(m[i][j] * lb[j] for j in range(3)) for i in range(3)]
    return sum((p - q) ** 2 for p, q in zip(_lab(la), _lab(lb), strict=True)) ** 0.5


def ansi_of(terminal_theme, index: int) -> tuple[int, int, int]:
    return tuple(terminal_theme.ansi_colors[index])


def ansi(theme, name: str) -> tuple[int, int, int]:
    names = [*themes.ANSI_NAMES, *(f"bright_{n}" for n in themes.ANSI_NAMES)]
    return ansi_of(theme.ansi, names.index(name))


def test_the_shipped_themes_load_from_the_themes_folder():
    found, problems = load_themes()
    assert problems == []
    assert {"dark", "light", "high-contrast"} <= set(found)
    for name in ("dark", "light", "high-contrast"):
        assert Path(found[name].path).resolve() == (REPO / "themes" / f"{name}.toml").resolve()
        assert found[name].description
    assert found["light"].theme.dark is False and found["high-contrast"].theme.dark is True


@pytest.mark.parametrize(("name", "minimum"), [("light", 4.5), ("high-contrast", 7.0)])
def test_every_text_colour_is_readable_on_the_background(name, minimum):
    theme = load_themes()[0][name]
    background = tuple(theme.ansi.background_color)
    for colour in (*TEXT_COLOURS, *(f"bright_{c}" for c in TEXT_COLOURS)):
        ratio = contrast(ansi(theme, colour), background)
        assert ratio >= minimum, f"{name}: {colour} has a contrast of {ratio:.2f}"
    assert contrast(tuple(theme.ansi.foreground_color), background) >= minimum


@pytest.mark.parametrize("simulation", [None, *SIMULATIONS])
def test_high_contrast_keeps_ok_and_error_apart_for_colour_blind_eyes(simulation):
    theme = load_themes()[0]["high-contrast"]
    ok, error = ansi(theme, "green"), ansi(theme, "red")
    assert seen_distance(ok, error, simulation) >= 60, simulation
    # the default theme's red and green come close for deuteranopes (47; a 200 and a
    # 500 differ by lightness only): why this theme exists
    dark = load_themes()[0]["dark"]
    if simulation == "deuteranopia":
        assert seen_distance(ok, error, simulation) > 1.5 * seen_distance(
            ansi(dark, "green"), ansi(dark, "red"), simulation
        )


def test_a_user_theme_is_picked_up_and_a_broken_one_is_reported(config):
    (config / "themes").mkdir(parents=True)
    light = (REPO / "themes" / "light.toml").read_text()
    (config / "themes" / "paper.toml").write_text(light.replace('name = "light"', 'name = "paper"'))
    (config / "themes" / "broken.toml").write_text('name = "broken"\nprimary = "nope"\n')
    (config / "themes" / "mine.toml").write_text(light)  # takes the name "light"
    found, problems = load_themes()
    assert found["paper"].user and not found["light"].user
    assert any("broken.toml: primary: not a colour: 'nope'" in p for p in problems), problems
    assert any("mine.toml: the name 'light' is one of workbench's" in p for p in problems)


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("name = 1", "'name' must be a short string"),
        ('name = "x"\ncolour = "#fff"', "unknown key 'colour'"),
        ('name = "x"\nprimary = "#fff"', "an [ansi] table"),
        ('name = "x"\nprimary = "#fff"\n[ansi]\nred = "#f00"', "[ansi] lacks background"),
        ('name = "x"\ndark = "yes"', "'dark' must be true or false"),
        ("name = [", "not valid TOML"),
    ],
)
def test_bad_theme_files_say_what_is_wrong(tmp_path, content, needle):
    path = tmp_path / "t.toml"
    path.write_text(content)
    with pytest.raises(ThemeError) as caught:
        load_theme_file(path)
    assert needle in str(caught.value)
    assert str(path) in str(caught.value)


async def test_the_theme_switches_live_from_the_palette_and_is_remembered(config):
    app = WorkbenchApp(FakeSource(), autostart=False, theme="light")
    async with app.run_test(size=(120, 30)) as pilot:
        assert app.theme == "light"
        light = load_themes()[0]["light"]
        assert [ansi_of(app.ansi_theme, i) for i in range(16)] == [
            ansi_of(light.ansi, i) for i in range(16)
        ]
        assert not (config / "settings.json").exists()  # --theme is for this run only
        await pilot.press("ctrl+p")
        await pilot.press(*"theme")
        await pilot.pause(0.3)
        await pilot.press("enter")  # "Theme": Textual's theme picker
        await pilot.pause(0.3)
        await pilot.press(*"high-contrast")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await pilot.pause(0.3)
        assert app.theme == "high-contrast"
        assert ansi_of(app.ansi_theme, 1) == (0xFF, 0x8A, 0x3D)  # "red" is vermillion-orange
    assert json.loads((config / "settings.json").read_text()) == {"theme": "high-contrast"}
    again = WorkbenchApp(FakeSource(), autostart=False)
    async with again.run_test(size=(120, 30)):
        assert again.theme == "high-contrast"


async def test_an_unknown_remembered_theme_falls_back_and_says_so(config):
    config.mkdir(parents=True)
    (config / "settings.json").write_text('{"theme": "gone", "other": 1}')
    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        assert app.theme == "dark"
        assert any("no theme named 'gone'" in str(n.message) for n in app._notifications)
        app.theme = "light"
        await pilot.pause()
    assert json.loads((config / "settings.json").read_text()) == {"theme": "light", "other": 1}


async def test_the_panel_with_the_focus_has_the_bright_border_in_every_theme(config):
    """The border says where the keys go: the theme's primary colour round the panel
    that has the focus, half of it round one that does not, after a theme switch too."""
    from textual.color import Color

    from workbench.ui.panels.base import Panel

    def edge(panel: Panel) -> Color:
        return panel.styles.border_top[1]

    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        flows, stats = app.panels["flows"], app.panels["stats"]
        primary = Color.parse(app.theme_variables["primary"])
        assert edge(flows) == primary
        await pilot.press("4")
        await pilot.pause()
        assert edge(stats) == primary and edge(flows) == primary.with_alpha(0.5)
        app.screen.set_focus(None)  # the keys go nowhere in the panel: dimmed
        await pilot.pause()
        assert edge(stats) == primary.with_alpha(0.5)
        await pilot.press("4")
        await pilot.pause()
        app.theme = "high-contrast"
        await pilot.pause(0.2)
        now = Color.parse(app.theme_variables["primary"])
        assert now != primary
        assert edge(stats) == now and edge(flows) == now.with_alpha(0.5)
        # no :focus-within rule under the screen: with one, every focus change (each
        # panel key) restyled all the widgets of two panels, 15-30 ms of a key's time
        assert not [n for n in app.screen.walk_children() if n._has_focus_within]


def test_the_cli_rejects_an_unknown_theme_and_lists_them(tmp_path):
    from tests.helpers.processes import assert_one_line_error, run

    result = run("demo", "--theme", "nope", cwd=tmp_path)
    assert_one_line_error(result, "unknown theme 'nope'")
    assert "dark, high-contrast, light" in result.stderr
    result = run("attach", "--theme", "nope", cwd=tmp_path)
    assert result.returncode == 1 and "unknown theme 'nope'" in result.stderr


def test_the_cli_passes_the_theme_to_the_app(tmp_path, monkeypatch):
    from workbench import cli
    from workbench.commands import running

    seen = {}
    monkeypatch.setattr(
        running, "run_app", lambda source, theme=None, **_: seen.setdefault("t", theme)
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("WORKBENCH_NO_UI", raising=False)
    assert cli.main(["demo", "--theme", "high-contrast", "--pages", "1"]) == "high-contrast"
    assert seen == {"t": "high-contrast"}
