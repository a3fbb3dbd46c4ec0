"""Every source through the Source contract (workbench.core.sources.base).

A declared capability's operations are all implemented; an undeclared one's are
the base class's, which refuse with the source's own reason or return an empty
view; the reads every panel makes answer with the right types.  The app and the
command line ask capabilities, never attribute names.
"""

from __future__ import annotations

import ast
import asyncio
import dataclasses
import inspect
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import scrapy

from tests.conftest import demo_settings
from tests.fakes import FakeSource
from workbench.core.control.host import CrawlHost
from workbench.core.control.scheduler_view import QueueView
from workbench.core.inspection.contracts import CheckRun
from workbench.core.recording.errors import ErrorsView
from workbench.core.recording.item_health import ItemHealth
from workbench.core.recording.recorder import Recorder
from workbench.core.sources.base import (
    OPERATIONS,
    Capabilities,
    Snapshot,
    Source,
    Unsupported,
)
from workbench.core.sources.har_file import HarSource
from workbench.core.sources.local import CheckSource, LocalSource, ParseSource
from workbench.core.sources.multi import MultiSource
from workbench.remote.jobs import Job
from workbench.remote.source import RemoteSource

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


class Books(scrapy.Spider):
    name = "books"
    start_urls = ["http://127.0.0.1:9/"]  # never started here


class Shop(scrapy.Spider):
    name = "shop"


def _host(cls: type[scrapy.Spider] = Books) -> CrawlHost:
    return CrawlHost(demo_settings(), cls, {}, recorder=Recorder())


def _sources() -> list[Source]:
    job = Job(Path("/nonexistent/4242-x.json"), 4242, 1, "books", None, "2.19.0", None, token="t")
    client = SimpleNamespace(job=job)  # never called: not started
    return [
        LocalSource(_host()),
        CheckSource(CheckRun(demo_settings(), [Books], {})),
        ParseSource(_host(), SimpleNamespace(tree=None)),
        MultiSource([_host(Books), _host(Shop)]),
        HarSource(DATA / "firefox.har"),
        RemoteSource(client),  # type: ignore[arg-type]
        FakeSource(),
    ]


SOURCE_CLASSES = [LocalSource, CheckSource, ParseSource, MultiSource, HarSource, RemoteSource,
                  FakeSource]  # fmt: skip
ALWAYS = {"curl", "breakpoints", "continue_", "step", "leak_path_due", "refuse", "start", "close",
          "run_comparison", "response_due"}  # fmt: skip
DELEGATES = {"stop_all", "process_state"}  # with one crawler: stop(), the snapshot's state
READS = {"snapshot", "flows_since", "items_since", "log_since", "flow", "body", "items_of",
         "item_health"}  # fmt: skip
# errors grouped: every source has them (by default, counted from the records it keeps)
ALWAYS |= {"error_groups", "error_traceback"}


def _implemented(cls: type, name: str) -> bool:
    return getattr(cls, name) is not getattr(Source, name)


def test_every_capability_names_its_operations_and_every_operation_a_capability():
    fields = {f.name for f in dataclasses.fields(Capabilities)}
    assert set(OPERATIONS) == fields
    public = {n for n, _ in inspect.getmembers(Source, callable) if not n.startswith("_")}
    grouped = {op for ops in OPERATIONS.values() for op in ops}
    assert public - grouped - ALWAYS - READS == set()
    assert grouped <= public


@pytest.mark.parametrize("cls", SOURCE_CLASSES, ids=lambda c: c.__name__)
def test_declared_capabilities_are_implemented_and_no_others(cls):
    declared = set(cls.capabilities.names())
    for capability, operations in OPERATIONS.items():
        for op in operations:
            if capability in declared:
                assert _implemented(cls, op), f"{cls.__name__} declares {capability}, lacks {op}"
            elif not any(op in OPERATIONS[c] for c in declared):
                assert not _implemented(cls, op), (
                    f"{cls.__name__} implements {op} but does not declare {capability}"
                )
    for read in READS:
        assert _implemented(cls, read), f"{cls.__name__} lacks the read {read}"


def test_each_source_declares_what_it_is():
    """The capabilities users meet: a HAR is read-only, attaching has no breakpoints..."""
    caps = {type(s).__name__: s.capabilities for s in _sources()}
    assert caps["HarSource"].names() == ["own_report"]
    assert caps["RemoteSource"].attached and not caps["RemoteSource"].breakpoints
    assert caps["RemoteSource"].remote_shell and not caps["RemoteSource"].local_shell
    assert caps["LocalSource"].local_shell and not caps["LocalSource"].crawlers
    assert caps["MultiSource"].crawlers and caps["CheckSource"].checks
    assert caps["ParseSource"].parse_tree and caps["ParseSource"].own_report


def _call(source: Source, name: str) -> Any:
    method = getattr(source, name)
    args = {
        "text": "~u x",
        "bp_id": 1,
        "flow_id": 1,
        "class_key": "k",
        "object_key": 1,
        "ignored": True,
        "key": None,
        "seconds": 1.0,
        "value": 1,
        "on": True,
        "class_keys": ["k"],
        "name": "nobody",
    }
    params = inspect.signature(method).parameters
    result = method(**{p: args[p] for p in params if p in args})
    if inspect.iscoroutine(result):
        result = asyncio.run(result)
    return result


@pytest.mark.parametrize(
    "index", range(len(SOURCE_CLASSES)), ids=lambda i: SOURCE_CLASSES[i].__name__
)
def test_undeclared_operations_refuse_with_the_sources_reason(index):
    source = _sources()[index]
    declared = set(source.capabilities.names())
    refused = 0
    for capability, operations in OPERATIONS.items():
        if capability in declared:
            continue
        for op in operations:
            if op in DELEGATES or any(op in OPERATIONS[c] for c in declared):
                continue
            try:
                result = _call(source, op)
            except Unsupported as exc:
                assert str(exc).endswith(source.unavailable), str(exc)
                assert str(exc)[0].isupper()  # a sentence: "Replay is not available …"
                refused += 1
            else:  # the quiet defaults: nothing to show, nothing done
                assert (
                    result in (None, False, [], {}, ["parse"])
                    or isinstance(result, (QueueView, str))
                    or getattr(result, "rows", None) == ()
                    or getattr(result, "error", "")
                )
    if len(declared) < len(OPERATIONS) - 3:
        assert refused, "a source without most capabilities refuses something"


@pytest.mark.parametrize(
    "index", range(len(SOURCE_CLASSES)), ids=lambda i: SOURCE_CLASSES[i].__name__
)
def test_the_reads_every_panel_makes(index):
    source = _sources()[index]
    snapshot = source.snapshot()
    assert isinstance(snapshot, Snapshot) and isinstance(snapshot.spider, str)
    assert isinstance(source.flows_since(0), list)
    assert isinstance(source.items_since(0), list)
    assert isinstance(source.log_since(0), list)
    flows = source.flows_since(0)
    if flows:
        assert source.flow(flows[0].id) == flows[0]
        assert isinstance(source.items_of(flows[0]), list)
    assert source.flow(10**9) is None
    assert isinstance(source.process_state(), str)
    assert isinstance(source.crawlers(), list)
    assert isinstance(source.error_groups(), ErrorsView)
    assert isinstance(source.item_health(), ItemHealth)


def _capability_questions(path: Path) -> list[str]:
    """hasattr/getattr on a source in a module (what the contract replaces)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in ("hasattr", "getattr")
            and node.args
            and "source" in ast.unparse(node.args[0])
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_the_app_and_the_commands_ask_capabilities_not_attribute_names():
    modules = [*(ROOT / "workbench" / "ui").rglob("*.py"), ROOT / "workbench" / "cli.py"]
    modules += list((ROOT / "workbench" / "commands").rglob("*.py"))
    found = [q for m in modules if m.exists() for q in _capability_questions(m)]
    assert not found, "\n".join(found)
