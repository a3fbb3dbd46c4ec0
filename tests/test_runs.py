"""What changed since the last run: run summaries (kept atomically, privately, bounded,
per spider and project), their comparison, and two real crawls in-process, the second
with fewer items, offsite drops, missing titles and an error."""

from __future__ import annotations

import dataclasses
import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import scrapy
from scrapy.settings import Settings
from twisted.web import resource, server

from tests.conftest import demo_settings
from tests.helpers.runs import T0, comparison, last_run, this_run
from workbench.core.control.host import CrawlHost
from workbench.core.recording import run_changes
from workbench.core.recording.run_changes import BETTER, WORSE, compare, short
from workbench.core.recording.run_store import (
    KEEP_SETTING,
    MAX_FILE,
    RunStore,
    keep_run,
    read,
    state_dir,
)
from workbench.core.recording.runs import RunSummary, project_of, run_key
from workbench.core.sources.local import LocalSource

# -- the summary and where it is kept --------------------------------------------------


def test_the_tests_keep_runs_in_a_temporary_state_dir():
    assert os.environ["WORKBENCH_STATE_DIR"] == str(state_dir())
    assert "workbench-state-" in str(state_dir())


def test_a_summary_survives_the_round_trip(tmp_path):
    store = RunStore(tmp_path)
    run = this_run()
    path = store.save(run)
    back = read(path)
    assert back is not None
    assert dataclasses.replace(back, path="") == run
    assert back.path == str(path)
    assert (back.items, back.pages, back.errors_logged, back.duration) == (300, 400, 36, 65)


def test_it_is_written_atomically_and_privately(tmp_path):
    store = RunStore(tmp_path / "runs")
    path = store.save(last_run())
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "runs").stat().st_mode) == 0o700
    json.loads(path.read_bytes())  # one JSON document


def test_two_projects_spiders_of_one_name_do_not_mix(tmp_path):
    store = RunStore(tmp_path)
    store.save(last_run(project="/a/shop"))
    store.save(this_run(project="/b/shop"))
    assert run_key("demo", "/a/shop") != run_key("demo", "/b/shop")
    assert store.previous(run_key("demo", "/b/shop"), before=T0) is None  # only itself
    found = store.previous(run_key("demo", "/a/shop"), before=T0)
    assert found is not None and found.project == "/a/shop"


def test_previous_is_the_newest_finished_run_before(tmp_path):
    store = RunStore(tmp_path)
    for n in range(3):
        store.save(last_run(started=T0 - 300 + n * 100, finished=T0 - 250 + n * 100))
    current = this_run()
    store.save(current)
    previous = store.previous_of(current)
    assert previous is not None and previous.started == T0 - 100
    assert [r.started for r in store.runs(current.key)] == [T0, T0 - 100, T0 - 200, T0 - 300]


def test_the_oldest_runs_are_pruned(tmp_path):
    store = RunStore(tmp_path, keep=3)
    for n in range(5):
        store.save(last_run(started=T0 + n, finished=T0 + n + 1))
    assert [r.started for r in store.runs()] == [T0 + 4, T0 + 3, T0 + 2]


def test_the_least_recently_run_spiders_are_pruned(tmp_path):
    store = RunStore(tmp_path, max_keys=2)
    for n, name in enumerate(("a", "b", "c")):
        path = store.save(last_run(spider=name))
        os.utime(path.parent, (T0 + n, T0 + n))
    assert sorted(r.spider for r in store.runs()) == ["b", "c"]


def test_a_file_stays_under_its_bound(tmp_path):
    stats = {f"custom/counter/{n:05d}/" + "x" * 200: n for n in range(400)}
    run = this_run(stats={**this_run().stats, **stats})
    path = RunStore(tmp_path).save(run)
    assert path.stat().st_size <= MAX_FILE
    back = read(path)
    assert back is not None and back.cut and back.items == 300  # the headline kept


@pytest.mark.parametrize(
    "text",
    [b"", b"{", b"[]", b'{"version": 99}', b'{"version": 1, "spider": 3}', b"\xff" * 10],
)
def test_a_broken_file_is_skipped(tmp_path, text):
    store = RunStore(tmp_path)
    store.save(last_run())
    key = last_run().key
    (tmp_path / key / f"{int(T0 * 1000):013d}-1.json").write_bytes(text)
    assert [r.started for r in store.runs(key)] == [last_run().started]


def test_project_of_a_spider_is_its_scrapy_cfg_directory(tmp_path):
    (tmp_path / "scrapy.cfg").write_text("[settings]\ndefault = shop.settings\n")
    package = tmp_path / "shop" / "spiders"
    package.mkdir(parents=True)
    module = package / "books.py"
    module.write_text("import scrapy\nclass Books(scrapy.Spider):\n    name = 'books'\n")
    namespace: dict[str, Any] = {"__name__": "shop_spiders_books"}
    exec(compile(module.read_text(), str(module), "exec"), namespace)
    import sys
    import types

    mod = types.ModuleType("shop_spiders_books")
    mod.__file__ = str(module)
    sys.modules["shop_spiders_books"] = mod
    try:
        assert project_of(namespace["Books"]) == str(tmp_path.resolve())
    finally:
        del sys.modules["shop_spiders_books"]
    assert project_of(Counting) == str(Path(__file__).resolve())  # outside a project: its file


def test_keep_run_needs_the_setting(tmp_path):
    store = RunStore(tmp_path)
    crawler = _FakeCrawler(Settings())
    assert keep_run(crawler, None, T0, T0 + 1, store=store) is None
    crawler = _FakeCrawler(Settings({KEEP_SETTING: True}))
    path = keep_run(crawler, None, T0, T0 + 1, store=store)
    assert path is not None
    run = read(path)
    assert run is not None and run.spider == "counting" and run.finish_reason == "finished"
    assert run.stats == {"item_scraped_count": 3, "response_received_count": 4}  # numbers only


class _FakeCrawler:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.spidercls = Counting
        self.stats = _Stats()


class _Stats:
    def get_stats(self) -> dict[str, Any]:
        return {
            "item_scraped_count": 3,
            "response_received_count": 4,
            "finish_reason": "finished",
            "start_time": object(),
            "flag": True,
            "nan": float("nan"),
        }


# -- the comparison -------------------------------------------------------------------


def texts(changes) -> list[str]:
    return [c.text for c in changes]


def test_a_finished_run_says_what_changed_most_telling_first():
    found = texts(comparison().changes)
    assert found[0] == "finish reason finished → closespider_timeout"
    assert "items −25% (400 → 300)" in found
    assert "errors: 36 (none before)" in found
    assert "title fill rate 100% → 86% (Product)" in found
    assert "offsite/filtered: new (100)" in found
    assert "requests beyond DEPTH_LIMIT: new (4)" in found
    assert "retry/count: gone (5 before)" in found
    assert any(t.startswith("new error KeyError: <str> at shop/spiders/demo.py:42") for t in found)
    assert "downloader/response_status_count/404 ×4.0 (2 → 8)" in found
    # the same pages: no line about them, nor about what follows them
    assert not [t for t in found if "pages" in t or "request_count" in t or "price" in t]


def test_tones():
    tones = {c.subject: c.tone for c in comparison().changes}
    assert tones["item_scraped_count"] == WORSE
    assert tones["offsite/filtered"] == WORSE
    assert tones["retry/count"] == BETTER
    assert tones["Product.title"] == WORSE
    assert comparison().worse  # what Diagnose can use


def test_the_same_run_again_says_nothing():
    run = last_run()
    again = dataclasses.replace(run, started=T0, finished=T0 + 61)
    assert compare(run, again) == []


def test_noise_is_not_a_change():
    stats = dict(last_run().stats)
    stats.update({"item_scraped_count": 380, "retry/count": 6, "dupefilter/filtered": 130})
    fields = (
        dataclasses.replace(last_run().fields[0], total=380, filled=379),
        dataclasses.replace(last_run().fields[1], total=380, filled=377),
    )
    noisy = last_run(started=T0, finished=T0 + 58, stats=stats, fields=fields)
    assert compare(last_run(), noisy) == []


def test_a_shorter_run_compares_other_stats_per_page():
    stats = {k: v / 2 for k, v in last_run().stats.items()}
    stats["dupefilter/filtered"] = 180  # 0.3 -> 0.9 per page
    half = last_run(started=T0, finished=T0 + 30, stats=stats)
    found = texts(compare(last_run(), half))
    assert "dupefilter/filtered per page +200% (0.30 → 0.90)" in found
    assert "items −50% (400 → 200)" in found
    assert "took −50% (1:00 → 30 s)" in found
    assert not [t for t in found if t.startswith(("retry", "downloader/response_status"))]


def test_while_running_too_early_then_per_page():
    early = this_run(finished=False, stats={"response_received_count": 5, "item_scraped_count": 5})
    result = run_changes.compare_runs(last_run(), early)
    assert result.live and result.too_early
    assert not [c for c in result.changes if c.kind == "count"]
    stats = {**this_run().stats, "response_received_count": 100, "item_scraped_count": 75}
    stats["offsite/filtered"] = 25
    stats["log_count/ERROR"] = 9
    running = this_run(finished=False, stats=stats)
    result = run_changes.compare_runs(last_run(), running)
    assert not result.too_early
    found = texts(result.changes)
    assert "items per page −25% (1.00 → 0.75)" in found
    assert "errors: 9 so far (none in the last run)" in found
    assert "offsite/filtered: new (25 so far)" in found
    # not knowable yet: what is gone, the finish reason, the duration
    assert not [t for t in found if "gone" in t or "finish reason" in t or "took" in t]


def test_hostile_text_is_made_safe():
    key = "evil\x1b]0;PWNED\x07/filtered"
    run = this_run(stats={**this_run().stats, key: 5})
    line = next(c.text for c in compare(last_run(), run) if c.subject == key)
    assert "\x1b" not in line and "\x07" not in line and "\\x1b" in line


def test_short_fits_the_width():
    changes = comparison().changes
    line = short(changes, 60)
    assert len(line) <= 60 and line.endswith("more")
    assert short((), 60) == "no change"
    assert short(changes, 10000).count(", ") >= len(changes) - 1


# -- two real crawls -----------------------------------------------------------------


def product(n: int, title: bool) -> bytes:
    name = f"<h1>Product {n}</h1>" if title else "<h1></h1>"
    return f"<html><body>{name}<p class=price>{n}.00</p></body></html>".encode()


class Shop(resource.Resource):
    """/ lists 10 products and an offsite link; ``bad`` pages lack their title."""

    isLeaf = True
    bad = False

    def render_GET(self, request: Any) -> bytes:
        path = request.path.decode()
        request.setHeader(b"Content-Type", b"text/html")
        if path == "/":
            links = [f'<a href="/p/{n}">p{n}</a>' for n in range(10)]
            if self.bad:
                links += [f'<a href="http://elsewhere.invalid/ad/{n}">ad</a>' for n in range(3)]
            return ("<html><body>" + "".join(links) + "</body></html>").encode()
        if path.startswith("/p/"):
            n = int(path.rsplit("/", 1)[1])
            return product(n, title=not (self.bad and n % 3 == 0))
        request.setResponseCode(404)
        return b"no"


class Counting(scrapy.Spider):
    """Yields one item a product, a quarter fewer and an error on the second run."""

    name = "counting"
    allowed_domains = ["127.0.0.1"]
    url = ""
    worse = ""

    async def start(self):
        yield scrapy.Request(self.url)

    def parse(self, response):
        if response.url.rstrip("/") == self.url.rstrip("/"):
            for href in response.css("a::attr(href)").getall():
                yield response.follow(href)
            return
        n = int(response.url.rsplit("/", 1)[1])
        if self.worse and n in (1, 2):
            raise ValueError(f"no price on page {n}")
        yield {"title": response.css("h1::text").get(), "price": response.css(".price::text").get()}


@pytest.fixture
async def shop(reactor):
    from scrapy.utils.defer import maybe_deferred_to_future

    from workbench.demo.site import url_of

    root = Shop()
    port = reactor.listenTCP(0, server.Site(root), interface="127.0.0.1")
    yield url_of(port), root
    await maybe_deferred_to_future(port.stopListening())


async def crawl(url: str, **spargs: str) -> LocalSource:
    settings = demo_settings(ROBOTSTXT_OBEY=False, **{KEEP_SETTING: True})
    host = CrawlHost(settings, Counting, {"url": url, **spargs})
    source = LocalSource(host)
    await source.start()
    await host.wait()
    return source


async def test_two_crawls_the_second_compared_with_the_first(shop, tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_STATE_DIR", str(tmp_path))
    url, root = shop
    first = await crawl(url)
    assert first.run_comparison() is None  # nothing kept before it
    kept = list(RunStore().runs())
    assert [r.items for r in kept] == [10]
    assert kept[0].project == str(Path(__file__).resolve())
    assert {(f.field, f.filled) for f in kept[0].fields} == {("title", 10), ("price", 10)}

    root.bad = True
    second = await crawl(url, worse="1")
    result = second.run_comparison()
    assert result is not None and not result.live
    found = texts(result.changes)
    assert "items −20% (10 → 8)" in found
    assert "offsite/filtered: new (3)" in found
    assert "title fill rate 100% → 50% (dict)" in found  # 4 of the 8 items have none
    assert "errors: 2 (none before)" in found
    assert any(t.startswith("new error ValueError: no price on page <n>") for t in found)
    assert [r.items for r in RunStore().runs()] == [8, 10]
    summary: RunSummary = RunStore().runs().__next__()
    assert summary.fates.get("offsite") == 3
    assert summary.errors[0].count == 2 and summary.errors[0].origin == "callback"
    assert "test_runs.py:" in summary.errors[0].where  # the spider's own line, not Scrapy's


# -- Diagnose: a verdict from the comparison ----------------------------------------------


def _verdict(runs):
    from tests.helpers.diagnosis import evidence, snapshot
    from workbench.core.inspection.diagnosis import diagnose

    state = "running" if runs is not None and runs.live else "finished"
    ev = dataclasses.replace(evidence(snapshot(state=state)), runs=runs)
    result = diagnose(ev)
    return next((v for v in result.verdicts if v.code == "last-run"), None), result


def test_fewer_items_than_the_last_run_is_a_problem_verdict():
    from workbench.core.inspection.diagnosis import PROBLEM

    verdict, result = _verdict(comparison())
    assert verdict is not None and verdict.severity == PROBLEM
    assert verdict.headline == "items −25% since the last run"
    assert "items −25% (400 → 300)" in verdict.finding
    figures = dict(verdict.evidence)
    assert figures["last run"].endswith("400 pages, 400 items in 1:00, finished")
    assert verdict.target is not None and verdict.target.panel == "stats"
    assert result.headline is not None  # the status line can say it


def test_while_running_it_is_a_note_and_nothing_too_early():
    from workbench.core.inspection.diagnosis import NOTE

    verdict, _ = _verdict(comparison(finished=False))
    assert verdict is not None and verdict.severity == NOTE
    assert verdict.headline == "items per page −25% since the last run"
    stats = {**last_run().stats, "log_count/ERROR": 6}
    errors_only = last_run(started=T0, finished=T0 + 60, stats=stats)
    only = run_changes.compare_runs(last_run(), errors_only)
    assert _verdict(only)[0].headline == "errors appeared since the last run"
    early = this_run(finished=False, stats={"response_received_count": 3})
    assert _verdict(run_changes.compare_runs(last_run(), early))[0] is None


def test_no_verdict_when_nothing_got_worse_and_unchecked_without_a_last_run():
    more = {**last_run().stats, "item_scraped_count": 480}
    now = last_run(started=T0, finished=T0 + 60, stats=more)
    better = run_changes.compare_runs(last_run(), now)
    assert better.changes and not better.worse
    assert _verdict(better)[0] is None
    verdict, result = _verdict(None)
    assert verdict is None
    assert "what changed since the last run" in dict(result.unchecked)
