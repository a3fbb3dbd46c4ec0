"""Leaving the app: keys pressed right after q are ignored, not mounted half-way
through the shutdown (which crashed it with NoMatches and exit status 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.processes import WORKBENCH, env
from tests.ptyrun import PtyProcess

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.parametrize("key", ["i", "b", "p"])
def test_a_key_right_after_q_is_ignored(key):
    term = PtyProcess([*WORKBENCH, "demo", "--pages", "20"], cwd=str(REPO), env=env())
    try:
        term.expect(r"■ finished", timeout=60)
        term.send("q" + key)  # one write: the key lands while the app closes
        assert term.wait(30) == 0, term.text[-2000:]
    finally:
        term.close()
    assert "NoMatches" not in term.text
    assert "workbench: spider demo finished" in term.text
