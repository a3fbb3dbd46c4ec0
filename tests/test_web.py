"""`workbench demo --web`: the app in headless Chromium, behind its token.

The browser is Debian's chromium (`.ci/run` installs it), driven through the
DevTools protocol over aiohttp's websocket client.  The terminal is drawn on
a canvas, so what the page received is read from its websocket: a script
installed before the page loads copies every frame the page gets; the
escape sequences are stripped and the text searched.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request

import pytest

from tests.helpers.browser import CHROMIUM, chromium_page, served
from tests.helpers.processes import WORKBENCH, env
from tests.ptyrun import default_signals

pytestmark = [
    pytest.mark.slow,  # a browser: the full suite
    pytest.mark.skipif(
        CHROMIUM is None and not os.environ.get("CI_REQUIRE_CHROMIUM"),
        reason="Debian's chromium is not installed (.ci/run installs it)",
    ),
]


@pytest.fixture
def web_demo(tmp_path, request):
    out = tmp_path / "items.jsonl"
    delay = getattr(request, "param", "0.05")
    proc = subprocess.Popen(
        [*WORKBENCH, "demo", "--web", "--pages", "40", "-O", str(out),
         "-s", f"DOWNLOAD_DELAY={delay}", "-s", "CONCURRENT_REQUESTS=1"],
        cwd=tmp_path, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        preexec_fn=default_signals,
    )  # fmt: skip
    try:
        yield proc, served(proc), out
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def test_the_page_and_its_websocket_need_the_token(web_demo):
    _, url, _ = web_demo
    base = url.split("?", 1)[0]
    for bad in (base, base + "?token=wrong", base + "ws", base + "ws/wrong?width=80"):
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(bad, timeout=10)
        assert caught.value.code == 403, bad
        assert "token" in caught.value.read().decode()
    page = urllib.request.urlopen(url, timeout=10).read().decode()
    assert "textual-terminal" in page and "googleapis" not in page
    # the right token from another site's page (no matching Origin) cannot open the app
    request = urllib.request.Request(
        base + "ws/" + url.split("token=", 1)[1], headers={"Origin": "http://evil.example"}
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 403


def summary_items(proc: subprocess.Popen[str], reason: str) -> int:
    """The item count of the crawl's summary, printed once the page has closed."""
    assert proc.wait(60) == 0
    stdout = proc.stdout.read() if proc.stdout else ""
    match = re.search(rf"demo finished \({reason}\): \d+ pages, (\d+) items", stdout)
    assert match, stdout
    return int(match.group(1))


async def test_the_demo_runs_in_headless_chromium_and_stops_when_the_page_closes(web_demo):
    proc, url, out = web_demo
    async with chromium_page(url) as page:
        text = await page.wait_for(r"1 Flows.*2 Queue")  # the app's tabs
        text = await page.wait_for(r"GET +200 +http://127\.0\.0\.1:\d+/product/\d+\.html")
        assert "Status" in text and "Callback" in text  # the flow list's header
        await page.wait_for(r"finished")  # the status line: the crawl ran to its end
        await page.key("4")  # keys from the browser reach the app: the Stats panel
        await page.wait_for(r"item_scraped_count")
        await page.key("s")  # no terminal to hand over: the page says what to use
        await page.wait_for(r"workbench attach --shell \d+")
        await page.close()
    assert len(out.read_text().splitlines()) == summary_items(proc, "finished") > 0


@pytest.mark.parametrize("web_demo", ["0.3"], indirect=True)
async def test_closing_the_page_mid_crawl_stops_it_gracefully_with_the_feed_closed(web_demo):
    proc, url, out = web_demo
    async with chromium_page(url) as page:
        await page.wait_for(r"items [1-9][\d,]* \([\d,]+/min\)")  # the status line: under way
        await page.close()
    counted = summary_items(proc, "shutdown")
    items = out.read_text().splitlines()
    assert 0 < len(items) == counted < 40, (len(items), counted)  # stopped early, nothing lost
    assert all(json.loads(line) for line in items)


def test_without_web_drops_the_web_options():
    from workbench.commands.running import without_web

    argv = ["demo", "--web", "--port", "8000", "-a", "port=1", "--port=9", "-s", "X=1"]
    assert without_web(argv) == ["demo", "-a", "port=1", "-s", "X=1"]


def test_port_needs_web(tmp_path):
    from tests.helpers.processes import assert_one_line_error, run

    assert_one_line_error(run("demo", "--port", "8000", cwd=tmp_path), "--port goes with --web")


@pytest.mark.parametrize("web_demo", ["0.3"], indirect=True)
async def test_ctrl_c_on_the_server_stops_the_pages_crawl_gracefully(web_demo):
    proc, url, out = web_demo
    async with chromium_page(url) as page:
        await page.wait_for(r"items [1-9][\d,]* \([\d,]+/min\)")  # the status line
        proc.send_signal(signal.SIGINT)
        assert await asyncio.to_thread(proc.wait, 60) == 130
    stdout = proc.stdout.read() if proc.stdout else ""
    match = re.search(r"demo finished \(shutdown\): \d+ pages, (\d+) items", stdout)
    assert match, stdout
    assert len(out.read_text().splitlines()) == int(match.group(1)) < 40
