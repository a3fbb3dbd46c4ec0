"""RefTracker: trackref sampled over time, baselines, ignoring, prefs() text, leak hints."""

from __future__ import annotations

import time

from scrapy.utils.trackref import format_live_refs, live_refs, object_ref

from workbench.core.leaks.liverefs import CrawlPace, RefTracker, class_key


class Widget(object_ref):
    pass


class SubWidget(Widget):
    pass


class Gadget(object_ref):
    pass


class FakeClock:
    """Monotonic seconds that tests move by hand (ages follow it too)."""

    def __init__(self) -> None:
        self.now = time.monotonic()

    def __call__(self) -> float:
        return self.now


def row(tracker: RefTracker, cls: type):
    return tracker.view().row(class_key(cls))


def test_counts_deltas_baseline_and_growth():
    clock = FakeClock()
    tracker = RefTracker(interval=1.0, window=60.0, clock=clock)
    kept = [Widget() for _ in range(10)]
    assert tracker.sample(CrawlPace(pages=0))
    assert not tracker.sample(CrawlPace(pages=0))  # less than an interval later: skipped
    r = row(tracker, Widget)
    assert (r.count, r.delta, r.since_baseline) == (10, 0, None)
    tracker.set_baseline()
    for t in range(1, 11):
        clock.now += 1
        kept.extend(Widget() for _ in range(6))  # +6 per second: +360 per minute
        tracker.sample(CrawlPace(pages=t))
    r = row(tracker, Widget)
    assert r.count == 70 and r.delta == 6 and r.since_baseline == 60
    assert abs(r.per_minute - 360) < 1
    assert 9.5 < r.oldest_age < 10.5  # the first ten were made ten (clock) seconds ago
    assert r.history[-3:] == (58, 64, 70)
    tracker.clear_baseline()
    assert row(tracker, Widget).since_baseline is None
    del kept


def test_ignore_hides_subclasses_and_prefs_text_matches_scrapy(monkeypatch):
    # prefs() prints each class's oldest age in whole seconds: both texts read
    # the same instant (objects other tests left alive may sit on a boundary)
    import scrapy.utils.trackref

    now = scrapy.utils.trackref.monotonic_ns()
    monkeypatch.setattr(scrapy.utils.trackref, "monotonic_ns", lambda: now)
    clock = FakeClock()
    tracker = RefTracker(clock=clock)
    kept = [Widget(), SubWidget(), Gadget()]
    tracker.sample()
    assert "SubWidget" in tracker.prefs_text()
    tracker.set_ignored(class_key(Widget), True)
    view = tracker.view()
    assert view.row(class_key(Widget)).ignored
    assert view.row(class_key(SubWidget)).ignored  # like prefs(ignore=Widget)
    assert not view.row(class_key(Gadget)).ignored
    text = tracker.prefs_text()
    assert text == format_live_refs(ignore=Widget)
    assert "Gadget" in text and "Widget" not in text
    tracker.set_ignored(class_key(Widget), False)
    assert not tracker.view().row(class_key(SubWidget)).ignored
    del kept


def grow(tracker: RefTracker, clock: FakeClock, seconds: int, per_second: int, pages=True):
    kept = []
    for t in range(seconds):
        clock.now += 1
        kept.extend(Gadget() for _ in range(per_second))
        tracker.sample(CrawlPace(pages=t * 10 if pages else 0, in_flight=2))
    return kept


def test_leak_hint_when_a_class_grows_while_pages_complete():
    clock = FakeClock()
    tracker = RefTracker(interval=1.0, window=20.0, min_rise=20, clock=clock)
    kept = grow(tracker, clock, 25, 3)
    leak = row(tracker, Gadget).leak
    assert leak is not None
    assert "Gadget: 75 live" in leak.message and "pages completed" in leak.message
    assert leak.per_minute > 100
    tracker.set_path(class_key(Gadget), "Holder.things[…] -> Gadget", "3 of 5 sampled")
    leak = row(tracker, Gadget).leak
    assert leak.path == "Holder.things[…] -> Gadget" and leak.path_share == "3 of 5 sampled"
    # an ignored class is never flagged
    tracker.set_ignored(class_key(Gadget), True)
    assert row(tracker, Gadget).leak is None
    del kept


def test_no_hint_while_nothing_completes_or_for_churn():
    clock = FakeClock()
    tracker = RefTracker(interval=1.0, window=20.0, min_rise=20, clock=clock)
    kept = grow(tracker, clock, 25, 3, pages=False)  # a paused crawl: growth, no pages
    assert row(tracker, Gadget).leak is None
    del kept
    # many objects, all young: a busy crawl, not a leak
    clock2 = FakeClock()
    tracker2 = RefTracker(interval=1.0, window=20.0, min_rise=20, clock=clock2)
    batch: list[Gadget] = []
    for t in range(25):
        clock2.now += 1
        batch = [Gadget() for _ in range(t * 3)]  # replaced every second
        for obj in batch:  # created now, by the test's clock
            live_refs[Gadget][obj] = int(clock2.now * 1e9)
        tracker2.sample(CrawlPace(pages=t * 10))
    assert row(tracker2, Gadget).count == 72
    assert row(tracker2, Gadget).leak is None
    del batch


def test_collected_classes_drop_to_zero_and_disappear():
    clock = FakeClock()
    tracker = RefTracker(clock=clock)

    class Temporary(object_ref):
        pass

    objs = [Temporary() for _ in range(3)]
    tracker.sample()
    assert tracker.view().row(class_key(Temporary)).count == 3
    del objs
    clock.now += 1
    tracker.sample()
    assert tracker.view().row(class_key(Temporary)).count == 0  # shown while recent
    tracker2 = RefTracker(clock=clock)
    tracker2.sample()
    assert tracker2.view().row(class_key(Temporary)) is None  # nothing alive: not listed


def test_a_flagged_class_stays_flagged_while_its_objects_are_held():
    """The crawl finished (no page completes, nothing in flight): the leaked objects
    are still there, and so is the hint, until they are released."""
    clock = FakeClock()
    tracker = RefTracker(interval=1.0, window=20.0, min_rise=20, clock=clock)
    kept = grow(tracker, clock, 25, 3)
    assert class_key(Gadget) in tracker.flags  # flagged by sampling, looked at or not
    assert row(tracker, Gadget).leak is not None
    tracker.set_path(class_key(Gadget), "PagesSpider.prices[…][0] -> Gadget", "5 of 5 sampled")
    pages = tracker.pace[-1][1].pages
    for _ in range(60):  # a minute after the end: flat, nothing completes
        clock.now += 1
        tracker.sample(CrawlPace(pages=pages))
    leak = row(tracker, Gadget).leak
    assert leak is not None, "the hint went with the crawl"
    assert "75 live, still held: 3 before the growth flagged 74s ago, +72 since" in leak.message
    assert "nothing is in flight or queued" in leak.message
    assert leak.path == "PagesSpider.prices[…][0] -> Gadget"
    del kept[:60]  # most of them released
    clock.now += 1
    tracker.sample(CrawlPace(pages=pages))
    assert row(tracker, Gadget).leak is None
    assert class_key(Gadget) not in tracker.flags
    del kept
