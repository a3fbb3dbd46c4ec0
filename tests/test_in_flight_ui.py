"""In flight and stalls on screen: the Queue panel's list, Enter on it, the I key,
the status line's stall and closing countdown; then a real crawl of a site that
hangs (127.0.0.1), in the app."""

from __future__ import annotations

import asyncio

import pytest
import scrapy
from scrapy.utils.defer import maybe_deferred_to_future

from tests.conftest import demo_settings
from tests.fakes import BASE, IN_FLIGHT, STALLED, FakeSource
from tests.helpers import stall_site
from tests.helpers.app import wait_for, widget_text
from workbench.core.control.host import CrawlHost
from workbench.core.sources.local import LocalSource
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.help import HelpScreen
from workbench.ui.screens.text_view import TextScreen
from workbench.ui.status_bar import status_text
from workbench.ui.widgets.record_table import RecordTable

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SIZE = (140, 40)


def screen_text(app) -> str:
    return "\n".join(widget_text(w) for w in app.screen.query("Static"))


async def test_queue_lists_what_is_in_flight_oldest_first_and_enter_opens_it_without_tab():
    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("2")
        await pilot.pause(0.2)
        table = app.panels["queue"].query_one("#in-flight-table", RecordTable)
        assert app.focused is table  # Enter acts here at once: no Tab first
        drawn = widget_text(table)
        lines = [line for line in drawn.splitlines() if "127.0.0.1" in line]
        assert "2:10" in lines[0] and "in 0:50" in lines[0] and "item/7" in lines[0]
        assert "0/2" in lines[0] and "0:41" in lines[1] and "≥3.1KiB" in lines[1]
        assert "in slot" in lines[3] and "product/13.html" in lines[3]
        label = widget_text(app.panels["queue"].query_one("#in-flight-label"))
        assert "3 on the wire, 1 waiting" in label
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert isinstance(app.screen, TextScreen)
        text = screen_text(app)
        assert f"GET {BASE}/item/7" in text
        assert "On the wire for 2:10" in text and "Times out in 0:50" in text
        assert "download_timeout 180 s" in text
        assert "If it times out: retried, attempt 2 (retry 1 of 2)." in text
        await pilot.press("q")
        # the third has been retried twice of two: its timeout is the end
        await pilot.press("j", "j", "enter")
        await pilot.pause(0.2)
        assert "given up (retried 2 of 2)" in screen_text(app)
        await pilot.press("q")
        # Tab: the slots, whose Enter lists the slot's requests; then the pending ones
        await pilot.press("tab", "enter")
        await pilot.pause(0.2)
        assert app.screen.title_text == "In flight on slot 127.0.0.1"
        assert "3 active, 3 transferring" in screen_text(app)
        await pilot.press("q", "tab", "tab", "enter")
        await pilot.pause(0.2)
        assert "Pending in the scheduler (memory queue)" in screen_text(app)


async def test_I_from_any_panel_jumps_to_the_oldest_request_in_flight():
    source = FakeSource()
    source.transfers = STALLED
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.2)
        status = widget_text(app.status_bar)
        assert "stalled 40 s: 3 in flight, oldest 2:10 item/7, times out in 0:50 (I)" in status
        await pilot.press("4", "I")
        await pilot.pause(0.2)
        table = app.panels["queue"].query_one("#in-flight-table", RecordTable)
        assert app.tabs.active == "queue" and app.focused is table
        assert table.current() == IN_FLIGHT[0]
        assert "no response for 40 s" in widget_text(
            app.panels["queue"].query_one("#in-flight-label")
        )
        # from a screen over the panels too
        await pilot.press("1", "enter")
        await pilot.pause(0.2)
        assert len(app.screen_stack) == 2  # the flow detail
        await pilot.press("I")
        await pilot.pause(0.2)
        assert len(app.screen_stack) == 1 and app.focused is table


async def test_help_documents_the_queue_enter_and_I():
    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        sections = dict(app.help_sections())
        queue_keys = {b.key: b for b in sections["Queue panel"]}
        assert "enter" in queue_keys and "in flight" in queue_keys["enter"].tooltip
        assert any(b.key == "I" for b in sections["Everywhere"])
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert isinstance(app.screen, HelpScreen)


def test_the_status_line_says_stalled_then_counts_down_while_closing():
    source = FakeSource()
    assert "stalled" not in status_text(source.snapshot()).plain  # nothing known: nothing said
    source.transfers = STALLED
    line = status_text(source.snapshot()).plain
    assert "stalled 40 s: 3 in flight, oldest 2:10 item/7, times out in 0:50 (I)" in line
    source.stop()
    line = status_text(source.snapshot()).plain
    assert "closing" in line and "stalled" not in line
    assert "3 in flight, the last times out in 2:19, 1 more waiting (I)" in line
    stalled = FakeSource()
    stalled.transfers = STALLED  # at 80 columns too the key stays
    for width in (80, 60):
        line = status_text(stalled.snapshot(), width).plain
        assert len(line) <= width and line.startswith(" ● running  stalled"), line
        assert "… (I)" in line and line.rstrip().endswith("errors 1 (E)"), line


class HangSpider(scrapy.Spider):
    name = "hang"
    url = ""

    async def start(self):
        yield scrapy.Request(f"{self.url}ok/list")

    def parse(self, response):
        for n in range(1, 7):
            path = "hang" if n in (2, 5) else "ok"
            yield response.follow(f"/{path}/item/{n}", self.parse_item)

    def parse_item(self, response):
        yield {"url": response.url}


@pytest.fixture
async def stall_url(reactor):
    listening, site = stall_site.listen()
    yield stall_site.url_of(listening)
    site.close()
    await maybe_deferred_to_future(listening.stopListening())


async def test_a_crawl_that_hangs_shows_the_stall_the_list_and_the_closing_countdown(stall_url):
    HangSpider.url = stall_url
    settings = demo_settings(DOWNLOAD_TIMEOUT=8, RETRY_ENABLED=False, WORKBENCH_STALL_AFTER=1)
    host = CrawlHost(settings, HangSpider)
    app = WorkbenchApp(LocalSource(host))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(lambda: "stalled" in widget_text(app.status_bar), pilot, 20)
        assert "2 in flight" in widget_text(app.status_bar)
        await pilot.press("I")
        await pilot.pause(0.3)
        table = app.panels["queue"].query_one("#in-flight-table", RecordTable)
        await wait_for(lambda: len(table.rows) == 2, pilot, 5)
        assert {r.url.rsplit("/", 2)[1:] == ["item", "2"] or r.url.endswith("/item/5")
                for r in table.rows} == {True}  # fmt: skip
        assert all(r.state == "transferring" and r.timeout == 8 for r in table.rows)
        drawn = widget_text(table)
        assert "hang/item/2" in drawn and "hang/item/5" in drawn and "no" in drawn
        # closing: the countdown to the last timeout, then the crawl ends
        assert host.stop()
        await wait_for(lambda: "the last times out in" in widget_text(app.status_bar), pilot, 5)
        await asyncio.wait_for(host.wait(), 15)
        await wait_for(lambda: "finished" in widget_text(app.status_bar), pilot, 5)
        assert "in flight," not in widget_text(app.status_bar)


async def test_hostile_urls_slots_and_callbacks_in_flight_are_text():
    """A URL, slot or callback name from the crawl reaches the list, the detail and
    the status line as text: brackets stay brackets, control characters are shown."""
    import dataclasses

    from tests.hostile_payloads import PAYLOADS

    markup = "[bold red]x[/] [@click=app.quit]q[/]"
    evil = f"{BASE}/{markup}/{PAYLOADS[34]}"
    row = dataclasses.replace(IN_FLIGHT[0], url=evil, slot=markup + PAYLOADS[34],
                              callback=markup)  # fmt: skip
    source = FakeSource()
    source.transfers = dataclasses.replace(STALLED, oldest_url=evil)
    plain_queue = source.queue
    source.queue = lambda offset=0, limit=100: dataclasses.replace(  # type: ignore[method-assign]
        plain_queue(offset, limit), requests=(row,)
    )
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("I")
        await pilot.pause(0.3)
        drawn = widget_text(app.panels["queue"].query_one("#in-flight-table", RecordTable))
        status = widget_text(app.status_bar)
        await pilot.press("enter")
        await pilot.pause(0.2)
        detail = screen_text(app) + app.screen.title_text
        for text in (drawn, status, detail):
            assert "\x1b" not in text and "\x07" not in text
        assert "[bold red]x[/]" in drawn and "[bold red]x[/]" in detail
        assert "stalled 40 s" in status and app.is_running  # no [@click=app.quit] ran
