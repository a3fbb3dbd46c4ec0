"""`workbench attach`: the panels on a real `scrapy runspider` in another process.

The crawl is a plain Scrapy process of the demo site (its spider imports
nothing from workbench), found through its RemoteControl job file.
"""

from __future__ import annotations

import ast
import json
import sys
import time
from pathlib import Path

import pytest

from tests.helpers.app import wait_for, widget_text
from tests.helpers.processes import WORKBENCH, env, run, site_process, start_plain_crawl
from tests.ptyrun import PtyProcess
from workbench.core.recording.records import as_headers
from workbench.core.sources.base import Unsupported
from workbench.demo.spider import expected_item_count
from workbench.remote import agent as agent_module
from workbench.remote import wire
from workbench.remote.agent_client import AgentClient, Refused
from workbench.remote.client import RemoteControlClient
from workbench.remote.source import RemoteSource
from workbench.ui.app import WorkbenchApp
from workbench.ui.widgets.record_table import RecordTable

pytestmark = pytest.mark.slow  # real app runs, processes, ptys or a browser: the full suite

REPO = Path(__file__).resolve().parents[1]
SPIDER = REPO / "workbench" / "demo" / "spider.py"
PAGES = 400
SIZE = (150, 42)

# What an attach could change in the crawl: signal receivers, log handlers, the
# download-error chain, attributes on the crawler, the stash, the collector's frozen
# heap, and the components' methods shadowed on their instances (the fate hooks).
FINGERPRINT = """\
import gc, json, logging
from pydispatch.dispatcher import getAllReceivers, liveReceivers
from scrapy import signals as _s
_sigs = {n: getattr(_s, n) for n in dir(_s) if not n.startswith("_")}
_recv = {n: sorted(getattr(r, "__qualname__", repr(r)) for r in
         liveReceivers(getAllReceivers(crawler.signals.sender, sig))) for n, sig in _sigs.items()}
_chain = crawler.engine.downloader.middleware.methods["process_exception"]
_engine = crawler.engine
_parts = [_engine.scraper, _engine._slot.scheduler, *_engine.downloader.middleware.middlewares,
          *_engine.scraper.spidermw.middlewares]
print(json.dumps({
    "receivers": _recv,
    "root_handlers": [type(h).__name__ for h in logging.getLogger().handlers],
    "log_filters": [type(f).__name__ for f in
                    logging.getLogger("scrapy.downloadermiddlewares.httpcompression").filters],
    "process_exception": [getattr(m, "__qualname__", "?") for m in _chain],
    "attrs": sorted(a for a in vars(crawler) if a.startswith("workbench")),
    "stash": sorted(k for k in stash if k != "workbench_shell"),
    "frozen": gc.get_freeze_count() > 0,
    "shadowed": sorted(f"{type(p).__name__}.{k}" for p in _parts for k, v in vars(p).items()
                       if callable(v) and callable(getattr(type(p), k, None))),
    "slots": [type(_engine.downloader.slots).__name__,
              sorted({type(s.transferring).__name__ for s in _engine.downloader.slots.values()})],
}))
"""


def fingerprint(client: RemoteControlClient) -> dict:
    result = client.execute(FINGERPRINT)
    assert result["status"] == "ok", result["traceback"]
    return json.loads(result["output"])


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    """A plain `scrapy runspider` of the demo site: (job, jobs_dir, process, items file)."""
    tmp = tmp_path_factory.mktemp("remote")
    with site_process("--pages", str(PAGES)) as (_, url):
        job, jobs_dir, proc, out = start_plain_crawl(tmp, url)
        try:
            yield job, jobs_dir, proc, out
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(60)


def wait(predicate, timeout=20.0, step=0.1):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(step)


def test_the_agent_needs_only_scrapy_and_the_standard_library():
    """It runs in the crawl's environment, where workbench may not be installed."""
    tree = ast.parse(Path(agent_module.__file__).read_text())
    top = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            top |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            top.add((node.module or "").split(".")[0])
    assert top - set(sys.stdlib_module_names) == {"scrapy"}


def test_remote_source_reads_the_crawl_and_detaches_clean(crawl):
    job, _, proc, _ = crawl
    client = RemoteControlClient(job)
    before = fingerprint(client)
    source = RemoteSource(client)
    hello = source.attach()
    assert hello["mode"] == "full" and hello["pid"] == proc.pid and not hello["existing"]
    installed = fingerprint(client)
    assert installed != before
    assert "RecorderLogHandler" in installed["root_handlers"]
    assert installed["stash"] == ["workbench_agent"]
    assert installed["frozen"] and not before["frozen"]  # the crawl's heap, out of the way
    # what became of each request: hooks on the crawl's own components, undone at detach
    assert before["shadowed"] == []
    assert {"Scraper.enqueue_scrape", "Scheduler.close", "OffsiteMiddleware.process_request",
            "UrlLengthMiddleware.get_processed_request"} <= set(installed["shadowed"])  # fmt: skip
    try:
        # polls bring flows, stats, items and log lines
        wait(lambda: source.poll_once() or source.snapshot().flows_total >= 20)
        snapshot = source.snapshot()
        assert snapshot.status.state == "running" and snapshot.pages > 0
        assert snapshot.attached == f"attached to pid {proc.pid}"
        flows = source.flows_since(0)
        assert all(f.url.startswith("http://127.0.0.1:") for f in flows)
        assert [f.id for f in flows] == sorted(f.id for f in flows)
        product = next(f for f in flows if "/product/" in f.url and f.status == 200)
        assert as_headers(product.request_headers)[b"User-Agent"].startswith(b"Scrapy/")
        # the body comes on demand, whole
        body = source.body(product.id)
        assert body is not None and b"<html" in body.body and len(body.body) == product.size
        assert source.curl(product.id).startswith(f"curl -X GET {product.url}")
        # what becomes of a request scheduled now: the hooks installed at attach say
        code = (f"import scrapy; crawler.engine.crawl(scrapy.Request({product.url!r})); "
                "crawler.engine.crawl(scrapy.Request('http://elsewhere.invalid/x'))")  # fmt: skip
        assert client.execute(code)["status"] == "ok"

        def fates() -> dict:
            source.poll_once()
            source.snapshot()  # merges what the polls brought
            return {f.fate: f for f in source.flows_since(0) if f.fate in ("duplicate", "offsite")}

        wait(lambda: len(fates()) == 2)
        assert fates()["duplicate"].url == product.url
        assert fates()["offsite"].fate_by.endswith(".OffsiteMiddleware")
        counts = source.snapshot().fates
        assert counts["duplicate"] >= 1 and counts["offsite"] == 1
        wait(lambda: source.poll_once() or source.items_since(0))
        item = source.items_since(0)[0]
        assert dict(item.fields)["url"].startswith("http://127.0.0.1:")

        # items health: the crawl's own counts (its item classes' declared fields),
        # not only those of the items fetched here
        def product_health():
            source.item_health()  # asks for the view
            source.poll_once()
            source.snapshot()
            kind = source.item_health().type("Product")
            return kind if kind is not None and all(f.declared for f in kind.fields) else None

        wait(lambda: product_health() is not None)
        fields = {f.field: f for f in product_health().fields}
        assert {"url", "name", "price", "description"} <= set(fields)
        assert fields["url"].filled == fields["url"].total > 0
        # views come with the next poll once a panel asks for them
        source.pace(None)
        source.engine_reading()  # Diagnose's readings, a view of their own
        source.queue(0, 20)
        source.refs()
        source.memory()
        source.poll_once()
        source.snapshot()
        pace = source.pace(None)
        assert pace is not None and pace.rows[0].key == "127.0.0.1"
        assert pace.rows[0].delay == pytest.approx(0.05)
        engine = source.engine_reading()
        assert engine is not None and engine.concurrent_requests == 16
        assert engine.download_delay == pytest.approx(0.05)
        assert [row.key for row in engine.slots] == ["127.0.0.1"]
        assert source.queue(0, 20).slots
        # what is on the wire: the clock the recorder installed on the downloader
        assert installed["slots"] == ["_Slots", ["TimedSet"]] and before["slots"][0] == "dict"
        assert source.snapshot().status.transfers is not None
        assert any(r.name == "Request" for r in source.refs().rows)
        assert source.memory().rss
        # pause and resume the crawl
        assert source.toggle_pause() is True
        source.poll_once()
        assert source.snapshot().status.state == "paused"
        assert source.toggle_pause() is False
        source.poll_once()
        assert source.snapshot().status.state == "running"
        # what the crawl cannot do when attached is refused with the reason
        with pytest.raises(Unsupported, match="Breakpoints are not available when attached"):
            source.add_breakpoint("response ~u product")
        with pytest.raises(Refused, match="no downloader slot"):
            source.set_slot_delay("no-such-slot", 1.0)
        # the remote shell gets the flow's request and response
        note = source.prepare_remote_shell(product.id)
        assert note.startswith(f"request and response are flow #{product.id}")
        check = client.execute(
            "ns = stash['workbench_shell']; print(ns['response'].url, ns['request'].url)"
        )
        assert check["output"].split() == [product.url, product.url]
    finally:
        source.close()
    assert fingerprint(client) == before  # detaching left the crawl as it was
    assert proc.poll() is None  # and it goes on


def test_attach_probe_installs_only_the_probe_where_workbench_could_record(crawl):
    """`workbench attach --probe`: the light agent on a crawl that could run the recorder."""
    job, _, proc, _ = crawl
    client = RemoteControlClient(job)
    before = fingerprint(client)
    source = RemoteSource(client, probe=True)
    assert source.attach()["mode"] == "probe"
    try:
        installed = fingerprint(client)
        assert "RecorderLogHandler" not in installed["root_handlers"]
        assert (
            installed["attrs"] == []
            and installed["process_exception"] == before["process_exception"]
        )
        assert installed["frozen"]  # the crawl's heap out of the collector's way here too
        wait(lambda: source.poll_once() or source.snapshot().flows_total > 0)
        assert source.snapshot().attached == f"attached to pid {proc.pid} (probe)"
        assert source.flows_since(0)[0].url.startswith("http://127.0.0.1:")
    finally:
        source.close()
    assert fingerprint(client) == before


async def test_the_app_attached_pause_stats_and_quit_detaches(crawl):
    job, _, proc, _ = crawl
    client = RemoteControlClient(job)
    before = fingerprint(client)
    source = RemoteSource(client)
    source.attach()
    app = WorkbenchApp(source)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#flow-table", RecordTable)
        await wait_for(lambda: len(table.rows) >= 5, pilot, 30)
        status = widget_text(app.query_one("#status"))
        assert f"attached to pid {proc.pid}" in status and "running" in status
        await pilot.press("space")
        await wait_for(lambda: app.last_snapshot.status.state == "paused", pilot, 10)
        await pilot.press("space")
        await wait_for(lambda: app.last_snapshot.status.state == "running", pilot, 10)
        await pilot.press("4")
        stats = app.query_one("#stats-table", RecordTable)
        await wait_for(lambda: "response_received_count" in [k for k, _ in stats.rows], pilot, 10)
        svg = app.export_screenshot()
        assert job.token not in svg and "attached" in svg
        await pilot.press("q")  # no question: quitting detaches
        await pilot.pause()
    assert app.return_code in (0, None)
    source.close()
    assert fingerprint(client) == before
    assert proc.poll() is None


def test_attach_in_a_terminal_then_the_crawl_finishes_with_every_item(crawl):
    job, jobs_dir, proc, out = crawl
    term = PtyProcess(
        [*WORKBENCH, "attach", "--jobs-dir", str(jobs_dir), str(job.pid)],
        cwd=str(jobs_dir.parent),
        env={**env(), "IPYTHONDIR": str(jobs_dir.parent / "ipy")},
    )
    try:
        term.expect(f"attached to pid {job.pid}", timeout=30)
        term.expect(r"pages \d+", timeout=10)
        term.send("q")
        term.expect(r"detached from demo \(pid \d+\), removed what it installed", timeout=20)
        assert term.wait(20) == 0
        assert job.token not in term.text
    finally:
        term.close()
    assert proc.wait(180) == 0
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(items) == expected_item_count(PAGES)
    log = (jobs_dir.parent / "crawl.log").read_text()
    assert job.token not in log  # the token is never logged


@pytest.fixture
def probe_crawl(tmp_path):
    """A crawl whose environment cannot import workbench, with a small output cap."""
    with site_process("--pages", str(PAGES)) as (_, url):
        job, _, proc, _ = start_plain_crawl(
            tmp_path, url, block_workbench=True,
            settings=("-s", "REMOTE_CONTROL_OUTPUT_MAX_BYTES=16384"),
        )  # fmt: skip
        try:
            yield job, proc
        finally:
            if proc.poll() is None:
                proc.terminate()
            proc.wait(60)


def test_a_crawl_without_workbench_gets_a_probe(probe_crawl):
    job, _ = probe_crawl
    client = RemoteControlClient(job)
    before = fingerprint(client)
    source = RemoteSource(client)
    assert source.attach()["mode"] == "probe"
    try:
        wait(lambda: source.poll_once() or source.snapshot().flows_total >= 50, timeout=30)
        snapshot = source.snapshot()
        assert snapshot.attached.endswith("(probe)") and snapshot.pages > 0
        flows = source.flows_since(0)
        # a 16 KB output cap still brings every response, over several polls
        ids = [f.id for f in flows]
        assert ids == list(range(ids[0], ids[0] + len(ids)))
        source.pace(None)
        source.refs()
        source.poll_once()
        source.snapshot()
        rows = source.pace(None).rows
        assert rows and rows[0].key == "127.0.0.1" and rows[0].responses > 0
        assert any(r.name == "Request" for r in source.refs().rows)
        assert source.body(flows[0].id) is None
        with pytest.raises(Refused, match="needs workbench"):
            source.live_objects("scrapy.http.request.Request")
        assert "needs workbench" in (source.memory().error or "") or source.memory().rss == ()
    finally:
        source.close()
    assert fingerprint(client) == before


def test_an_agent_left_behind_removes_itself(probe_crawl):
    """A client killed without detaching: the agent's lease runs out."""
    job, _ = probe_crawl
    client = RemoteControlClient(job)
    before = fingerprint(client)
    agent = AgentClient(client)
    agent.lease = 1.0
    agent.install()
    assert fingerprint(client)["stash"] == ["workbench_agent"]
    wait(lambda: fingerprint(client) == before, timeout=10, step=0.25)


def test_decoding_builds_only_the_named_types():
    from workbench.core.control.pace import SlotRow

    with pytest.raises(ValueError, match="expected int"):
        wire.decode(SlotRow, {"key": "a", "concurrency": "8"})
    assert wire.decode(int | None, None) is None
    shown = wire.value({"__repr__": "<Thing>"})
    assert repr(shown) == "<Thing>" and str(shown) == "<Thing>"
    stamp = wire.value({"__datetime__": 0})
    assert stamp.year == 1970
    # an object that merely looks like a dataclass is data, not a class to build
    assert wire.value({"__class__": "os.system"}) == {"__class__": "os.system"}


def test_attach_needs_a_terminal_for_the_panels(tmp_path):
    result = run("attach", "--jobs-dir", str(tmp_path / "none"))
    assert result.returncode == 1 and "no running Scrapy crawl found" in result.stderr


def test_a_crawl_that_ends_while_attached_is_finished_unless_it_died(tmp_path):
    from types import SimpleNamespace

    from workbench.core.control.host import CrawlStatus
    from workbench.remote.jobs import Job

    job_file = tmp_path / "1-x.json"
    job = Job(job_file, 1, 1, "demo", None, "2.19.0", None, token="t")
    running = CrawlStatus("running", 3, 5, None, None)
    source = RemoteSource(SimpleNamespace(job=job))
    # RemoteControl removed its job file before closing: a normal end
    ended = source._ended(running)
    assert ended.state == "finished" and "last answer" in ended.finish_reason
    # the job file was left behind: the process died
    job_file.write_text("{}")
    assert source._ended(running).state == "failed"
    assert source._ended(CrawlStatus("closing", 0, 0, "finished", None)).finish_reason == "finished"
    # through SSH the job file is on the other machine: not looked at here
    assert RemoteSource(SimpleNamespace(job=job), job_file_local=False)._ended(running).state == (
        "finished"
    )


def test_the_heap_freeze_is_the_process_s_held_by_every_agent_and_undone_by_the_last():
    """Two crawlers with RemoteControl in one process, one agent each; a heap summary
    in between; the crawl freezing more of its own."""
    import gc
    from types import SimpleNamespace

    from workbench.remote import agent as agent_module

    was_frozen = gc.get_freeze_count()
    gc.unfreeze()
    try:
        one, two = SimpleNamespace(undo=[]), SimpleNamespace(undo=[])
        agent_module.Agent._freeze_heap(one)
        agent_module.Agent._freeze_heap(two)
        state = getattr(sys, agent_module.FREEZE_ATTR)
        assert gc.get_freeze_count() and state["holders"] == 2
        gc.unfreeze()  # a heap summary (frozen objects are invisible to it)
        agent_module.Agent._refreeze(one)
        assert gc.get_freeze_count()
        one.undo.pop()()  # the first detaches: the other still holds it
        assert gc.get_freeze_count() and state["holders"] == 1
        two.undo.pop()()  # the last: unfrozen, as before the attach
        assert not gc.get_freeze_count() and not hasattr(sys, agent_module.FREEZE_ATTR)

        gc.freeze()  # a crawl that froze its own heap: no agent touches it
        agent_module.Agent._freeze_heap(one)
        assert not one.undo and not hasattr(sys, agent_module.FREEZE_ATTR)
        gc.unfreeze()

        agent_module.Agent._freeze_heap(one)
        kept = [[n] for n in range(10)]  # new tracked objects of the crawl's
        gc.freeze()  # the crawl froze more after the attach: left as it is
        one.undo.pop()()
        assert gc.get_freeze_count() and kept
    finally:
        gc.unfreeze()
        if was_frozen:
            gc.freeze()
