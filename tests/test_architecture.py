"""Dependencies point one way: the headless packages never load Textual."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def _modules(package: str) -> list[str]:
    """Every module of a package, found by walking it (no list kept by hand)."""
    import importlib
    import pkgutil

    root = importlib.import_module(package)
    found = [package]
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        found.append(info.name)
    return found


# the headless packages: core (every module), shell, remote, demo, and the command
# line (cli and every command: they import the UI inside functions only)
HEADLESS = [
    *_modules("workbench.core"),
    *_modules("workbench.shell"),
    *_modules("workbench.remote"),
    *_modules("workbench.demo"),
    "workbench.cli",
    *_modules("workbench.commands"),
]


# One interpreter imports what the headless modules share (Scrapy and Twisted, which
# do not load Textual), then forks a child per module that imports it from there and
# says whether Textual got loaded: the same answer as a fresh interpreter per module,
# without importing Scrapy once per module (half a second of CPU each, sixty times).
IMPORT_EACH = """
import json, os, sys
import scrapy, scrapy.crawler, twisted.internet.defer
assert "textual" not in sys.modules, "Scrapy or Twisted loaded textual"
answers = {}
for module in sys.argv[1:]:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read)
        try:
            __import__(module)
            answer = "textual" in sys.modules
        except BaseException as exc:
            answer = f"importing it failed: {type(exc).__name__}: {exc}"
        os.write(write, json.dumps(answer).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        answers[module] = json.loads(pipe.read() or '"the child died"')
    os.waitpid(pid, 0)
print(json.dumps(answers))
"""


@pytest.fixture(scope="module")
def loads_textual() -> dict[str, bool | str]:
    """For each headless module: whether importing it loads Textual (or why it failed)."""
    out = subprocess.run([sys.executable, "-c", IMPORT_EACH, *HEADLESS],
                         capture_output=True, text=True, check=True)  # fmt: skip
    return json.loads(out.stdout)


@pytest.mark.parametrize("module", HEADLESS)
def test_headless_module_does_not_import_textual(module, loads_textual):
    assert loads_textual[module] is False, f"{module} imports textual: {loads_textual[module]}"


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


# core -> remote, shell -> ui -> cli, commands: a layer imports only those to its left
# (and itself); remote and shell do not import each other; demo imports nothing of
# workbench (runspider loads its spider from a path)
LAYERS = {
    "core": {"core"},
    "remote": {"core", "remote"},
    "shell": {"core", "shell"},
    "ui": {"core", "remote", "shell", "ui"},
    "demo": set(),
}


def test_each_layer_imports_only_the_layers_to_its_left():
    """Every import, at the top or inside a function: nothing below the command line
    imports ``workbench.cli`` or ``workbench.commands``, the UI imports no command."""
    import ast

    root = Path(__file__).resolve().parents[1] / "workbench"
    offenders = []
    for layer, allowed in LAYERS.items():
        for path in sorted((root / layer).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                else:
                    continue
                for name in names:
                    parts = name.split(".")
                    if parts[0] != "workbench" or len(parts) < 2 or parts[1] == "__version__":
                        continue
                    if parts[1] not in allowed:
                        offenders.append(f"{path.relative_to(root)}:{node.lineno} imports {name}")
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


def test_core_is_grouped_and_no_module_is_named_like_the_standard_library():
    """core/ is sub-packages that name the architecture, each saying at its top what
    lives there; no module shadows a standard-library name (queue, selectors...)."""
    import importlib

    core = Path(__file__).resolve().parents[1] / "workbench" / "core"
    loose = [p.name for p in core.glob("*.py") if p.name != "__init__.py"]
    assert loose == [], f"modules outside a sub-package: {loose}"
    for package in sorted(p for p in core.iterdir() if (p / "__init__.py").exists()):
        doc = importlib.import_module(f"workbench.core.{package.name}").__doc__
        assert doc and len(doc) > 60, f"workbench.core.{package.name} says nothing of itself"
    stdlib = set(sys.stdlib_module_names)
    clashes = [m for m in _modules("workbench.core") if m.rsplit(".", 1)[-1] in stdlib]
    assert clashes == [], clashes
