"""A recorded parse tree to depth 2, on the fake source (no crawl)."""

from __future__ import annotations

import dataclasses

from scrapy import Request
from scrapy.http import HtmlResponse

from tests.fakes import BASE, FakeSource
from workbench.core.inspection.parse import ParseTree


def _response(request: Request, depth: int) -> HtmlResponse:
    request.meta["_depth"] = depth
    return HtmlResponse(request.url, request=request, body=b"<html></html>")


def parse_source() -> FakeSource:
    """A parse to depth 2: the home page, its catalogue page (3 products), a 404,
    a duplicate, and a request still waiting; hostile text in an item and a URL."""
    source = FakeSource("finished")
    flows = source.flows_since(0)
    tree = ParseTree(f"{BASE}/", 2)
    home = tree.enter(_response(Request(f"{BASE}/"), 1), flows[0].id)
    home.callback = "parse"
    links = tree.collected(home, [
        {"title": "Home \x1b[2J| Demo Books"},
        Request(f"{BASE}/catalogue/page-1.html", callback=None),
        Request(f"{BASE}/missing.html"),
        Request(f"{BASE}/old-catalogue"),
        Request(f"{BASE}/evil\x1b]0;PWNED\x07.html"),
    ])  # fmt: skip
    listing = tree.enter(_response(links[0], 2), flows[1].id)
    listing.callback = "parse_listing"
    tree.collected(listing, [Request(f"{BASE}/product/{n}.html") for n in (1, 2, 3)])
    tree.mark(links[1].meta["workbench_parse"], error="HttpError: Ignoring non-200 response")
    tree.mark(links[2].meta["workbench_parse"], dropped="dropped by the scheduler: a duplicate")
    source.parse_tree = lambda: tree  # type: ignore[method-assign]
    source.capabilities = dataclasses.replace(source.capabilities, parse_tree=True, own_report=True)
    return source
