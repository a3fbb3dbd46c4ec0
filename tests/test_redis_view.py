"""The Redis view (RedisQueueScreen) under Pilot and as snapshots, over a fixed
view: sizes, the chart, the warnings with their evidence, the workers, the head
paged without popping, hostile entries drawn as text, ? help."""

from __future__ import annotations

import pytest

from tests.helpers.redis_views import FakeWatch, RedisHostApp

pytestmark = pytest.mark.slow  # the real app under Pilot

SIZE = (150, 44)


def screen_text(app) -> str:
    from textual.widgets import DataTable, Static

    parts = [str(s.render()) for s in app.screen.query(Static)]
    for table in app.screen.query(DataTable):
        parts.append(str(table.border_title))
        for row in range(table.row_count):
            parts.extend(str(c) for c in table.get_row_at(row))
    return "\n".join(parts)


async def test_the_view_shows_sizes_warnings_workers_and_the_head():
    watch = FakeWatch()
    app = RedisHostApp(watch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        text = screen_text(app)
        assert "redis://:***@127.0.0.1:6379/0" in text
        assert "120 requests" in text and "4,210 fingerprints" in text
        assert "SCHEDULER_PERSIST is False" in text and "pid 103" in text
        assert "1–50 of 120" in text
        assert "refused: the pickle names posix.system" in text
        assert "\x1b" not in text  # the hostile URL is drawn escaped
        await pilot.press("n")
        await pilot.pause(0.3)
        assert "51–100 of 120" in screen_text(app)
        await pilot.press("n", "n")
        await pilot.pause(0.3)
        assert "101–120 of 120" in screen_text(app)
        await pilot.press("p", "g")
        await pilot.pause(0.3)
        assert "1–50 of 120" in screen_text(app)
        assert {offset for offset, _ in watch.peeks} >= {0, 50, 100}
        await pilot.press("question_mark")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "RedisHelpScreen"
        await pilot.press("escape")
        await pilot.pause(0.1)
        assert type(app.screen).__name__ == "RedisQueueScreen"


VIEWS = {
    "redis_view": (120, True, []),
    "redis_view_no_warnings": (3, False, []),
    "redis_view_help": (120, True, ["question_mark"]),
}


@pytest.mark.parametrize("name", list(VIEWS))
def test_redis_view_snapshot(snap_compare, name):
    total, warnings, keys = VIEWS[name]
    app = RedisHostApp(FakeWatch(total=total, warnings=warnings))
    assert snap_compare(app, press=["wait:300", *keys, "wait:300"], terminal_size=SIZE)


async def test_the_queue_panel_says_a_scrapy_redis_crawl_queues_in_redis():
    import dataclasses

    from tests.fakes import FakeSource
    from workbench.ui.app import WorkbenchApp

    note = "scrapy_redis.scheduler.Scheduler: the pending requests wait in Redis, demo:requests"

    class RedisFake(FakeSource):
        def queue(self, offset=0, limit=100):
            return dataclasses.replace(super().queue(offset, limit), shared=note)

    app = WorkbenchApp(RedisFake(), autostart=False)
    async with app.run_test(size=(160, 45)) as pilot:
        await pilot.pause(0.2)
        await pilot.press("2")
        await pilot.pause(0.5)
        label = str(app.screen.query_one("#pending-label").render())
        assert "wait in Redis, demo:requests" in label


async def test_hostile_text_from_redis_and_the_workers_is_drawn_escaped():
    """Every terminal-injection payload in what Redis and the crawls hand the view:
    entries' URLs, callbacks and meta keys, the stats hash, the workers' host,
    Scrapy version and errors, the warnings' evidence."""
    import dataclasses

    from tests.hostile_payloads import PAYLOADS
    from workbench.core.fleet.redis_queue import QueueEntry, QueuePage
    from workbench.core.fleet.redis_warnings import QueueWarning

    watch = FakeWatch()
    view = watch.view()
    workers = tuple(
        dataclasses.replace(
            w,
            host=PAYLOADS[n],
            report=dataclasses.replace(w.report, scrapy_version=PAYLOADS[n + 10]),
            clients=(),
            report_error=PAYLOADS[n + 20],
        )
        for n, w in enumerate(view.workers)
    )
    reading = dataclasses.replace(view.reading, stats=tuple((p, p) for p in PAYLOADS[:8]))
    warning = QueueWarning("x", PAYLOADS[30], tuple(PAYLOADS[31:60]))
    watch._view = dataclasses.replace(view, workers=workers, reading=reading, warnings=(warning,))
    entries = tuple(
        QueueEntry(n, 10, url=f"http://h/{p}", method="GET", callback=p, meta_keys=(p,))
        for n, p in enumerate(PAYLOADS[:50])
    )
    watch.peek = lambda offset=0, limit=50: QueuePage(offset, len(entries), entries, "o")
    app = RedisHostApp(watch)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.5)
        svg = app.export_screenshot()
    for raw in ("\x1b", "\x9b", "\x9d", "\x07", "\u202e"):
        assert raw not in svg
    assert "WB00&gt;" in svg or "WB00>" in svg  # the payloads are there, escaped


async def test_q_on_the_fleet_opens_the_redis_view_and_q_comes_back():
    from tests.helpers.fleet import NOW, FakePoller
    from workbench.ui.screens.fleet import FleetApp

    app = FleetApp(FakePoller(), clock=lambda: NOW, redis_watch=FakeWatch())
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        await pilot.press("Q")
        await pilot.pause(0.3)
        assert type(app.screen).__name__ == "RedisQueueScreen"
        await pilot.press("q")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "FleetScreen"
    # without --redis, Q says how to get the view
    app = FleetApp(FakePoller(), clock=lambda: NOW)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause(0.3)
        await pilot.press("Q")
        await pilot.pause(0.2)
        assert type(app.screen).__name__ == "FleetScreen"
        assert any("--redis URL" in str(n.message) for n in app._notifications)
