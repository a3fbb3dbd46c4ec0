"""HAR 1.2 export: the structure the spec requires, bodies, errors, redaction,
the Flows panel's W key and `--har FILE` on a real crawl."""

from __future__ import annotations

import base64
import json
import re
from functools import partial
from pathlib import Path

import pytest

from tests.fakes import FakeSource
from tests.helpers.factories import make_flow
from tests.helpers.processes import run
from workbench.core.formats.har import REDACTED, har_entry, har_from_flows, save_har, write_har
from workbench.core.recording.recorder import StoredBody
from workbench.core.sources.har_file import HarError, HarSource
from workbench.ui.app import WorkbenchApp
from workbench.ui.screens.flow_detail import FlowDetailScreen
from workbench.ui.status_bar import status_text
from workbench.ui.widgets.record_table import RecordTable

# the fields HAR 1.2 requires (http://www.softwareishard.com/blog/har-12-spec/)
ENTRY = {"startedDateTime", "time", "request", "response", "cache", "timings"}
REQUEST = {"method", "url", "httpVersion", "cookies", "headers", "queryString",
           "headersSize", "bodySize"}  # fmt: skip
RESPONSE = {"status", "statusText", "httpVersion", "cookies", "headers", "content",
            "redirectURL", "headersSize", "bodySize"}  # fmt: skip


def check_har(har: dict) -> list[dict]:
    log = har["log"]
    assert log["version"] == "1.2" and log["creator"]["name"] == "workbench"
    for entry in log["entries"]:
        assert set(entry) >= ENTRY, set(entry) ^ ENTRY
        assert set(entry["request"]) >= REQUEST
        assert set(entry["response"]) >= RESPONSE
        assert {"size", "mimeType"} <= set(entry["response"]["content"])
        assert {"send", "wait", "receive"} <= set(entry["timings"])
        assert entry["startedDateTime"].endswith("+00:00")
    return log["entries"]


# flows as a crawl of 127.0.0.1 records them: a time, a size, a latency
flow = partial(make_flow, time=1_790_000_000.5, url="http://127.0.0.1/a?x=1&y=", size=3,
               latency=0.25, depth=1, slot="127.0.0.1")  # fmt: skip


def test_an_entry_has_what_the_spec_requires_and_what_scrapy_saw():
    f = flow(
        request_headers=((b"Authorization", (b"Bearer s3cret",)), (b"Accept", (b"*/*",))),
        response_headers=(
            (b"Content-Type", (b"text/html; charset=utf-8",)),
            (b"Set-Cookie", (b"session=abc",)),
        ),
        meta=(("depth", "1"),),
    )
    entry = har_entry(f, StoredBody(b"<p>", 3, False))
    check_har({"log": {"version": "1.2", "creator": {"name": "workbench"}, "entries": [entry]}})
    assert entry["request"]["queryString"] == [{"name": "x", "value": "1"},
                                               {"name": "y", "value": ""}]  # fmt: skip
    headers = {h["name"]: h["value"] for h in entry["request"]["headers"]}
    assert headers == {"Authorization": REDACTED, "Accept": "*/*"}
    assert {"name": "Set-Cookie", "value": REDACTED} in entry["response"]["headers"]
    assert entry["response"]["content"]["text"] == "<p>"
    assert entry["response"]["statusText"] == "OK"
    assert entry["time"] == 250 and entry["timings"]["wait"] == 250
    assert entry["_workbench"]["callback"] == "parse" and entry["_workbench"]["meta"] == {
        "depth": "1"
    }
    secret = har_entry(f, None, secrets=True)
    assert {"name": "Authorization", "value": "Bearer s3cret"} in secret["request"]["headers"]


def test_binary_truncated_and_failed_flows():
    png = flow(response_headers=((b"Content-Type", (b"image/png",)),))
    content = har_entry(png, StoredBody(b"\x89PNG\x00\xff", 6, False))["response"]["content"]
    assert content["encoding"] == "base64"
    assert base64.b64decode(content["text"]) == b"\x89PNG\x00\xff"
    cut = har_entry(flow(size=10), StoredBody(b"abc", 10, True))["response"]["content"]
    assert "the first 3 of 10 bytes" in cut["comment"]
    failed = har_entry(flow(status=None, size=0, error="DownloadTimeoutError: took too long"), None)
    assert failed["response"]["status"] == 0 and failed["_error"].startswith("DownloadTimeout")
    assert failed["response"]["bodySize"] == -1


def test_a_real_crawl_saved_with_har_at_exit(tmp_path):
    out = tmp_path / "crawl.har"
    result = run(
        "demo", "--pages", "10", "--har", str(out),
        "-s", 'DEFAULT_REQUEST_HEADERS={"Authorization": "Bearer s3cret-token"}',
        cwd=tmp_path, WORKBENCH_NO_UI="1",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert f"flows saved to {out} as HAR" in result.stdout
    text = out.read_text()
    assert "s3cret-token" not in text and REDACTED in text
    entries = check_har(json.loads(text))
    assert len(entries) >= 15
    product = next(e for e in entries if e["request"]["url"].endswith("/product/1.html"))
    assert product["response"]["status"] == 200
    assert "<h1>" in product["response"]["content"]["text"]
    assert product["_workbench"]["callback"] == "parse_product"
    assert any(e["response"]["status"] == 404 for e in entries)
    # the old catalogue redirects to page 1, already crawled: the dupefilter drops it
    (dropped,) = [e for e in entries if e["_workbench"].get("fate") == "duplicate"]
    assert dropped["request"]["url"].endswith("/catalogue/page-1.html")
    assert dropped["response"]["status"] == 0 and dropped["_error"].startswith(
        "dropped as a duplicate"
    )
    assert dropped["_workbench"]["fate_by"] == "scrapy.dupefilters.RFPDupeFilter"
    redirect = next(
        e for e in entries if e["_workbench"]["id"] == dropped["_workbench"]["parent_id"]
    )
    assert redirect["response"]["status"] == 301
    bad = run("demo", "--har", str(tmp_path / "nope" / "x.har"), cwd=tmp_path)
    assert bad.returncode == 1 and "not a file in an existing directory" in bad.stderr


async def test_w_saves_the_flows_shown_in_this_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = WorkbenchApp(FakeSource(), autostart=False)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        await pilot.press("f", *"~c 200", "enter")
        await pilot.pause()
        shown = len(app.query_one("#flow-table", RecordTable).rows)
        await pilot.press("W")
        for _ in range(50):
            await pilot.pause(0.05)
            if list(tmp_path.glob("*.har")):
                break
    (saved,) = tmp_path.glob("workbench-*.har")
    entries = check_har(json.loads(saved.read_text()))
    assert len(entries) == shown > 0
    assert {e["response"]["status"] for e in entries} == {200}


def test_flows_in_order():
    flows = [flow(id=n, url=f"http://127.0.0.1/{n}") for n in range(3)]
    har = har_from_flows(flows, lambda f: None, version="x")
    assert [e["request"]["url"] for e in har["log"]["entries"]] == [f.url for f in flows]


# -- workbench open: a saved session, read-only ------------------------------------------

DATA = Path(__file__).parent / "data"


def test_a_saved_session_reads_back_as_the_same_flows(tmp_path):
    source = FakeSource()
    flows = source.flows_since(0)
    path = save_har(source, flows, tmp_path / "s.har")
    opened = HarSource(path)
    back = opened.flows_since(0)
    assert [(f.method, f.url, f.status, f.callback, f.depth) for f in back] == [
        (f.method, f.url, f.status, f.callback, f.depth) for f in flows
    ]
    for before, after in zip(flows, back, strict=True):
        stored = source.body(before.id)
        if stored is not None and not stored.truncated:
            assert opened.body(after.id).body == stored.body, before.url
        assert (after.error is None) == (before.error is None)
    snapshot = opened.snapshot()
    assert snapshot.status.state == "finished" and snapshot.flows_total == len(flows)
    assert snapshot.spider == "s.har" and snapshot.status.finish_reason == "read-only HAR"


def test_browser_hars_open_chrome_and_firefox():
    chrome = HarSource(DATA / "chrome.har")
    page, logo, cart = chrome.flows_since(0)
    assert page.status == 200 and page.url == "https://shop.example/"
    assert chrome.body(page.id).body.startswith(b"<html><head><title>Shop")
    assert abs(page.latency - 0.1103) < 1e-6  # timings.wait
    assert chrome.body(logo.id).body.startswith(b"\x89PNG")
    assert cart.status is None and cart.error == "net::ERR_BLOCKED_BY_CLIENT"
    assert cart.method == "POST" and cart.request_body == b'{"add": "p1"}'
    assert chrome.snapshot().stats["har/creator"] == "WebInspector 537.36"
    firefox = HarSource(DATA / "firefox.har")
    moved, product = firefox.flows_since(0)
    assert moved.status == 301 and product.status == 200
    assert product.time > moved.time  # "+01:00" timestamps, in order
    assert "£9.99" in firefox.body(product.id).body.decode()
    assert firefox.curl(product.id).startswith("curl ")


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        ("{", "not JSON"),
        ('{"log": {}}', "not a HAR file (no log.entries)"),
        ('{"log": {"entries": [1]}}', "entry 1 is not an object"),
        ('{"log": {"entries": [{"request": {}}]}}', "entry 1 has no request URL"),
    ],
)
def test_files_that_are_not_hars_say_why(tmp_path, content, needle):
    path = tmp_path / "x.har"
    path.write_text(content)
    with pytest.raises(HarError, match=re.escape(needle)):
        HarSource(path)


async def test_a_browser_har_in_the_panels_read_only():
    source = HarSource(DATA / "chrome.har")
    app = WorkbenchApp(source)
    async with app.run_test(size=(140, 36)) as pilot:
        await pilot.pause()
        table = app.query_one("#flow-table", RecordTable)
        assert [f.url for f in table.rows][:2] == [
            "https://shop.example/",
            "https://shop.example/logo.png",
        ]
        await pilot.press("home", "enter", "3")
        await pilot.pause()
        assert isinstance(app.screen, FlowDetailScreen)
        await pilot.press("q", "p")  # the selector playground on the saved body
        await pilot.pause()
        await pilot.press(*"h1::text", "enter")
        await pilot.pause(0.5)
        assert "Shop" in str(app.screen.query_one("#values").render())
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("space")  # nothing to pause: it says so
        await pilot.pause()
        assert any("not running" in str(n.message) for n in app._notifications)
        assert "read-only HAR" in status_text(app.last_snapshot).plain


def test_the_cli_opens_a_har_and_says_what_is_wrong(tmp_path):
    result = run("open", str(DATA / "chrome.har"), cwd=tmp_path, WORKBENCH_NO_UI="1")
    assert result.returncode == 0 and "3 flows in" in result.stdout
    assert "WebInspector" in result.stdout
    missing = run("open", str(tmp_path / "none.har"), cwd=tmp_path)
    assert missing.returncode == 1 and "none.har: no such file" in missing.stderr


def test_a_har_exported_by_firefox_itself_opens():
    """tests/data/firefox-153-export.har: written by Firefox 153's Network tool (its HAR
    auto-export, devtools.netmonitor.har.enableAutoExportToFile) on a page that loads
    the demo site's pages in frames, an image and a no-cors fetch: not hand-made."""
    source = HarSource(DATA / "firefox-153-export.har")
    flows = source.flows_since(0)
    assert source.snapshot().stats["har/creator"] == "Firefox 153.8.0"
    assert [(f.status, f.url.split("/", 3)[3]) for f in flows] == [
        (304, "index.html"),
        (200, "catalogue/page-1.html"),
        (404, "missing.html"),
        (200, "static/logo.png"),
        (200, "api/products?page=1"),
        (404, "favicon.ico"),
    ]
    start, page, missing, logo, api, _ = flows
    assert b"<title>HAR capture</title>" in source.body(start.id).body  # a 304 with its body
    assert b"<article" in source.body(page.id).body
    assert missing.size == 271 and b"<h1>Not found</h1>" in source.body(missing.id).body
    assert source.body(logo.id).body.startswith(b"\x89PNG")  # base64 in the file
    assert api.size == 0  # an opaque (no-cors) response: Firefox kept no body
    assert source.curl(page.id).startswith("curl ")


def test_a_har_written_by_chromiums_devtools_opens():
    """tests/data/chromium-devtools-export.har: written by Chromium's DevTools HAR writer
    (the code behind Network > Export HAR, run in the DevTools window with preserve log
    on) while the browser loaded the demo site's pages, images and no-cors fetches."""
    from workbench.ui.format import status_cell

    source = HarSource(DATA / "chromium-devtools-export.har")
    flows = source.flows_since(0)
    assert source.snapshot().stats["har/creator"] == "WebInspector 537.36"
    assert len(flows) == 10
    by_path = {f.url.split("/", 3)[3]: f for f in flows}
    assert b"<article" in source.body(by_path["catalogue/page-1.html"].id).body
    assert source.body(by_path["static/logo.png"].id).body.startswith(b"\x89PNG")
    assert by_path["missing.html"].status == 404
    aborted = by_path["api/products?page=1"]  # headers came, then Chrome dropped the body
    assert aborted.status == 200 and aborted.error.startswith("net::ERR_ABORTED")
    assert status_cell(aborted).plain == "aborted"
    blocked = HarSource(DATA / "chrome.har").flows_since(0)[2]
    assert status_cell(blocked).plain == "blocked"  # net::ERR_BLOCKED_BY_CLIENT


def test_odd_browser_errors_and_workbench_own_dropped_flows(tmp_path):
    from workbench.ui.format import error_label

    assert error_label("net::ERR_") == "error" and error_label("net::ERR__X") == "x"
    ignored = flow(id=1, url="http://127.0.0.1/bomb", status=200, error="IgnoreRequest: too big")
    path = tmp_path / "mine.har"
    kept = StoredBody(b"<html>kept</html>", 17, False)
    write_har(path, har_from_flows([ignored], lambda f: kept, version="x"))
    (back,) = HarSource(path).flows_since(0)
    assert back.status == 200 and back.error == "IgnoreRequest: too big"  # no browser's note


def test_dropped_requests_are_entries_with_their_fate_and_read_back(tmp_path):
    """Status 0, the fate in words in _error and as fields in _workbench; workbench
    open reads them back as dropped rows (not as failed downloads), with their links."""
    source = FakeSource(fates=True)
    flows = source.flows_since(0)
    entries = check_har(har_from_flows(flows, lambda f: None, version="x"))
    by_url = {(e["request"]["url"], e["_workbench"].get("fate")): e for e in entries}
    offsite = by_url[("http://ads.example/banner", "offsite")]
    assert offsite["response"]["status"] == 0 and offsite["response"]["bodySize"] == -1
    assert offsite["_error"] == (
        "filtered offsite by OffsiteMiddleware: Filtered offsite request to 'ads.example'"
    )
    ours = offsite["_workbench"]
    assert ours["fate"] == "offsite" and ours["fate_by"].endswith(".OffsiteMiddleware")
    retried = by_url[("http://127.0.0.1:8000/flaky/1.html", "retried")]
    assert retried["response"]["status"] == 500 and "_error" not in retried
    assert (retried["_workbench"]["fate_n"], retried["_workbench"]["fate_limit"]) == (1, 2)

    path = save_har(source, flows, tmp_path / "fates.har")
    opened = HarSource(path)
    back = {f.id: f for f in opened.flows_since(0)}
    for before in flows:
        after = back[before.id]  # the same order, so the same numbers
        assert (after.fate, after.fate_by, after.fate_reason) == (
            before.fate,
            before.fate_by,
            before.fate_reason,
        )
        assert (after.fate_n, after.fate_limit, after.duplicate_of) == (
            before.fate_n,
            before.fate_limit,
            before.duplicate_of,
        )
        assert after.parent_id == before.parent_id
    from workbench.ui.format import status_cell

    assert back[14].error is None and back[14].status is None  # not a failed download
    assert status_cell(back[14]).plain == "—"
    assert opened.snapshot().fates == {"duplicate": 2, "offsite": 1, "depth": 1, "robots": 1,
                                       "pending": 1, "retried": 1}  # fmt: skip
    assert opened.stats["downloader/request_count"] == 12  # the dropped were never sent
