"""The pace monitor against real crawls of the demo site (AutoThrottle on and off)."""

from __future__ import annotations

import asyncio
import itertools
import time

import pytest
from scrapy.extensions.throttle import AutoThrottle

from tests.conftest import demo_settings
from workbench.core.control.host import CrawlHost
from workbench.core.control.pace import (
    AT_MAXIMUM,
    AT_MINIMUM,
    CUSTOM,
    HELD,
    NON_200_KEPT,
    TOWARD_TARGET,
    UP_TO_TARGET,
    USER,
    explain,
    pace_for,
    percentile,
)
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import REVIEWS_SLOT, DemoSpider, expected_item_count

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

# -- the policy, as data ---------------------------------------------------------


def test_explain_follows_autothrottle_policy():
    # latency 0.4 s, target concurrency 2: target 0.2; from 1.0 halfway is 0.6
    assert explain(1.0, 0.6, 0.4, 200, 2.0, 0.0, 60.0) == (0.2, TOWARD_TARGET)
    # from 0.1 the target (0.2) is above halfway (0.15): raised to it
    assert explain(0.1, 0.2, 0.4, 200, 2.0, 0.0, 60.0) == (0.2, UP_TO_TARGET)
    # DOWNLOAD_DELAY is the floor, AUTOTHROTTLE_MAX_DELAY the ceiling
    assert explain(0.1, 0.5, 0.2, 200, 2.0, 0.5, 60.0)[1] == AT_MINIMUM
    assert explain(1.0, 3.0, 20.0, 200, 1.0, 0.0, 3.0)[1] == AT_MAXIMUM
    # a fast 503 would lower the delay: not allowed
    assert explain(1.0, 1.0, 0.01, 503, 1.0, 0.0, 60.0)[1] == NON_200_KEPT
    # a 503 that raises it is taken
    assert explain(0.1, 2.0, 2.0, 503, 1.0, 0.0, 60.0)[1] == UP_TO_TARGET
    # anything else came from a policy of the user's own
    assert explain(1.0, 0.9, 0.4, 200, 2.0, 0.0, 60.0)[1] == CUSTOM


def test_percentile_nearest_rank():
    assert percentile([], 0.95) is None
    assert percentile([3.0], 0.95) == 3.0
    values = [float(i) for i in range(1, 101)]
    assert percentile(values, 0.95) == 95.0
    assert percentile(values, 0.5) == 50.0


# -- real crawls -------------------------------------------------------------------


async def _crawl(url: str, **settings) -> tuple[CrawlHost, LocalSource]:
    host = CrawlHost(demo_settings(**settings), DemoSpider, {"url": url, "reviews": "1"})
    source = LocalSource(host)
    await source.start()
    return host, source


async def test_rows_match_slots_and_latencies(small_pace_site):
    url, site = small_pace_site
    host, source = await _crawl(
        url, AUTOTHROTTLE_ENABLED=True, AUTOTHROTTLE_START_DELAY=0.05, AUTOTHROTTLE_DEBUG=True
    )
    monitor = pace_for(host.crawler)
    # while it runs, a row is the slot's own state
    for _ in range(200):
        await asyncio.sleep(0.05)
        slots = host.engine.downloader.slots if host.engine else {}
        if REVIEWS_SLOT in slots:
            break
    view = source.pace(REVIEWS_SLOT)
    slot = host.engine.downloader.slots[REVIEWS_SLOT]
    row = {r.key: r for r in view.rows}[REVIEWS_SLOT]
    assert (row.delay, row.concurrency, row.live) == (slot.delay, slot.concurrency, True)
    assert row.autothrottle == "on"
    await host.wait()

    assert host.crawler.stats.get_value("item_scraped_count") == expected_item_count(
        site.pages, True
    )
    view = source.pace()
    rows = {r.key: r for r in view.rows}
    assert set(rows) == {"127.0.0.1", REVIEWS_SLOT}
    flows = list(host.recorder.flows)
    for key, row in rows.items():
        latencies = [f.latency for f in flows if f.slot == key and f.status is not None]
        assert row.responses == len(latencies)
        assert row.non200 == sum(1 for f in flows if f.slot == key and f.status not in (None, 200))
        assert row.latency_last == latencies[-1]
        window = latencies[-200:]
        assert row.latency_mean == pytest.approx(sum(window) / len(window))
        assert row.latency_p95 == percentile(window, 0.95)
        assert row.errors == 0
    # reviews take 0.2 s or more (x0.7..1.3): AutoThrottle's target follows
    assert rows[REVIEWS_SLOT].latency_mean > 0.13
    assert rows[REVIEWS_SLOT].target_delay == pytest.approx(rows[REVIEWS_SLOT].latency_last)

    # one adjustment row per response, explained; the delays chain up
    adjustments = [a for a in monitor.adjustments if a.slot == REVIEWS_SLOT]
    assert len(adjustments) == rows[REVIEWS_SLOT].responses
    assert {a.reason for a in adjustments} <= {TOWARD_TARGET, UP_TO_TARGET, NON_200_KEPT}
    for before, after in itertools.pairwise(adjustments):
        assert after.old_delay == pytest.approx(before.new_delay)
    # AUTOTHROTTLE_DEBUG still logs: the extension ran, called from the monitor
    assert any("slot: reviews" in r.message for r in host.recorder.log)
    # the series: a point a second, delay converging toward the latency
    series = [p for p in view.series if p.responses]
    assert series and sum(p.responses for p in series) == sum(r.responses for r in rows.values())
    reviews = source.pace(REVIEWS_SLOT)
    assert reviews.selected == REVIEWS_SLOT
    last = reviews.series[-1]
    assert last.delay == pytest.approx(rows[REVIEWS_SLOT].delay)
    assert 0.1 < last.delay < 0.35


async def test_set_delay_pins_slot_and_changes_rate(pace_site):
    url, _ = pace_site
    host, source = await _crawl(url, AUTOTHROTTLE_ENABLED=True, AUTOTHROTTLE_START_DELAY=0.05)
    monitor = pace_for(host.crawler)
    for _ in range(200):
        await asyncio.sleep(0.05)
        if monitor.tracks.get(REVIEWS_SLOT) and monitor.tracks[REVIEWS_SLOT].responses >= 3:
            break
    message = source.set_slot_delay(REVIEWS_SLOT, 0.6)
    assert "0.6s" in message and "AutoThrottle" in message
    slot = host.engine.downloader.slots[REVIEWS_SLOT]
    assert slot.delay == 0.6
    assert host.engine.downloader.per_slot_settings[REVIEWS_SLOT]["delay"] == 0.6
    start_count = monitor.tracks[REVIEWS_SLOT].responses
    started = time.monotonic()
    await asyncio.sleep(2.5)
    done = monitor.tracks[REVIEWS_SLOT].responses - start_count
    elapsed = time.monotonic() - started
    # one request per 0.6 s at most (the first may have been in flight already)
    assert done <= elapsed / 0.6 + 2
    assert slot.delay == 0.6  # held: AutoThrottle left it alone
    rows = {r.key: r for r in source.pace().rows}
    assert rows[REVIEWS_SLOT].autothrottle == "held"
    assert rows[REVIEWS_SLOT].overrides == "delay"
    reasons = [a.reason for a in monitor.adjustments if a.slot == REVIEWS_SLOT]
    assert USER in reasons and reasons[-1] == HELD
    # the change is in the log
    assert any("Delay of slot reviews set to 0.6s" in r.message for r in host.recorder.log)

    # AutoThrottle back on; concurrency; everything faster again
    source.set_slot_autothrottle(REVIEWS_SLOT, True)
    assert "delay" not in host.engine.downloader.per_slot_settings[REVIEWS_SLOT]
    assert {r.key: r for r in source.pace().rows}[REVIEWS_SLOT].autothrottle == "on"
    source.set_slot_delay(None, 0.0)
    source.set_slot_concurrency(REVIEWS_SLOT, 4)
    assert slot.concurrency == 4 and slot.delay == 0.0
    assert host.engine.downloader._delay == 0.0
    with pytest.raises(ValueError, match="between 0 and"):
        source.set_slot_delay(REVIEWS_SLOT, -1)
    with pytest.raises(ValueError, match="between 1 and"):
        source.set_slot_concurrency(REVIEWS_SLOT, 0)
    with pytest.raises(ValueError, match="no downloader slot"):
        source.set_slot_delay("nope", 1)
    host.stop()
    await host.wait()


async def test_errors_and_bursts_counted(reactor):
    """503 bursts count as non-200 and keep the delay; refused connections are errors."""
    from scrapy.utils.defer import maybe_deferred_to_future

    from workbench.demo.site import build_site, listen, url_of

    site = build_site(pages=10, review_latency=0.05, burst_every=1.0, burst_length=0.5)
    port = listen(site=site)
    url = url_of(port)
    try:
        host, source = await _crawl(url, AUTOTHROTTLE_ENABLED=True, AUTOTHROTTLE_START_DELAY=0.0)
        await host.wait()
    finally:
        await maybe_deferred_to_future(port.stopListening())
    rows = {r.key: r for r in source.pace().rows}
    monitor = pace_for(host.crawler)
    refused = site.resource.reviews_refused
    assert refused > 0
    assert rows[REVIEWS_SLOT].non200 == refused
    kept = [a for a in monitor.adjustments if a.reason == NON_200_KEPT]
    assert all(a.status != 200 and a.new_delay == a.old_delay for a in kept)
    assert any(a.status == 503 and a.slot == REVIEWS_SLOT for a in kept)

    # download errors: a port nothing listens on
    host = CrawlHost(demo_settings(RETRY_ENABLED=False), DemoSpider, {"url": url, "reviews": "0"})
    source = LocalSource(host)
    await source.start()
    await host.wait()
    row = source.pace().rows[0]
    assert (row.responses, row.errors) == (0, 1)
    assert row.autothrottle == "-"
    with pytest.raises(ValueError, match="not running"):
        source.set_slot_delay(None, 1)


def test_idle_slots_are_forgotten_past_the_cap(monkeypatch):
    """A broad crawl's counters stay bounded: the longest-idle dropped slots go first."""
    from types import SimpleNamespace

    from workbench.core.control.pace import monitor as pace_monitor

    monkeypatch.setattr(pace_monitor, "MAX_TRACKED", 20)  # where _track reads it
    live = {"live": object()}
    crawler = SimpleNamespace(
        settings=demo_settings(),
        engine=SimpleNamespace(downloader=SimpleNamespace(slots=live)),
    )
    monitor = pace_monitor.PaceMonitor(crawler)
    monitor._track("live")
    monitor._track("kept").overrides["delay"] = 1.0  # set by the user: kept
    for i in range(30):
        monitor._track(f"gone{i}").last_seen = float(i)
    assert len(monitor.tracks) <= 20
    assert {"live", "kept", "gone29"} <= set(monitor.tracks)
    assert "gone0" not in monitor.tracks


def test_the_readings_before_the_crawl_starts_are_empty_not_an_error():
    """Scrapy 2.19's Crawler raises RuntimeError when its engine (or stats) is read
    before the crawl starts; the status line's diagnosis reads the engine from the
    first refresh on, and failed with it while a crawl started."""
    from scrapy.crawler import Crawler

    from workbench.core.control.late import late
    from workbench.core.control.pace import monitor as pace_monitor

    crawler = Crawler(DemoSpider, demo_settings())
    with pytest.raises(RuntimeError):
        crawler.engine  # noqa: B018 (what the workbench must not do)
    assert late(crawler, "engine") is None and late(crawler, "stats") is None
    assert late(None, "engine") is None
    monitor = pace_monitor.PaceMonitor(crawler)
    assert monitor.downloader is None
    reading = monitor.engine_view()
    assert reading is not None and reading.slots == () and reading.last_response is None


class TripleThrottle(AutoThrottle):
    """A project's own AutoThrottle policy: three times the latency, always."""

    def _adjust_delay(self, slot, latency, response):
        slot.delay = latency * 3


async def test_a_custom_autothrottle_policy_is_run_and_labelled(small_pace_site):
    url, _ = small_pace_site
    host, source = await _crawl(
        url,
        AUTOTHROTTLE_ENABLED=True,
        AUTOTHROTTLE_START_DELAY=0.0,
        EXTENSIONS={
            "scrapy.extensions.throttle.AutoThrottle": None,
            "tests.test_pace.TripleThrottle": 0,
        },
    )
    await host.wait()
    view = source.pace(REVIEWS_SLOT)
    assert view.autothrottle == "tests.test_pace.TripleThrottle"
    rows = [a for a in view.adjustments if a.status == 200]
    assert rows and all(a.new_delay == pytest.approx(a.latency * 3) for a in rows)
    assert {a.reason for a in rows} == {CUSTOM}
