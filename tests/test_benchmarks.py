"""The benchmark script still runs (tiny crawl; the figures themselves are in the README)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

REPO = Path(__file__).resolve().parents[1]


def test_throughput_benchmark_runs_and_reports_a_ratio():
    result = subprocess.run(
        [
            sys.executable,
            str(REPO / "benchmarks" / "throughput.py"),
            "--pages",
            "60",
            "--runs",
            "1",
        ],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(
        r"median: scrapy [\d.]+ pages/s, workbench [\d.]+ pages/s, ratio of medians "
        r"[\d.]+",
        result.stdout,
    ), result.stdout


def test_refs_cost_benchmark_runs_and_reports_a_ratio():
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--refs",
         "--pages", "60", "--runs", "1"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"median: flows in view [\d.]+ pages/s, refs in view [\d.]+", result.stdout)
    assert re.search(r"one trackref sample with 100,000 live objects: [\d.]+ ms", result.stdout)


def test_pace_cost_benchmark_runs_and_reports_a_ratio():
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--pace",
         "--pages", "60", "--runs", "1"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"median: scrapy [\d.]+ pages/s, workbench \(slots\) [\d.]+", result.stdout)
    assert re.search(r"pace monitor: [\d.]+ us per response", result.stdout)


@pytest.mark.parametrize("probe", [False, True], ids=["recorder", "probe"])
def test_attach_cost_benchmark_runs_and_reports_a_ratio(probe):
    # three crawls (warm-up, plain, attached): 1,000 pages keep the attached one
    # going well past the attach (about half-way on a loaded machine)
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--attach",
         *(["--probe"] if probe else []), "--pages", "1000", "--runs", "1"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    label = "probe" if probe else "attached"
    assert re.search(rf"median: scrapy [\d.]+ pages/s, {label} [\d.]+ pages/s", result.stdout)
    assert "(target >= 0.97)" in result.stdout


def test_heap_benchmark_reports_time_and_loop_lateness():
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "heap.py"), "--objects", "30000"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert "collecting objects" in result.stdout and "100.0%  done" in result.stdout
    assert re.search(r"heap summary of [\d,]+ objects .* in [\d.]+s", result.stdout)
    assert re.search(r"worst \d+ ms late", result.stdout)


def test_scale_benchmark_runs_and_reports_each_budget():
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "scale.py"),
         "--queued", "3000", "--flows", "2000", "--repeat", "2"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    # the budgets are for the full sizes on a quiet machine: here only that it runs
    assert result.returncode in (0, 1), result.stderr[-2000:]
    assert re.search(r"[\d,]+ requests queued in [\d.]+ s; the crawl is paused", result.stdout)
    for name in ("queue panel, first page of", "queue panel, last page",
                 "flows panel (2,0", "flows filter, per keystroke"):  # fmt: skip
        assert re.search(rf"{re.escape(name)}.*: median [\d.]+ ms, worst [\d.]+ ms", result.stdout)
    assert re.search(r"the filter shows [\d,]+ flows", result.stdout)


def test_bench_benchmark_runs_workbench_bench_and_plain_scrapy():
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--bench", "2", "--runs", "1"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"median: scrapy [\d,]+ pages/min, workbench bench [\d,]+ pages/min, "
                     r"ratio [\d.]+", result.stdout), result.stdout  # fmt: skip


def test_against_benchmark_compares_a_revision_with_now_headless():
    """--against REV: workbench at a git revision (a temporary worktree) and now,
    both against plain Scrapy, with the CPU each used per page."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--against", "HEAD",
         "--headless", "--pages", "60", "--runs", "1"],
        capture_output=True, text=True, timeout=300, cwd=REPO,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert re.search(r"median: scrapy [\d.]+ pages/s, workbench HEAD [\d.]+", result.stdout)
    assert re.search(r"median: scrapy [\d.]+ pages/s, workbench now [\d.]+", result.stdout)
    assert re.search(r"CPU per page \(median\): HEAD [\d.]+ ms, now [\d.]+ ms", result.stdout)
    worktrees = subprocess.run(["git", "-C", str(REPO), "worktree", "list"],
                               capture_output=True, text=True).stdout  # fmt: skip
    assert not any(line.split()[0].endswith("/old") for line in worktrees.splitlines())


def test_all_shapes_run_in_one_invocation_and_print_one_table():
    """--all --quick: every shape of the budget (catalogue, AutoThrottle, bench),
    the key latency during bench and the memory check, in one run and one table;
    the exit status says whether every target was met (a short run on a loaded
    machine may miss them: the table is what this checks)."""
    result = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "throughput.py"), "--all", "--quick",
         "--runs", "1", "--pages", "60", "--bench", "3", "--rss-pages", "200"],
        capture_output=True, text=True, timeout=600, cwd=REPO,
    )  # fmt: skip
    assert result.returncode in (0, 1), result.stderr[-2000:]
    out = result.stdout
    for shape in ("catalogue", "pace", "bench"):
        assert re.search(rf"^{shape} +[\d.]+ +[\d.]+ +[\d.]+ +>= 0\.9\d?$", out, re.M), (
            out + result.stderr[-3000:]
        )
    assert re.search(r"key -> screen during bench: p50 \d+ ms, p95 \d+ ms", out), out
    assert re.search(r"memory on [\d,]+ pages: memusage/max scrapy \d+ MiB", out), out
    assert ("every target met" in out) == (result.returncode == 0), out
    assert "MISSED" in out or result.returncode == 0


def test_all_shapes_compares_each_panel_with_its_own_plain_runs(monkeypatch, capsys):
    """A panel's ratio is over the plain runs made next to it, not over the plain
    runs of the catalogue shape made minutes before (the machine drifts)."""
    monkeypatch.syspath_prepend(str(REPO / "benchmarks"))
    import all_shapes

    series = {
        "catalogue/scrapy": [300.0], "catalogue/workbench": [290.0],
        "pace/scrapy": [100.0], "pace/workbench": [97.0],
        "bench/scrapy": [60.0], "bench/workbench": [58.0],
        "panel 3 Items/scrapy": [200.0, 220.0], "panel 3 Items": [196.0, 214.0],
        "panel 8 Slots/scrapy": [300.0], "panel 8 Slots": [240.0],
    }  # fmt: skip
    memory = {"plain": 100.0, "workbench": 120.0, "pages": 1000, "limit": 4000, "quarters": []}
    status = all_shapes.report(series, [50.0] * 20, memory)
    out = capsys.readouterr().out
    assert re.search(r"^catalogue, 3 Items in view +210\.0 +205\.0 +0\.976 ", out, re.M), out
    assert re.search(r"^catalogue, 8 Slots in view +300\.0 +240\.0 +0\.800 ", out, re.M), out
    assert status == 1 and "MISSED: panel 8 Slots 0.800 < 0.95" in out, out
