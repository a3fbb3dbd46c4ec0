"""The benchmark script still runs (tiny crawl; the figures themselves are in the README)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

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
