"""The Source contract: what every panel reads, and what a source can do.

A panel never knows where its records come from: a crawl in this process
(:class:`~workbench.core.sources.local.LocalSource` and its kin), a crawl in
another process (``workbench.remote.source.RemoteSource``), a HAR file
(:class:`~workbench.core.sources.har_file.HarSource`) or the tests' fake.  All
of them subclass :class:`Source`:

- the **reads** (:meth:`Source.snapshot`, the records after a cursor, one
  flow, its body) are abstract: every source has them;
- everything else is an **optional operation** grouped under a
  **capability** (:class:`Capabilities`).  A source declares the capabilities
  it has in ``capabilities`` and overrides their operations; the base class's
  operations refuse with one clear message (:class:`Unsupported`, a
  ``ValueError``) or return an empty view.  The app and the command line ask
  ``source.capabilities.<name>``, never whether an attribute exists.

``tests/test_source_contract.py`` runs every source through this contract:
a declared capability's operations are all implemented, an undeclared one's
all refuse.

The UI pulls: it calls :meth:`Source.snapshot` on a timer and asks for records
since a cursor; nothing is pushed per crawl event.
"""

from __future__ import annotations

import dataclasses
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, ClassVar, NoReturn

from workbench.core.browser.model import BrowserFetch, BrowserView
from workbench.core.control.breakpoints import Breakpoint, Hit
from workbench.core.control.host import CrawlStatus
from workbench.core.control.pace import PaceView
from workbench.core.control.pace.engine import EngineReading
from workbench.core.control.scheduler_view import QueueView
from workbench.core.inspection.curl import CurlError, flow_to_curl
from workbench.core.inspection.replay import ReplayResult
from workbench.core.leaks.chains import ReferrerReport
from workbench.core.leaks.heap import HeapSummary, MemoryView
from workbench.core.leaks.liverefs import RefsView
from workbench.core.leaks.memprobe import ObjectList
from workbench.core.recording.errors import ErrorsView, groups_from_records
from workbench.core.recording.item_health import ItemHealth
from workbench.core.recording.recorder import StoredBody
from workbench.core.recording.records import Flow, ItemRecord, LogRecord
from workbench.core.recording.run_changes import RunComparison

# -- what a snapshot holds --------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sample:
    """One point of the stats history."""

    time: float
    pages: int
    items: int
    pages_per_min: float
    items_per_min: float


@dataclass(frozen=True, slots=True)
class CrawlerLine:
    """One crawler of several in the process (``workbench crawl S1 S2``)."""

    spider: str
    state: str
    pages: int
    items: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    time: float
    spider: str
    status: CrawlStatus
    stats: dict[str, Any]
    started: float | None
    finished: float | None
    flows_total: int
    flows_kept: int
    items_scraped: int
    items_dropped: int
    items_failed: int
    items_total: int
    items_kept: int
    log_total: int
    log_kept: int
    log_counts: dict[str, int]
    bodies_kept: int
    body_bytes: int
    bodies_evicted: int
    history: tuple[Sample, ...]
    hit: Hit | None = None  # the breakpoint hit waiting for the user
    hits_waiting: int = 0
    breakpoints_version: int = 0
    attached: str = ""  # e.g. "pid 1234": the crawl runs in another process
    warning: str = ""  # e.g. the attached crawl is not answering
    # several crawlers in one process: each one, and the one panels show (None: all)
    crawlers: tuple[CrawlerLine, ...] = ()
    scope: str | None = None
    # what became of the requests: fate -> how many (rows kept or not; plain
    # downloads not counted), and the never-downloaded ones counted without a row
    # past WORKBENCH_MAX_DROPPED
    fates: dict[str, int] = field(default_factory=dict)
    dropped_unkept: int = 0

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.finished or self.time) - self.started

    @property
    def pages(self) -> int:
        return int(self.stats.get("response_received_count", 0))

    @property
    def pages_per_min(self) -> float:
        return self.history[-1].pages_per_min if self.history else 0.0

    @property
    def items_per_min(self) -> float:
        return self.history[-1].items_per_min if self.history else 0.0


class StatsHistory:
    """Samples pages and items at most once per ``interval`` seconds (bounded)."""

    def __init__(self, interval: float = 1.0, window: float = 10.0, maxlen: int = 3600) -> None:
        self.interval = interval
        self.window = window
        self.samples: deque[Sample] = deque(maxlen=maxlen)
        self._raw: deque[tuple[float, int, int]] = deque()

    def sample(self, now: float, pages: int, items: int) -> None:
        if self.samples and now - self.samples[-1].time < self.interval:
            return
        raw = self._raw
        raw.append((now, pages, items))
        while len(raw) > 2 and now - raw[0][0] > self.window:
            raw.popleft()
        t0, p0, i0 = raw[0]
        span = now - t0
        ppm = (pages - p0) * 60 / span if span > 0 else 0.0
        ipm = (items - i0) * 60 / span if span > 0 else 0.0
        self.samples.append(Sample(now, pages, items, ppm, ipm))


# -- the contract --------------------------------------------------------------------


class Unsupported(ValueError):
    """An operation this source does not have (its capability is not declared)."""


@dataclass(frozen=True, slots=True)
class ShellTarget:
    """What a shell in this process opens on: Scrapy's shell names, plus a note."""

    response: Any = None
    request: Any = None
    extra: dict[str, Any] = dataclasses.field(default_factory=dict)  # more shell names
    note: str = ""


@dataclass(frozen=True, slots=True)
class Capabilities:
    """What a source can do beyond showing its records (see :data:`OPERATIONS`)."""

    live: bool = False  # a crawl that runs: pause, stop, its queue
    attached: bool = False  # it runs in another process: quitting detaches, bodies cost a call
    breakpoints: bool = False  # hold responses, requests, items inside the crawl
    replay: bool = False  # re-run a callback on a recorded response
    reload: bool = False  # re-import the spider's module
    inject: bool = False  # queue a request given as a curl command
    pace: bool = False  # slots and AutoThrottle, and changing them
    refs: bool = False  # live objects (trackref), referrers, leak paths
    heap: bool = False  # memory over time and Pympler heap summaries
    local_shell: bool = False  # IPython on the crawl's own objects, in this process
    remote_shell: bool = False  # a shell in the crawl's process, over its RemoteControl
    crawlers: bool = False  # several crawlers in one process, shown one or all at once
    checks: bool = False  # spider contracts (workbench check)
    parse_tree: bool = False  # the tree of one URL's callbacks (workbench parse)
    own_report: bool = False  # what runs it prints its own report: no crawl summary at exit
    browser: bool = False  # scrapy-playwright's pages and contexts, in this process

    def names(self) -> list[str]:
        """The capabilities declared (for help and errors)."""
        return [f.name for f in dataclasses.fields(self) if getattr(self, f.name)]


# capability -> the operations a source that declares it implements (the others
# refuse).  Reads every source has are abstract methods instead.
OPERATIONS: dict[str, tuple[str, ...]] = {
    "live": ("queue", "toggle_pause", "stop"),
    "attached": (),
    "breakpoints": (
        "add_breakpoint",
        "edit_breakpoint",
        "remove_breakpoint",
        "toggle_breakpoint",
        "continue_",
        "step",
    ),
    "replay": ("replay",),
    "reload": ("reload_spider",),
    "inject": ("inject_curl", "callbacks"),
    "pace": (
        "pace",
        "engine_reading",
        "set_slot_delay",
        "set_slot_concurrency",
        "set_slot_autothrottle",
    ),
    "refs": (
        "refs",
        "set_refs_baseline",
        "ignore_ref_class",
        "prefs_text",
        "live_objects",
        "referrers",
        "leak_paths",
    ),
    "heap": ("memory", "heap_summary"),
    "local_shell": ("shell_on_flow", "shell_on_object", "shell_crawler", "crawl_hosts"),
    "remote_shell": ("prepare_remote_shell",),
    "crawlers": ("crawlers", "select", "cycle", "process_state", "stop_all"),
    "checks": ("checks",),
    "parse_tree": ("parse_tree",),
    "own_report": (),
    "browser": ("browser", "browser_fetch", "browser_screenshot"),
}


class Source:
    """What panels read, local or remote; subclass it and declare ``capabilities``.

    ``unavailable`` finishes the sentence an unsupported operation refuses
    with ("Replay is …"): say why this source cannot, and what can.
    """

    capabilities: ClassVar[Capabilities] = Capabilities()
    unavailable: ClassVar[str] = "not available here"
    resumed_job: Any = None  # a JOBDIR this crawl resumes (core.control.jobdir.JobReport)

    # -- reads: every source --------------------------------------------------------

    def snapshot(self) -> Snapshot:
        raise NotImplementedError

    def response_due(self) -> bool:
        """A response may come in now and the crawl's pace follows its measured
        latency (AutoThrottle, a request on the wire, in this process): the
        interface waits a moment for a gap before it repaints, since a paint
        holding the loop then is read as the site's latency."""
        return False

    def flows_since(self, cursor: int) -> list[Flow]:
        raise NotImplementedError

    def items_since(self, cursor: int) -> list[ItemRecord]:
        raise NotImplementedError

    def log_since(self, cursor: int) -> list[LogRecord]:
        raise NotImplementedError

    def flow(self, flow_id: int) -> Flow | None:
        raise NotImplementedError

    def body(self, flow_id: int) -> StoredBody | None:
        raise NotImplementedError

    def items_of(self, flow: Flow) -> list[ItemRecord]:
        raise NotImplementedError

    def item_health(self) -> ItemHealth:
        """Per item type and field, how often it was filled (the crawler in scope's)."""
        return ItemHealth()

    async def start(self) -> None:
        return None

    def close(self) -> None:
        return None

    def curl(self, flow_id: int) -> str:
        """The flow's request as a curl command (ValueError when it cannot be)."""
        flow = self.flow(flow_id)
        if flow is None:
            raise CurlError(f"flow #{flow_id} is no longer kept")
        return flow_to_curl(flow)

    def error_groups(self) -> ErrorsView:
        """The crawl's errors grouped by type, message pattern and the user's code
        (:mod:`workbench.core.recording.errors`); by default counted from the
        flows and items this source keeps."""
        return groups_from_records(self.flows_since(0), self.items_since(0)).view()

    def error_traceback(self, key: str) -> str | None:
        """The traceback of a group's first error, when the group's view came
        without it (an attached crawl sends it on request); None if unknown."""
        group = next((g for g in self.error_groups().groups if g.key == key), None)
        return group.traceback if group is not None else None

    # -- refusing: what a capability the source lacks does ---------------------------------

    def refuse(self, what: str) -> NoReturn:
        """Raise :class:`Unsupported`: "``what`` not available …" (e.g. "Replay is")."""
        raise Unsupported(f"{what} {self.unavailable}")

    # live
    def queue(self, offset: int = 0, limit: int = 100) -> QueueView:
        return QueueView(0, (), (), offset, (), 0, 0.0)

    def toggle_pause(self) -> bool | None:
        """True: now paused; False: resumed; None: nothing runs to pause."""
        return None

    def stop(self) -> bool:
        """Stop gracefully; False when nothing runs (or it already stops)."""
        return False

    # several crawlers: with one, these are that one's
    def crawlers(self) -> list[str]:
        return []

    def select(self, name: str | None) -> None:
        if name is not None:
            self.refuse("Choosing a crawler is")

    def cycle(self) -> str | None:
        return None

    def process_state(self) -> str:
        """The whole process's crawl state (what quitting must deal with)."""
        return self.snapshot().status.state

    def stop_all(self) -> bool:
        """Stop every crawl of the process, whichever one the panels show."""
        return self.stop()

    # breakpoints
    def breakpoints(self) -> list[Breakpoint]:
        return []

    def add_breakpoint(self, text: str) -> Breakpoint:
        self.refuse("Breakpoints are")

    def edit_breakpoint(self, bp_id: int, text: str) -> Breakpoint:
        self.refuse("Breakpoints are")

    def remove_breakpoint(self, bp_id: int) -> None:
        self.refuse("Breakpoints are")

    def toggle_breakpoint(self, bp_id: int) -> bool:
        self.refuse("Breakpoints are")

    def continue_(self) -> bool:
        return False

    def step(self) -> bool:
        return False

    # replay, reload, inject
    async def replay(self, flow_id: int) -> ReplayResult:
        self.refuse("Replay is")

    def reload_spider(self) -> str:
        self.refuse("Reloading the spider is")

    def inject_curl(self, text: str, callback: str = "parse") -> str:
        self.refuse("Injecting a request is")

    def callbacks(self) -> list[str]:
        return ["parse"]

    # leak hunting
    def refs(self) -> RefsView:
        return RefsView(time.time(), (), None, (), 0.0, 0.0)

    def set_refs_baseline(self, clear: bool = False) -> None:
        self.refuse("Live refs are")

    def ignore_ref_class(self, class_key: str, ignored: bool) -> None:
        self.refuse("Live refs are")

    def prefs_text(self) -> str:
        self.refuse("Live refs are")

    def live_objects(self, class_key: str, limit: int = 500) -> ObjectList:
        self.refuse("Live objects are")

    async def referrers(self, object_key: int) -> ReferrerReport:
        self.refuse("Live objects are")

    async def leak_paths(self, class_keys: list[str]) -> dict[str, str | None]:
        return {}

    def leak_path_due(self, class_key: str) -> bool:
        return False

    def memory(self) -> MemoryView:
        return MemoryView((), (), (), (), False, 0.0, "", f"Memory is {self.unavailable}")

    async def heap_summary(self) -> HeapSummary:
        self.refuse("The heap is")

    # pace
    def pace(self, selected: str | None = None, points: int = 900) -> PaceView | None:
        return None

    def engine_reading(self) -> EngineReading | None:
        """The engine's recent readings (Diagnose): None when not measured here."""
        return None

    def set_slot_delay(self, key: str | None, seconds: float) -> str:
        self.refuse("The pace is")

    def set_slot_concurrency(self, key: str | None, value: int) -> str:
        self.refuse("The pace is")

    def set_slot_autothrottle(self, key: str | None, on: bool) -> str:
        self.refuse("The pace is")

    # shells
    def shell_on_flow(self, flow_id: int | None) -> ShellTarget:
        """The shell's names for a flow (None: the breakpoint hit, else the latest)."""
        self.refuse("A shell in this process is")

    def shell_on_object(self, object_key: int) -> ShellTarget:
        """The shell's names for a live object (``obj``)."""
        self.refuse("A shell in this process is")

    def shell_crawler(self) -> Any:
        """The Scrapy crawler the shell's ``fetch()`` uses (the one shown)."""
        self.refuse("A shell in this process is")

    def crawl_hosts(self) -> list[Any]:
        """The in-process crawls (``CrawlHost``): a local shell reaches each."""
        return []

    def prepare_remote_shell(self, flow_id: int | None) -> str:
        """Put the flow in the crawl's own shell namespace; returns a note."""
        self.refuse("A shell in the crawl's process is")

    # what some commands add
    def checks(self) -> list[Any]:
        self.refuse("Contract checks are")

    def parse_tree(self) -> Any:
        self.refuse("The parse tree is")

    # the headless browser of a scrapy-playwright crawl
    def browser(self) -> BrowserView:
        """Its pages, contexts, processes and the leak warning (empty: why not)."""
        return BrowserView(time.time(), status=f"The Browser view is {self.unavailable}")

    def browser_fetch(self, flow_id: int) -> BrowserFetch | None:
        """How the browser fetched the flow: its page, final URL, console (None: not)."""
        return None

    async def browser_screenshot(self, key: int | None) -> str:
        """Save a PNG of the open page ``key`` in the current directory; its path."""
        self.refuse("A page screenshot is")

    # what changed since the last run (every source may tell; most cannot)
    def run_comparison(self) -> RunComparison | None:
        """This run against the previous kept run of the same spider, or None: no
        run kept before, or a source that cannot tell (a HAR file, an attached crawl)."""
        return None


class RecorderReads(Source):
    """The record reads of a source that holds a :class:`Recorder` as ``recorder``
    (the crawl's own, or a remote source's copy)."""

    recorder: Any

    def flows_since(self, cursor: int) -> list[Flow]:
        return self.recorder.flows.since(cursor)

    def items_since(self, cursor: int) -> list[ItemRecord]:
        return self.recorder.items.since(cursor)

    def log_since(self, cursor: int) -> list[LogRecord]:
        return self.recorder.log.since(cursor)

    def flow(self, flow_id: int) -> Flow | None:
        return self.recorder.flow(flow_id)

    def items_of(self, flow: Flow) -> list[ItemRecord]:
        return self.recorder.items_of(flow)

    def item_health(self) -> ItemHealth:
        return self.recorder.item_health.view()

    def body(self, flow_id: int) -> StoredBody | None:
        return self.recorder.body(flow_id)

    def error_groups(self) -> ErrorsView:
        return self.recorder.errors.view()

    def error_traceback(self, key: str) -> str | None:
        return self.recorder.errors.traceback(key)
