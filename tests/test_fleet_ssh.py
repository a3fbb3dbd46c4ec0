"""workbench fleet --ssh: a fake ``ssh`` (tests/fake_ssh.py) plays the remote
machine, which is this one: the fixed listing script runs, each crawl is
probed through a port forward of its own, closed when the fleet closes."""

from __future__ import annotations

import argparse

import pytest

from tests.helpers.fleet import FakeRemoteControl
from workbench.commands.fleet import build_poller
from workbench.core.fleet.model import RUNNING, UNREACHABLE

pytestmark = pytest.mark.slow  # ssh processes and port forwards


def test_crawls_on_ssh_hosts_are_probed_through_forwards(tmp_path, fake_ssh):
    jobs = tmp_path / "remote-jobs"
    with FakeRemoteControl() as fake:
        tokens = [fake.job_file(jobs, n) for n in range(3)]
        opts = argparse.Namespace(
            ssh=["crawler@box", "unreachable"], scrapyd=[], jobs_dir=None,
            remote_jobs_dir=str(jobs), no_local=True, interval=2.0, timeout=10.0, workers=4,
        )  # fmt: skip
        poller, _ = build_poller(opts)
        try:
            first = poller.poll_once()
            second = poller.poll_once()
        finally:
            poller.close()
    rows = {(r.host, r.spider): r for r in second.rows}
    for n in range(3):
        row = rows[("crawler@box", f"spider{n}")]
        assert row.state == RUNNING and row.source == "ssh" and row.ssh_host == "crawler@box"
    (down,) = [r for r in first.rows if r.host == "unreachable"]
    assert down.state == UNREACHABLE and "Connection refused" in down.reason
    calls = fake_ssh.read_text()
    forwards = [c for c in calls.splitlines() if c.startswith("-N ")]
    assert len(forwards) == 3  # one per crawl, kept between polls
    assert all(f"127.0.0.1:{fake.port} crawler@box" in c for c in forwards)
    assert not any(token in calls for token in tokens)  # never on a command line
