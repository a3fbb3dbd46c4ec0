"""Dependencies point one way: the headless packages never load Textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HEADLESS = [
    "workbench.core.events",
    "workbench.core.recorder",
    "workbench.core.extension",
    "workbench.core.host",
    "workbench.core.source",
    "workbench.core.queue",
    "workbench.core.filters",
    "workbench.core.body",
    "workbench.core.sanitize",
    "workbench.core.logcapture",
    "workbench.demo.site",
    "workbench.demo.spider",
    "workbench.shell",
    "workbench.remote",
    "workbench.remote.source",
    "workbench.remote.agent",
    "workbench.remote.wire",
    "workbench.cli",
]


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_module_does_not_import_textual(module):
    code = f"import sys, {module}; print('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", f"{module} imports textual"


def test_core_does_not_import_ui_in_source():
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "workbench"
    offenders = []
    for package in ("core", "shell", "remote", "demo"):
        for path in (root / package).rglob("*.py"):
            for line in path.read_text(encoding="utf-8").splitlines():
                stripped = line.strip()
                if stripped.startswith(("import ", "from ")) and (
                    "textual" in stripped or "workbench.ui" in stripped
                ):
                    offenders.append(f"{path.relative_to(root)}: {stripped}")
    assert offenders == []


def test_no_test_module_imports_another():
    """Shared helpers live in tests/helpers/ (or conftest.py): a test module can be
    moved, renamed or run alone without breaking another."""
    import ast

    tests = Path(__file__).resolve().parent
    offenders = []
    for path in sorted(tests.glob("test_*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("tests.test_"):
                offenders.append(f"{path.name}:{node.lineno} imports {node.module}")
    assert not offenders, offenders
