"""Run summaries for the tests of "what changed since the last run": a last run and
a current one of the fake clock's spider, with a change of every kind between them."""

from __future__ import annotations

import dataclasses

from workbench.core.recording.run_changes import RunComparison, compare_runs
from workbench.core.recording.runs import ErrorCount, FieldRate, RunSummary

T0 = 1_790_000_000.0  # tests/fakes.py's clock

LAST_STATS = {
    "response_received_count": 400,
    "item_scraped_count": 400,
    "downloader/request_count": 410,
    "dupefilter/filtered": 120,
    "retry/count": 5,
    "downloader/response_status_count/404": 2,
    "elapsed_time_seconds": 60.0,
}


def last_run(**changes) -> RunSummary:
    """A run that ended an hour before the fake clock's crawl started."""
    run = RunSummary(
        spider="demo",
        project="/home/user/shop",
        started=T0 - 3660,
        finished=T0 - 3600,
        finish_reason="finished",
        stats=dict(LAST_STATS),
        fates={"duplicate": 120},
        fields=(
            FieldRate("Product", "title", 400, 400),
            FieldRate("Product", "price", 400, 396),
        ),
        errors=(),
    )
    return dataclasses.replace(run, **changes)


def this_run(finished: bool = True, **changes) -> RunSummary:
    """Fewer items, offsite drops, a new error, titles missing, a closespider timeout."""
    stats = {
        **LAST_STATS,
        "item_scraped_count": 300,
        "offsite/filtered": 100,
        "log_count/ERROR": 36,
        "downloader/response_status_count/404": 8,
    }
    del stats["retry/count"]
    run = RunSummary(
        spider="demo",
        project="/home/user/shop",
        started=T0,
        finished=T0 + 65 if finished else None,
        finish_reason="closespider_timeout" if finished else None,
        stats=stats,
        fates={"duplicate": 120, "depth": 4},
        fields=(
            FieldRate("Product", "title", 300, 258),
            FieldRate("Product", "price", 300, 297),
        ),
        errors=(
            ErrorCount("callback", "KeyError", "<str>", "shop/spiders/demo.py:42 in parse", 36),
        ),
    )
    return dataclasses.replace(run, **changes)


def running_run() -> RunSummary:
    """The same, a quarter of the way through: 100 pages so far."""
    stats = {
        **this_run().stats,
        "response_received_count": 100,
        "item_scraped_count": 75,
        "downloader/request_count": 103,
        "dupefilter/filtered": 30,
        "offsite/filtered": 25,
        "log_count/ERROR": 9,
        "downloader/response_status_count/404": 2,
    }
    fields = (FieldRate("Product", "title", 75, 64), FieldRate("Product", "price", 75, 75))
    errors = (dataclasses.replace(this_run().errors[0], count=9),)
    return this_run(finished=False, stats=stats, fields=fields, errors=errors)


def comparison(finished: bool = True) -> RunComparison:
    return compare_runs(last_run(), this_run() if finished else running_run())
