"""Regenerate the README screenshots from the real app running the demo crawl.

    python screenshots/generate.py [--out screenshots]

The crawl is paused part-way so the queue has something in it, then each
panel is saved as SVG with App.save_screenshot().  A second crawl, the leaky
demo (``workbench demo --leaky``), gives the Refs, live objects and Memory
screenshots (its leak window shortened so it is flagged within seconds).
A third, ``workbench demo --throttle`` (AutoThrottle on, slow reviews with
bursts of 503s), gives the Slots screenshot: the reviews slot's delay
converging, held at 1 s from the keyboard, then handed back to AutoThrottle
(about a minute in all).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from scrapy.settings import Settings

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workbench.core.host import CrawlHost, stop_reactor_threads  # noqa: E402
from workbench.core.liverefs import RefTracker  # noqa: E402
from workbench.core.source import LocalSource  # noqa: E402
from workbench.demo.site import listen, url_of  # noqa: E402
from workbench.demo.spider import DemoSpider  # noqa: E402
from workbench.ui.app import WorkbenchApp  # noqa: E402

SHOTS = [("flows", "1"), ("queue", "2"), ("items", "3"), ("stats", "4"), ("log", "5")]


async def generate(out: Path, size: tuple[int, int]) -> list[Path]:
    settings = Settings()
    settings.set("LOG_LEVEL", "DEBUG")
    settings.set("TELNETCONSOLE_ENABLED", False)
    settings.set("CONCURRENT_REQUESTS", 4)
    host = CrawlHost(settings, DemoSpider)

    async def prepare() -> None:
        host.spider_kwargs["url"] = url_of(listen(pages=400, slow_delay=0.3))

    app = WorkbenchApp(LocalSource(host, prepare))
    written = []
    async with app.run_test(size=size) as pilot:
        while host.recorder is None or host.recorder.flows.total < 120:
            await pilot.pause(0.05)
        await pilot.press("space")  # pause: the queue keeps its requests
        await pilot.pause(1.0)
        for name, key in SHOTS:
            await pilot.press(key)
            await pilot.pause(0.5)
            app.refresh_panels()
            await pilot.pause(0.3)
            written.append(Path(app.save_screenshot(f"{name}.svg", str(out))))
        await pilot.press("1", "k", "k", "enter", "3")
        await pilot.pause(0.5)
        written.append(Path(app.save_screenshot("flow_detail.svg", str(out))))
        await pilot.press("q", "f", *"~c 200 & ~u product", "enter")
        await pilot.pause(0.5)
        written.append(Path(app.save_screenshot("flows_filtered.svg", str(out))))
        await pilot.press("space")
        await host.wait()
    host.close()
    written += await leaky(out, size)
    written += await throttled(out, size)
    return written


async def throttled(out: Path, size: tuple[int, int]) -> list[Path]:
    from workbench.cli import THROTTLE_SETTINGS
    from workbench.demo.site import build_site

    settings = Settings()
    settings.set("LOG_LEVEL", "INFO")
    settings.set("TELNETCONSOLE_ENABLED", False)
    for name, value in THROTTLE_SETTINGS.items():
        settings.set(name, value)
    host = CrawlHost(settings, DemoSpider, {"reviews": "1", "api": "0"})

    async def prepare() -> None:
        site = build_site(pages=400, review_latency=0.3, burst_every=20, burst_length=2)
        host.spider_kwargs["url"] = url_of(listen(site=site))

    source = LocalSource(host, prepare)
    app = WorkbenchApp(source)
    async with app.run_test(size=size) as pilot:
        await pilot.press("8")
        await pilot.pause(35)
        await pilot.press("j", "j")  # the reviews slot
        await pilot.pause(0.5)
        await pilot.press("d", "ctrl+u", *"1", "enter")
        await pilot.pause(15)
        await pilot.press("a")  # back to AutoThrottle: the delay converges again
        await pilot.pause(8)
        path = Path(app.save_screenshot("slots.svg", str(out)))
        source.stop()
        await host.wait()
    host.close()
    return [path]


async def leaky(out: Path, size: tuple[int, int]) -> list[Path]:
    settings = Settings()
    settings.set("LOG_LEVEL", "INFO")
    settings.set("TELNETCONSOLE_ENABLED", False)
    settings.set("DOWNLOAD_DELAY", 0.01)
    host = CrawlHost(settings, DemoSpider, {"leak": "1", "api": "0"})

    async def prepare() -> None:
        host.spider_kwargs["url"] = url_of(listen(pages=6000, per_page=20))

    source = LocalSource(host, prepare)
    source.probe.tracker = RefTracker(interval=1.0, window=8.0, min_rise=10)
    app = WorkbenchApp(source)
    written = []
    async with app.run_test(size=size) as pilot:
        await pilot.press("6")
        while not any(r.leak and r.leak.path for r in source.refs().rows):
            await pilot.pause(0.2)
        await pilot.pause(2.5)
        written.append(Path(app.save_screenshot("refs.svg", str(out))))
        await pilot.press("enter")  # the flagged class (the panel selects it)
        await pilot.pause(0.5)
        await pilot.press("enter")
        while "Chain 1" not in str(app.screen.query_one("#referrers-text").render()):
            await pilot.pause(0.2)
        written.append(Path(app.save_screenshot("live_objects.svg", str(out))))
        await pilot.press("q", "7", "h")
        while not source.memory().summaries:
            await pilot.pause(0.2)
        await pilot.pause(1.5)
        written.append(Path(app.save_screenshot("memory.svg", str(out))))
        source.stop()
        await host.wait()
    host.close()
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "screenshots")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        for path in asyncio.run(generate(args.out, (160, 45))):
            print(path)
    finally:
        stop_reactor_threads()


if __name__ == "__main__":
    main()
