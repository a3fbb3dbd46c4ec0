"""Regenerate the README screenshots from the real app running the demo crawl.

    python screenshots/generate.py [--out screenshots] [--themes dark,light,...] [--quick]

Every shot is taken once per theme, at the same moment (the theme is switched
live, then switched back), into ``<out>/<theme>/<name>.svg``.  ``--quick``
takes only the first crawl's shots, on a smaller site (the test suite runs
that).  The user's config directory is not read or written.

The crawl is paused part-way so the queue has something in it, then each
panel is saved as SVG with App.save_screenshot().  A second crawl, the leaky
demo (``workbench demo --leaky``), gives the Refs, live objects and Memory
screenshots (its leak window shortened so it is flagged within seconds).
``workbench parse`` of the demo's home page to depth 2 gives the parse tree.
A third, ``workbench demo --throttle`` (AutoThrottle on, slow reviews with
bursts of 503s), gives the Slots screenshot: the reviews slot's delay
converging, held at 1 s from the keyboard, then handed back to AutoThrottle
(about a minute in all).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from scrapy.settings import Settings

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from workbench.core.control.host import CrawlHost, stop_reactor_threads  # noqa: E402
from workbench.core.leaks.liverefs import RefTracker  # noqa: E402
from workbench.core.sources.local import LocalSource  # noqa: E402
from workbench.demo.site import listen, url_of  # noqa: E402
from workbench.demo.spider import DemoSpider  # noqa: E402
from workbench.ui.app import WorkbenchApp  # noqa: E402

SHOTS = [("flows", "1"), ("queue", "2"), ("items", "3"), ("stats", "4"), ("log", "5")]
THEMES = ["dark", "light", "high-contrast"]


class Camera:
    """Saves the app's screen once per theme, into ``out/<theme>/``."""

    def __init__(self, out: Path, themes: list[str]) -> None:
        self.out = out
        self.themes = themes
        self.written: list[Path] = []

    async def shoot(self, app: Any, pilot: Any, name: str) -> None:
        shown = app.theme
        for theme in self.themes:
            if app.theme != theme:
                app.theme = theme
                await pilot.pause(0.2)
            directory = self.out / theme
            directory.mkdir(parents=True, exist_ok=True)
            self.written.append(Path(app.save_screenshot(f"{name}.svg", str(directory))))
        if app.theme != shown:
            app.theme = shown
            await pilot.pause(0.2)


async def generate(
    out: Path, size: tuple[int, int], themes: list[str] | None = None, quick: bool = False
) -> list[Path]:
    camera = Camera(out, themes or THEMES)
    settings = Settings()
    settings.set("LOG_LEVEL", "DEBUG")
    settings.set("TELNETCONSOLE_ENABLED", False)
    settings.set("CONCURRENT_REQUESTS", 4)
    host = CrawlHost(settings, DemoSpider)

    async def prepare() -> None:
        host.spider_kwargs["url"] = url_of(listen(pages=60 if quick else 400, slow_delay=0.3))

    app = WorkbenchApp(LocalSource(host, prepare))
    async with app.run_test(size=size) as pilot:
        while host.recorder is None or host.recorder.flows.total < (30 if quick else 120):
            await pilot.pause(0.05)
        await pilot.press("space")  # pause: the queue keeps its requests
        await pilot.pause(1.0)
        for name, key in SHOTS:
            await pilot.press(key)
            await pilot.pause(0.5)
            app.refresh_panels()
            await pilot.pause(0.3)
            await camera.shoot(app, pilot, name)
        await pilot.press("1", "k", "k", "enter", "3")
        await pilot.pause(0.5)
        await camera.shoot(app, pilot, "flow_detail")
        await pilot.press("q", "f", *"~c 200 & ~u product", "enter")
        await pilot.pause(0.5)
        await camera.shoot(app, pilot, "flows_filtered")
        await pilot.press("space")
        await host.wait()
    host.close()
    await parsed(camera, size)
    if not quick:
        await leaky(camera, size)
        await throttled(camera, size)
    return camera.written


async def parsed(camera: Camera, size: tuple[int, int]) -> None:
    """``workbench parse URL -d 2`` of the demo site's home page: the tree."""
    import argparse

    from workbench.core.inspection.parse import ParseCommand
    from workbench.core.sources.local import ParseSource

    class ParsedDemo(DemoSpider):  # parse replaces start(): not on DemoSpider itself
        pass

    settings = Settings()
    settings.set("LOG_LEVEL", "INFO")
    settings.set("TELNETCONSOLE_ENABLED", False)
    url = url_of(listen(pages=60, slow_delay=0.3))
    opts = argparse.Namespace(depth=2, callback=None, rules=False, meta=None, cbkwargs=None,
                              output=None, pipelines=False)  # fmt: skip
    command = ParseCommand()
    command.start_for(ParsedDemo, url, opts)
    host = CrawlHost(settings, ParsedDemo, {"url": url})
    command.attach(host.create(), url, opts)
    app = WorkbenchApp(ParseSource(host, command))
    async with app.run_test(size=size) as pilot:
        while command.tree is None or not command.tree.finished:
            await pilot.pause(0.1)
        await pilot.pause(1.0)
        await camera.shoot(app, pilot, "parse_tree")
    host.close()


async def throttled(camera: Camera, size: tuple[int, int]) -> None:
    from workbench.commands.demo import THROTTLE_SETTINGS
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
        await camera.shoot(app, pilot, "slots")
        source.stop()
        await host.wait()
    host.close()


async def leaky(camera: Camera, size: tuple[int, int]) -> None:
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
    async with app.run_test(size=size) as pilot:
        await pilot.press("6")
        while not any(r.leak and r.leak.path for r in source.refs().rows):
            await pilot.pause(0.2)
        await pilot.pause(2.5)
        await camera.shoot(app, pilot, "refs")
        await pilot.press("enter")  # the flagged class (the panel selects it)
        await pilot.pause(0.5)
        await pilot.press("enter")
        while "Chain 1" not in str(app.screen.query_one("#referrers-text").render()):
            await pilot.pause(0.2)
        await camera.shoot(app, pilot, "live_objects")
        await pilot.press("q", "7", "h")
        while not source.memory().summaries:
            await pilot.pause(0.2)
        await pilot.pause(1.5)
        await camera.shoot(app, pilot, "memory")
        source.stop()
        await host.wait()
    host.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "screenshots")
    parser.add_argument("--themes", default=",".join(THEMES), help="comma-separated")
    parser.add_argument("--quick", action="store_true", help="the first crawl's shots only")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    themes = [t.strip() for t in args.themes.split(",") if t.strip()]
    # workbench's themes only, and nothing remembered in the user's config
    os.environ["WORKBENCH_CONFIG_DIR"] = tempfile.mkdtemp(prefix="workbench-shots-")
    try:
        for path in asyncio.run(generate(args.out, (160, 45), themes, args.quick)):
            print(path)
    finally:
        stop_reactor_threads()


if __name__ == "__main__":
    main()
