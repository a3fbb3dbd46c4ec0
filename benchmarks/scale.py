"""The panels at scale: a million queued requests, a hundred thousand flows.

    python benchmarks/scale.py [--queued 1000000] [--flows 100000] [--repeat 20]

Runs the real app (headless, 160x45) on a real crawl of the bundled demo site,
served in this process on 127.0.0.1.  The crawl's first callback yields
``--queued`` requests spread over 8 downloader slots and 3 priorities;
CONCURRENT_REQUESTS=1 and a long delay keep them in Scrapy's scheduler, and
the crawl is paused once they are all there.  Then:

* **Queue panel** (target: a refresh in 50 ms or less): the time of one
  refresh of the panel (peek the scheduler, update its three tables, paint the
  screen) on the first page, the next page (``]``) and the last page, each
  ``--repeat`` times; prints the median and the worst.
* **Flows panel** (target: no stall, i.e. every step under 50 ms except
  the filter over all flows, which should stay under 250 ms): ``--flows``
  flows are added to the crawl's recorder (copies of the crawl's real flows,
  with their own ids and URLs; ``WORKBENCH_MAX_FLOWS`` is raised to hold
  them all), then the time to take them into the list, to scroll (End, Home,
  PageDown x20, Down x20) and to apply a filter as it is typed, each step
  measured until the screen is painted.

Exits 1 if a target is missed.  ``--queued 20000 --flows 5000 --repeat 3``
runs in seconds (the test suite checks that the script still runs).
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import statistics
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import scrapy  # noqa: E402
from scrapy.settings import Settings  # noqa: E402

QUEUE_BUDGET = 0.050
STEP_BUDGET = 0.050
FILTER_BUDGET = 0.250


class FloodSpider(scrapy.Spider):
    """The home page's callback queues ``n`` requests at once."""

    name = "flood"

    def __init__(self, url: str, n: int, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.url = url
        self.n = int(n)
        self.queued_all = False

    async def start(self):
        yield scrapy.Request(self.url, callback=self.parse)

    def parse(self, response):
        for i in range(self.n):
            yield scrapy.Request(
                f"{self.url}catalogue/page-{i}.html",
                callback=self.parse_page,
                priority=i % 3,
                meta={"download_slot": f"shard-{i % 8}"},
            )
        self.queued_all = True  # each request was scheduled as it was yielded

    def parse_page(self, response):
        yield {"url": response.url}


def report(name: str, times: list[float], budget: float) -> bool:
    worst = max(times)
    ok = worst <= budget
    print(
        f"{name}: median {statistics.median(times) * 1000:.1f} ms, "
        f"worst {worst * 1000:.1f} ms over {len(times)} "
        f"(budget {budget * 1000:.0f} ms: {'met' if ok else 'MISSED'})"
    )
    return ok


async def timed(pilot: Any, action: Any) -> float:
    """CPU seconds from ``action()`` until its messages are handled and the screen
    painted (Pilot's waits sleep, so wall time would count its sleeps)."""
    began = time.process_time()
    result = action()
    if asyncio.iscoroutine(result):
        await result
    await pilot.pause()
    return time.process_time() - began


async def wait_for(predicate: Any, pilot: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("timed out waiting for the crawl")
        await pilot.pause(0.1)


async def bench(queued: int, flows: int, repeat: int) -> bool:
    from scrapy.utils.defer import maybe_deferred_to_future

    from workbench.core.control.host import CrawlHost, ensure_reactor
    from workbench.core.sources.local import LocalSource
    from workbench.demo.site import listen, url_of
    from workbench.ui.app import WorkbenchApp
    from workbench.ui.widgets.record_table import RecordTable

    ensure_reactor(Settings())
    port = listen(pages=40)
    settings = Settings()
    for name, value in {
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_REQUESTS": 1,
        "DOWNLOAD_DELAY": 30,
        "RANDOMIZE_DOWNLOAD_DELAY": False,
        "WORKBENCH_MAX_FLOWS": max(flows, 10) + 100,
    }.items():
        settings.set(name, value, priority="cmdline")
    host = CrawlHost(settings, FloodSpider, {"url": url_of(port), "n": queued})
    app = WorkbenchApp(LocalSource(host))
    ok = True
    async with app.run_test(size=(160, 45)) as pilot:
        try:
            began = time.perf_counter()
            await wait_for(
                lambda: (
                    host.crawler is not None and getattr(host.crawler.spider, "queued_all", False)
                ),
                pilot,
                timeout=max(120, queued / 2000),
            )
            await pilot.press("space")
            await wait_for(lambda: host.status().state == "paused", pilot, 30)
            print(f"{len(host.engine._slot.scheduler):,} requests queued in "
                  f"{time.perf_counter() - began:.1f} s; the crawl is paused")  # fmt: skip

            idle = [await timed(pilot, lambda: None) for _ in range(repeat)]
            print(
                "baseline (nothing done, one Pilot pause): "
                f"median {statistics.median(idle) * 1000:.1f} ms"
            )
            # -- the queue panel -------------------------------------------------
            await pilot.press("2")
            await pilot.pause()
            panel = app.query_one("#queue-panel")
            first = [await timed(pilot, app.refresh_panels) for _ in range(repeat)]
            assert panel.view.total >= queued - 100 and len(panel.view.page) > 0, panel.view
            ok &= report(f"queue panel, first page of {panel.view.total:,}", first, QUEUE_BUDGET)
            nxt = [await timed(pilot, lambda: pilot.press("right_square_bracket"))]
            nxt += [await timed(pilot, app.refresh_panels) for _ in range(repeat - 1)]
            assert panel.page_offset == 200, panel.page_offset
            ok &= report("queue panel, next page (])", nxt, QUEUE_BUDGET)
            panel.page_offset = panel.view.total - 1
            last = [await timed(pilot, app.refresh_panels) for _ in range(repeat)]
            ok &= report(
                f"queue panel, last page (from {panel.page_offset + 1:,})", last, QUEUE_BUDGET
            )
            took = panel.view.took
            print(f"  of which peeking the scheduler (last page): {took * 1000:.1f} ms")

            # -- the flows panel -------------------------------------------------
            await pilot.press("1")
            await pilot.pause()
            recorder = host.recorder
            model = list(recorder.flows)
            assert model, "the crawl recorded no flow"
            for i in range(flows):
                flow = dataclasses.replace(
                    model[i % len(model)],
                    id=recorder.next_flow_id(),
                    url=f"{host.spider_kwargs['url']}catalogue/page-{i}.html",
                    status=(200, 404, 500, 301)[i % 4] if i % 7 else 200,
                )
                recorder.add_flow(flow)
            table = app.query_one("#flow-table", RecordTable)
            steps: dict[str, list[float]] = {}
            steps["take in the new flows"] = [await timed(pilot, app.refresh_panels)]
            assert len(table.rows) >= flows, len(table.rows)
            table.focus()
            await pilot.pause()
            for key, count in (("end", 1), ("home", 1), ("pagedown", 20), ("down", 20)):
                steps[f"{key} x{count}"] = [
                    await timed(pilot, lambda key=key: pilot.press(key)) for _ in range(count)
                ]
            steps["refresh with all flows"] = [
                await timed(pilot, app.refresh_panels) for _ in range(repeat)
            ]
            for name, times in steps.items():
                ok &= report(f"flows panel ({len(table.rows):,}), {name}", times, STEP_BUDGET)
            await pilot.press("f")
            typed = [await timed(pilot, lambda c=c: pilot.press(c)) for c in "~u page-9"]
            ok &= report(f"flows filter, per keystroke over {flows:,}", typed, FILTER_BUDGET)
            shown = len(table.rows)
            assert 0 < shown < flows, shown
            print(f"  the filter shows {shown:,} flows")
            await pilot.press("escape")
        finally:
            host.stop()
            await pilot.pause()
    host.close()
    await maybe_deferred_to_future(port.stopListening())
    return ok


def main() -> None:
    sys.stdout.reconfigure(line_buffering=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queued", type=int, default=1_000_000)
    parser.add_argument("--flows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    try:
        ok = asyncio.run(bench(args.queued, args.flows, args.repeat))
    finally:
        from workbench.core.control.host import stop_reactor_threads

        stop_reactor_threads()
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
