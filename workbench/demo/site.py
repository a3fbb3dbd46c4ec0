"""The demo site: a small book catalogue served by twisted.web on 127.0.0.1.

Every page is generated on the fly from the product id (no precomputed
catalogue), so a site with 20 000 products costs no more memory than one with
20.  The only state is the bounded set of ``/flaky/`` ids already served.

URL map (``N`` a catalogue/API page number, ``ID`` a product id in 1..pages)::

    /                        home page: links to everything below
    /catalogue/page-N.html   listing, ``per_page`` products, ``li.next`` pager
    /product/ID.html         detail page, info table and JSON-LD
    /api/products?page=N     the same products as JSON, with a ``next`` link
    /old-catalogue           301 -> /catalogue/page-1.html
    /missing.html            404 with an HTML body
    /flaky/ID.html           500 the first time each id is asked for, then 200
    /slow.html               200 after ``slow_delay`` seconds
    /reviews/ID.html         a product's reviews, slowly: ``review_latency`` seconds
                             (±30% by id, +25% per other review request in
                             progress), and 503 for everyone during a burst of
                             ``burst_length`` seconds every ``burst_every``
    /legacy/ID.html          windows-1252 encoded page (declared in the header)
    /static/logo.png         a small PNG
    /robots.txt              allows everything

Run standalone with ``python -m workbench.demo.site --pages N [--port P]``:
it prints ``http://127.0.0.1:PORT/`` on one line once listening.

Here: the routes (:class:`DemoResource`), the quiet twisted.web site and
``listen``.  The products are computed in :mod:`workbench.demo.catalogue`, the
page parts (frame, product article, JSON-LD, logo) made in
:mod:`workbench.demo.pages`; ``product``, ``ProductData``, ``page_count`` and
``LOGO_PNG`` are importable from here as before.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from html import escape
from typing import TYPE_CHECKING, cast

from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

# the demo's own modules, relatively: the demo needs nothing else of workbench
from .catalogue import ProductData, mix, page_count, product
from .pages import HOME_LINKS, LOGO_PNG, html_page, json_ld, product_body

__all__ = [
    "FLAKY_MEMORY",
    "INTERFACE",
    "LOGO_PNG",
    "DemoResource",
    "ProductData",
    "QuietSite",
    "build_site",
    "listen",
    "main",
    "page_count",
    "product",
    "url_of",
]

if TYPE_CHECKING:
    # Twisted types ``reactor`` with its zope interfaces, whose methods mypy reads
    # as taking no self (without the mypy-zope plugin); every reactor this site
    # runs on (asyncio's, epoll, poll, select) is a PosixReactorBase
    from twisted.internet.posixbase import PosixReactorBase

INTERFACE = "127.0.0.1"
FLAKY_MEMORY = 10_000  # how many flaky ids are remembered (oldest forgotten first)


class DemoResource(Resource):
    """The whole site as one leaf resource that routes on the path."""

    isLeaf = True

    def __init__(
        self,
        pages: int,
        per_page: int,
        slow_delay: float,
        review_latency: float = 0.3,
        burst_every: float = 20.0,
        burst_length: float = 2.0,
    ) -> None:
        super().__init__()
        if pages < 1 or per_page < 1:
            raise ValueError("pages and per_page must be at least 1")
        if review_latency < 0 or burst_length < 0 or burst_every <= 0:
            raise ValueError("review latency and burst length must be >= 0, burst_every > 0")
        self.pages = pages
        self.per_page = per_page
        self.slow_delay = slow_delay
        self.review_latency = review_latency
        self.burst_every = burst_every
        self.burst_length = burst_length
        self.started = time.monotonic()
        self.reviews_in_progress = 0
        self.reviews_refused = 0  # 503s sent during bursts
        self.flaky_seen: dict[int, None] = {}  # an insertion-ordered, bounded set
        self._routes = (
            (re.compile(rb"/"), self._home),
            (re.compile(rb"/catalogue/page-(\d+)\.html"), self._listing),
            (re.compile(rb"/product/(\d+)\.html"), self._product),
            (re.compile(rb"/api/products"), self._api),
            (re.compile(rb"/old-catalogue/?"), self._redirect),
            (re.compile(rb"/flaky/(\d+)\.html"), self._flaky),
            (re.compile(rb"/slow\.html"), self._slow),
            (re.compile(rb"/reviews/(\d+)\.html"), self._reviews),
            (re.compile(rb"/legacy/(\d+)\.html"), self._legacy),
            (re.compile(rb"/static/logo\.png"), self._logo),
            (re.compile(rb"/robots\.txt"), self._robots),
        )

    def render_GET(self, request):
        for pattern, handler in self._routes:
            match = pattern.fullmatch(request.path)
            if match:
                return handler(request, *(int(g) for g in match.groups()))
        return self._not_found(request)

    # -- helpers ------------------------------------------------------------

    def _html(self, request, body: bytes, status: int = 200) -> bytes:
        request.setResponseCode(status)
        request.setHeader(b"content-type", b"text/html; charset=utf-8")
        return body

    def _not_found(self, request) -> bytes:
        body = '<h1>Not found</h1>\n<p>Nothing here. <a href="/">Back home</a>.</p>'
        return self._html(request, html_page("Not found", body), 404)

    def _valid_id(self, pid: int) -> bool:
        return 1 <= pid <= self.pages

    # -- pages --------------------------------------------------------------

    def _home(self, request) -> bytes:
        specials = "\n".join(
            f'<li><a class="{cls}" href="{href}">{text}</a></li>' for cls, href, text in HOME_LINKS
        )
        body = f"""<h1>Demo Books</h1>
<p>{self.pages} books in {page_count(self.pages, self.per_page)} catalogue pages.</p>
<nav><ul class="main">
<li><a class="catalogue" href="/catalogue/page-1.html">Browse the catalogue</a></li>
<li><a class="api" href="/api/products?page=1">JSON API</a></li>
</ul>
<ul class="specials">
{specials}
</ul></nav>"""
        return self._html(request, html_page("Home", body))

    def _listing(self, request, n: int) -> bytes:
        last = page_count(self.pages, self.per_page)
        if not 1 <= n <= last:
            return self._not_found(request)
        first_id = (n - 1) * self.per_page + 1
        articles = []
        for pid in range(first_id, min(first_id + self.per_page, self.pages + 1)):
            p = product(pid)
            name = escape(p.name)
            articles.append(
                f'<li><article class="product">'
                f'<h3><a href="{p.url}" title="{name}">{name}</a></h3>'
                f'<p class="price">{p.price_text}</p>'
                f'<p class="availability">{"In stock" if p.stock else "Out of stock"}</p>'
                f'<p class="star-rating {p.rating}"></p></article></li>'
            )
        pager = [f'<li class="current">Page {n} of {last}</li>']
        if n > 1:
            pager.append(f'<li class="previous"><a href="page-{n - 1}.html">previous</a></li>')
        if n < last:
            pager.append(f'<li class="next"><a href="page-{n + 1}.html">next</a></li>')
        body = (
            f"<h1>Catalogue, page {n}</h1>\n"
            f'<ol class="row">\n{chr(10).join(articles)}\n</ol>\n'
            f'<ul class="pager">{"".join(pager)}</ul>'
        )
        return self._html(request, html_page(f"Catalogue page {n}", body))

    def _product(self, request, pid: int) -> bytes:
        if not self._valid_id(pid):
            return self._not_found(request)
        p = product(pid)
        return self._html(request, html_page(p.name, product_body(p), json_ld(p)))

    def _api(self, request) -> bytes:
        request.setHeader(b"content-type", b"application/json")
        last = page_count(self.pages, self.per_page)
        try:
            n = int(request.args.get(b"page", [b"1"])[0])
        except ValueError:
            request.setResponseCode(400)
            return b'{"error": "page must be an integer"}'
        if not 1 <= n <= last:
            request.setResponseCode(404)
            return b'{"error": "no such page"}'
        first_id = (n - 1) * self.per_page + 1
        products = [
            {"id": p.id, "name": p.name, "price": p.price, "url": p.url}
            for p in map(product, range(first_id, min(first_id + self.per_page, self.pages + 1)))
        ]
        data = {
            "page": n,
            "products": products,
            "next": f"/api/products?page={n + 1}" if n < last else None,
        }
        return json.dumps(data).encode()

    def _redirect(self, request) -> bytes:
        request.setResponseCode(301)
        request.setHeader(b"location", b"/catalogue/page-1.html")
        body = '<p>Moved to <a href="/catalogue/page-1.html">the catalogue</a>.</p>'
        return self._html(request, html_page("Moved", body), 301)

    def _flaky(self, request, pid: int) -> bytes:
        if not self._valid_id(pid):
            return self._not_found(request)
        if pid not in self.flaky_seen:
            if len(self.flaky_seen) >= FLAKY_MEMORY:
                del self.flaky_seen[next(iter(self.flaky_seen))]
            self.flaky_seen[pid] = None
            body = "<h1>Internal Server Error</h1>\n<p>Flaky page: try again.</p>"
            return self._html(request, html_page("Server error", body), 500)
        p = product(pid)
        note = '<p class="note">This page failed on the first request.</p>\n'
        return self._html(request, html_page(f"Flaky: {p.name}", product_body(p, note)))

    def _respond_later(self, request, delay: float, page: bytes, done=None):
        """Answer ``page`` (HTML, 200) after ``delay`` seconds; ``done()`` runs once
        either way, when it was sent or when the client left before."""
        from twisted.internet import reactor

        def finish() -> None:
            if done is not None:
                done()
            request.write(self._html(request, page))
            request.finish()

        def gone(_: object) -> None:
            if call.active():
                call.cancel()
                if done is not None:
                    done()

        call = cast("PosixReactorBase", reactor).callLater(delay, finish)
        request.notifyFinish().addErrback(gone)
        return NOT_DONE_YET

    def _slow(self, request):
        body = f"<h1>Slow page</h1>\n<p>Served after {self.slow_delay} seconds.</p>"
        return self._respond_later(request, self.slow_delay, html_page("Slow page", body))

    def in_burst(self, now: float | None = None) -> bool:
        """Whether /reviews/ answers 503 right now."""
        elapsed = (time.monotonic() if now is None else now) - self.started
        return elapsed % self.burst_every < self.burst_length

    def review_delay(self, pid: int) -> float:
        """Seconds /reviews/``pid``.html takes with nothing else in progress."""
        return self.review_latency * (0.7 + 0.6 * (mix(pid) % 1000) / 1000)

    def _reviews(self, request, pid: int):
        if not self._valid_id(pid):
            return self._not_found(request)
        if self.in_burst():
            self.reviews_refused += 1
            request.setHeader(b"retry-after", b"1")
            body = "<h1>Service Unavailable</h1>\n<p>Too many requests: try again.</p>"
            return self._html(request, html_page("Service unavailable", body), 503)
        delay = self.review_delay(pid) * (1 + 0.25 * self.reviews_in_progress)
        self.reviews_in_progress += 1
        p = product(pid)
        stars = (mix(pid) >> 12) % 5 + 1
        count = (mix(pid) >> 16) % 40
        body = (
            f'<h1>Reviews of {escape(p.name)}</h1>\n<p class="reviews" data-id="{pid}" '
            f'data-count="{count}" data-stars="{stars}">{count} reviews, {stars} stars '
            "on average.</p>"
        )

        def done() -> None:
            self.reviews_in_progress -= 1

        return self._respond_later(request, delay, html_page(f"Reviews: {p.name}", body), done)

    def _legacy(self, request, pid: int) -> bytes:
        if not self._valid_id(pid):
            return self._not_found(request)
        p = product(pid)
        text = (
            '<!DOCTYPE html>\n<html lang="fr">\n<head>\n'
            f"<title>Café Légende — {escape(p.name)}</title>\n</head>\n<body>\n"
            f"<h1>Café Légende: {escape(p.name)}</h1>\n"
            f'<p class="price">{p.price_text}</p>\n'
            '<p class="quote">“Über-crème brûlée,” said the naïve señor; '
            "Müller’s café charged £3.</p>\n</body>\n</html>\n"
        )
        request.setHeader(b"content-type", b"text/html; charset=windows-1252")
        return text.encode("cp1252")

    def _logo(self, request) -> bytes:
        request.setHeader(b"content-type", b"image/png")
        return LOGO_PNG

    def _robots(self, request) -> bytes:
        request.setHeader(b"content-type", b"text/plain")
        return b"User-agent: *\nDisallow:\n"


class QuietSite(Site):
    """A Site that writes no access log and no "Starting factory" lines."""

    noisy = False

    def log(self, request) -> None:
        pass


def build_site(
    pages: int = 200,
    per_page: int = 20,
    slow_delay: float = 0.5,
    review_latency: float = 0.3,
    burst_every: float = 20.0,
    burst_length: float = 2.0,
) -> Site:
    """The demo site with ``pages`` products, ``per_page`` of them per listing page."""
    resource = DemoResource(pages, per_page, slow_delay, review_latency, burst_every, burst_length)
    site = QuietSite(resource, logPath=None)
    site.noisy = False
    return site


def listen(
    pages: int = 200,
    port: int = 0,
    per_page: int = 20,
    slow_delay: float = 0.5,
    site=None,
    review_latency: float = 0.3,
):
    """Serve the demo site on 127.0.0.1 with the installed reactor; returns the IListeningPort.

    The URL is ``f"http://127.0.0.1:{listening.getHost().port}/"``.  ``site``
    overrides the site built from the other arguments.
    """
    from twisted.internet import reactor

    if site is None:
        site = build_site(pages, per_page, slow_delay, review_latency)
    return cast("PosixReactorBase", reactor).listenTCP(port, site, interface=INTERFACE)


def url_of(listening_port) -> str:
    """The root URL of a port returned by :func:`listen`."""
    return f"http://{INTERFACE}:{listening_port.getHost().port}/"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Serve the workbench demo site.")
    parser.add_argument("--pages", type=int, default=200, help="number of products")
    parser.add_argument("--per-page", type=int, default=20, help="products per listing page")
    parser.add_argument("--slow-delay", type=float, default=0.5, help="seconds for /slow.html")
    parser.add_argument(
        "--review-latency", type=float, default=0.3, help="seconds for /reviews/ pages"
    )
    parser.add_argument(
        "--burst-every", type=float, default=20.0, help="seconds between bursts of 503s"
    )
    parser.add_argument(
        "--burst-length", type=float, default=2.0, help="seconds a burst of 503s lasts"
    )
    parser.add_argument("--port", type=int, default=0, help="port (default: any free one)")
    args = parser.parse_args(argv)

    from twisted.internet import reactor

    site = build_site(
        args.pages,
        args.per_page,
        args.slow_delay,
        args.review_latency,
        args.burst_every,
        args.burst_length,
    )
    port = listen(site=site, port=args.port)
    print(url_of(port), flush=True)
    # installs SIGINT/SIGTERM handlers that stop the reactor
    cast("PosixReactorBase", reactor).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
