"""The Slots panel through its keys: on a fake source, and on a real throttled crawl."""

from __future__ import annotations

import time

import pytest
from rich.text import Text

from tests.conftest import demo_settings
from tests.fakes import FakeSource
from tests.helpers.app import wait_for, widget_text
from tests.pace_fakes import NOW
from workbench.core.control.host import CrawlHost
from workbench.core.control.pace import HELD, pace_for
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import REVIEWS_SLOT, DemoSpider
from workbench.ui.app import WorkbenchApp
from workbench.ui.panels.slots import AllSlots, seconds, slot_cells
from workbench.ui.screens.dialogs import PromptScreen
from workbench.ui.widgets.record_table import RecordTable
from workbench.ui.widgets.time_chart import TimeChart, ago, columns, nice_ceiling

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SIZE = (140, 40)


def cells(row) -> list[str]:
    return [c.plain if isinstance(c, Text) else c for c in slot_cells(row, NOW)]


# -- the chart -----------------------------------------------------------------------


def test_chart_scale_axis_and_columns():
    assert [nice_ceiling(v) for v in (0, 0.3, 1, 1.2, 3.3, 7, 420)] == [1, 0.5, 1, 2, 5, 10, 500]
    assert [ago(s) for s in (0, 30, 60, 90, 3600, 5400)] == [
        "now",
        "-30s",
        "-1m",
        "-1m30s",
        "-1h",
        "-1h30m",
    ]
    # 2 s a column, 4 columns ending at t=100: (92, 94], ..., (98, 100]
    points = [(99.5, 1.0), (99.0, 3.0), (97.0, 5.0), (95.0, None), (80.0, 9.0)]
    assert columns(points, 100.0, 2.0, 4) == [None, None, 5.0, 2.0]


async def test_chart_draws_scale_bars_and_time_axis():
    from textual.app import App

    chart = TimeChart("Delay", lambda v: f"{v:.1f}s", id="chart")

    class ChartApp(App[None]):
        def compose(self):
            yield chart

    async with ChartApp().run_test(size=(60, 7)) as pilot:
        chart.set_data([(100.0 - i, 1.0 + (i % 2)) for i in range(120)], 100.0, 1.0)
        await pilot.pause()
        lines = widget_text(chart).splitlines()
    assert lines[0].startswith("Delay  1.0s  max 2.0s")
    assert lines[1].startswith("   2.0s┤") and lines[-2].startswith("   0.0s┤")
    assert "█" in lines[-2] and "now" in lines[-1] and "-10s" in lines[-1]


# -- the panel on a fake source ------------------------------------------------------


async def test_slots_panel_shows_and_steers_the_slots():
    source = FakeSource()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        await pilot.pause()
        panel = app.panel("slots")
        table = app.query_one("#slots-rows", RecordTable)
        assert app.focused is table
        # the first row is every slot together; the charts and adjustments follow it
        assert isinstance(table.current(), AllSlots)
        assert [r.key for r in table.rows] == [None, "127.0.0.1", "reviews"]
        view = source.pace("reviews")
        reviews = view.rows[1]
        assert cells(reviews)[:16] == [
            "reviews", "8", "15", "14", "1", "312ms", "298ms", "298ms", "287ms", "371ms",
            "96", "2", "11", "3.2", "0s", "on",
        ]  # fmt: skip
        assert "charts: all slots" in panel.border_subtitle
        adjustments = app.query_one("#pace-adjustments", RecordTable)
        assert len(adjustments.rows) == len(source.adjustment_rows)
        await pilot.press("j", "j")
        await pilot.pause()
        assert panel.selected == "reviews"
        await wait_for(lambda: "charts: reviews" in panel.border_subtitle, pilot, 5)
        assert {a.slot for a in adjustments.rows} == {"reviews"}
        delay_chart = app.query_one("#chart-delay", TimeChart)
        assert delay_chart.points[-1][1] == view.series[-1].delay
        assert "Delay  " in widget_text(delay_chart)
        throttle = widget_text(app.query_one("#pace-throttle"))
        assert "AutoThrottle is on" in throttle and "AUTOTHROTTLE_MAX_DELAY" in throttle

        # d: a delay; a bad value keeps the dialog open with the reason
        await pilot.press("d")
        await pilot.pause()
        prompt = app.screen
        assert isinstance(prompt, PromptScreen) and "slot reviews" in prompt.title_text
        assert prompt.query_one("#prompt-input").value == "0.312"
        await pilot.press("ctrl+u", *"soon", "enter")
        await pilot.pause()
        assert app.screen is prompt
        assert "Not a number of seconds" in widget_text(prompt.query_one("#prompt-error"))
        await pilot.press("ctrl+u", *"-2", "enter")
        await pilot.pause()
        assert "between 0 and" in widget_text(prompt.query_one("#prompt-error"))
        await pilot.press("ctrl+u", *"1.5", "enter")
        await pilot.pause()
        assert app.screen is not prompt
        assert source.pace_calls[-1] == ("delay", "reviews", 1.5)
        await wait_for(lambda: table.current().delay == 1.5, pilot, 5)
        assert cells(table.current())[0] == "reviews *"  # set here
        assert table.current().autothrottle == "held"

        # C: concurrency; Escape cancels
        await pilot.press("C")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert source.pace_calls[-1][0] == "delay"
        await pilot.press("C", "ctrl+u", "4", "enter")
        await pilot.pause()
        assert source.pace_calls[-1] == ("concurrency", "reviews", 4)

        # a: AutoThrottle back on for the slot, then held again
        await pilot.press("a")
        await pilot.pause()
        assert source.pace_calls[-1] == ("autothrottle", "reviews", True)
        await wait_for(lambda: table.current().autothrottle == "on", pilot, 5)
        await pilot.press("a")
        await pilot.pause()
        assert source.pace_calls[-1] == ("autothrottle", "reviews", False)

        # on the first row the keys apply to every slot
        await pilot.press("g", "d", "ctrl+u", "0", "enter")
        await pilot.pause()
        assert source.pace_calls[-1] == ("delay", None, 0.0)
        assert set(source.slot_delays.values()) == {0.0}

        # + and - zoom the time axis
        assert "2s a column" in panel.border_subtitle
        await pilot.press("minus")
        await pilot.pause()
        assert panel.step == 5.0
        await pilot.press("plus", "plus")
        await pilot.pause()
        assert panel.step == 1.0


# -- the panel on a real crawl -------------------------------------------------------


def reviews_row(table):
    return next(r for r in table.rows if r.key == REVIEWS_SLOT)


async def test_slots_panel_on_a_real_throttled_crawl(small_pace_site):
    url, _ = small_pace_site
    settings = demo_settings(AUTOTHROTTLE_ENABLED=True, AUTOTHROTTLE_START_DELAY=0.5)
    host = CrawlHost(settings, DemoSpider, {"url": url, "reviews": "1"})
    source = LocalSource(host)
    app = WorkbenchApp(source)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8")
        table = app.query_one("#slots-rows", RecordTable)
        await wait_for(lambda: REVIEWS_SLOT in [r.key for r in table.rows], pilot, 30)
        table.select_key(("slot", REVIEWS_SLOT))
        await pilot.pause()
        panel = app.panel("slots")
        await wait_for(lambda: panel.selected == REVIEWS_SLOT, pilot, 5)
        monitor = pace_for(host.crawler)
        await wait_for(lambda: monitor.tracks[REVIEWS_SLOT].responses >= 3, pilot, 30)
        # what the table shows is the slot's own state
        slot = host.engine.downloader.slots[REVIEWS_SLOT]
        row = next(r for r in table.rows if r.key == REVIEWS_SLOT)
        assert row.concurrency == slot.concurrency
        # hold the delay at 0.4 s from the keyboard: AutoThrottle leaves it there
        await pilot.press("d", "ctrl+u", *"0.4", "enter")
        await pilot.pause()
        assert slot.delay == 0.4
        started = time.time()
        await wait_for(lambda: time.time() - started > 1.5, pilot, 5)
        assert slot.delay == 0.4
        assert monitor.adjustments[-1].reason == HELD
        await wait_for(lambda: host.finished, pilot, 60)
        # the panel polls once a second: wait for the poll after the last response
        total = monitor.tracks[REVIEWS_SLOT].responses
        await wait_for(lambda: reviews_row(table).responses == total, pilot, 10)
        row = reviews_row(table)
        assert row.autothrottle == "held"
        # the cells are the slot's state and the responses' download_latency
        flows = [f for f in host.recorder.flows if f.slot == REVIEWS_SLOT and f.status]
        assert row.responses == len(flows)
        shown = cells(row)
        assert shown[5] == seconds(slot.delay) == "400ms"
        assert shown[7] == seconds(flows[-1].latency)
        latencies = [f.latency for f in flows][-200:]
        assert shown[8] == seconds(sum(latencies) / len(latencies))
        log = [r.message for r in host.recorder.log]
        assert any("Delay of slot reviews set to 0.4s" in m for m in log)


async def test_hostile_slot_keys_are_shown_as_text():
    """A slot key is untrusted (a host name, or download_slot meta from a spider)."""
    source = FakeSource()
    key = "[::1]\x1b]0;PWNED\x07[b]bold"
    source.slot_delays[key] = 0.5
    source.slot_concurrency[key] = 2
    source.overrides[key] = set()
    app = WorkbenchApp(source, autostart=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("8", "j", "j")  # sorted: 127.0.0.1, then the hostile key
        await pilot.pause()
        panel = app.panel("slots")
        await wait_for(lambda: panel.selected == key, pilot, 5)
        await wait_for(lambda: "charts: [::1]" in str(panel.border_subtitle), pilot, 5)
        table = widget_text(app.query_one("#slots-rows"))
        assert "[::1]\\x1b]0;PWNED\\x07[b]bold" in table and "\x1b" not in table
        await pilot.press("d", "ctrl+u", "1", "enter")
        await pilot.pause()
        assert source.pace_calls[-1] == ("delay", key, 1.0)


def test_seconds_format():
    assert [seconds(v) for v in (None, 0, 0.0002, 0.0015, 0.3125, 1.25)] == [
        "-", "0", "<1ms", "2ms", "312ms", "1.25s",
    ]  # fmt: skip
