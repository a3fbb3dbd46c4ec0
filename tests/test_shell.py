"""The shell's namespace and sessions on real crawls (in-process, no terminal UI).

The terminal IPython itself is driven in a pseudo-terminal in test_shell_e2e.py;
here a stand-in console runs code in the namespace from the shell's thread,
exactly where IPython would.
"""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path

import pytest
import scrapy

from tests.conftest import demo_settings
from workbench.core.control.host import CrawlHost
from workbench.core.sources.local import LocalSource
from workbench.demo.spider import DemoSpider, expected_item_count
from workbench.shell import session
from workbench.shell.namespace import ShellNamespace
from workbench.shell.session import ShellManager, attach

PAGES = 40


async def paused_crawl(demo_url, spider=DemoSpider, **settings) -> LocalSource:
    """A crawl stopped on its first product page (a response breakpoint)."""
    settings.setdefault("WORKBENCH_BREAKPOINTS", ["~u /product/1\\.html$"])
    source = LocalSource(CrawlHost(demo_settings(**settings), spider, {"url": demo_url}))
    await source.start()
    while source.snapshot().hit is None:
        assert not source.host.finished
        await asyncio.sleep(0.02)
    return source


async def finish(source: LocalSource) -> None:
    source.continue_()
    await asyncio.wait_for(source.host.wait(), 60)
    source.close()


class Browser:
    def __init__(self, ok: bool) -> None:
        self.ok = ok
        self.opened: list[str] = []

    def open(self, url: str) -> bool:
        self.opened.append(url)
        return self.ok


async def test_namespace_names_and_help(demo_url):
    source = await paused_crawl(demo_url)
    target = source.shell_on_flow(None)
    response, extra = target.response, target.extra
    ns = ShellNamespace(
        source.host.crawler, asyncio.get_running_loop(), response=response, extra=extra
    )
    for name in ("scrapy", "crawler", "spider", "settings", "request", "response", "item"):
        assert name in ns.vars
    for helper in ("fetch", "view", "shelp", "queued", "flows", "flow", "items", "prefs"):
        assert callable(ns.vars[helper])
    assert ns.vars["spider"] is source.host.crawler.spider
    assert ns.vars["request"] is response.request
    assert ns.vars["response"].css("h1::text").get().endswith("No. 1")
    text = ns.help_text()
    assert "fetch(url[, redirect=True])" in text and "view(response)" in text
    assert "<200 http://127.0.0.1" in text
    await finish(source)


async def test_fetch_goes_through_the_crawler_while_paused(demo_url):
    source = await paused_crawl(demo_url)
    ns = ShellNamespace(source.host.crawler, asyncio.get_running_loop())
    await asyncio.to_thread(ns.fetch, demo_url + "product/9.html")
    response = ns.vars["response"]
    assert response.status == 200 and response.css("h1::text").get().endswith("No. 9")
    assert ns.vars["request"].url.endswith("/product/9.html")
    # the download went through the crawler's downloader: it is a flow
    assert [f for f in source.recorder.flows if f.url.endswith("/product/9.html")]
    # redirects are followed, as in scrapy shell
    await asyncio.to_thread(ns.fetch, demo_url + "old-catalogue")
    assert ns.vars["response"].url.endswith("/catalogue/page-1.html")
    # a 404 is still a response (shell requests never break, even with ~a set)
    source.add_breakpoint("~a")
    await asyncio.to_thread(ns.fetch, demo_url + "missing.html")
    assert ns.vars["response"].status == 404
    assert source.snapshot().hits_waiting == 1
    # the crawl stayed paused throughout
    assert source.host.engine.paused
    # a Request works too
    await asyncio.to_thread(ns.fetch, scrapy.Request(demo_url + "product/2.html"))
    assert ns.vars["response"].url.endswith("/product/2.html")
    source.remove_breakpoint(source.breakpoints()[-1].id)
    await finish(source)
    assert source.recorder.items_scraped == expected_item_count(PAGES)


async def test_fetch_errors_are_printed_not_raised(demo_url, capsys):
    source = await paused_crawl(demo_url)
    ns = ShellNamespace(source.host.crawler, asyncio.get_running_loop())
    await asyncio.to_thread(ns.fetch, "http://127.0.0.1:9/refused")
    assert "fetch() failed: DownloadConnectionRefusedError" in capsys.readouterr().out
    await finish(source)
    await asyncio.to_thread(ns.fetch, demo_url)
    assert "needs a running crawl" in capsys.readouterr().out


async def test_fetch_refuses_to_run_on_the_loop_thread(demo_url):
    source = await paused_crawl(demo_url)
    ns = ShellNamespace(source.host.crawler, asyncio.get_running_loop())

    async def nothing():
        return 1

    with pytest.raises(RuntimeError, match="loop thread"):
        ns.run(nothing())
    await finish(source)


async def test_view_without_a_browser_writes_the_file(demo_url, capsys):
    source = await paused_crawl(demo_url)
    response = source.shell_on_flow(None).response
    ns = ShellNamespace(
        source.host.crawler, asyncio.get_running_loop(), response=response, browser=Browser(False)
    )
    path = ns.view()
    assert path and Path(path).read_bytes().startswith(b"<!DOCTYPE html>")
    assert b"<base href=" in Path(path).read_bytes()  # links resolve, as open_in_browser does
    assert f"saved as {path}" in capsys.readouterr().out
    browser = Browser(True)
    ns.browser = browser
    assert ns.view(response) and browser.opened[0].startswith("file://")
    assert "Opened in a browser" in capsys.readouterr().out
    # a binary response is written as it is (Scrapy's open_in_browser)
    await asyncio.to_thread(ns.fetch, demo_url + "static/logo.png")
    ns.browser = Browser(False)
    path = ns.view()
    assert path.endswith(".png") and Path(path).read_bytes().startswith(b"\x89PNG")
    await finish(source)


async def test_queued_flows_items_helpers(demo_url):
    source = await paused_crawl(demo_url)
    ns = ShellNamespace(source.host.crawler, asyncio.get_running_loop())
    queued = ns.queued(5)
    assert 0 < len(queued) <= 5 and all(isinstance(r, scrapy.Request) for r in queued)
    assert ns.flows(3)[-1] is source.recorder.flows[-1]
    assert ns.flow(1).url == demo_url
    assert isinstance(ns.items(), list)
    await finish(source)


def run_in_ns(code: list[str], seen: dict):
    """A console that runs lines of code in the namespace, in the shell's thread."""

    def console(ns, banner, history, manager):
        seen["thread"] = threading.current_thread().name
        seen["banner"] = banner
        seen["history"] = history
        for line in code:
            exec(line, ns.vars)
        seen["vars"] = dict(ns.vars)

    return console


async def test_manager_pauses_then_resumes_a_running_crawl(demo_url):
    source = LocalSource(
        CrawlHost(demo_settings(DOWNLOAD_DELAY=0.05), DemoSpider, {"url": demo_url})
    )
    await source.start()
    while source.snapshot().pages < 3:
        await asyncio.sleep(0.02)
    seen: dict = {}
    code = [
        "paused = crawler.engine.paused",
        "title = response.css('title::text').get()",
        f"fetch({demo_url + 'product/4.html'!r})",
        "fetched = response.css('h1::text').get()",
    ]
    manager = ShellManager(
        source.host.create, asyncio.get_running_loop(), console=run_in_ns(code, seen)
    )
    manager.offer("response.css('h1').getall()", "sel", ["<h1>x</h1>"])
    t = source.shell_on_flow(None)
    await manager.open(response=t.response, request=t.request, extra=t.extra, note=t.note)
    assert seen["thread"] == "workbench-shell"
    assert seen["vars"]["paused"] is True
    assert seen["vars"]["title"]
    assert seen["vars"]["fetched"].endswith("No. 4")
    assert seen["vars"]["sel"] == ["<h1>x</h1>"]  # what the selector playground offered
    assert seen["history"] == ["response.css('h1').getall()"]
    assert "rebuilt from the recorded body" in seen["banner"]
    assert "resumes when you leave" in seen["banner"]
    assert not source.host.engine.paused, "resumed after the shell"
    assert manager.sessions == 1 and not manager.busy
    await asyncio.wait_for(source.host.wait(), 60)
    source.close()
    assert source.recorder.items_scraped == expected_item_count(PAGES)


async def test_manager_leaves_a_paused_crawl_paused(demo_url):
    source = await paused_crawl(demo_url)
    manager = ShellManager(
        source.host.create, asyncio.get_running_loop(), console=run_in_ns([], {})
    )
    await manager.open()
    assert source.host.engine.paused
    await finish(source)


async def test_a_failing_console_does_not_break_the_app(demo_url, caplog):
    source = await paused_crawl(demo_url)

    def broken(ns, banner, history, manager):
        raise RuntimeError("terminal gone")

    manager = ShellManager(source.host.create, asyncio.get_running_loop(), console=broken)
    await manager.open()
    assert not manager.busy
    assert "The shell failed" in caplog.text
    await finish(source)


@pytest.mark.skipif(threading.current_thread() is not threading.main_thread(), reason="signals")
async def test_ctrl_c_interrupts_shell_code_not_the_app(demo_url):
    source = await paused_crawl(demo_url)
    seen: dict = {}

    def console(ns, banner, history, manager):
        try:
            while True:  # a long loop in the shell
                pass
        except KeyboardInterrupt:
            seen["interrupted"] = True

    manager = ShellManager(source.host.create, asyncio.get_running_loop(), console=console)
    loop = asyncio.get_running_loop()
    loop.call_later(0.3, os.kill, os.getpid(), signal.SIGINT)
    previous = signal.getsignal(signal.SIGINT)
    await manager.open()
    assert seen == {"interrupted": True}
    assert signal.getsignal(signal.SIGINT) is previous  # restored
    await finish(source)


INSPECTING = """
import scrapy
from scrapy.shell import inspect_response


class InspectingSpider(scrapy.Spider):
    name = "inspecting"

    async def start(self):
        yield scrapy.Request(self.url + "catalogue/page-1.html")

    def parse(self, response):
        yield from response.follow_all(
            response.css("article.product h3 a::attr(href)").getall()[:6], self.parse_product
        )

    def parse_product(self, response):
        if response.url.endswith("/product/3.html"):
            inspect_response(response, self)
            self.after_shell = response.url
        yield {"url": response.url}
"""


async def test_inspect_response_opens_the_shell_without_blocking_the_loop(
    demo_url, tmp_path, monkeypatch
):
    session.install()
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "inspecting_spider.py").write_text(INSPECTING)
    import inspecting_spider

    seen: dict = {}
    code = [
        "inspected = response.url",
        f"fetch({demo_url + 'product/9.html'!r})",  # needs the loop to run meanwhile
        "fetched = response.status",
    ]
    host = CrawlHost(demo_settings(), inspecting_spider.InspectingSpider, {"url": demo_url})
    source = LocalSource(host)
    manager = ShellManager(host.create, asyncio.get_running_loop(), console=run_in_ns(code, seen))
    attach(host.create(), manager)
    await source.start()
    await asyncio.wait_for(host.wait(), 60)
    source.close()
    assert seen["vars"]["inspected"].endswith("/product/3.html")
    assert seen["vars"]["fetched"] == 200
    assert "inspect_response() called from parse_product()" in seen["banner"]
    spider = host.crawler.spider
    assert spider.after_shell.endswith("/product/3.html"), "the callback went on after the shell"
    assert source.recorder.items_scraped == 6


def test_inspect_response_outside_workbench_is_scrapys(monkeypatch):
    called = []
    monkeypatch.setattr(session, "_scrapy_inspect_response", lambda r, s: called.append((r, s)))

    class Spider:
        crawler = object()

    session.inspect_response("response", Spider)
    assert called == [("response", Spider)]


def test_install_replaces_scrapys_inspect_response():
    import scrapy.shell

    import workbench.shell

    session.install()
    assert scrapy.shell.inspect_response is workbench.shell.inspect_response
    session.install()  # twice is harmless: the original is kept
    assert session._scrapy_inspect_response is not workbench.shell.inspect_response


def test_a_closed_ipython_shell_keeps_nothing_alive_and_leaves_no_exit_work(tmp_path, monkeypatch):
    """IPython registers each shell's ``atexit_operations``: the shell, its namespace
    (the response it was opened on) and everything typed in it stayed alive until
    the process ended, and the exit then ran a full collection per shell: a shell
    that is garbage once closed has no such hook left."""
    import gc
    import types
    import weakref

    from IPython.terminal.embed import InteractiveShellEmbed

    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    seen: dict[str, weakref.ref] = {}

    def interact(shell, **_):  # the user at the prompt, who leaves at once
        seen["shell"] = weakref.ref(shell)
        scratch = tmp_path / "edited.py"
        scratch.write_text("x = 1\n")
        shell.tempfiles.append(scratch)  # as %edit leaves one

    monkeypatch.setattr(InteractiveShellEmbed, "__call__", interact)

    class Response:  # weakly referenceable, unlike a plain dict
        pass

    response = Response()
    seen["response"] = weakref.ref(response)
    ns = types.SimpleNamespace(vars={"response": response}, live=None)
    manager = types.SimpleNamespace(loop_runner=lambda coro: None)
    session.ipython_console(ns, "banner", [], manager)
    assert not (tmp_path / "edited.py").exists()
    del response, ns
    gc.collect()
    assert seen["shell"]() is None
    assert seen["response"]() is None
