"""Snapshots of the errors views (ErrorsFakeSource: 36 pages with the same callback
error, 5 refused downloads, 2 item pipeline errors).  Update with
``pytest tests/test_errors_snapshots.py --snapshot-update``, then look."""

from __future__ import annotations

import pytest

from tests.error_fakes import ErrorsFakeSource
from workbench.ui.app import WorkbenchApp

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SIZE = (140, 36)


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        ("errors", ["E"]),  # the groups, the highlighted one's examples below
        ("errors_group", ["E", "enter"]),  # its examples and its traceback, folded
        ("errors_download_group", ["E", "down", "enter"]),  # chained, no frame of the user's
        ("errors_latest_flow", ["E", "o"]),  # the Error tab: where, how often, folded
        ("errors_latest_flow_unfolded", ["E", "o", "z"]),
        ("errors_log", ["5"]),  # what was raised, first on the line
        ("errors_log_traceback", ["5", "end", "enter"]),
    ],
)
def test_errors_snapshot(snap_compare, name, keys):
    app = WorkbenchApp(ErrorsFakeSource(), autostart=False)
    assert snap_compare(app, press=["wait:200", *keys, "wait:300"], terminal_size=SIZE)
