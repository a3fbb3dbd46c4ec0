"""The demo site (in a subprocess) and a real crawl of it by the demo spider.

Everything runs on 127.0.0.1; proxy variables are removed from the children's
environment and urllib is told to use no proxy, so the tests are offline.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.helpers.processes import SITE_PAGES, env, site_process
from workbench.demo.site import LOGO_PNG, product
from workbench.demo.spider import DemoSpider, expected_item_count

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

REPO = Path(__file__).resolve().parents[1]
SPIDER = REPO / "workbench" / "demo" / "spider.py"
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), _NoRedirect())


def _get(url: str) -> tuple[int, str, bytes, dict]:
    """(status, content type, body, headers) without following redirects."""
    try:
        with _opener.open(url, timeout=10) as r:
            return r.status, r.headers.get("Content-Type", ""), r.read(), dict(r.headers)
    except urllib.error.HTTPError as e:
        with e:
            return e.code, e.headers.get("Content-Type", ""), e.read(), dict(e.headers)


@pytest.fixture(scope="module")
def site_url():
    with site_process("--slow-delay", "0.2") as (_, url):
        yield url


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    """A full crawl of a fresh 45-product site: (items, log text, return code)."""
    tmp = tmp_path_factory.mktemp("crawl")
    with site_process() as (_, url):
        cmd = [sys.executable, "-m", "scrapy", "runspider", str(SPIDER), "-a", f"url={url}"]
        cmd += ["-O", "out.jsonl", "-s", "LOG_LEVEL=INFO"]
        done = subprocess.run(cmd, cwd=tmp, env=env(), capture_output=True, text=True, timeout=120)
    out = tmp / "out.jsonl"
    items = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
    return items, done.stdout + done.stderr, done.returncode


def _stat(log: str, key: str) -> int | None:
    match = re.search(rf"'{re.escape(key)}': (\d+)", log)
    return int(match.group(1)) if match else None


# -- the generator and the spider, in process ----------------------------------


def test_product_is_deterministic():
    p = product(7)
    assert p == product(7)
    assert p.name.startswith("The ") and p.name.endswith(" No. 7")
    assert 5 <= p.price < 55 and round(p.price, 2) == p.price
    assert p.rating in ("One", "Two", "Three", "Four", "Five")
    assert len(p.upc) == 16
    assert product(8) != p


def test_spider_requires_url():
    with pytest.raises(ValueError, match="url="):
        DemoSpider()
    with pytest.raises(ValueError, match="api"):
        DemoSpider(url="http://127.0.0.1:1/", api="yes")
    assert DemoSpider(url="http://127.0.0.1:1").url == "http://127.0.0.1:1/"
    assert expected_item_count(SITE_PAGES) == SITE_PAGES + 3


# -- plain HTTP against the standalone site -----------------------------------

ENDPOINTS = [
    ("", 200, "text/html"),
    ("catalogue/page-1.html", 200, "text/html"),
    ("catalogue/page-3.html", 200, "text/html"),
    ("catalogue/page-4.html", 404, "text/html"),
    ("product/1.html", 200, "text/html"),
    (f"product/{SITE_PAGES}.html", 200, "text/html"),
    (f"product/{SITE_PAGES + 1}.html", 404, "text/html"),
    ("product/0.html", 404, "text/html"),
    ("api/products?page=1", 200, "application/json"),
    ("api/products?page=9", 404, "application/json"),
    ("old-catalogue", 301, "text/html"),
    ("missing.html", 404, "text/html"),
    ("slow.html", 200, "text/html"),
    ("legacy/1.html", 200, "text/html; charset=windows-1252"),
    ("static/logo.png", 200, "image/png"),
    ("robots.txt", 200, "text/plain"),
]


@pytest.mark.parametrize(("path", "status", "ctype"), ENDPOINTS)
def test_endpoint(site_url, path, status, ctype):
    got_status, got_ctype, body, _ = _get(site_url + path)
    assert (got_status, got_ctype.split(";")[0]) == (status, ctype.split(";")[0])
    assert got_ctype == ctype or ";" not in ctype
    assert body
    if ctype == "text/html":
        assert b"<title>" in body and body.startswith(b"<!DOCTYPE html>")


def test_home_links(site_url):
    body = _get(site_url)[2].decode()
    for href in ("/catalogue/page-1.html", "/api/products?page=1", "/old-catalogue"):
        assert f'href="{href}"' in body
    for href in ("/missing.html", "/flaky/1.html", "/slow.html", "/legacy/1.html"):
        assert f'href="{href}"' in body


def test_listing_and_pagination(site_url):
    first = _get(site_url + "catalogue/page-1.html")[2].decode()
    assert first.count('<article class="product">') == 20
    p = product(1)
    assert f'<a href="/product/1.html" title="{p.name}">{p.name}</a>' in first
    assert f'<p class="price">£{p.price:.2f}</p>' in first
    assert '<li class="next"><a href="page-2.html">next</a></li>' in first
    last = _get(site_url + "catalogue/page-3.html")[2].decode()
    assert last.count('<article class="product">') == 5
    assert 'class="next"' not in last


def test_product_page_and_json_ld(site_url):
    body = _get(site_url + "product/7.html")[2].decode()
    p = product(7)
    assert f"<h1>{p.name}</h1>" in body
    assert f'<p class="star-rating {p.rating}">' in body
    assert f"<td>{p.upc}</td>" in body
    ld = json.loads(re.search(r'application/ld\+json">(.*?)</script>', body).group(1))
    assert ld["name"] == p.name and ld["sku"] == p.upc
    assert float(ld["offers"]["price"]) == p.price


def test_api_pages(site_url):
    ids = []
    url = site_url + "api/products?page=1"
    while url:
        status, _, body, _ = _get(url)
        assert status == 200
        data = json.loads(body)
        for record in data["products"]:
            p = product(record["id"])
            assert (record["name"], record["price"], record["url"]) == (p.name, p.price, p.url)
            ids.append(record["id"])
        url = data["next"] and site_url + data["next"].lstrip("/")
    assert ids == list(range(1, SITE_PAGES + 1))


def test_redirect_flaky_slow_legacy_asset(site_url):
    status, _, _, headers = _get(site_url + "old-catalogue")
    assert status == 301 and headers["Location"] == "/catalogue/page-1.html"
    assert [_get(site_url + "flaky/3.html")[0] for _ in range(3)] == [500, 200, 200]
    start = time.monotonic()
    assert _get(site_url + "slow.html")[0] == 200
    assert time.monotonic() - start >= 0.19
    text = _get(site_url + "legacy/2.html")[2].decode("cp1252")
    for s in ("é", "£", "ü", "“", "”"):
        assert s in text
    assert _get(site_url + "static/logo.png")[2] == LOGO_PNG
    assert LOGO_PNG.startswith(b"\x89PNG\r\n\x1a\n")


def test_reviews_are_slow_and_refused_in_bursts():
    """/reviews/: latency as configured (±30% by id), 503 + Retry-After during a burst."""
    from workbench.demo.site import DemoResource

    resource = DemoResource(10, 5, 0.1, review_latency=0.4, burst_every=10, burst_length=2)
    delays = [resource.review_delay(pid) for pid in range(1, 11)]
    assert all(0.28 <= d <= 0.52 for d in delays) and len(set(delays)) > 5
    start = resource.started
    assert [resource.in_burst(start + t) for t in (0.5, 1.9, 2.1, 9.9, 10.5, 12.5)] == [
        True, True, False, False, True, False,
    ]  # fmt: skip
    args = ("--review-latency", "0.3", "--burst-every", "3", "--burst-length", "1")
    with site_process(*args) as (_, url):
        time.sleep(1.05)  # out of the first burst
        began = time.monotonic()
        status, ctype, body, _ = _get(url + "reviews/4.html")
        took = time.monotonic() - began
        assert status == 200 and ctype.startswith("text/html") and 0.2 <= took < 0.6
        assert b'class="reviews" data-id="4"' in body
        assert _get(url + "reviews/99.html")[0] == 404
        assert b'href="/reviews/4.html"' in _get(url + "product/4.html")[2]
        time.sleep(max(0.0, 3.1 - (time.monotonic() - began) - 1.05))  # the next burst
        status, _, body, headers = _get(url + "reviews/4.html")
        assert status == 503 and headers["Retry-After"] == "1"


def test_standalone_site_is_quiet_and_exits_cleanly():
    with site_process(stderr=subprocess.PIPE) as (proc, url):
        assert _get(url + "product/1.html")[0] == 200
        proc.terminate()
        assert proc.wait(10) == 0
        assert proc.stdout.read() == "" and proc.stderr.read() == ""


LISTEN_SCRIPT = """
import socket, sys, urllib.request
from scrapy.utils.reactor import install_reactor
install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
from twisted.internet import reactor, threads
from workbench.demo.site import listen, url_of

port = listen(pages=5)
print(port.getHost().host, port.socket.getsockname()[0], type(reactor).__name__)
if sys.platform.startswith("linux"):  # 127.0.0.2 is loopback too, but not our address
    try:
        socket.create_connection(("127.0.0.2", port.getHost().port), timeout=5).close()
        print("reachable on 127.0.0.2")
    except ConnectionRefusedError:
        print("refused on 127.0.0.2")

def fetch():
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url_of(port) + "product/5.html", timeout=10) as r:
        return r.status

def done(result):
    print(result)
    reactor.stop()

threads.deferToThread(fetch).addBoth(done)
reactor.run()
"""


def test_listen_binds_to_loopback_only():
    done = subprocess.run(
        [sys.executable, "-c", LISTEN_SCRIPT],
        env=env(),
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stderr
    assert lines[0] == "127.0.0.1 127.0.0.1 AsyncioSelectorReactor"
    if sys.platform.startswith("linux"):
        assert lines[1] == "refused on 127.0.0.2"
    assert lines[-1] == "200"


# -- a real crawl --------------------------------------------------------------


def test_crawl_item_count(crawl):
    items, log, returncode = crawl
    assert returncode == 0, log[-3000:]
    assert len(items) == expected_item_count(SITE_PAGES)
    products = [i for i in items if "upc" in i]
    assert sorted(i["id"] for i in products) == list(range(1, SITE_PAGES + 1))


@pytest.mark.parametrize("pid", [1, 7, SITE_PAGES])
def test_crawl_products_match_generator(crawl, pid):
    (item,) = [i for i in crawl[0] if i.get("id") == pid]
    p = product(pid)
    assert item["name"] == p.name and item["price"] == p.price
    assert (item["rating"], item["upc"]) == (p.rating, p.upc)
    assert (item["availability"], item["description"]) == (p.availability, p.description)
    assert item["url"].endswith(f"/product/{pid}.html")


def test_crawl_special_pages(crawl):
    items = crawl[0]
    (legacy,) = [i for i in items if i.get("kind") == "legacy"]
    for s in ("é", "£", "ü", "“", "”"):
        assert s in legacy["text"]
    assert legacy["title"].startswith("Café Légende")
    (flaky,) = [i for i in items if i.get("kind") == "flaky"]
    assert flaky["url"].endswith("/flaky/1.html") and product(1).name in flaky["text"]
    (asset,) = [i for i in items if "content_type" in i]
    assert asset["content_type"] == "image/png" and asset["size"] == len(LOGO_PNG)


def test_crawl_stats(crawl):
    log = crawl[1]
    assert "Dumping Scrapy stats" in log
    for status in (301, 404, 500):
        assert _stat(log, f"downloader/response_status_count/{status}") == 1
    assert _stat(log, "retry/count") == 1
    assert _stat(log, "httperror/response_ignored_status_count/404") == 1
    assert _stat(log, "demo/api_records") == SITE_PAGES
    assert _stat(log, "item_scraped_count") == expected_item_count(SITE_PAGES)
    assert _stat(log, "log_count/ERROR") is None
    assert "'finish_reason': 'finished'" in log
