"""The fleet at 50 crawls: 50 job files on one fast fake RemoteControl server,
polled by the real poller in its thread while the table runs under Pilot.
The polls stay bounded (at most --workers calls at once) and a table refresh
stays well under 100 ms of UI time."""

from __future__ import annotations

import argparse
import statistics
import time

import pytest

from tests.helpers.app import wait_for
from tests.helpers.fleet import FakeRemoteControl
from workbench.commands.fleet import build_poller
from workbench.ui.screens.fleet import FleetApp

pytestmark = pytest.mark.slow  # the real app under Pilot, 50 crawls


async def test_fifty_crawls_refresh_under_100_ms(tmp_path, capsys):
    jobs = tmp_path / "jobs"
    with FakeRemoteControl() as fake:
        for n in range(50):
            fake.job_file(jobs, n, ("sleep", 0.02))
        opts = argparse.Namespace(
            ssh=[], scrapyd=[], jobs_dir=jobs, remote_jobs_dir=None, no_local=False,
            interval=0.3, timeout=10.0, workers=8,
        )  # fmt: skip
        poller, _ = build_poller(opts)
        poller.start()
        app = FleetApp(poller, theme="dark")
        try:
            async with app.run_test(size=(160, 60)) as pilot:
                table = app.fleet.table
                await wait_for(lambda: len(table.rows) == 50, pilot, 30)
                await wait_for(lambda: poller.snapshot().polls >= 4, pilot, 30)
                # a full refresh (rows filtered, sorted, set) and the paint after it, in
                # the UI thread's CPU time (waiting for the loop to be idle is not UI time)
                cycles = []
                for _ in range(20):
                    began = time.thread_time()
                    app.fleet.table.restyle()  # no cached row: every visible row drawn again
                    app.fleet.refresh_table(force=True)
                    await pilot.pause()
                    cycles.append(time.thread_time() - began)
                await pilot.press("greater_than_sign", "f", *"~spider 1", "enter")
                await pilot.pause()
                assert 0 < len(table.rows) < 50
                costs = list(app.refresh_costs)
                polls = poller.snapshot()
        finally:
            poller.close()
    assert fake.max_in_flight <= 8
    assert all(r.state == "running" for r in polls.rows)
    median, worst = statistics.median(costs), max(costs)
    cycle = statistics.median(cycles)
    with capsys.disabled():
        print(
            f"\n50 crawls: table refresh median {median * 1000:.1f} ms,"
            f" worst {worst * 1000:.1f} ms;"
            f" refresh + paint median {cycle * 1000:.1f} ms; a poll {polls.seconds * 1000:.0f} ms"
            f" with at most {fake.max_in_flight} calls at once"
        )
    assert median < 0.1 and cycle < 0.1
    assert polls.seconds < 20.0  # wall time, under the two 10 s deadlines
