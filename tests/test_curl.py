"""curl export and import, and injecting a curl request into a real crawl."""

from __future__ import annotations

import asyncio
import shlex

import pytest
from scrapy import Request
from scrapy.http import Headers

from tests.conftest import demo_settings
from tests.helpers.factories import make_flow
from workbench.core.control.host import CrawlHost
from workbench.core.inspection.curl import (
    CurlError,
    flow_to_curl,
    request_from_curl,
    spider_callbacks,
)
from workbench.core.recording.records import Flow, as_headers
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import DemoSpider


def first_values(request: Request) -> dict[bytes, bytes]:
    return {k: v[0] for k, v in request.headers.items() if k != b"Cookie"}


def assert_round_trip(flow: Flow) -> Request:
    command = flow_to_curl(flow)
    again = Request.from_curl(command)
    assert again.method == flow.method
    assert again.url == flow.url
    assert again.body == (flow.request_body or b"")
    sent = Headers(flow.request_headers or {})
    assert first_values(again) == {k: v[0] for k, v in sent.items() if k != b"Cookie"}
    return again


def test_round_trip_of_tricky_requests():
    # a query string (shell metacharacters), a quote and repeated spaces in values
    flow = make_flow(
        method="POST",
        url="http://127.0.0.1:8000/api?page=1&sort=a;b",
        request_headers=Headers(
            {"Content-Type": "application/json", "X-Note": "it's  two  spaces", "Cookie": "a=1"}
        ),
        request_body=b'{"name": "O\'Brien",  "q": "$HOME `x`"}',
    )
    command = flow_to_curl(flow)
    again = assert_round_trip(flow)
    assert again.cookies == {"a": "1"}
    # safe to paste in a shell: every word survives shell splitting as it is
    words = shlex.split(command)
    assert words[:4] == ["curl", "-X", "POST", flow.url]
    assert "'http://127.0.0.1:8000/api?page=1&sort=a;b'" in command


def test_plain_request_keeps_scrapys_format():
    flow = make_flow(request_headers=Headers({"Accept": "text/html"}))
    assert flow_to_curl(flow) == "curl -X GET http://127.0.0.1:8000/x -H 'Accept: text/html'"
    assert_round_trip(flow)


def test_binary_body_cannot_be_exported():
    flow = make_flow(method="POST", request_body=b"\xff\x00\xfe")
    with pytest.raises(CurlError, match="binary"):
        flow_to_curl(flow)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "paste a curl command"),
        ("   \n ", "paste a curl command"),
        ("wget http://127.0.0.1/", "not a curl command: it starts with 'wget'"),
        ("curl", "no URL in the curl command"),
        ("curl -H 'Accept: x'", "no URL in the curl command"),
        ("curl 'http://127.0.0.1/", "cannot be read as shell words: No closing quotation"),
        ("curl -h", "--help is not a request"),
        ("curl -H NoColon http://127.0.0.1/", "cannot read the curl command"),
        (
            "curl --data-binary 'a=1' http://127.0.0.1/",
            "http://127.0.0.1/ was not read as the URL: Scrapy does not know --data-binary",
        ),
    ],
)
def test_bad_curl_input_gives_a_clear_error(text, message, capsys):
    with pytest.raises(CurlError) as info:
        request_from_curl(text)
    assert message in str(info.value)
    assert capsys.readouterr().out == ""  # argparse printed nothing


def test_curl_import_reports_what_was_ignored():
    text = "curl 'http://127.0.0.1/a?b=1' \\\n  -H 'Accept: x' \\\n  --compressed -L --insecure"
    request, ignored = request_from_curl(text)
    assert request.url == "http://127.0.0.1/a?b=1" and request.headers[b"Accept"] == b"x"
    assert ignored == ["-L", "--insecure"]
    request, ignored = request_from_curl("curl -d 'a=1' http://127.0.0.1/")
    assert request.method == "POST" and request.body == b"a=1" and ignored == []


def test_spider_callbacks_lists_the_spiders_own_methods():
    names = spider_callbacks(DemoSpider)
    assert names[0] == "parse"
    assert {"parse_listing", "parse_product", "parse_api"} <= set(names)
    assert "start" not in names and "from_crawler" not in names


async def wait_until(predicate, timeout: float = 30) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


async def test_injected_curl_request_becomes_a_flow(demo_url):
    host = CrawlHost(demo_settings(CONCURRENT_REQUESTS=1), DemoSpider, {"url": demo_url})
    source = LocalSource(host)
    with pytest.raises(CurlError, match="not running"):
        source.inject_curl(f"curl {demo_url}", "parse")
    await host.start()
    await wait_until(lambda: host.recorder.flows.total >= 2)
    host.pause()
    url = f"{demo_url}product/3.html?via=curl"
    with pytest.raises(CurlError, match="no method 'parse_nothing'; its callbacks: parse, "):
        source.inject_curl(f"curl '{url}'", "parse_nothing")
    message = source.inject_curl(f"curl '{url}' -H 'X-Debug: 1' --compressed", "parse_product")
    assert message.startswith(f"Queued GET {url} → parse_product.")
    assert "paused" in message and "offsite" not in message
    elsewhere = source.inject_curl(f"curl {demo_url.replace('127.0.0.1', 'localhost')}x", "parse")
    assert "not in allowed_domains: the offsite middleware may drop it" in elsewhere
    await asyncio.sleep(0.3)
    assert not any(f.url == url for f in host.recorder.flows)  # paused: still queued
    host.resume()
    await wait_until(lambda: any(f.url == url for f in host.recorder.flows))
    flow = next(f for f in host.recorder.flows if f.url == url)
    assert flow.callback == "parse_product" and flow.status == 200
    assert as_headers(flow.request_headers)[b"X-Debug"] == b"1"
    assert ("workbench_injected", "True") in flow.meta
    await wait_until(lambda: bool(flow.items))
    # a POST: its body is kept on the flow and exported again
    message = source.inject_curl(f"curl -d 'q=1&r=2' '{demo_url}search'", "parse")
    await wait_until(lambda: any(f.url.endswith("/search") for f in host.recorder.flows))
    post = next(f for f in host.recorder.flows if f.url.endswith("/search"))
    assert post.method == "POST" and post.request_body == b"q=1&r=2"
    assert Request.from_curl(source.curl(post.id)).body == b"q=1&r=2"
    await asyncio.wait_for(host.wait(), 60)
    with pytest.raises(CurlError, match="not running"):
        source.inject_curl(f"curl '{url}'", "parse")
    host.close()


async def test_exported_flow_round_trips(demo_url):
    host = CrawlHost(demo_settings(), DemoSpider, {"url": demo_url})
    await host.start()
    await asyncio.wait_for(host.wait(), 60)
    source = LocalSource(host)
    for flow in list(host.recorder.flows)[:10]:
        assert_round_trip(flow)
        assert source.curl(flow.id) == flow_to_curl(flow)
    with pytest.raises(ValueError, match="no longer kept"):
        source.curl(10_000)
    host.close()
