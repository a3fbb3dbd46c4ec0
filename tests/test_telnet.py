"""Scrapy's telnet console under workbench gains workbench's names (update_telnet_vars)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import re

from tests.conftest import demo_settings
from workbench.core.control.host import CrawlHost
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import DemoSpider


async def test_telnet_console_has_workbench_names(demo_url):
    host = CrawlHost(
        demo_settings(TELNETCONSOLE_ENABLED=True, TELNETCONSOLE_PORT=[0], DOWNLOAD_DELAY=0.2),
        DemoSpider,
        {"url": demo_url},
    )
    source = LocalSource(host)
    await source.start()
    try:
        while host.engine is None or host.recorder.flows.total < 3:
            assert not host.finished, host.error
            await asyncio.sleep(0.05)
        console = next(
            e for e in host.crawler.extensions.middlewares if type(e).__name__ == "TelnetConsole"
        )
        assert console.port.getHost().host == "127.0.0.1"
        names = console._get_telnet_vars()  # what each telnet session gets
        assert {"engine", "est", "prefs"} <= set(names)  # Scrapy's own, still there
        assert "pause(), resume(), flows(n=20), slots()" in names["help"]
        assert names["pause"]() == "paused: requests in flight still finish"
        assert host.engine.paused and names["pause"]() == "already paused"
        assert names["resume"]() == "resumed" and not host.engine.paused
        assert names["wb"] is host.recorder
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            names["flows"](3)
            names["slots"]()
        lines = out.getvalue().splitlines()
        assert len(lines) == 4
        assert all(
            re.match(r"#\d+ +\S+ +(\d+ms|-)  GET http://127\.0\.0\.1:\d+/", x) for x in lines[:3]
        )
        assert lines[3].startswith("127.0.0.1") and "AutoThrottle -" in lines[3]
        # a request that never reached the network says what became of it
        rec = host.recorder
        rec.add_flow(dataclasses.replace(rec.flows[-1], id=rec.next_flow_id(), status=None,
                                         error=None, fate="offsite"))  # fmt: skip
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            names["flows"](1)
        assert re.match(r"#\d+ +offsite +", out.getvalue()), out.getvalue()
    finally:
        host.stop()
        await host.wait()


async def test_no_telnet_console_no_names(demo_url):
    host = CrawlHost(demo_settings(TELNETCONSOLE_ENABLED=False), DemoSpider, {"url": demo_url})
    source = LocalSource(host)
    await source.start()
    await host.wait()
    assert host.error is None
    names = {type(e).__name__ for e in host.crawler.extensions.middlewares}
    assert "TelnetVars" not in names and "TelnetConsole" not in names
