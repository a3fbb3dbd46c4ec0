"""What an install carries: pyproject.toml lists the packages by hand, so a new
package (a module split into one) must be added there, or a wheel lacks it
(an editable install, as in CI, would not notice)."""

from __future__ import annotations

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_is_in_the_setuptools_list():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    listed = set(config["tool"]["setuptools"]["packages"])
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "workbench").rglob("__init__.py")
    }
    missing = sorted(found - listed)
    assert missing == [], f"packages missing from [tool.setuptools] packages: {missing}"
