"""workbench fleet on a real Scrapyd (PyPI ``scrapyd``) started here on 127.0.0.1
with basic auth, a project deployed to it as an egg built in the test, and jobs
crawling the demo site: one finished, two running, one pending.  The running
jobs are matched to their RemoteControl job files by pid; the credentials
appear in no output, screen or log."""

from __future__ import annotations

import argparse
import json

import pytest

from tests.helpers.app import wait_for
from tests.helpers.processes import run, site_process
from tests.helpers.scrapyd import deploy, schedule, scrapyd, wait_until
from workbench.commands.fleet import build_poller, log_fetcher
from workbench.core.fleet.model import FINISHED, PENDING, RUNNING, UNREACHABLE
from workbench.remote.client import RemoteControlClient
from workbench.ui.screens.fleet import FleetApp, FleetLogScreen
from workbench.ui.widgets.body_view import BodyView

pytestmark = pytest.mark.slow  # a Scrapyd, its crawls and the demo site


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    root = tmp_path_factory.mktemp("scrapyd")
    jobs = root / "jobs"
    with site_process("--pages", "400") as (_, url), scrapyd(root / "node") as node:
        assert deploy(node)["spiders"] == 1
        quick = schedule(node, url, jobs, "CLOSESPIDER_PAGECOUNT=5")
        wait_until(
            lambda: any(j["id"] == quick for j in node.jobs("shop")["finished"]),
            what="the quick job to finish",
        )
        slow = [schedule(node, url, jobs, "DOWNLOAD_DELAY=0.2") for _ in range(3)]
        wait_until(lambda: len(node.jobs("shop")["running"]) == 2, what="two running jobs")
        wait_until(lambda: len(list(jobs.glob("*.json"))) == 2, what="their job files")
        node.ids = {"quick": quick, "slow": slow}
        node.jobs_dir = jobs
        yield node


def fleet_json(node, url: str) -> tuple[dict, str]:
    result = run("fleet", "--json", "--jobs-dir", str(node.jobs_dir), "--scrapyd", url)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout), result.stdout + result.stderr


def test_the_fleet_lists_every_job_of_the_node(node):
    data, output = fleet_json(node, node.url_with_auth)
    assert node.password not in output and node.user not in output
    by_state: dict[str, list[dict]] = {}
    for crawl in data["crawls"]:
        by_state.setdefault(crawl["state"], []).append(crawl)
    running = node.jobs("shop")["running"]
    assert sorted(c["pid"] for c in by_state[RUNNING]) == sorted(j["pid"] for j in running)
    for crawl in by_state[RUNNING]:
        # the crawl's own counters (its job file), under the node's names
        assert crawl["source"] == "scrapyd" and crawl["project"] == "shop"
        assert crawl["job_id"] in node.ids["slow"]
        assert crawl["pages"] is not None and crawl["rss"] > 0 and crawl["uptime"] > 0
        assert crawl["log_url"].startswith(node.url + "/logs/shop/demo/")
    (pending,) = by_state[PENDING]
    assert pending["job_id"] in node.ids["slow"]
    (finished,) = by_state[FINISHED]
    assert finished["job_id"] == node.ids["quick"]
    assert finished["reason"] == "closespider_pagecount" and finished["items"] >= 1
    assert data["sources"][1]["ok"] is True
    assert node.url in data["sources"][1]["name"]
    # the crawls' own logs never saw the credentials either
    for log in (node.root / "logs").rglob("*.log"):
        assert node.password not in log.read_text(errors="replace")


def test_wrong_or_missing_credentials_show_the_node_unreachable(node):
    data, output = fleet_json(node, node.url_with_auth.replace(node.password, "wrong-pw-77"))
    (row,) = [c for c in data["crawls"] if c["state"] == UNREACHABLE]
    assert "refused the credentials" in row["reason"] and "wrong-pw-77" not in output
    data, _ = fleet_json(node, node.url)
    (row,) = [c for c in data["crawls"] if c["state"] == UNREACHABLE]
    assert "asks for credentials" in row["reason"]


async def test_the_table_on_the_node_opens_a_log_and_attaches(node):
    opts = argparse.Namespace(
        ssh=[], scrapyd=[node.url_with_auth], jobs_dir=node.jobs_dir, remote_jobs_dir=None,
        no_local=False, interval=0.5, timeout=5.0, workers=4,
    )  # fmt: skip
    poller, sources = build_poller(opts)
    poller.start()
    app = FleetApp(poller, fetch_log=log_fetcher(sources), theme="dark")
    try:
        async with app.run_test(size=(160, 30)) as pilot:
            table = app.fleet.table
            await wait_for(lambda: len(table.rows) == 4, pilot, 30)
            running = [r for r in table.rows if r.state == RUNNING]
            assert len(running) == 2 and all(r.attachable for r in running)
            # what Enter attaches to is that crawl
            client = RemoteControlClient(running[0].job)
            assert client.status()["pid"] == running[0].pid
            table.cursor = [r.state for r in table.rows].index(FINISHED)
            await pilot.press("enter")
            await wait_for(lambda: isinstance(app.screen, FleetLogScreen), pilot, 10)
            view = app.screen.query_one(BodyView)
            await wait_for(lambda: "Dumping Scrapy stats" in view.text, pilot, 20)
            svg = app.export_screenshot()
            await pilot.press("q")
            svg += app.export_screenshot()
    finally:
        poller.close()
    assert node.password not in svg and node.user not in svg
