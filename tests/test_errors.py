"""Errors grouped by type, message pattern and the user's code; tracebacks folded.

A crawl of a site served on 127.0.0.1 by this module: a callback raises the
same exception on many pages (its message carries the page's number and URL),
two requests go to a closed port, and an item pipeline fails on some items.
They are three groups with the right counts; the rest are the rules, one by one.
"""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
import scrapy
from twisted.web import resource, server

from tests.conftest import demo_settings
from tests.error_fakes import DOWNLOAD_TRACEBACK, ITEM_TRACEBACK, callback_traceback
from workbench.core.control.host import CrawlHost
from workbench.core.formats.har import har_from_flows, write_har
from workbench.core.recording import errors, tracebacks
from workbench.core.recording.errors import CALLBACK, DOWNLOAD, ITEM, ErrorGroups
from workbench.core.recording.tracebacks import LIBRARY, TEXT, USER
from workbench.core.sources.har_file import HarSource

PAGES = 12


class Site(resource.Resource):
    isLeaf = True

    def render_GET(self, request: Any) -> bytes:
        request.setHeader(b"Content-Type", b"text/html")
        if request.path == b"/":
            links = "".join(f'<a href="/p/{n}">{n}</a>' for n in range(PAGES))
            return f"<html><body>{links}</body></html>".encode()
        return b"<html><body><p class='price'>n/a</p></body></html>"


class PricePipeline:
    """An item pipeline that fails on the items without a price."""

    def process_item(self, item):
        return {**item, "price": float(item["price"])}  # KeyError: 'price'  PIPELINE LINE


class BrokenSpider(scrapy.Spider):
    name = "broken"
    url = ""
    closed_port = 0
    custom_settings = {"ITEM_PIPELINES": {f"{__name__}.PricePipeline": 100}}

    async def start(self):
        yield scrapy.Request(self.url + "/")
        for n in range(2):
            yield scrapy.Request(f"http://127.0.0.1:{self.closed_port}/gone/{n}")

    def parse(self, response):
        yield from response.follow_all(css="a", callback=self.parse_page)

    def parse_page(self, response):
        n = int(response.url.rsplit("/", 1)[1])
        if n % 4 == 0:
            yield {"n": n}  # no price: the pipeline fails on it
            return
        raise ValueError(f"bad price {n * 7} on {response.url}")  # THE LINE


def _line_of(marker: str) -> int:
    with open(__file__, encoding="utf-8") as f:
        return next(n for n, line in enumerate(f, 1) if line.rstrip().endswith(marker))


RAISE_LINE = _line_of("# THE LINE")
PIPELINE_LINE = _line_of("PIPELINE LINE")


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
async def site(reactor):
    from scrapy.utils.defer import maybe_deferred_to_future

    from workbench.demo.site import url_of

    port = reactor.listenTCP(0, server.Site(Site()), interface="127.0.0.1")
    yield url_of(port).rstrip("/")
    await maybe_deferred_to_future(port.stopListening())


async def crawl(url: str) -> CrawlHost:
    spider = type("Broken", (BrokenSpider,), {"url": url, "closed_port": closed_port()})
    host = CrawlHost(demo_settings(RETRY_ENABLED=False), spider)
    await host.start()
    await asyncio.wait_for(host.wait(), 60)
    host.close()
    return host


async def test_a_broken_crawl_is_three_groups_with_their_counts(site, tmp_path):
    host = await crawl(site)
    recorder = host.recorder
    view = recorder.errors.view()
    by_kind = {g.kind: g for g in view.groups}
    assert len(view.groups) == 3, [g.title for g in view.groups]
    assert view.total == PAGES + 2 and not view.overflow

    callback = by_kind[CALLBACK]
    assert callback.count == PAGES - PAGES // 4 == 9
    assert (callback.type, callback.pattern) == ("ValueError", "bad price <n> on <url>")
    # relative to the directory the crawl runs in (the project's)
    assert callback.location == f"tests/test_errors.py:{RAISE_LINE} in parse_page"
    assert callback.varies and callback.title == "ValueError: bad price <n> on <url>"
    assert callback.first <= callback.last
    assert callback.message.startswith("bad price ") and site in callback.message
    failed = [f for f in recorder.flows if f.callback_error]
    assert sorted(callback.examples) == sorted(f.id for f in failed)  # 9: all of them kept
    assert callback.traceback is not None and "parse_page" in callback.traceback

    download = by_kind[DOWNLOAD]
    assert download.count == 2 and download.location is None  # Scrapy's and Twisted's frames
    assert "Connection was refused" in download.pattern and "<n>" in download.pattern
    assert {recorder.flow(i).url.rsplit("/", 2)[-2] for i in download.examples} == {"gone"}

    item = by_kind[ITEM]
    assert item.count == PAGES // 4 == 3
    assert (item.type, item.pattern) == ("KeyError", "'…'")
    assert item.location == f"tests/test_errors.py:{PIPELINE_LINE} in process_item"
    assert not item.varies and item.title == "KeyError: 'price'"  # always the same message
    assert all(recorder.flow(i).url.endswith(("/p/0", "/p/4", "/p/8")) for i in item.examples)

    # a flow's own error finds its group
    flow = failed[0]
    key = errors.key_for(CALLBACK, flow.callback_error, flow.callback_traceback, flow.spider)
    assert key == callback.key
    assert recorder.errors.traceback(key) == callback.traceback

    # the HAR of the crawl carries them: read back, the same groups (without the items,
    # which a HAR does not hold), the user's line kept in the compact traceback
    path = write_har(tmp_path / "crawl.har", har_from_flows(recorder.flows, recorder.body))
    entries = json.loads(path.read_text())["log"]["entries"]
    compacted = next(e["_workbench"]["callback_traceback"] for e in entries
                     if "callback_traceback" in e["_workbench"])  # fmt: skip
    assert "frames: scrapy" in compacted and "parse_page" in compacted
    assert len(compacted) < len(callback.traceback) / 3
    har = HarSource(path).error_groups()
    assert {(g.kind, g.type, g.pattern, g.location, g.count) for g in har.groups} == {
        (g.kind, g.type, g.pattern, g.location, g.count) for g in view.groups if g.kind != ITEM
    }


# -- message patterns ------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "pattern"),
    [
        ("bad price 21 on http://127.0.0.1:8000/p/3", "bad price <n> on <url>"),
        ("Getting https://x.example/a?b=1 took longer than 180.0 seconds.",
         "Getting <url> took longer than <n> seconds."),
        ("Connection was refused by other side: 111: Connection refused.",
         "Connection was refused by other side: <n>: Connection refused."),
        ("'price'", "'…'"),
        ('no field "title" in item', "no field '…' in item"),
        ("can't parse the rating", "can't parse the rating"),  # an apostrophe, not a quote
        ("object at 0x7f3a2b1c90", "object at <hex>"),
        ("session 3f2a9c1e-1234-4abc-9def-0123456789ab expired", "session <hex> expired"),
        ("digest 9f86d081884c7d659a2feaa0c55ad015 wrong", "digest <hex> wrong"),
        ("item2 and h1 stay", "item2 and h1 stay"),  # digits inside a name are the name's
        ("-3 items, 1,250.5 bytes", "<n> items, <n> bytes"),
    ],
)  # fmt: skip
def test_a_message_pattern_leaves_out_what_varies(message, pattern):
    assert errors.message_pattern(message) == pattern


def test_a_message_pattern_reads_a_bounded_part_of_a_huge_message():
    assert len(errors.message_pattern("x" * 10_000_000)) == errors.MESSAGE_LIMIT


@pytest.mark.parametrize(
    ("error", "parts"),
    [
        ("ValueError: bad price 3", ("ValueError", "bad price 3")),
        ("scrapy.exceptions.DownloadTimeoutError: took 3 s", ("DownloadTimeoutError", "took 3 s")),
        ("KeyError", ("KeyError", "")),
        ("net::ERR_CONNECTION_REFUSED", ("Error", "net::ERR_CONNECTION_REFUSED")),
        ("no response (status 0)", ("Error", "no response (status 0)")),
    ],
)
def test_an_error_splits_into_its_type_and_message(error, parts):
    assert errors.split_error(error) == parts


# -- whose code a frame is ------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "mine"),
    [
        ("/home/me/shop/shop/spiders/books.py", True),
        ("/srv/crawl/spider.py", True),
        ("/home/me/shop/.venv/lib/python3.12/site-packages/scrapy/core/scraper.py", False),
        ("/home/me/shop/.venv/lib/python3.12/site-packages/shop_utils/prices.py", False),
        ("/usr/lib/python3/dist-packages/twisted/internet/defer.py", False),
        ("/usr/lib/python3.12/asyncio/events.py", False),  # another machine's stdlib
        ("/opt/pypy/lib/pypy3.10/contextlib.py", False),
        ("C:\\Python312\\Lib\\site-packages\\scrapy\\crawler.py", False),
        ("<frozen importlib._bootstrap>", False),
        ("<string>", False),
        ("", False),
    ],
)
def test_the_users_code_is_not_the_stdlib_nor_what_is_installed(path, mine):
    assert tracebacks.is_user_file(path) is mine


def test_scrapy_twisted_and_workbench_are_not_the_users_code_wherever_they_are():
    import scrapy as scrapy_module
    import twisted

    import workbench

    for module in (scrapy_module, twisted, workbench, asyncio):
        assert not tracebacks.is_user_file(module.__file__)
    assert not tracebacks.is_user_file(errors.__file__)
    assert not tracebacks.is_user_file(tracebacks.__file__)
    # the demo's spider plays the user's in workbench demo
    from workbench.demo import spider

    assert tracebacks.is_user_file(spider.__file__)
    assert tracebacks.is_user_file(__file__)  # a test's spider too


def test_the_users_frame_is_the_innermost_of_the_project_in_any_exception_of_the_chain():
    tb = callback_traceback(3)
    assert tracebacks.user_frame(tb) == (
        "/home/user/shop/shop/spiders/books.py",
        42,
        "parse_product",
    )
    assert (
        tracebacks.location_text(tracebacks.user_frame(tb))
        == "shop/spiders/books.py:42 in parse_product"
    )
    assert tracebacks.user_frame(DOWNLOAD_TRACEBACK) is None
    # a project's middleware wrapped by Scrapy: its frame is in the exception chained
    wrapped = (
        "Traceback (most recent call last):\n"
        '  File "/home/me/shop/shop/middlewares.py", line 9, in process_request\n'
        "    raise OSError('no proxy')\n"
        "OSError: no proxy\n\n"
        "The above exception was the direct cause of the following exception:\n\n"
        + DOWNLOAD_TRACEBACK
    )
    assert tracebacks.user_frame(wrapped) == (
        "/home/me/shop/shop/middlewares.py",
        9,
        "process_request",
    )
    # a message that quotes a File line is not a frame
    message = 'Traceback (most recent call last):\nValueError: bad  File "/x/y.py", line 3, in f'
    assert tracebacks.user_frame(message) is None
    assert tracebacks.user_frame(None) is None


def test_a_real_python_traceback_has_the_users_frame():
    import traceback

    def mine():
        raise RuntimeError("boom 42")

    try:
        mine()
    except RuntimeError as exc:
        text = "".join(traceback.format_exception(exc))
    path, _, function = tracebacks.user_frame(text)
    assert (path, function) == (__file__, "mine")


# -- folding --------------------------------------------------------------------------


def test_folding_keeps_the_users_frames_and_folds_each_run_of_library_frames():
    blocks = tracebacks.fold(callback_traceback(5))
    assert [b.kind for b in blocks] == [TEXT, LIBRARY, USER, TEXT]
    assert blocks[1].frames == 28 and blocks[1].packages == ("scrapy",)
    assert blocks[2].lines == (
        '  File "/home/user/shop/shop/spiders/books.py", line 42, in parse_product',
        '    raise ValueError(f"bad price {n} on {url}")',
    )
    assert tracebacks.folded_label(blocks[1]) == "28 frames: scrapy"
    # chained exceptions: the lines between them are text; stdlib frames are named
    kinds = [(b.kind, b.frames, b.packages) for b in tracebacks.fold(DOWNLOAD_TRACEBACK)]
    assert kinds == [
        (TEXT, 0, ()),
        (LIBRARY, 1, ("scrapy",)),
        (TEXT, 0, ()),
        (LIBRARY, 4, ("scrapy", "contextlib")),
        (TEXT, 0, ()),
    ]
    # Python 3.11's marks stay with their frame
    marked = (
        "Traceback (most recent call last):\n"
        '  File "/home/me/shop/spider.py", line 3, in parse\n'
        "    x = item['price']\n"
        "        ~~~~^^^^^^^^^\n"
        "KeyError: 'price'\n"
    )
    assert [b.kind for b in tracebacks.fold(marked)] == [TEXT, USER, TEXT]
    assert tracebacks.fold(marked)[1].lines[-1].strip() == "~~~~^^^^^^^^^"
    # nothing but text
    assert [b.kind for b in tracebacks.fold("just a message")] == [TEXT]


def test_a_compact_traceback_is_one_line_per_library_run():
    text = tracebacks.compact(callback_traceback(5))
    assert text.splitlines() == [
        "Traceback (most recent call last):",
        "  [28 frames: scrapy]",
        '  File "/home/user/shop/shop/spiders/books.py", line 42, in parse_product',
        '    raise ValueError(f"bad price {n} on {url}")',
        "builtins.ValueError: bad price 5 on http://127.0.0.1:8000/product/5.html",
    ]
    # still grouped the same
    assert tracebacks.user_frame(text) == tracebacks.user_frame(callback_traceback(5))
    assert len(tracebacks.compact("x\n" * 100_000, limit=4000)) < 4100


@pytest.mark.parametrize(
    ("text", "line"),
    [
        (callback_traceback(7), "ValueError: bad price 7 on http://127.0.0.1:8000/product/7.html"),
        (DOWNLOAD_TRACEBACK, "scrapy.exceptions.DownloadConnectionRefusedError: Connection was "
                             "refused by other side: 111: Connection refused."),
        (ITEM_TRACEBACK, "KeyError: 'price'"),
        ("Spider error processing <GET http://x/>\n" + ITEM_TRACEBACK, "KeyError: 'price'"),
        ("Traceback (most recent call last):\n  File \"/a.py\", line 1, in f\n    g()\n"
         "ValueError: two\nlines", "ValueError: two"),
        ("Spider error processing\nTraceback (most recent call last):\nValueError", "ValueError"),
        ("no traceback here\nat all", None),
    ],
)  # fmt: skip
def test_the_exception_line_is_what_was_raised(text, line):
    assert tracebacks.exception_line(text) == line


def test_a_short_exception_line_leaves_out_the_module():
    assert tracebacks.short_exception("scrapy.exceptions.Boom: a.b: c") == "Boom: a.b: c"
    assert tracebacks.short_exception("ValueError: x.y") == "ValueError: x.y"
    assert tracebacks.short_exception("not a type. at all: x") == "not a type. at all: x"


# -- the groups --------------------------------------------------------------------------


def test_a_group_keeps_its_first_examples_and_its_latest():
    groups = ErrorGroups()
    for n in range(1, 51):
        groups.add(CALLBACK, f"ValueError: bad price {n}", callback_traceback(n), float(n), n)
    (group,) = groups.view().groups
    assert group.count == 50 and (group.first, group.last) == (1.0, 50.0)
    assert group.examples == (1, 2, 3, 44, 45, 46, 47, 48, 49, 50)
    assert group.message == "bad price 50"  # the latest
    assert group.traceback == callback_traceback(1)  # the first's
    assert group.varies and group.title == "ValueError: bad price <n>"


def test_a_group_whose_messages_never_differ_is_titled_by_its_message():
    groups = ErrorGroups()
    for n in range(3):
        groups.add(CALLBACK, "AttributeError: 'NoneType' object has no attribute 'split'",
                   callback_traceback(1), float(n), n)  # fmt: skip
    (group,) = groups.view().groups
    assert group.pattern == "'…' object has no attribute '…'" and not group.varies
    assert group.title == "AttributeError: 'NoneType' object has no attribute 'split'"


def test_groups_are_bounded_and_what_is_past_the_bound_is_counted_apart():
    groups = ErrorGroups(max_groups=5)
    for n in range(20):  # 20 distinct locations
        tb = f'Traceback (most recent call last):\n  File "/p/s.py", line {n}, in f\n    x\nE: m\n'
        groups.add(CALLBACK, "ValueError: m", tb, float(n), n)
    groups.add(DOWNLOAD, "TimeoutError: t", None, 99.0, 99)
    view = groups.view()
    assert len(groups) == 7  # 5, then one catch-all per kind and type
    assert view.total == 21 and view.overflow == 16
    overflow = next(g for g in view.groups if g.pattern == errors.OVERFLOW_PATTERN)
    assert overflow.count == 15 and overflow.location is None
    bounded = view.bounded(3, text=4)
    assert len(bounded.groups) == 3 and bounded.hidden == 4
    assert all(g.traceback is None and len(g.pattern) <= 4 for g in bounded.groups)


def test_groups_of_several_crawlers_are_apart_and_a_view_shows_one():
    groups = ErrorGroups()
    groups.add(CALLBACK, "ValueError: x", None, 1.0, 1, "books")
    groups.add(CALLBACK, "ValueError: x", None, 2.0, 2, "books")
    groups.add(CALLBACK, "ValueError: x", None, 3.0, 3, "shop")
    assert len(groups.view().groups) == 2
    (books,) = groups.view("books").groups
    assert books.count == 2 and groups.view("books").total == 2


def test_the_groups_go_over_the_wire_and_back():
    from workbench.remote import wire
    from workbench.remote.agent import dataclass_to_wire

    groups = ErrorGroups()
    groups.add(CALLBACK, "ValueError: bad price 3", callback_traceback(3), 1.0, 7, "books")
    groups.add(ITEM, "KeyError: 'price'", ITEM_TRACEBACK, 2.0, None)
    sent = json.loads(json.dumps(dataclass_to_wire(groups.view(tracebacks=False).bounded(100))))
    got = wire.decode(errors.ErrorsView, sent)
    assert got == groups.view(tracebacks=False)
    kinds = {g.kind: g for g in got.groups}
    assert kinds[CALLBACK].examples == (7,) and kinds[ITEM].examples == ()
    assert kinds[CALLBACK].spider == "books" and kinds[CALLBACK].traceback is None
