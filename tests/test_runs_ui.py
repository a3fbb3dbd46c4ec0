"""What changed since the last run, as a user sees it: the Stats panel's "Since the
last run" (Pilot and snapshots on the fake source), and two headless crawls of a
127.0.0.1 site, the second worse, then ``workbench runs`` and ``--json``."""

from __future__ import annotations

import json
import textwrap

import pytest

from tests.fakes import FakeSource
from tests.helpers.app import widget_text
from tests.helpers.processes import run, site
from tests.helpers.runs import comparison, last_run, this_run
from workbench.core.recording.run_changes import compare_runs
from workbench.ui.app import WorkbenchApp

pytestmark = pytest.mark.slow  # the real app, crawl processes

SIZE = (140, 40)


def app_with(comparison_=None, state: str = "finished") -> WorkbenchApp:
    source = FakeSource(state)
    source.comparison = comparison_
    return WorkbenchApp(source, autostart=False)


async def test_the_stats_panel_says_what_changed_since_the_last_run():
    app = app_with(comparison())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.pause(0.3)
        since = app.query_one("#stats-since")
        assert since.display
        text = widget_text(since)
        assert "Since the last run (2026-09-21 13:12, 1 h ago)" in text
        assert "then: 400 pages, 400 items in 1:00, finished" in text
        assert "✗ items −25% (400 → 300)" in text
        assert "✗ offsite/filtered: new (100)" in text
        assert "✗ title fill rate 100% → 86% (Product)" in text
        assert "✓ retry/count: gone (5 before)" in text
        assert "more (workbench runs lists them)" not in text  # nine changes: all shown


async def test_without_a_last_run_the_section_is_not_there():
    app = app_with(None)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.pause(0.3)
        assert not app.query_one("#stats-since").display


async def test_while_running_it_compares_per_page_and_waits_for_pages():
    early = this_run(finished=False, stats={"response_received_count": 4})
    app = app_with(compare_runs(last_run(), early), state="running")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.pause(0.3)
        text = widget_text(app.query_one("#stats-since"))
        assert "now: 4 pages so far, too few to compare" in text
        assert "✗" not in text
    app = app_with(comparison(finished=False), state="running")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.pause(0.3)
        text = widget_text(app.query_one("#stats-since"))
        assert "now: 100 pages so far, counts compared per page" in text
        assert "✗ items per page −25% (1.00 → 0.75)" in text
        assert "✗ errors: 9 so far (none in the last run)" in text
        assert "finish reason" not in text and "gone" not in text


async def test_hostile_text_in_a_summary_stays_text():
    """Stats keys, fields and error patterns come from the crawl: no markup, no escapes."""
    key = "evil\x1b]0;PWNED\x07[bold]x[/]"
    hostile = this_run(stats={**this_run().stats, key: 7}, spider="[red]s")
    app = app_with(compare_runs(last_run(), hostile))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await pilot.pause(0.3)
        text = widget_text(app.query_one("#stats-since"))
        assert "evil\\x1b]0;PWNED\\x07[bold]x[/]: new (7)" in text


async def test_diagnose_has_the_verdict_and_enter_opens_the_stats_panel():
    from workbench.core.inspection.diagnosis import Verdict
    from workbench.ui.screens.diagnose import DiagnoseScreen

    app = app_with(comparison())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        await pilot.press("D")
        await pilot.pause(0.5)
        screen = app.screen
        assert isinstance(screen, DiagnoseScreen)
        rows = [v for v in screen.verdicts.rows if isinstance(v, Verdict)]
        mine = next(v for v in rows if v.code == "last-run")
        screen.verdicts.cursor = screen.verdicts.rows.index(mine)
        await pilot.pause(0.2)
        assert "items −25% (400 → 300)" in widget_text(screen.query_one("#verdict-detail"))
        await pilot.press("enter")
        await pilot.pause(0.5)
        assert not isinstance(app.screen, DiagnoseScreen)
        assert app.query_one("#stats-since").display  # the Stats panel, its section shown
        assert "Since the last run" in widget_text(app.query_one("#stats-since"))


def test_snapshot_stats_since_the_last_run(snap_compare):
    assert snap_compare(
        app_with(comparison()), press=["wait:200", "4", "wait:200"], terminal_size=SIZE
    )


def test_snapshot_stats_since_the_last_run_live(snap_compare):
    assert snap_compare(
        app_with(comparison(finished=False), state="running"),
        press=["wait:200", "4", "wait:200"],
        terminal_size=SIZE,
    )  # fmt: skip


# -- two crawls as a user runs them ------------------------------------------------------

SPIDER = textwrap.dedent(
    """
    import scrapy

    class Books(scrapy.Spider):
        name = "books"
        allowed_domains = ["127.0.0.1"]

        async def start(self):
            last = 20 if not getattr(self, "worse", "") else 15
            for n in range(1, last + 1):
                yield scrapy.Request(f"{self.url}product/{n}.html")
            if getattr(self, "worse", ""):
                for n in range(5):
                    yield scrapy.Request(f"http://elsewhere.invalid/{n}")

        def parse(self, response):
            title = response.css("h1::text").get()
            if getattr(self, "worse", "") and response.url.endswith(("/3.html", "/6.html")):
                title = None
            yield {"title": title, "url": response.url}
    """
)


def test_two_runs_then_workbench_runs(tmp_path):
    spider = tmp_path / "books.py"
    spider.write_text(SPIDER)
    state = tmp_path / "state"
    env = {"WORKBENCH_STATE_DIR": str(state), "WORKBENCH_NO_UI": "1"}
    with site(30) as url:
        for extra in ([], ["-a", "worse=1"]):
            done = run("runspider", str(spider), "-a", f"url={url}", "--nolog", *extra,
                       cwd=tmp_path, **env)  # fmt: skip
            assert done.returncode == 0, done.stderr
    listed = run("runs", "--json", cwd=tmp_path, **env)
    assert listed.returncode == 0, listed.stderr
    runs = json.loads(listed.stdout)
    assert [r["items"] for r in runs] == [15, 20]
    assert runs[0]["project"] == str(spider.resolve())
    assert runs[0]["previous"]["file"] == runs[1]["file"]
    assert runs[1]["previous"] is None and runs[1]["changes"] == []
    found = [c["text"] for c in runs[0]["changes"]]
    assert "items −25% (20 → 15)" in found
    assert "offsite/filtered: new (5)" in found
    assert "title fill rate 100% → 87% (dict)" in found  # 2 of 15
    assert {c["tone"] for c in runs[0]["changes"]} <= {"worse", "better", "info"}

    table = run("runs", "books", cwd=tmp_path, COLUMNS="160", **env)
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["STARTED", "SPIDER", "TOOK", "PAGES", "ITEMS", "ERRORS",
                                "REASON", "VS", "PREVIOUS"]  # fmt: skip
    assert "items −25% (20 → 15)" in lines[1] and "finished" in lines[1]
    assert lines[2].endswith("(the first run kept)")

    one = run("runs", "-n", "1", "--json", cwd=tmp_path, **env)
    assert len(json.loads(one.stdout)) == 1
    nobody = run("runs", "nobody", cwd=tmp_path, **env)
    assert nobody.returncode == 0 and nobody.stdout.startswith("No runs of nobody kept yet")


def test_a_spider_name_from_a_file_is_made_safe(tmp_path):
    """A summary file edited by hand (or another version) cannot write to the terminal."""
    from workbench.core.recording.run_store import RunStore

    store = RunStore(tmp_path / "runs")
    store.save(last_run(spider="evil\x1b]0;PWNED\x07", finish_reason="\x1b[2J"))
    store.save(this_run(spider="evil\x1b]0;PWNED\x07"))
    table = run("runs", cwd=tmp_path, WORKBENCH_STATE_DIR=str(tmp_path))
    assert table.returncode == 0, table.stderr
    assert "\x1b" not in table.stdout and "\x07" not in table.stdout
    assert "evil\\x1b]0;PWNED\\x07" in table.stdout
