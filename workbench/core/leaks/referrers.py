"""What keeps an object alive: chains of referrers back to a root.

A breadth-first search over ``gc.get_referrers``, one heap scan per level
(all the frontier at once), bounded in depth, frontier width and time.  It
stops at roots: a module's globals, a class attribute, a running frame, or
one of the crawl's own objects given by name (the scheduler, the engine,
the spider...).  Each edge is named: ``.attr``, ``['key']``, ``[3]``,
``local name``, so a chain reads like the code that built it::

    scheduler.mqs -> DownloaderAwarePriorityQueue.pqueues['127.0.0.1'] -> ...
        -> Request.cb_kwargs['listing'] -> HtmlResponse

The search runs in a worker thread (it holds the GIL during each scan, so a
level costs the crawl one pause, not the whole search).  It never keeps the
target alive: it takes a weak reference and resolves it inside.
"""

from __future__ import annotations

import gc
import sys
import threading
import time
import types
from collections import Counter
from collections.abc import Callable
from typing import Any

from workbench.core.control.late import late
from workbench.core.formats.sanitize import clean_line
from workbench.core.leaks.chains import (
    CONTAINERS,
    Chain,
    Hop,
    ReferrerReport,
    edge_label,
    fold_instance_dicts,
    type_name,
)
from workbench.core.leaks.heap import referents as referents_of
from workbench.core.leaks.heap import unfreeze


class _Walk:
    """The search state of one target: parent pointers toward it, its chains."""

    __slots__ = ("chains", "depth", "direct", "done", "frontier", "objects", "parent", "scanned")

    def __init__(self, target: Any) -> None:
        # id -> (id of the child it refers to, edge); the objects themselves
        # in a dict of their own (a tuple holding one would be a referrer)
        self.parent: dict[int, tuple[int | None, str]] = {id(target): (None, "")}
        self.objects: dict[int, Any] = {id(target): target}
        self.frontier: list[Any] = [target]
        self.chains: list[Chain] = []
        self.direct: Counter[str] = Counter()
        self.depth = 0
        self.scanned = 0
        self.done = False

    def containers(self) -> tuple[Any, ...]:
        return (self, self.parent, self.objects, self.frontier, self.chains)


class _Search:
    """One search for one or more targets, one heap scan per level for all of them.

    Everything it holds is on itself or its walks, which it ignores."""

    def __init__(
        self,
        named_roots: dict[int, str],
        max_depth: int,
        max_frontier: int,
        timeout: float,
        max_chains: int,
    ) -> None:
        self.named_roots = named_roots
        self.max_depth = max_depth
        self.max_frontier = max_frontier
        self.timeout = timeout
        self.max_chains = max_chains
        self.modules = {
            id(vars(m)): name for name, m in list(sys.modules.items()) if hasattr(m, "__dict__")
        }
        self.ignore: set[int] = {id(self), id(self.__dict__), id(self.modules)}

    def _our_frames(self) -> None:
        frame: types.FrameType | None = sys._getframe()
        while frame is not None:
            self.ignore.add(id(frame))
            frame = frame.f_back

    def _running_frames(self) -> list[types.FrameType]:
        """The frames other threads are running: their locals are invisible to the gc."""
        frames: list[types.FrameType] = []
        me = threading.get_ident()
        for tid, frame in sys._current_frames().items():
            if tid == me:
                continue
            current: types.FrameType | None = frame
            while current is not None and len(frames) < 2000:
                frames.append(current)
                current = current.f_back
        return frames

    def _frame_roots(self, walk: _Walk, wanted: set[int], frames: list[types.FrameType]) -> None:
        for frame in frames:
            try:
                local_items = list(frame.f_locals.items())
            except Exception:
                continue
            for name, value in local_items:
                if id(value) not in wanted or id(frame) in walk.parent:
                    continue
                walk.parent[id(frame)] = (id(value), f" local {name}")
                walk.objects[id(frame)] = frame
                root = self.root_of(frame)
                assert root is not None
                walk.chains.append(self.chain_from(walk, id(frame), root))
                if len(walk.chains) >= self.max_chains:
                    return
            del local_items

    def root_of(self, obj: Any) -> str | None:
        oid = id(obj)
        if oid in self.named_roots:
            return self.named_roots[oid]
        if oid in self.modules:
            return f"module {self.modules[oid]}"
        if isinstance(obj, types.ModuleType):
            return f"module {obj.__name__}"
        if isinstance(obj, type):  # as the code spells it: PagesSpider.prices
            return obj.__qualname__
        if isinstance(obj, types.FrameType):
            code = obj.f_code
            return f"frame {code.co_name}() at {code.co_filename}:{obj.f_lineno}"
        return None

    def chain_from(self, walk: _Walk, oid: int, root: str) -> Chain:
        hops = []
        current: int | None = oid
        while current is not None:
            obj = walk.objects[current]
            child, edge = walk.parent[current]
            container = isinstance(obj, CONTAINERS)
            name = type_name(obj)
            if current in self.modules or current in self.named_roots or isinstance(obj, type):
                name, container = "", True  # the root's name says it
                if current in self.modules and edge.startswith("['"):
                    edge = "." + edge[2:-2]  # module globals read as attributes
            hops.append(Hop(name, edge, container))
            current = child
        top = walk.objects[oid]
        origin = f"class {top.__module__}.{top.__qualname__}" if isinstance(top, type) else ""
        return Chain(root, fold_instance_dicts(hops), clean_line(origin, 300))

    def _visit(self, walk: _Walk, ref: Any, referents: list[Any], wanted: set[int]) -> Any:
        """Record ``ref`` for the walk; returns it when the walk goes on through it."""
        rid = id(ref)
        if rid in walk.parent:
            return None
        # (the crawl may have changed ``ref`` since the scan: then it no longer counts)
        child = next((c for c in referents if id(c) in wanted), None)
        if child is None:
            return None
        walk.scanned += 1
        edge = edge_label(ref, child)
        walk.parent[rid] = (id(child), edge)
        walk.objects[rid] = ref
        if walk.depth == 1:
            walk.direct[f"{type_name(ref)}{edge}"] += 1
        root = self.root_of(ref)
        if root is not None:
            walk.chains.append(self.chain_from(walk, rid, root))
            walk.done = len(walk.chains) >= self.max_chains
            return None
        return ref

    def run(self, targets: list[Any]) -> list[ReferrerReport]:
        began = time.monotonic()
        self._our_frames()
        walks = [_Walk(t) for t in targets]
        self.ignore.add(id(walks))
        for walk in walks:
            self.ignore.update(id(c) for c in walk.containers())
        timed_out = False
        while True:
            active = [w for w in walks if w.frontier and not w.done and w.depth < self.max_depth]
            if not active:
                break
            if time.monotonic() - began > self.timeout:
                timed_out = True
                break
            frames = self._running_frames()
            self.ignore.add(id(frames))
            wanted = {}
            for walk in active:
                walk.depth += 1
                wanted[id(walk)] = {id(o) for o in walk.frontier}
                self.ignore.add(id(wanted[id(walk)]))
                self._frame_roots(walk, wanted[id(walk)], frames)
                walk.done = walk.done or len(walk.chains) >= self.max_chains
            del frames
            # A tuple, passed as it is: ``f(*args)`` with an exact tuple hands
            # that tuple over as the call's arguments, where a list would be
            # copied into a new tuple nobody here knows.  That argument tuple
            # refers to every object searched for; Python 3.10-3.12 leave it
            # out of get_referrers' answer, 3.13 does not (gc.get_referrers
            # went to Argument Clinic, gh-113755, which leaves out only its own
            # copy of the arguments): it was a `tuple[0]` link at every level.
            union = tuple(o for w in active if not w.done for o in w.frontier)
            self.ignore.add(id(union))
            referrers = gc.get_referrers(*union) if union else []
            self.ignore.add(id(referrers))
            del union
            nexts: dict[int, list[Any]] = {id(w): [] for w in active}
            self.ignore.update(id(n) for n in nexts.values())
            for ref in referrers:
                rid = id(ref)
                if rid in self.ignore:
                    continue
                if isinstance(ref, types.FrameType) and ref.f_code is _Search.run.__code__:
                    continue
                referents = referents_of(ref)  # once: the crawl goes on meanwhile
                for walk in active:
                    if walk.done:
                        continue
                    going = self._visit(walk, ref, referents, wanted[id(walk)])
                    nxt = nexts[id(walk)]
                    if going is not None and len(nxt) < self.max_frontier:
                        nxt.append(going)
                del referents
            del referrers
            for walk in active:
                walk.frontier[:] = [] if walk.done else nexts[id(walk)]
        elapsed = time.monotonic() - began
        reports = [self._report(w, elapsed, timed_out) for w in walks]
        for walk in walks:
            walk.parent.clear()
            walk.objects.clear()
            walk.frontier.clear()
        return reports

    def _report(self, walk: _Walk, elapsed: float, timed_out: bool) -> ReferrerReport:
        complete = not (
            (timed_out and not walk.done and walk.frontier)
            or (walk.frontier and walk.depth >= self.max_depth and not walk.chains)
        )
        note = ""
        if not walk.chains:
            note = (
                "no root found"
                + ("" if complete else f" within {self.max_depth} levels and {self.timeout:.0f}s")
                + (": only garbage (a reference cycle) holds it" if complete else "")
            )
        direct = walk.direct.most_common(20)
        return ReferrerReport(
            chains=tuple(walk.chains),
            depth=walk.depth,
            scanned=walk.scanned,
            elapsed=elapsed,
            complete=complete,
            note=note,
            direct=tuple(f"{what} ×{n}" if n > 1 else what for what, n in direct),
        )


_lock = threading.Lock()  # one search at a time: they are heavy


def find_referrers(
    ref: Callable[[], Any],
    named_roots: dict[int, str] | None = None,
    *,
    max_depth: int = 24,
    max_frontier: int = 64,
    timeout: float = 5.0,
    max_chains: int = 3,
) -> ReferrerReport:
    """Chains of referrers from roots to the object ``ref()`` (a weak reference).

    ``named_roots`` maps ``id(obj)`` to a name for objects to stop at (the
    crawl's scheduler, engine, spider...).
    """
    return find_referrers_many(
        [ref],
        named_roots,
        max_depth=max_depth,
        max_frontier=max_frontier,
        timeout=timeout,
        max_chains=max_chains,
    )[0]


def find_referrers_many(
    refs: list[Callable[[], Any]],
    named_roots: dict[int, str] | None = None,
    *,
    max_depth: int = 24,
    max_frontier: int = 64,
    timeout: float = 5.0,
    max_chains: int = 3,
) -> list[ReferrerReport]:
    """:func:`find_referrers` for several objects at the cost of one: each level of
    the search scans the heap once for all of them.  A report per weak reference."""
    collected = ReferrerReport((), 0, 0, 0.0, True, "the object was collected")
    unfreeze()  # frozen containers (a module-level cache) are invisible to get_referrers
    with _lock:
        targets = [r() for r in refs]
        alive = [t for t in targets if t is not None]
        search = _Search(named_roots or {}, max_depth, max_frontier, timeout, max_chains)
        search.ignore.update((id(targets), id(alive)))  # our own lists hold them too
        try:
            found = iter(search.run(alive))
            return [collected if t is None else next(found) for t in targets]
        finally:
            del targets, alive, search


def crawl_roots(crawler: Any) -> dict[int, str]:
    """The crawl's own long-lived objects, by name: chains stop there."""
    roots: dict[int, str] = {}
    if crawler is None:
        return roots
    engine = late(crawler, "engine")
    named = {
        "crawler": crawler,
        "engine": engine,
        "scheduler": getattr(engine, "scheduler", None) if engine else None,
        "downloader": getattr(engine, "downloader", None) if engine else None,
        "scraper": getattr(engine, "scraper", None) if engine else None,
        "spider": getattr(crawler, "spider", None),
        "stats": late(crawler, "stats"),
    }
    for name, obj in named.items():
        if obj is not None:
            roots[id(obj)] = name
    scheduler = named["scheduler"]
    for attr in ("mqs", "dqs"):  # memory and disk queues: stop where a request waits
        queue = getattr(scheduler, attr, None)
        if queue is not None:
            _queue_roots(queue, f"scheduler queue ({attr}", roots)
    return roots


def _queue_roots(queue: Any, label: str, roots: dict[int, str], limit: int = 5000) -> None:
    """The scheduler's priority queues down to the queues that hold requests
    (``DownloaderAwarePriorityQueue`` -> per slot -> per priority), by name."""
    roots[id(queue)] = label + ")"
    try:
        for slot, pq in list(getattr(queue, "pqueues", {}).items()):
            if len(roots) > limit:
                return
            _queue_roots(pq, f"{label}, slot {slot!r}", roots, limit)
        for key in ("queues", "_start_queues"):
            for prio, q in list(getattr(queue, key, {}).items()):
                if len(roots) > limit:
                    return
                start = ", start requests" if key == "_start_queues" else ""
                # ScrapyPriorityQueue keys queues by -request.priority
                prio_text = -prio if isinstance(prio, int) else prio
                roots[id(q)] = f"{label}, priority {prio_text}{start})"
    except RuntimeError:  # changed size during iteration: the crawl goes on
        return
