"""The README's screenshots script still runs (its quick form, two themes)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

REPO = Path(__file__).resolve().parents[1]
MAIN = ("flows", "queue", "items", "stats", "log", "flow_detail", "flows_filtered")


def test_the_screenshots_script_shoots_every_panel_in_every_theme_asked(tmp_path):
    result = subprocess.run(
        [sys.executable, str(REPO / "screenshots" / "generate.py"), "--out", str(tmp_path),
         "--quick", "--themes", "dark,high-contrast"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    for theme in ("dark", "high-contrast"):
        for name in MAIN:
            svg = (tmp_path / theme / f"{name}.svg").read_text()
            assert svg.startswith("<svg") and "workbench" in svg, (theme, name)
    dark = (tmp_path / "dark" / "flows.svg").read_text()
    high = (tmp_path / "high-contrast" / "flows.svg").read_text()
    assert "#56b4e9" in high.lower() and "#56b4e9" not in dark.lower()  # its "green"
    assert not (tmp_path / "light").exists()


def test_the_readme_shows_the_screenshots_of_each_theme():
    readme = (REPO / "README.md").read_text()
    for theme in ("dark", "light", "high-contrast"):
        path = f"screenshots/{theme}/flows.svg"
        assert f"]({path})" in readme, path
        assert (REPO / path).exists(), path
