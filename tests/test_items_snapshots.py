"""Snapshots of items health and the Items filter, on the fake crawl with reviews
(four dict items whose text is filled once: then empty, None and missing).

Update with ``pytest tests/test_items_snapshots.py --snapshot-update``, then
look at the SVGs.
"""

from __future__ import annotations

import pytest

from tests.fakes import FakeSource
from workbench.ui.app import WorkbenchApp

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SIZE = (140, 36)


@pytest.mark.parametrize(
    ("name", "keys"),
    [
        # the worst field in words under the types; None and "" highlighted
        ("items_health_line", ["3"]),
        # the health view: every field, worst first; the pane lists the examples
        ("items_health", ["3", "h"]),
        # the second row's second example selected
        ("items_health_next_example", ["3", "h", "j", "n"]),
        # f in the health view: the Items panel filtered to those items
        ("items_health_show_items", ["3", "h", "f"]),
        ("items_filtered", ["3", "f", *"~outcome dropped | ~none stars", "enter"]),
        ("items_bad_filter", ["3", "f", *"~f price=(", "enter"]),
        # Enter on the dropped Product: price None, rating missing, the reason
        ("item_detail_unfilled", ["3", "t", "t", "enter"]),
    ],
)
def test_snapshot_items(snap_compare, name, keys):
    app = WorkbenchApp(FakeSource(reviews=True), autostart=False)
    assert snap_compare(app, press=["wait:200", *keys, "wait:200"], terminal_size=SIZE)
