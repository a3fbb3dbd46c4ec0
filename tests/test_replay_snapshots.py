"""Snapshots of the replay and curl screens at 100 columns, from the fake source.

Update with ``pytest tests/test_replay_snapshots.py --snapshot-update`` after a
deliberate UI change, then look at the report before committing.
"""

from __future__ import annotations

import pytest

from tests.fakes import FakeSource
from tests.helpers.app import press_then_still
from workbench.ui.app import WorkbenchApp

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SIZE = (100, 40)
PRODUCT = ["k"] * 5 + ["enter"]  # flow 7: /product/1.html
FAILED_CALLBACK = ["k"] * 3 + ["enter"]  # flow 9: its callback raised


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("replay_diff", [*PRODUCT, "r"]),
        ("replay_error", [*FAILED_CALLBACK, "r"]),
        ("curl_export", [*PRODUCT, "x"]),
        ("new_request", ["i", *"curl 'http://127.0.0.1:8000/product/9.html' -H 'Accept: x'"]),
        ("new_request_error", ["i", *"wget http://127.0.0.1/", "ctrl+s"]),
    ],
)
def test_replay_snapshot(snap_compare, name, keys):
    app = WorkbenchApp(FakeSource(), autostart=False)

    assert snap_compare(app, run_before=press_then_still(keys, 0.3), terminal_size=SIZE)
