"""The r, R, x and n keys through the real bindings: on a real crawl and a fake source."""

from __future__ import annotations

import pytest
from textual.binding import Binding

from tests.conftest import demo_settings
from tests.fakes import FakeSource
from tests.helpers.app import wait_for, widget_text
from workbench.core.control.host import CrawlHost
from workbench.core.recording.records import as_headers
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import DemoSpider
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.curl import CurlScreen, NewRequestScreen
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.screens.replay import ReplayScreen
from workbench.ui.widgets.record_table import RecordTable

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite


@pytest.mark.parametrize("owner", [ReplayScreen, CurlScreen, NewRequestScreen])
def test_every_binding_has_an_action_and_a_description(owner):
    for binding in owner.BINDINGS:
        assert isinstance(binding, Binding) and (binding.tooltip or binding.description)
        name = binding.action.split("(")[0]
        if name.startswith("app."):
            continue
        assert callable(getattr(owner, f"action_{name}", None)), binding.action


async def test_help_and_palette_list_the_new_keys():
    app = WorkbenchApp(FakeSource(), autostart=False)
    listed = {b.key for _, bindings in app.help_sections() for b in bindings}
    assert {"i", "r", "x", "R"} <= listed
    async with app.run_test(size=(100, 36)) as pilot:
        await pilot.pause()
        commands = {c.title: c for c in app.get_system_commands(app.screen)}
        await commands["Inject a new request from curl"].callback()  # run_action: a coroutine
        await pilot.pause()
        assert isinstance(app.screen, NewRequestScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(app.screen, NewRequestScreen)


async def open_flow(app, pilot, expression: str) -> None:
    await pilot.press("f", *expression, "enter", "enter")
    await pilot.pause()
    assert isinstance(app.screen, FlowDetailScreen)


async def test_replay_and_export_a_real_product_flow(demo_url):
    host = CrawlHost(demo_settings(), DemoSpider, {"url": demo_url})
    app = WorkbenchApp(LocalSource(host))
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(lambda: host.finished, pilot)
        app.refresh_panels()
        await pilot.pause()
        await open_flow(app, pilot, "~u product/7\\.html")
        flow = app.screen.flow
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, ReplayScreen)
        await wait_for(lambda: app.screen.result is not None, pilot)
        await pilot.pause()
        text = widget_text(app.screen.query_one("#replay-view"))
        assert "✓ Same output as the original" in text
        assert "Items: 1 same" in text and "Product" in text and "product/7.html" in text
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)

        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, CurlScreen)
        assert app.clipboard.startswith(f"curl -X GET {flow.url} -H ")
        assert "User-Agent: Scrapy" in widget_text(app.screen.query_one("#curl-command"))
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)
        await pilot.press("escape")
        await pilot.pause()

        # the crawl has finished: a new request is refused inline, the dialog stays
        await pilot.press("i")
        await pilot.pause()
        assert isinstance(app.screen, NewRequestScreen)
        await pilot.press(*f"curl {demo_url}")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, NewRequestScreen)
        assert "not running" in widget_text(app.screen.query_one("#curl-error"))
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("q")
    host.close()


async def test_new_request_from_curl_in_a_paused_crawl(demo_url):
    host = CrawlHost(demo_settings(CONCURRENT_REQUESTS=1), DemoSpider, {"url": demo_url})
    app = WorkbenchApp(LocalSource(host))
    url = f"{demo_url}product/5.html?from=curl"
    async with app.run_test(size=(100, 40)) as pilot:
        await wait_for(lambda: host.recorder is not None and host.recorder.flows.total >= 2, pilot)
        await pilot.press("space")
        await pilot.pause()
        assert host.status().state == "paused"
        await pilot.press("i")
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, NewRequestScreen)
        await pilot.press(*f"curl '{url}' -H 'X-From: tui'")
        await pilot.press("tab")  # to the callback input
        await pilot.press(*["backspace"] * 5, *"parse_nothing", "enter")
        await pilot.pause()
        assert app.screen is screen
        assert "no method 'parse_nothing'" in widget_text(screen.query_one("#curl-error"))
        await pilot.press(*["backspace"] * 7, *"product")
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert not isinstance(app.screen, NewRequestScreen)
        assert any("Queued GET" in n.message and "paused" in n.message for n in app._notifications)
        await pilot.press("space")  # resume
        await wait_for(lambda: any(f.url == url for f in host.recorder.flows), pilot)
        flow = next(f for f in host.recorder.flows if f.url == url)
        assert (
            flow.callback == "parse_product"
            and as_headers(flow.request_headers)[b"X-From"] == b"tui"
        )
        await wait_for(lambda: host.finished, pilot)
        app.refresh_panels()
        await pilot.pause()
        flows = app.query_one("#flow-table", RecordTable)
        assert any(f.url == url for f in flows.rows)
        await pilot.press("q")
    host.close()


async def test_keys_on_a_fake_source():
    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=(100, 36)) as pilot:
        await pilot.press(*"kkkkk", "enter")
        await pilot.pause()
        assert app.screen.flow.id == 7
        await pilot.press("r")
        await wait_for(lambda: getattr(app.screen, "result", None) is not None, pilot)
        assert source.replays == 1
        text = widget_text(app.screen.query_one("#replay-view"))
        assert "≠ The output differs" in text and "1 changed, 1 added" in text
        await pilot.press("r")
        await wait_for(lambda: source.replays == 2, pilot)
        await pilot.press("R")
        await wait_for(lambda: source.replays == 3, pilot)
        assert source.reloads == 1
        await pilot.press("q", "q")
        await pilot.pause()
        # a flow that cannot be exported: a notification, no crash, no screen
        await pilot.press("G", "enter")
        await pilot.pause()
        assert app.screen.flow.id == 12
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)
        assert any("cannot be exported" in n.message for n in app._notifications)
