"""Snapshots of Diagnose (D) and of the status line's headline, from the fake source.

Update with ``pytest tests/test_diagnose_snapshots.py --snapshot-update`` after a
deliberate UI change, then look at the report before committing.
"""

from __future__ import annotations

import pytest

from tests.helpers.diagnosis import fake_source as source
from workbench.ui.app import WorkbenchApp

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SIZE = (140, 36)


def _app(engine: bool = True, fates: bool = True, items: bool = True) -> WorkbenchApp:
    fake = source(engine=engine, fates=fates)
    if not items:
        fake.items = []
    return WorkbenchApp(fake, autostart=False)


@pytest.mark.parametrize(
    ("name", "app", "keys"),
    [
        # a limit first (DOWNLOAD_DELAY), then the notes; the fates summary below
        ("diagnose_verdicts", lambda: _app(), ["D"]),
        # the fates summary focused, on a component's row
        ("diagnose_fates", lambda: _app(), ["D", "tab", "j", "j"]),
        # nothing wrong: says so, and what could not be checked without readings
        ("diagnose_healthy", lambda: _app(engine=False, fates=False, items=False), ["D"]),
        # the status line ends with the worst verdict
        ("status_headline", lambda: _app(), ["wait:2100"]),
    ],
)
def test_diagnose_snapshot(snap_compare, name, app, keys):
    assert snap_compare(app(), press=["wait:200", *keys, "wait:400"], terminal_size=SIZE)
