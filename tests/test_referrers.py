"""Referrer chains: roots, named edges, bounds, and never keeping the target alive."""

from __future__ import annotations

import gc
import threading
import types
import weakref
from collections import deque

from scrapy.http import HtmlResponse, Request

from workbench.core.leaks.chains import Chain, Hop, ReferrerReport, common_path, describe
from workbench.core.leaks.referrers import find_referrers

CACHE: list = []  # a module-level cache: the classic leak


class Queue:
    def __init__(self) -> None:
        self.q: deque = deque()


class Scheduler:
    def __init__(self) -> None:
        self.mqs = Queue()


def response(n: int) -> HtmlResponse:
    return HtmlResponse(f"http://127.0.0.1/{n}", body=b"<html></html>")


def test_chain_through_a_queued_requests_cb_kwargs_to_a_named_root():
    scheduler = Scheduler()
    resp = response(1)
    scheduler.mqs.q.append(Request("http://127.0.0.1/2", cb_kwargs={"page": resp}))
    ref = weakref.ref(resp)
    del resp
    report = find_referrers(ref, {id(scheduler): "scheduler"})
    assert report.complete and report.chains
    chain = report.chains[0]
    assert chain.root == "scheduler"
    assert (
        chain.text() == "scheduler.mqs -> Queue.q[0] -> Request.cb_kwargs['page'] -> HtmlResponse"
    )
    assert chain.tail() == "Request.cb_kwargs['page'] -> HtmlResponse"
    assert report.direct == ("dict['page']",)
    assert ref() is not None  # still held by the queue, not by the search


def test_a_tuple_that_holds_it_is_a_link_and_the_searchs_own_are_not():
    # the search's own argument tuples (gc.get_referrers(*frontier)) hold the
    # target too: Python 3.13 reported them, a `tuple[0]` at every level
    scheduler = Scheduler()
    resp = response(9)
    scheduler.mqs.q.append((resp,))  # a real one-element tuple holding it
    ref = weakref.ref(resp)
    del resp
    report = find_referrers(ref, {id(scheduler): "scheduler"})
    assert report.direct == ("tuple[0]",)
    assert [c.text() for c in report.chains] == ["scheduler.mqs -> Queue.q[0][0] -> HtmlResponse"]


def test_module_global_is_a_root_and_reads_as_an_attribute():
    resp = response(3)
    CACHE.append(resp)
    try:
        ref = weakref.ref(resp)
        del resp
        report = find_referrers(ref)
        texts = [c.text() for c in report.chains]
        assert f"module {__name__}.CACHE[0] -> HtmlResponse" in texts
    finally:
        CACHE.clear()


def test_frozen_objects_are_seen():
    holder = {"kept": []}
    gc.freeze()  # what the app does with its own objects after start-up
    try:
        resp = response(4)
        holder["kept"].append(resp)  # a list frozen before: invisible to get_referrers
        ref = weakref.ref(resp)
        del resp
        report = find_referrers(ref)  # unfreezes: the app freezes after start-up
        assert report.direct == ("list[0]",)
    finally:
        gc.unfreeze()


def test_a_frame_of_another_thread_is_a_root_naming_the_local():
    ready, done = threading.Event(), threading.Event()
    box: list = []

    def worker() -> None:
        held_page = response(5)
        box.append(weakref.ref(held_page))
        ready.set()
        done.wait(10)

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        ready.wait(10)
        report = find_referrers(box[0])
        assert any(
            c.root.startswith("frame worker() at ") and c.hops[0].edge == " local held_page"
            for c in report.chains
        ), [c.text() for c in report.chains]
    finally:
        done.set()
        thread.join()


def test_bounds_collected_objects_and_garbage():
    resp = response(6)
    ref = weakref.ref(resp)
    del resp
    gc.collect()
    report = find_referrers(ref)
    assert report.note == "the object was collected" and not report.chains

    # a long chain of plain objects: stopped by the depth bound, said so
    head = types.SimpleNamespace(next=None)
    node = head
    for _ in range(50):
        node.next = types.SimpleNamespace(next=None)
        node = node.next
    target = response(7)
    node.next = target
    ref = weakref.ref(target)
    del target, node
    report = find_referrers(ref, max_depth=5)
    assert not report.complete and not report.chains and report.depth == 5
    assert "within 5 levels" in report.note
    del head

    # only a reference cycle holds it: no root, and the report says so
    a = types.SimpleNamespace()
    b = types.SimpleNamespace(a=a, page=response(8))
    a.b = b
    ref = weakref.ref(b.page)
    gc.disable()
    try:
        del a, b
        report = find_referrers(ref)
        assert not report.chains and report.complete and "cycle" in report.note
    finally:
        gc.enable()


def test_common_path_counts_generalised_tails():
    scheduler = Scheduler()
    kept = [response(n) for n in range(3)]
    for n, resp in enumerate(kept):
        scheduler.mqs.q.append(Request(f"http://127.0.0.1/p{n}", cb_kwargs={"listing": resp}))
    refs = [weakref.ref(r) for r in kept]
    del kept, resp
    reports = [find_referrers(r, {id(scheduler): "scheduler"}, max_chains=1) for r in refs]
    assert common_path(reports) == (
        "Request.cb_kwargs['listing'] -> HtmlResponse",
        "3 of 3 sampled",
    )


def test_describe_uses_urls_and_sanitises():
    assert describe(response(9)) == "200 http://127.0.0.1/9"
    assert describe(Request("http://127.0.0.1/\x1b[31m")).startswith("http://127.0.0.1/")
    assert "\x1b" not in describe(Request("http://127.0.0.1/\x1b[31m"))


def test_common_path_generalises_keys_that_differ_for_every_object():
    class Spider:
        def __init__(self) -> None:
            self.seen: dict = {}

    spider = Spider()
    for n in range(4):
        resp = response(n)
        spider.seen[resp.url] = resp
    refs = [weakref.ref(r) for r in spider.seen.values()]
    del resp
    reports = [find_referrers(r, {id(spider): "spider"}, max_chains=1) for r in refs]
    assert reports[0].chains[0].text() == "spider.seen['http://127.0.0.1/0'] -> HtmlResponse"
    assert common_path(reports) == ("spider.seen[…] -> HtmlResponse", "4 of 4 sampled")


class PagesSpider:
    prices: dict = {}  # a class attribute: shared, never freed (the shop spider)


def test_a_class_attribute_reads_as_the_code_spells_it():
    """Not 'class tests.test_referrers.PagesSpider (class)[…][…][…]': the class's own
    dict reads as its attributes, and a subscript every object shares is kept."""
    for n in range(4):
        PagesSpider.prices[f"http://127.0.0.1/{n}"] = [response(n), f"{n}.99"]
    try:
        refs = [weakref.ref(kept[0]) for kept in PagesSpider.prices.values()]
        reports = [find_referrers(r, max_chains=1) for r in refs]
        chain = reports[0].chains[0]
        assert chain.root == "PagesSpider"
        assert chain.origin == f"class {__name__}.PagesSpider"
        assert chain.text() == "PagesSpider.prices['http://127.0.0.1/0'][0] -> HtmlResponse"
        assert common_path(reports) == (
            "PagesSpider.prices[…][0] -> HtmlResponse",
            "4 of 4 sampled",
        )
    finally:
        PagesSpider.prices.clear()


def test_common_path_keeps_what_every_object_shares_and_counts_each_report_once():
    reports = [
        ReferrerReport((Chain("spider", (Hop("", ".seen", True), Hop("dict", f"['k{n}']", True),
                        Hop("list", "[0]", True), Hop("HtmlResponse", "", False))),) * 2,
                       3, 9, 0.1, True)
        for n in range(3)
    ]  # fmt: skip
    assert common_path(reports) == ("spider.seen[…][0] -> HtmlResponse", "3 of 3 sampled")
    assert common_path([ReferrerReport((), 1, 0, 0.0, True)]) is None
