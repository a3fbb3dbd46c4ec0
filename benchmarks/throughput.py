"""Throughput of a crawl under workbench (live TUI in a real pty) vs plain Scrapy.

    python benchmarks/throughput.py [--pages 3000] [--runs 5]

Both crawl the same bundled demo site (a separate process on 127.0.0.1) with
the same demo spider and settings, in interleaved runs.  Pages/s is
response_received_count / elapsed_time_seconds from each crawl's own stats
(written to a LOG_FILE at INFO level by both), so start-up time is not
counted.  Prints the median of each and their ratio (target: >= 0.85).

    python benchmarks/throughput.py --against REV [--pages 3000] [--runs 5]

measures a change's cost: plain Scrapy, workbench at git revision REV (a
temporary worktree, imported through PYTHONPATH) and workbench as it is
now, interleaved; prints both medians against plain Scrapy, and each
workbench crawl's CPU per page.  With ``--headless`` the workbench crawls
run without the UI (``WORKBENCH_NO_UI=1``): what recording costs, apart
from drawing it.  Issue 18: ``--against a28e312^`` (the TUI: CPU per page
4.53 -> 4.97 ms, median of 5; headless: 4.95 -> 4.91 ms, median of 4).

    python benchmarks/throughput.py --rss --pages 20000

measures the resident memory of a workbench crawl over time instead, with
the recorder limits lowered so they are reached early, and prints RSS at
each quarter of the crawl (target: flat once the limits are reached).

    python benchmarks/throughput.py --refs [--pages 3000] [--runs 7]

measures what the Refs panel costs: the same leaky crawl (responses held in
cb_kwargs, so trackref has many live objects) under workbench with the
Flows panel in view and with the Refs panel in view, interleaved; prints
both medians and their ratio (target: >= 0.99), then the cost of one
trackref sample (taken once a second whichever panel is in view).

    python benchmarks/throughput.py --pace [--pages 3000] [--runs 7]

measures what watching the pace costs: an AutoThrottle crawl under plain
Scrapy and under workbench with the Slots panel in view, interleaved
(target: >= 0.85, the main budget, now with every response explained),
then the pace monitor's own cost per response.

    python benchmarks/throughput.py --attach [--probe] [--pages 10000] [--runs 5]

measures what attaching costs the crawl: the same plain `scrapy runspider`
alone and with `workbench attach` (the real TUI, in a pty, at its default
poll rate) attached from another process as soon as the crawl's job file
appears, interleaved (target: >= 0.97).  The attached runs count the
second or so before the attach too; more pages make that share smaller.
With `--probe` the attach installs only the light probe (`workbench attach
--probe`) instead of workbench's recorder.

    python benchmarks/throughput.py --fleet [--interval 2] [--pages 10000] [--runs 5]

measures what `workbench fleet` costs a crawl it watches: the same plain crawl
alone and with the fleet table (the real TUI, in a pty) polling it every
``--interval`` seconds (2, the default) from another process, interleaved
(target: >= 0.97, the attach budget).  Each poll is one `/execute` of a fixed
probe that installs nothing.

    python benchmarks/throughput.py --all [--runs 5] [--quick]

runs every shape of the performance budget (catalogue, AutoThrottle, bench,
each panel in view, key latency during bench, memory on 20,000 pages)
interleaved, prints one table and exits 1 when a target is missed: see
all_shapes.py.

    python benchmarks/throughput.py --bench 10 [--runs 5]

compares `workbench bench` (the live TUI, in a pty) with plain Scrapy on the
same benchmark (`python -m workbench.demo.bench`: scrapy bench's spider and
settings on Scrapy's bench site, served on 127.0.0.1 rather than scrapy
bench's 0.0.0.0:8998), each for SECONDS (CLOSESPIDER_TIMEOUT), interleaved;
prints the pages/min of each run and the median ratio.
"""

from __future__ import annotations

import argparse
import ast
import os
import re
import resource
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.ptyrun import PtyProcess  # noqa: E402

SPIDER = str(REPO / "workbench" / "demo" / "spider.py")
COMMON = ["-L", "INFO", "-s", "TELNETCONSOLE_ENABLED=0"]
STATE_DIR = tempfile.mkdtemp(prefix="workbench-bench-state-")


def env(repo: Path = REPO) -> dict[str, str]:
    """The environment of every process: no proxy, and workbench from ``repo``
    (PYTHONPATH comes before the editable install's finder)."""
    out = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    out["PYTHONPATH"] = str(repo)
    # the benchmark's crawls are not the user's runs (workbench runs, Stats)
    out.setdefault("WORKBENCH_STATE_DIR", STATE_DIR)
    return out


def start_site(pages: int) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "workbench.demo.site", "--pages", str(pages), "--per-page", "50"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env(),
    )
    ready, _, _ = select.select([proc.stdout], [], [], 30)
    if not ready:
        raise SystemExit("the demo site did not start")
    return proc, proc.stdout.readline().strip()


def stats_from_log(path: Path) -> dict:
    text = path.read_text(encoding="utf-8", errors="replace")
    match = re.search(r"Dumping Scrapy stats:\n(\{.*?\})\n", text, re.S)
    if not match:
        raise RuntimeError(f"no stats in {path}")
    raw = re.sub(r"datetime\.datetime\([^)]*\)", "None", match.group(1))
    return ast.literal_eval(raw)


def pages_per_second(stats: dict) -> float:
    return stats["response_received_count"] / stats["elapsed_time_seconds"]


def crawl_argv(module: str, url: str, log: Path, extra: list[str] | None = None) -> list[str]:
    """The same crawl for both: `python -m scrapy|workbench.cli runspider …`.
    A log left at ``log`` is removed: Scrapy appends to it, and a run that
    found the last one's "Spider closed" there would quit as it starts."""
    log.unlink(missing_ok=True)
    return [
        sys.executable,
        "-m",
        module,
        "runspider",
        SPIDER,
        "-a",
        f"url={url}",
        *COMMON,
        "-s",
        f"LOG_FILE={log}",
        *(extra or []),
    ]


def run_plain(url: str, log: Path, extra: list[str] | None = None) -> dict:
    subprocess.run(
        crawl_argv("scrapy", url, log, extra),
        check=True,
        env=env(),
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return stats_from_log(log)


def run_workbench(
    url: str,
    log: Path,
    extra: list[str] | None = None,
    sample_rss: bool = False,
    keys: str = "",
    argv: list[str] | None = None,
    repo: Path = REPO,
    cpu: list[float] | None = None,
) -> tuple[dict, list[tuple[float, int, int]]]:
    """A workbench crawl in a pty; its stats and RSS samples.  ``cpu`` gets the
    CPU seconds the process used by the end of the crawl (before quitting)."""
    term = PtyProcess(
        argv or crawl_argv("workbench.cli", url, log, extra),
        cwd=tempfile.gettempdir(),
        env=env(repo),
        size=(45, 160),
    )
    samples: list[tuple[float, int, int]] = []
    try:
        start = time.monotonic()
        next_sample = start
        # Reading the terminal must cost the measured machine next to nothing:
        # look at the output's tail twice a second, not at every read.
        next_look = start
        while keys:  # e.g. "6": show another panel as soon as the app is up
            term.drain(0.1)
            if "Slots" in term.tail(4000):
                term.send(keys)
                break
            if time.monotonic() - start > 60:
                raise RuntimeError(f"workbench did not start:\n{term.tail(2000)}")
        while True:
            term.drain(0.1)
            now = time.monotonic()
            if now >= next_look:
                next_look = now + 0.5
                if log.exists() and "Spider closed" in log.read_text(errors="replace")[-3000:]:
                    break
            if term.proc.poll() is not None:
                raise RuntimeError(f"workbench exited early:\n{term.tail(2000)}")
            if sample_rss and now >= next_sample:
                next_sample += 1.0
                samples.append((now - start, rss_kib(term.proc.pid), last_pages(term.tail())))
            if time.monotonic() - start > 1800:
                raise RuntimeError("workbench crawl took too long")
        if cpu is not None:
            cpu.append(cpu_seconds(term.proc.pid))
        term.send("q")
        term.wait(60)
    finally:
        term.close()
    return stats_from_log(log), samples


def run_attached(
    url: str, log: Path, jobs_dir: Path, probe: bool = False
) -> tuple[dict, float | None]:
    """A plain crawl with `workbench attach [--probe]` on it; (stats, seconds until attached)."""
    extra = ["-s", f"REMOTE_CONTROL_JOBS_DIR={jobs_dir}"]
    crawl = subprocess.Popen(
        crawl_argv("scrapy", url, log, extra),
        env=env(),
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    start = time.monotonic()
    term = None
    try:
        while not list(jobs_dir.glob("*.json")):
            if crawl.poll() is not None or time.monotonic() - start > 60:
                raise RuntimeError("the crawl did not start its RemoteControl server")
            time.sleep(0.02)
        term = PtyProcess(
            [
                *(sys.executable, "-m", "workbench.cli", "attach", "--jobs-dir", str(jobs_dir)),
                *(["--probe"] if probe else []),
            ],
            cwd=tempfile.gettempdir(),
            env=env(),
            size=(45, 160),
        )
        attached = None
        while crawl.poll() is None:
            term.drain(0.1)
            if attached is None and "attached to pid" in term.tail(4000):
                attached = time.monotonic() - start
            if term.proc.poll() is not None and crawl.poll() is None:
                raise RuntimeError(f"workbench attach exited early:\n{term.tail(2000)}")
        if term.proc.poll() is None:
            term.send("q")
            term.wait(30)
    finally:
        if term is not None:
            term.close()
        if crawl.poll() is None:
            crawl.terminate()
        crawl.wait(60)
    return stats_from_log(log), attached


def run_fleet_watched(url: str, log: Path, jobs_dir: Path, interval: float) -> tuple[dict, int]:
    """A plain crawl with `workbench fleet` (in a pty) polling it; (stats, polls seen)."""
    extra = ["-s", f"REMOTE_CONTROL_JOBS_DIR={jobs_dir}"]
    crawl = subprocess.Popen(
        crawl_argv("scrapy", url, log, extra),
        env=env(),
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    argv = [sys.executable, "-m", "workbench.cli", "fleet", "--jobs-dir", str(jobs_dir),
            "--interval", str(interval)]  # fmt: skip
    term = PtyProcess(argv, cwd=tempfile.gettempdir(), env=env(), size=(45, 160))
    try:
        while crawl.poll() is None:
            term.drain(0.1)
            if term.proc.poll() is not None:
                raise RuntimeError(f"workbench fleet exited early:\n{term.tail(2000)}")
        term.send("q")
        term.wait(30)
    finally:
        term.close()
        if crawl.poll() is None:
            crawl.terminate()
        crawl.wait(60)
    stats = stats_from_log(log)
    return stats, int(stats["elapsed_time_seconds"] / interval)


def probe_cpu(calls: int = 300) -> None:
    """The fleet probe's CPU in the crawl: a near-idle crawl (one request a second)
    probed ``calls`` times back to back, against the same time without probes."""
    from workbench.core.fleet.probe import PROBE_CODE, read_probe
    from workbench.remote.client import RemoteControlClient, find_job

    site, url = start_site(50)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = Path(tmp) / "jobs"
        extra = ["-s", f"REMOTE_CONTROL_JOBS_DIR={jobs}", "-s", "DOWNLOAD_DELAY=1"]
        crawl = subprocess.Popen(crawl_argv("scrapy", url, Path(tmp) / "idle.log", extra),
                                 env=env(), cwd=tmp, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            while not list(jobs.glob("*.json")):
                time.sleep(0.05)
            client = RemoteControlClient(find_job(jobs, None))
            read_probe(client.execute(PROBE_CODE))
            time.sleep(2)
            cpu0, t0 = cpu_seconds(crawl.pid), time.monotonic()
            for _ in range(calls):
                read_probe(client.execute(PROBE_CODE))
            cpu1, t1 = cpu_seconds(crawl.pid), time.monotonic()
            time.sleep(t1 - t0)
            cpu2 = cpu_seconds(crawl.pid)
        finally:
            crawl.terminate()
            crawl.wait(30)
            site.terminate()
            site.wait(10)
    idle = cpu2 - cpu1
    per_call = max(0.0, (cpu1 - cpu0) - idle) / calls
    print(
        f"the probe: {per_call * 1000:.2f} ms of the crawl's CPU a call ({calls} calls in "
        f"{t1 - t0:.1f} s; the same time idle {idle * 1000:.0f} ms): at one poll every 2 s, "
        f"{per_call / 2 * 100:.3f}% of one core"
    )


def fleet_cost(pages: int, runs: int, interval: float) -> None:
    def watched(url: str, tmp: Path, i: int) -> tuple[float, str]:
        jobs = tmp / f"fleet{i}"
        jobs.mkdir(mode=0o700)
        stats, polls = run_fleet_watched(url, tmp / f"fleet{i}.log", jobs, interval)
        return pages_per_second(stats), f"   (~{polls} polls of the crawl)"

    interleaved(pages, runs, "fleet", watched, 0.97)


def attach_cost(pages: int, runs: int, probe: bool = False) -> None:
    def attached(url: str, tmp: Path, i: int) -> tuple[float, str]:
        jobs = tmp / f"jobs{i}"
        jobs.mkdir(mode=0o700)
        stats, after = run_attached(url, tmp / f"att{i}.log", jobs, probe)
        when = f"{after:.1f}" if after is not None else "never (too short)"
        note = f"   (attached after {when} of {stats['elapsed_time_seconds']:.1f} s)"
        return pages_per_second(stats), note

    interleaved(pages, runs, "probe" if probe else "attached", attached, 0.97)


def last_pages(text: str) -> int:
    found = re.findall(r"pages ([\d,]+)", text)
    return int(found[-1].replace(",", "")) if found else 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a live process has used (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def interleaved(pages: int, runs: int, name: str, other: Any, target: float) -> None:
    """Plain scrapy, then ``other(url, tmp, i)`` -> (pages/s, note), ``runs`` times."""
    site, url = start_site(pages)
    plain: list[float] = []
    bench: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # warm the site (its flaky page answers 500 once) and the disk cache
            run_plain(url, Path(tmp) / "warm.log")
            for i in range(runs):
                p = pages_per_second(run_plain(url, Path(tmp) / f"plain{i}.log"))
                o, note = other(url, Path(tmp), i)
                plain.append(p)
                bench.append(o)
                print(
                    f"run {i + 1}: scrapy {p:7.1f} pages/s   {name} {o:7.1f} pages/s   "
                    f"ratio {o / p:.3f}{note}",
                    flush=True,
                )
    finally:
        site.terminate()
        site.wait(10)
    print_medians("scrapy", plain, name, bench, target)


def throughput(pages: int, runs: int) -> None:
    def workbench(url: str, tmp: Path, i: int) -> tuple[float, str]:
        return pages_per_second(run_workbench(url, tmp / f"wb{i}.log")[0]), ""

    interleaved(pages, runs, "workbench", workbench, 0.85)


def run_headless(url: str, log: Path, repo: Path, cpu: list[float]) -> dict:
    """The same crawl under workbench without its UI (``WORKBENCH_NO_UI=1``):
    what recording costs, apart from drawing it; ``cpu`` gets its CPU seconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(
        crawl_argv("workbench.cli", url, log),
        check=True,
        env={**env(repo), "WORKBENCH_NO_UI": "1"},
        cwd=tempfile.gettempdir(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return stats_from_log(log)


def against(pages: int, runs: int, rev: str, headless: bool = False) -> None:
    """Plain Scrapy, workbench at ``rev`` and workbench as it is now, interleaved.

    Pages/s as everywhere here, and the CPU each workbench crawl used per page
    (its whole process, start-up and UI included): a busy machine stretches
    the wall clock of every run, much less the CPU a run needs."""
    site, url = start_site(pages)
    series: dict[str, list[float]] = {"scrapy": [], rev: [], "now": []}
    cpu_ms: dict[str, list[float]] = {rev: [], "now": []}
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "old"
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", "-q", str(old), rev],
            check=True,
        )
        try:
            run_plain(url, Path(tmp) / "warm.log")
            for i in range(runs):
                series["scrapy"].append(
                    pages_per_second(run_plain(url, Path(tmp) / f"plain{i}.log"))
                )
                for name, repo in ((rev, old), ("now", REPO)):
                    log = Path(tmp) / f"{name.replace('/', '_')}{i}.log"
                    used: list[float] = []
                    if headless:
                        stats = run_headless(url, log, repo, used)
                    else:
                        stats = run_workbench(url, log, repo=repo, cpu=used)[0]
                    series[name].append(pages_per_second(stats))
                    cpu_ms[name].append(1000 * used[0] / stats["response_received_count"])
                p, b, n = (series[k][-1] for k in series)
                print(
                    f"run {i + 1}: scrapy {p:7.1f}   {rev} {b:7.1f} ({b / p:.3f})   "
                    f"now {n:7.1f} ({n / p:.3f}) pages/s;   CPU per page {rev} "
                    f"{cpu_ms[rev][-1]:.2f} ms, now {cpu_ms['now'][-1]:.2f} ms",
                    flush=True,
                )
        finally:
            site.terminate()
            site.wait(10)
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)])
    for name in (rev, "now"):
        print_medians("scrapy", series["scrapy"], f"workbench {name}", series[name], 0.85)
    before, now = statistics.median(cpu_ms[rev]), statistics.median(cpu_ms["now"])
    print(
        f"CPU per page (median): {rev} {before:.2f} ms, now {now:.2f} ms, ratio {now / before:.3f}"
    )


def print_medians(base: str, bases: list[float], other: str, others: list[float], target: float):
    """The medians of two interleaved series, and their ratio two ways."""
    mb, mo = statistics.median(bases), statistics.median(others)
    ratios = [o / b for b, o in zip(bases, others, strict=True)]
    print(
        f"median: {base} {mb:.1f} pages/s, {other} {mo:.1f} pages/s, "
        f"ratio of medians {mo / mb:.3f}, median of run ratios "
        f"{statistics.median(ratios):.3f} (target >= {target})"
    )


def rss(pages: int, limit: int) -> None:
    site, url = start_site(pages)
    extra = []
    for name in (
        "WORKBENCH_MAX_FLOWS",
        "WORKBENCH_MAX_ITEMS",
        "WORKBENCH_MAX_LOG",
        "WORKBENCH_MAX_BODIES",
    ):
        extra += ["-s", f"{name}={limit}"]
    try:
        with tempfile.TemporaryDirectory() as tmp:
            plain = run_plain(url, Path(tmp) / "plain.log")
            stats, samples = run_workbench(url, Path(tmp) / "wb.log", extra, sample_rss=True)
    finally:
        site.terminate()
        site.wait(10)
    total = stats["response_received_count"]
    print(f"plain scrapy memusage/max: {plain['memusage/max'] / 2**20:.0f} MiB")
    print(
        f"workbench memusage/max:    {stats['memusage/max'] / 2**20:.0f} MiB "
        f"(limits {limit} flows/items/log/bodies, reached at ~{limit} pages)"
    )
    for quarter in (0.25, 0.5, 0.75, 1.0):
        target = total * quarter
        point = next((s for s in samples if s[2] >= target), samples[-1] if samples else None)
        if point:
            print(f"  at {point[2]:>6} pages ({quarter:.0%}): RSS {point[1] / 1024:.0f} MiB")


def refs_cost(pages: int, runs: int) -> None:
    site, url = start_site(pages)
    leaky = ["-a", "leak=1"]
    flows: list[float] = []
    refs: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_plain(url, Path(tmp) / "warm.log")
            for i in range(runs):

                def flows_run(i: int = i) -> float:
                    return pages_per_second(run_workbench(url, Path(tmp) / f"f{i}.log", leaky)[0])

                def refs_run(i: int = i) -> float:
                    log = Path(tmp) / f"r{i}.log"
                    return pages_per_second(run_workbench(url, log, leaky, keys="6")[0])

                # alternate which goes first: the second of a pair meets a warmer site
                if i % 2:
                    r, f = refs_run(), flows_run()
                else:
                    f, r = flows_run(), refs_run()
                flows.append(f)
                refs.append(r)
                print(
                    f"run {i + 1}: flows in view {f:7.1f} pages/s   refs in view {r:7.1f} "
                    f"pages/s   ratio {r / f:.3f}",
                    flush=True,
                )
    finally:
        site.terminate()
        site.wait(10)
    print_medians("flows in view", flows, "refs in view", refs, 0.99)
    sample_cost()


def pace_cost(pages: int, runs: int) -> None:
    site, url = start_site(pages)
    throttled = ["-s", "AUTOTHROTTLE_ENABLED=1", "-s", "AUTOTHROTTLE_START_DELAY=0"]
    plain: list[float] = []
    flows: list[float] = []
    slots: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            run_plain(url, Path(tmp) / "warm.log", throttled)
            for i in range(runs):
                p = pages_per_second(run_plain(url, Path(tmp) / f"p{i}.log", throttled))
                log = Path(tmp) / f"f{i}.log"
                f = pages_per_second(run_workbench(url, log, throttled)[0])
                log = Path(tmp) / f"s{i}.log"
                w = pages_per_second(run_workbench(url, log, throttled, keys="8")[0])
                plain.append(p)
                flows.append(f)
                slots.append(w)
                print(
                    f"run {i + 1}: scrapy {p:7.1f} pages/s   workbench, Flows in view {f:7.1f}"
                    f"   Slots in view {w:7.1f} pages/s   ratios {f / p:.3f} {w / p:.3f} "
                    f"{w / f:.3f}",
                    flush=True,
                )
    finally:
        site.terminate()
        site.wait(10)
    print_medians("scrapy", plain, "workbench (flows)", flows, 0.85)
    print_medians("scrapy", plain, "workbench (slots)", slots, 0.85)
    print_medians("workbench (flows)", flows, "workbench (slots)", slots, 0.97)
    monitor_cost()


def monitor_cost() -> None:
    """The pace monitor's work per response (AutoThrottle on), and per sample."""
    from scrapy.core.downloader import Slot
    from scrapy.http import HtmlResponse, Request
    from scrapy.utils.test import get_crawler

    from workbench.core.control.pace import PaceMonitor

    crawler = get_crawler(settings_dict={"AUTOTHROTTLE_ENABLED": True})
    from scrapy.extensions.throttle import AutoThrottle

    throttle = AutoThrottle(crawler)
    throttle.mindelay, throttle.maxdelay = 0.0, 60.0
    slots = {f"host{i}": Slot(8, 0.1) for i in range(50)}
    downloader = type("Downloader", (), {"slots": slots, "active": set()})()
    crawler.engine = type("Engine", (), {"downloader": downloader})()
    crawler.spider = None
    monitor = PaceMonitor(crawler)
    monitor.throttle = throttle
    pairs = []
    for i in range(10_000):
        request = Request(f"http://127.0.0.1/{i}", meta={"download_slot": f"host{i % 50}"})
        request.meta["download_latency"] = 0.05 + (i % 7) / 100
        pairs.append((HtmlResponse(request.url, body=b"<html></html>", request=request), request))
    began = time.perf_counter()
    for response, request in pairs:
        monitor.on_response(response, request)
        monitor.on_left(request)
    per_response = (time.perf_counter() - began) / len(pairs)
    began = time.perf_counter()
    for _ in range(100):
        monitor.sample()
    per_sample = (time.perf_counter() - began) / 100
    began = time.perf_counter()
    for _ in range(20):
        monitor.view("host1")
    per_view = (time.perf_counter() - began) / 20
    print(
        f"pace monitor: {per_response * 1e6:.1f} us per response (AutoThrottle included), "
        f"{per_sample * 1000:.2f} ms per sample and {per_view * 1000:.2f} ms per view "
        "with 50 slots"
    )


def sample_cost() -> None:
    """One trackref sample with 1,000 and 100,000 live tracked objects."""
    from scrapy.http import HtmlResponse, Request

    from workbench.core.leaks.liverefs import RefTracker

    for n in (1_000, 100_000):
        kept = [Request(f"http://127.0.0.1/{i}") for i in range(n // 2)]
        kept += [HtmlResponse(f"http://127.0.0.1/{i}", body=b"") for i in range(n // 2)]
        tracker = RefTracker(interval=0)
        began = time.perf_counter()
        for _ in range(20):
            tracker.sample()
        each = (time.perf_counter() - began) / 20
        print(
            f"one trackref sample with {n:,} live objects: {each * 1000:.2f} ms "
            f"({each * 100:.3f}% of the second between samples)"
        )
        del kept


def bench_cost(seconds: int, runs: int) -> None:
    """`workbench bench` (live, in a pty) against plain Scrapy on the same benchmark:
    scrapy bench's spider and settings on its site, served on 127.0.0.1."""
    pmins: dict[str, list[float]] = {"scrapy": [], "workbench": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(runs):
            plain_log, wb_log = Path(tmp) / f"plain{i}.log", Path(tmp) / f"wb{i}.log"
            common = ["-s", f"CLOSESPIDER_TIMEOUT={seconds}"]
            plain = [sys.executable, "-m", "workbench.demo.bench", *common,
                     "-s", f"LOG_FILE={plain_log}"]  # fmt: skip
            subprocess.run(plain, check=True, env=env(), cwd=tmp,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
            argv = [sys.executable, "-m", "workbench.cli", "bench", *common,
                    "-s", f"LOG_FILE={wb_log}", "-s", "TELNETCONSOLE_ENABLED=0"]  # fmt: skip
            wb, _ = run_workbench("", wb_log, argv=argv)
            for name, stats in (("scrapy", stats_from_log(plain_log)), ("workbench", wb)):
                pmins[name].append(pages_per_second(stats) * 60)
            print(f"run {i + 1}: scrapy {pmins['scrapy'][-1]:,.0f} pages/min, "
                  f"workbench {pmins['workbench'][-1]:,.0f} pages/min", flush=True)  # fmt: skip
    a, b = statistics.median(pmins["scrapy"]), statistics.median(pmins["workbench"])
    print(f"median: scrapy {a:,.0f} pages/min, workbench bench {b:,.0f} pages/min, "
          f"ratio {b / a:.3f}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=3000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rss", action="store_true", help="measure memory instead")
    parser.add_argument("--limit", type=int, default=4000, help="recorder limits for --rss")
    parser.add_argument("--refs", action="store_true", help="measure the Refs panel's cost")
    parser.add_argument("--pace", action="store_true", help="measure the Slots panel's cost")
    parser.add_argument("--attach", action="store_true", help="measure what attaching costs")
    parser.add_argument("--probe", action="store_true", help="with --attach: attach --probe")
    parser.add_argument("--fleet", action="store_true", help="measure what workbench fleet costs")
    parser.add_argument("--interval", type=float, default=2.0, help="with --fleet: between polls")
    parser.add_argument("--against", metavar="REV",
                        help="workbench at git REV and now, both against plain Scrapy")  # fmt: skip
    parser.add_argument("--headless", action="store_true",
                        help="with --against: the crawls without the UI")  # fmt: skip
    parser.add_argument("--bench", type=int, metavar="SECONDS",
                        help="workbench bench vs plain Scrapy on scrapy bench's crawl")  # fmt: skip
    parser.add_argument(
        "--all",
        action="store_true",
        help="every shape of the budget, interleaved, one table (all_shapes.py)",
    )
    parser.add_argument("--rss-pages", type=int, default=20000, help="with --all: memory crawl")
    parser.add_argument(
        "--panel-runs", type=int, default=3, help="with --all: runs with each panel in view"
    )
    parser.add_argument("--quick", action="store_true", help="with --all: the test's short run")
    args = parser.parse_args()
    if args.all:
        from all_shapes import run_all

        raise SystemExit(run_all(args.pages, args.runs, args.bench or 10, args.rss_pages,
                                 args.panel_runs, args.quick))  # fmt: skip
    if args.bench:
        bench_cost(args.bench, args.runs)
        return
    if args.against:
        against(args.pages, args.runs, args.against, args.headless)
    elif args.rss:
        rss(args.pages, args.limit)
    elif args.refs:
        refs_cost(args.pages, args.runs)
    elif args.pace:
        pace_cost(args.pages, args.runs)
    elif args.fleet:
        probe_cpu()
        fleet_cost(args.pages, args.runs, args.interval)
    elif args.attach:
        attach_cost(args.pages, args.runs, args.probe)
    else:
        throughput(args.pages, args.runs)


if __name__ == "__main__":
    main()
