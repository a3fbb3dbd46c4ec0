"""The diagnosis rules, one by one: evidence in, verdict out; a healthy crawl, none.

Evidence is built by hand (tests/helpers/diagnosis.py): the engine's readings
of a crawl in a given state, its stats and fates.  Each rule must speak when
its condition holds through the window, name its figures, the setting and
what Enter opens, and keep quiet otherwise.
"""

from __future__ import annotations

import dataclasses

import pytest

from tests.helpers.diagnosis import (
    NOW,
    evidence,
    point,
    points,
    reading,
    slot_points,
    slot_row,
    snapshot,
)
from workbench.core.control.host import CrawlStatus
from workbench.core.inspection.diagnosis import (
    LIMIT,
    NOTE,
    PROBLEM,
    RULES,
    Evidence,
    Rule,
    Target,
    Verdict,
    diagnose,
    fate_filter,
    pace_stall_rules,
    rule,
    summarize_fates,
)
from workbench.core.inspection.filters import parse_filter
from workbench.core.recording.item_health import ItemHealthCounter
from workbench.core.recording.records import Flow


def verdicts(ev: Evidence) -> dict[str, Verdict]:
    return {v.code: v for v in diagnose(ev).verdicts}


def figures(v: Verdict) -> str:
    return " | ".join(f"{what}: {figure}" for what, figure in v.evidence)


# -- a healthy crawl ---------------------------------------------------------------


def test_a_healthy_crawl_has_no_verdict_and_every_rule_ran():
    result = diagnose(evidence(engine=reading()))
    assert result.verdicts == ()
    assert result.headline is None
    titles = {r.title for r in RULES}
    # every rule ran but the items one (no items here) and the last run's (none kept)
    assert set(result.checked) == titles - {
        "items missing fields",
        "what changed since the last run",
    }
    assert [t for t, _ in result.unchecked] == [
        "items missing fields",
        "what changed since the last run",
    ]


def test_without_engine_readings_the_pace_rules_say_why_not():
    result = diagnose(evidence())  # a HAR file, a probe: no engine readings
    unchecked = dict(result.unchecked)
    assert "CPU and the event loop (reactor lag)" in unchecked
    assert "engine's readings" in unchecked["CPU and the event loop (reactor lag)"]
    assert "retries and pushback (429, 503)" in result.checked  # the stats' rules still run


@pytest.mark.parametrize("state", ["paused", "finished", "closing"])
def test_pace_rules_judge_a_running_crawl_only(state):
    busy = reading(points(cpu=0.99, blocked=0.9))
    result = diagnose(evidence(snapshot(state=state), busy))
    assert "cpu" not in verdicts(evidence(snapshot(state=state), busy))
    assert "applies while the crawl runs" in dict(result.unchecked)["stalled downloads"]


def test_the_first_seconds_of_a_crawl_are_not_judged():
    busy = reading(points(cpu=0.99))
    assert "cpu" not in verdicts(evidence(snapshot(elapsed=2.0), busy))
    assert "cpu" in verdicts(evidence(snapshot(elapsed=30.0), busy))


def test_too_few_readings_make_no_pace_verdict():
    assert verdicts(evidence(engine=reading(points(n=3, cpu=0.99)))) == {}


# -- what bounds the speed -----------------------------------------------------------


def test_cpu_bound():
    v = verdicts(evidence(engine=reading(points(cpu=0.97))))["cpu"]
    assert v.severity == LIMIT and "97% of a core" in v.headline
    assert "CPU: 97% of one core" in figures(v)
    assert "py-spy" in v.setting and "Finding the bottleneck" in v.doc
    assert v.target == Target("slots", label=v.target.label)


def test_a_blocked_loop_without_full_cpu():
    # half a core (a machine whose cores are shared), but the loop never rests
    v = verdicts(evidence(engine=reading(points(cpu=0.45, lag=0.3, blocked=0.8))))["cpu"]
    assert v.headline == "event loop blocked 80% of the time"
    assert "8.0 of the last 10 s (at most 0.30 s at a time)" in figures(v)


def test_a_loop_blocked_for_seconds_at_a_time_takes_few_readings():
    # a callback that runs 3 s: one reading every 3 s, each 3 s late
    sparse = tuple(point(i, 20, lag=2.9, blocked=2.9, cpu=0.5) for i in range(0, 20, 3))
    v = verdicts(evidence(engine=reading(sparse)))["cpu"]
    assert "event loop blocked" in v.headline
    assert "readings: 4 in 9 s" in figures(v)


def test_a_scraper_backing_out_is_the_crawls_own_code():
    v = verdicts(evidence(engine=reading(points(backout=True, scraping=40,
                                                scraper_bytes=6_000_000))))["cpu"]  # fmt: skip
    assert "callbacks" in v.headline
    assert "SCRAPER_SLOT_MAX_ACTIVE_SIZE 5,000,000" in figures(v)


def test_one_slow_second_is_not_a_cpu_bound_crawl():
    spiky = tuple(point(i, cpu=0.99 if i == 19 else 0.3, blocked=0.9 if i == 19 else 0.01)
                  for i in range(20))  # fmt: skip
    assert "cpu" not in verdicts(evidence(engine=reading(spiky)))


def test_network_bound():
    v = verdicts(evidence(engine=reading(points(active=16, transferring=16))))["network"]
    assert "CONCURRENT_REQUESTS (now 16)" in v.setting
    assert "16 of CONCURRENT_REQUESTS 16" in figures(v)


def test_a_full_downloader_waiting_on_delays_is_not_the_network():
    # 16 handed to the downloader, 1 on the wire: a slot's limit, not the network
    assert "network" not in verdicts(evidence(engine=reading(points(active=16, transferring=1))))


SERIES_FIELDS = ("concurrency", "active", "transferring", "delay")


def _slot(key: str = "127.0.0.1", **kw) -> tuple:
    """A slot's row and series, the fields of ``kw`` each takes."""
    series_kw = {k: v for k, v in kw.items() if k in SERIES_FIELDS}
    return slot_row(key, **kw), slot_points(**series_kw)


def test_a_slot_full_names_concurrent_requests_per_domain():
    slots = {"127.0.0.1": _slot(concurrency=1, active=15, transferring=1)}
    ev = evidence(engine=reading(points(active=15, transferring=1), slots, per_domain=1))
    v = verdicts(ev)["slots-full"]
    assert "CONCURRENT_REQUESTS_PER_DOMAIN" in v.headline
    assert v.setting.startswith("CONCURRENT_REQUESTS_PER_DOMAIN (now 1)")
    assert v.target == Target("slots", slot="127.0.0.1", label="slot 127.0.0.1")
    assert "delay" not in verdicts(ev)


def test_a_slot_full_under_per_ip_names_it():
    slots = {"10.0.0.1": _slot("10.0.0.1", concurrency=2, active=9, transferring=2)}
    ev = evidence(engine=reading(points(), slots, per_ip=2))
    assert verdicts(ev)["slots-full"].setting.startswith("CONCURRENT_REQUESTS_PER_IP (now 2)")


def test_a_slot_with_its_own_concurrency_says_so():
    slots = {"127.0.0.1": _slot(concurrency=2, active=15, transferring=2)}
    v = verdicts(evidence(engine=reading(points(), slots, per_domain=8)))["slots-full"]
    assert "this slot's concurrency is 2" in v.setting


def test_a_slot_over_its_concurrency_is_a_problem():
    slots = {"127.0.0.1": _slot(concurrency=1, active=15, transferring=15)}
    v = verdicts(evidence(engine=reading(points(), slots, per_domain=1)))["over-concurrency"]
    assert v.severity == PROBLEM
    assert v.headline == "127.0.0.1: 15 on the wire for a concurrency of 1"
    assert v.setting.startswith("DOWNLOAD_DELAY above 0")
    within = {"127.0.0.1": _slot(concurrency=8, active=8, transferring=8)}
    assert "over-concurrency" not in verdicts(evidence(engine=reading(points(), within)))


def test_a_download_delay_bound():
    slots = {"127.0.0.1": _slot(delay=1.0, active=16, transferring=0)}
    v = verdicts(evidence(engine=reading(points(), slots, download_delay=1.0)))["delay"]
    assert "DOWNLOAD_DELAY" in v.headline
    assert v.setting.startswith("DOWNLOAD_DELAY (now 1 s)")
    assert "≤ 1.0 requests/s" in figures(v)


def test_autothrottle_bound_and_its_settings():
    at = _slot("a", delay=2.0, active=16, transferring=0, autothrottle="on", target_delay=2.0)
    v = verdicts(evidence(engine=reading(points(), {"a": at}, autothrottle=True)))["delay"]
    assert "AutoThrottle" in v.headline and "AutoThrottle" in v.doc
    assert v.setting.startswith("AUTOTHROTTLE_TARGET_CONCURRENCY (now 1)")
    assert "latency / AUTOTHROTTLE_TARGET_CONCURRENCY" in figures(v)
    at_max = _slot("a", delay=60.0, active=16, transferring=0, autothrottle="on")
    v = verdicts(evidence(engine=reading(points(), {"a": at_max}, autothrottle=True)))["delay"]
    assert v.setting.startswith("AUTOTHROTTLE_MAX_DELAY (now 60 s)")
    floor = _slot("a", delay=0.5, active=16, transferring=0, autothrottle="on")
    ev = evidence(engine=reading(points(), {"a": floor}, autothrottle=True, download_delay=0.5))
    assert verdicts(ev)["delay"].setting.startswith("DOWNLOAD_DELAY (now 0.5 s): AutoThrottle")


def test_a_delay_with_nothing_waiting_is_not_a_limit():
    slots = {"127.0.0.1": _slot(delay=1.0, active=1, transferring=1)}
    assert "delay" not in verdicts(evidence(engine=reading(points(), slots)))


def test_one_slot_holding_the_crawl():
    slots = {
        "slow": _slot("slow", delay=3.0, active=15, transferring=1),
        "fast": _slot("fast", active=1, transferring=1),
    }
    ev = evidence(engine=reading(points(active=16, transferring=2), slots))
    v = verdicts(ev)["one-slot"]
    assert "slow holds the crawl (15 of 16)" in v.headline
    assert v.setting.startswith("CONCURRENT_REQUESTS (now 16)")
    assert v.target.slot == "slow"
    fifo = evidence(engine=reading(points(active=16), slots, priority_queue="ScrapyPriorityQueue"))
    assert "DownloaderAwarePriorityQueue" in verdicts(fifo)["one-slot"].setting
    # alone, a slot holds nothing from anyone
    alone = evidence(engine=reading(points(active=16), {"slow": slots["slow"]}))
    assert "one-slot" not in verdicts(alone)


def test_a_starved_scheduler():
    v = verdicts(evidence(engine=reading(points(queued=0, active=1, transferring=1))))["starved"]
    assert "scheduler starved" in v.headline
    assert v.target.panel == "queue" and "sitemap" in v.setting


def test_an_empty_scheduler_with_nothing_arriving_is_not_starvation():
    idle = reading(points(queued=0, active=1, transferring=1, responses=100))
    assert "starved" not in verdicts(evidence(engine=idle))


def test_a_stall():
    quiet = reading(tuple(point(i, 60, responses=100) for i in range(60)), last_response=NOW - 90)
    v = verdicts(evidence(engine=quiet))["stalled"]
    assert v.severity == PROBLEM
    assert "stalled 90 s" in v.headline and "DOWNLOAD_TIMEOUT (now 180 s)" in v.setting
    assert v.target.panel == "queue"
    assert diagnose(evidence(engine=quiet)).headline.code == "stalled"  # a problem first


def test_a_stall_follows_the_in_flight_clock_when_the_source_has_it():
    from workbench.core.control.in_flight import InFlightSummary

    busy = reading(points(transferring=6))  # responses keep coming in the readings
    clock = InFlightSummary(6, quiet=42.0, stall_after=40.0, oldest_age=130.0,
                            oldest_url="http://a.test/item/7", oldest_left=50.0)  # fmt: skip
    snap = snapshot(status=CrawlStatus("running", 6, 40, None, None, transfers=clock))
    v = verdicts(evidence(snap, busy))["stalled"]
    assert v.headline == "stalled 42 s: 6 on the wire, no response"
    assert "oldest: 130 s: http://a.test/item/7" in figures(v)
    assert "it times out in: 50 s" in figures(v)
    calm = dataclasses.replace(clock, quiet=10.0)
    snap = snapshot(status=CrawlStatus("running", 6, 40, None, None, transfers=calm))
    quiet = reading(tuple(point(i, 60, responses=100) for i in range(60)), last_response=NOW - 90)
    assert "stalled" not in verdicts(evidence(snap, quiet))  # the clock says not (yet)


def test_a_stall_is_not_called_before_its_time(monkeypatch):
    quiet = reading(tuple(point(i, 20, responses=100) for i in range(20)), last_response=NOW - 25)
    assert "stalled" not in verdicts(evidence(engine=quiet))
    monkeypatch.setattr(pace_stall_rules, "STALL_AFTER", 10.0)
    assert "stalled" in verdicts(evidence(engine=quiet))


# -- what became of the requests -----------------------------------------------------


def test_retries_from_pushback():
    stats = {"retry/count": 80, "retry/max_reached": 5, "downloader/response_status_count/429": 60,
             "retry/reason_count/429 Unknown Status": 80}  # fmt: skip
    v = verdicts(evidence(snapshot(stats=stats)))["retries"]
    assert v.severity == PROBLEM and "pushes back" in v.headline
    assert "AUTOTHROTTLE_ENABLED" in v.setting
    assert parse_filter(v.target.filter)  # a filter that parses


def test_retries_from_timeouts():
    stats = {"retry/count": 60,
             "retry/reason_count/twisted.internet.error.TimeoutError": 60}  # fmt: skip
    v = verdicts(evidence(snapshot(stats=stats)))["retries"]
    assert "timeouts" in v.headline and v.severity == LIMIT
    assert v.setting.startswith("DOWNLOAD_TIMEOUT")


def test_a_few_retries_are_no_verdict():
    assert "retries" not in verdicts(evidence(snapshot(stats={"retry/count": 5})))
    tiny = {"downloader/request_count": 5, "retry/count": 5}  # too few requests to judge
    assert "retries" not in verdicts(evidence(snapshot(stats=tiny)))


def test_download_callback_and_http_errors():
    stats = {
        "spider_exceptions/count": 30,
        "spider_exceptions/KeyError": 30,
        "downloader/exception_count": 40,
        "downloader/exception_type_count/twisted.internet.error.ConnectionRefusedError": 40,
        "downloader/response_status_count/404": 60,
    }
    found = verdicts(evidence(snapshot(stats=stats)))
    assert "ConnectionRefusedError ×40" in figures(found["download-errors"])
    assert "KeyError ×30" in figures(found["callback-errors"])
    assert found["callback-errors"].severity == PROBLEM
    assert found["http-errors"].headline == "404 on 20% of responses"
    assert found["http-errors"].target.filter == "~c 404"
    for v in found.values():
        parse_filter(v.target.filter)


def test_one_callback_error_in_many_responses_is_a_note():
    stats = {"spider_exceptions/count": 1, "spider_exceptions/ValueError": 1}
    v = verdicts(evidence(snapshot(stats=stats)))["callback-errors"]
    assert v.severity == NOTE and v.headline == "1 callback error(s)"


def _flow(n: int, url: str, fate: str | None = None, by: str | None = None) -> Flow:
    status = None if fate in ("offsite", "duplicate", "depth") else 200
    return Flow(n, NOW, "GET", url, status, None, 0, None, None, 0, 0,
                url.split("/")[2] if fate is None else None, fate=fate, fate_by=by)  # fmt: skip


def test_offsite_to_a_sibling_host_is_a_problem():
    flows = [_flow(1, "http://example.com/"), _flow(2, "http://example.com/a")]
    flows += [_flow(10 + n, f"http://www.example.com/p/{n}", "offsite") for n in range(12)]
    flows += [_flow(30, "https://twitter.com/shop", "offsite")]
    ev = evidence(snapshot(fates={"offsite": 13}), flows=flows)
    v = verdicts(ev)["offsite"]
    assert v.severity == PROBLEM
    assert "www.example.com" in v.finding and "allowed_domains" in v.setting
    assert "www.example.com ×12" in figures(v)
    assert v.target.filter == "~fate offsite"


def test_offsite_to_other_sites_is_a_note():
    flows = [_flow(1, "http://example.com/"), _flow(2, "https://twitter.com/x", "offsite")]
    v = verdicts(evidence(snapshot(fates={"offsite": 1}), flows=flows))["offsite"]
    assert v.severity == NOTE and v.headline == "1 offsite drop"


def test_many_duplicates_is_a_note():
    v = verdicts(evidence(snapshot(fates={"duplicate": 900})))["duplicates"]
    assert v.severity == NOTE and v.target.filter == "~fate duplicate"
    assert "duplicates" not in verdicts(evidence(snapshot(fates={"duplicate": 40})))


@pytest.mark.parametrize(
    ("fate", "severity", "setting"),
    [
        ("depth", NOTE, "DEPTH_LIMIT"),
        ("robots", NOTE, "ROBOTSTXT_OBEY"),
        ("ignored", NOTE, "IgnoreRequest"),
        ("scheduler", NOTE, "request_dropped"),
        ("maxsize", PROBLEM, "DOWNLOAD_MAXSIZE"),
    ],
)
def test_each_drop_names_its_setting(fate, severity, setting):
    v = verdicts(evidence(snapshot(fates={fate: 3})))[fate]
    assert v.severity == severity and setting in v.setting
    assert v.target.filter == f"~fate {fate}"


def test_the_component_that_ignored_is_named():
    flows = [_flow(1, "http://a.test/x", "ignored", "shop.middlewares.SkipDrafts")]
    v = verdicts(evidence(snapshot(fates={"ignored": 1}), flows=flows))["ignored"]
    assert "SkipDrafts ×1" in figures(v)


def test_pending_at_the_end_names_the_closespider_setting():
    snap = snapshot(state="finished", finish_reason="closespider_itemcount", fates={"pending": 7})
    v = verdicts(evidence(snap))["pending"]
    assert v.setting.startswith("CLOSESPIDER_ITEMCOUNT") and "JOBDIR" in v.setting


def _items(filled: int, unfilled: int):
    counter = ItemHealthCounter()
    for n in range(filled + unfilled):
        title = "A book" if n < filled else None
        counter.add(n + 1, n + 1, f"http://a.test/{n}", "Book", (("title", title),))
    return counter.view()


def test_items_missing_fields():
    v = verdicts(evidence(items=_items(86, 14)))["items"]
    assert v.severity == PROBLEM and v.headline == "title not filled in 14% of Book"
    assert v.target.panel == "items" and v.target.filter == "!~f title & ~it '^Book$'"
    assert "item #87" in figures(v)
    assert verdicts(evidence(items=_items(2, 1)))["items"].severity == NOTE  # 3 items: thin
    assert "items" not in verdicts(evidence(items=_items(20, 0)))


# -- the registry ----------------------------------------------------------------------


def test_the_headline_is_the_worst_problem_or_limit_never_a_note():
    notes_only = evidence(snapshot(fates={"depth": 2, "duplicate": 900}))
    assert diagnose(notes_only).verdicts and diagnose(notes_only).headline is None
    both = evidence(snapshot(fates={"maxsize": 1}), reading(points(cpu=0.99)))
    assert [v.severity for v in diagnose(both).verdicts] == [PROBLEM, LIMIT]
    assert diagnose(both).headline.code == "maxsize"


def test_a_rule_that_fails_is_contained_and_listed():
    def broken(ev):
        raise KeyError("nope")

    rules = [Rule("broken", "a broken rule", (), broken), *RULES]
    result = diagnose(evidence(snapshot(fates={"maxsize": 1})), rules)
    assert ("a broken rule", "failed: KeyError") in result.unchecked
    assert "maxsize" in {v.code for v in result.verdicts}


def test_rules_are_declared_once_with_known_needs():
    with pytest.raises(ValueError, match="declared twice"):
        rule("cpu", "again")(lambda ev: None)
    with pytest.raises(ValueError, match="unknown needs"):
        rule("new", "new", needs=("telepathy",))
    assert len({r.code for r in RULES}) == len(RULES)
    for r in RULES:  # each rule's docstring or module cites the docs it applies
        assert r.title and r.check.__module__.startswith("workbench.core.inspection.diagnosis")


def test_every_verdict_target_filter_parses():
    everything = evidence(
        snapshot(
            stats={"retry/count": 80, "spider_exceptions/count": 40,
                   "downloader/exception_count": 40, "downloader/response_status_count/500": 80},
            fates={f: 60 for f in ("offsite", "duplicate", "depth", "robots", "ignored",
                                   "scheduler", "maxsize", "pending")},
        ),
        items=_items(5, 15),
    )  # fmt: skip
    found = diagnose(everything).verdicts
    assert len(found) >= 12
    for v in found:
        if v.target is not None and v.target.filter:
            target = "items" if v.target.panel == "items" else "flows"
            parse_filter(v.target.filter, target)


# -- the fates summary -------------------------------------------------------------------


def test_the_fates_summary_counts_by_fate_and_component_with_examples():
    flows = [_flow(1, "http://a.test/"), _flow(2, "http://a.test/b")]
    flows += [_flow(10 + n, f"http://a.test/p/{n}", "duplicate", "scrapy.dupefilters.RFPDupeFilter")
              for n in range(5)]  # fmt: skip
    flows += [_flow(20, "http://a.test/skip", "ignored", "shop.mw.Skip"),
              _flow(21, "http://a.test/cache", "ignored", "shop.mw.Cache"),
              _flow(22, "http://a.test/cache2", "ignored", "shop.mw.Cache"),
              _flow(23, "http://a.test/anon", "ignored", None)]  # fmt: skip
    summary = summarize_fates(flows, {"duplicate": 105, "ignored": 4}, 2, unkept=100)
    rows = [(r.fate, r.component, r.count, r.kept, r.part) for r in summary.rows]
    assert rows == [
        ("duplicate", None, 105, 5, False),
        ("duplicate", "scrapy.dupefilters.RFPDupeFilter", 5, 5, True),
        ("ignored", None, 4, 4, False),
        ("ignored", "shop.mw.Cache", 2, 2, True),
        ("ignored", None, 1, 1, True),
        ("ignored", "shop.mw.Skip", 1, 1, True),
    ]
    dup = summary.row("duplicate")
    assert dup.examples == ((10, "http://a.test/p/0"), (11, "http://a.test/p/1"),
                            (12, "http://a.test/p/2"))  # fmt: skip
    assert dup.hosts == (("a.test", 5),)
    assert summary.unkept == 100 and summary.never_downloaded == 109
    assert summary.hosts_reached == frozenset({"a.test"})


def test_each_fates_row_opens_exactly_its_flows():
    flows = [_flow(1, "http://a.test/")]
    flows += [_flow(20, "http://a.test/skip", "ignored", "shop.mw.Skip"),
              _flow(21, "http://a.test/cache", "ignored", "shop.mw.Cache"),
              _flow(23, "http://a.test/anon", "ignored", None),
              _flow(24, "http://a.test/dup", "duplicate", "scrapy.dupefilters.RFP")]  # fmt: skip
    summary = summarize_fates(flows, {}, 1)
    for row in summary.rows:
        selected = parse_filter(fate_filter(row))
        ids = [f.id for f in flows if selected(f, None)]
        assert len(ids) == row.kept, (fate_filter(row), ids)
    assert [fate_filter(r) for r in summary.rows if r.fate == "ignored"] == [
        "~fate ignored",
        "~fate ignored & !~by .",
        "~fate ignored & ~by Cache$",
        "~fate ignored & ~by Skip$",
    ]


def test_by_selects_the_component_that_decided():
    skip = _flow(1, "http://a.test/x", "ignored", "shop.middlewares.SkipDrafts")
    plain = _flow(2, "http://a.test/y")
    assert parse_filter("~by SkipDrafts$")(skip, None)
    assert not parse_filter("~by SkipDrafts$")(plain, None)
    assert parse_filter("!~by .")(plain, None) and not parse_filter("!~by .")(skip, None)
