"""Errors grouped, attached: a plain `scrapy runspider` of the demo with its bugs on
(products whose id is a multiple of 13 raise in the callback), and workbench
attached to it.  The groups come from the crawl's own agent, every error it
recorded; the traceback on request; the groups of the flows fetched agree."""

from __future__ import annotations

import time

import pytest

from tests.helpers.processes import REPO, site_process, start_plain_crawl
from workbench.core.recording import errors, tracebacks
from workbench.remote.client import RemoteControlClient
from workbench.remote.source import RemoteSource

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

SPIDER = REPO / "workbench" / "demo" / "spider.py"


def wait(predicate, timeout=40.0, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return
        time.sleep(step)
    raise AssertionError("timed out")


def test_an_attached_crawls_errors_come_grouped_from_its_agent(tmp_path):
    with site_process("--pages", "400") as (_, url):
        job, _, proc, _ = start_plain_crawl(tmp_path, url, settings=("-a", "bugs=1"))
        source = RemoteSource(RemoteControlClient(job))
        try:
            assert source.attach()["mode"] == "full"

            def grouped():
                source.error_groups()  # asks the agent for its view
                source.poll_once()
                source.snapshot()  # merges what the poll brought
                view = source.error_groups()
                return any(g.count >= 3 for g in view.groups) and view

            wait(grouped)
            view = source.error_groups()
            (group,) = [g for g in view.groups if g.kind == errors.CALLBACK]
            assert group.type == "ValueError"
            assert group.pattern.startswith("cannot parse the rating of product <n>: ")
            line = next(n for n, text in enumerate(SPIDER.read_text().splitlines(), 1)
                        if "raise ValueError(f\"cannot parse the rating" in text)  # fmt: skip
            # the crawl runs in tmp_path: the file's last three components
            assert group.location == f"workbench/demo/spider.py:{line} in parse_product"
            assert group.traceback is None  # not sent with the view...
            traceback = source.error_traceback(group.key)  # ...but on request
            assert traceback is not None and "parse_product" in traceback
            assert tracebacks.exception_line(traceback).startswith("ValueError: cannot parse")
            # the flows fetched carry their tracebacks: grouped here, the same key
            failed = [f for f in source.flows_since(0) if f.callback_error]
            assert failed
            local = source.recorder.errors.view().groups
            assert group.key in {g.key for g in local}
            assert set(group.examples) & {f.id for f in failed}
            # a flow's detail finds its group among the agent's (its "Seen N times")
            flow = failed[0]
            key = errors.key_for(errors.CALLBACK, flow.callback_error, flow.callback_traceback,
                                 flow.spider)  # fmt: skip
            assert key == group.key and flow.spider == "demo"
            assert proc.poll() is None
        finally:
            source.close()
            proc.terminate()
            proc.wait(30)
