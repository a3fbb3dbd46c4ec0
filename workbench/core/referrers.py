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
import inspect
import re
import sys
import threading
import time
import types
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from workbench.core.sanitize import clean_line

CONTAINERS = (dict, list, tuple, set, frozenset, deque, types.CellType)


@dataclass(frozen=True, slots=True)
class Hop:
    """One object on a chain, and the edge from it to the next object."""

    type_name: str
    edge: str  # ".attr", "['key']", "[3]", "local x"; "" on the target
    container: bool  # a plain container (dict, list...): folded into the path


@dataclass(frozen=True, slots=True)
class Chain:
    root: str  # "module myproject.spiders", "scheduler", "frame parse() at x.py:12"
    hops: tuple[Hop, ...]  # root's object first, the target last

    def text(self) -> str:
        """One line: the root, then a segment per non-container object."""
        parts = [self.root]
        for i, hop in enumerate(self.hops):
            if i and not hop.container:
                parts.append(f" -> {hop.type_name}")
            parts.append(hop.edge)
        return "".join(parts)

    def signature(self) -> str:
        """The text with indices generalised: what several leaked objects share."""
        return re.sub(r"\[\d+\]", "[…]", self.text())

    def tail(self, segments: int = 2) -> str:
        """The last segments of the text (``Request.cb_kwargs['page'] -> HtmlResponse``)."""
        return " -> ".join(self.signature().split(" -> ")[-segments:])


@dataclass(frozen=True, slots=True)
class ReferrerReport:
    chains: tuple[Chain, ...]
    depth: int  # levels searched
    scanned: int  # referrers looked at
    elapsed: float
    complete: bool  # False: stopped by the time or depth bound
    note: str = ""
    direct: tuple[str, ...] = field(default=())  # the immediate referrers, described


def _short(value: Any, limit: int = 40) -> str:
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    return clean_line(" ".join(text[: limit * 4].split()), limit)  # one line


def type_name(obj: Any) -> str:
    if isinstance(obj, types.FrameType):
        return f"frame {obj.f_code.co_name}()"
    if isinstance(obj, (types.CoroutineType, types.GeneratorType, types.AsyncGeneratorType)):
        return f"{type(obj).__name__} {obj.__qualname__}()"
    if isinstance(obj, types.FunctionType):
        return f"function {obj.__qualname__}()"
    return type(obj).__name__


def _slot_names(obj: Any) -> list[str]:
    names: list[str] = []
    for klass in type(obj).__mro__:
        slots = klass.__dict__.get("__slots__", ())
        if isinstance(slots, str):
            slots = (slots,)
        names.extend(s for s in slots if s not in ("__dict__", "__weakref__"))
    return names


def _local_name(frame: types.FrameType | None, child: Any) -> str | None:
    if frame is None:
        return None
    try:
        for name, value in frame.f_locals.items():
            if value is child:
                return name
    except Exception:
        return None
    return None


def edge_label(referrer: Any, child: Any) -> str:
    """How ``referrer`` refers to ``child``, as Python would spell it."""
    try:
        if isinstance(referrer, dict):
            for key, value in referrer.items():
                if value is child:
                    return f"[{_short(key)}]" if not isinstance(key, str) else f"[{key!r}]"
                if key is child:
                    return f"<key {_short(key)}>"
            return "[?]"
        if isinstance(referrer, (list, tuple, deque)):
            for i, value in enumerate(referrer):
                if value is child:
                    return f"[{i}]"
            return "[?]"
        if isinstance(referrer, (set, frozenset)):
            return "{…}"
        if isinstance(referrer, types.CellType):
            return ".cell_contents"
        if isinstance(referrer, types.FrameType):
            name = _local_name(referrer, child)
            return f" local {name}" if name else " (frame)"
        if isinstance(referrer, (types.CoroutineType, types.GeneratorType)):
            frame = getattr(referrer, "cr_frame", None) or getattr(referrer, "gi_frame", None)
            name = _local_name(frame, child)
            return f" local {name}" if name else " (frame)"
        if isinstance(referrer, types.MethodType):
            return ".__self__" if referrer.__self__ is child else ".__func__"
        if isinstance(referrer, types.FunctionType):
            if referrer.__closure__ and any(
                c.cell_contents is child for c in referrer.__closure__ if _cell_set(c)
            ):
                return ".__closure__"
            if referrer.__defaults__ and child in referrer.__defaults__:
                return ".__defaults__"
            return ".__globals__" if referrer.__globals__ is child else " (function)"
        if isinstance(referrer, type):
            for name, value in vars(referrer).items():
                if value is child:
                    return f".{name}"
            return " (class)"
        attrs = getattr(referrer, "__dict__", None)
        if attrs is child:
            return ".__dict__"
        if isinstance(attrs, dict):
            for name, value in attrs.items():
                if value is child:
                    return f".{_public(referrer, name)}"
        for name in _slot_names(referrer):
            try:
                if getattr(referrer, name) is child:
                    return f".{_public(referrer, name)}"
            except AttributeError:
                continue
    except Exception:
        pass
    return " (ref)"


def _public(obj: Any, name: str) -> str:
    """``cb_kwargs`` for ``_cb_kwargs`` when the class has that property."""
    public = name[1:]
    if name.startswith("_") and not name.startswith("__") and _is_property(obj, public):
        return public
    return name


def _is_property(obj: Any, name: str) -> bool:
    return isinstance(getattr(type(obj), name, None), property)


def _cell_set(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018
    except ValueError:
        return False
    return True


def _fold_instance_dicts(hops: list[Hop]) -> tuple[Hop, ...]:
    """``obj .__dict__ -> dict ['name']`` reads ``obj .name``."""
    out: list[Hop] = []
    i = 0
    while i < len(hops):
        hop = hops[i]
        nxt = hops[i + 1] if i + 1 < len(hops) else None
        if (
            hop.edge == ".__dict__"
            and nxt is not None
            and nxt.type_name == "dict"
            and nxt.edge.startswith("['")
        ):
            out.append(Hop(hop.type_name, "." + nxt.edge[2:-2], hop.container))
            i += 2
            continue
        out.append(hop)
        i += 1
    return tuple(out)


class _Search:
    """One search; everything it holds is on this object, which it ignores."""

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
        # id -> (id of the child it refers to, edge); the objects themselves
        # in a dict of their own (a tuple holding one would be a referrer)
        self.parent: dict[int, tuple[int | None, str]] = {}
        self.objects: dict[int, Any] = {}
        self.ignore.update((id(self.parent), id(self.objects)))
        self.chains: list[Chain] = []
        self.ignore.add(id(self.chains))

    def _our_frames(self) -> None:
        frame: types.FrameType | None = sys._getframe()
        while frame is not None:
            self.ignore.add(id(frame))
            frame = frame.f_back

    def _running_frames(self) -> list[types.FrameType]:
        """The frames other threads are running: their locals are invisible to the gc."""
        frames = []
        me = threading.get_ident()
        for tid, frame in sys._current_frames().items():
            if tid == me:
                continue
            current: types.FrameType | None = frame
            while current is not None and len(frames) < 2000:
                frames.append(current)
                current = current.f_back
        return frames

    def _frame_roots(self, wanted: set[int]) -> None:
        frames = self._running_frames()
        self.ignore.add(id(frames))
        for frame in frames:
            try:
                local_items = list(frame.f_locals.items())
            except Exception:
                continue
            for name, value in local_items:
                if id(value) not in wanted or id(frame) in self.parent:
                    continue
                self.parent[id(frame)] = (id(value), f" local {name}")
                self.objects[id(frame)] = frame
                root = self.root_of(frame)
                assert root is not None
                self.chains.append(self.chain_from(id(frame), root))
                if len(self.chains) >= self.max_chains:
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
        if isinstance(obj, type):
            return f"class {obj.__module__}.{obj.__qualname__}"
        if isinstance(obj, types.FrameType):
            code = obj.f_code
            return f"frame {code.co_name}() at {code.co_filename}:{obj.f_lineno}"
        return None

    def chain_from(self, oid: int, root: str) -> Chain:
        hops = []
        current: int | None = oid
        while current is not None:
            obj = self.objects[current]
            child, edge = self.parent[current]
            container = isinstance(obj, CONTAINERS)
            name = type_name(obj)
            if current in self.modules or current in self.named_roots:
                name, container = "", True  # the root's name says it
                if current in self.modules and edge.startswith("['"):
                    edge = "." + edge[2:-2]  # module globals read as attributes
            hops.append(Hop(name, edge, container))
            current = child
        return Chain(root, _fold_instance_dicts(hops))

    def run(self, target: Any) -> ReferrerReport:
        began = time.monotonic()
        self._our_frames()
        tid = id(target)
        self.parent[tid] = (None, "")
        self.objects[tid] = target
        frontier = [target]
        self.ignore.add(id(frontier))
        depth = scanned = 0
        complete = True
        direct: Counter[str] = Counter()
        while frontier and depth < self.max_depth and len(self.chains) < self.max_chains:
            if time.monotonic() - began > self.timeout:
                complete = False
                break
            depth += 1
            wanted = {id(o) for o in frontier}
            self.ignore.add(id(wanted))
            self._frame_roots(wanted)
            if len(self.chains) >= self.max_chains:
                break
            referrers = gc.get_referrers(*frontier)
            self.ignore.add(id(referrers))
            nxt: list[Any] = []
            self.ignore.add(id(nxt))
            for ref in referrers:
                rid = id(ref)
                if rid in self.ignore or rid in self.parent:
                    continue
                if isinstance(ref, types.FrameType) and ref.f_code is _Search.run.__code__:
                    continue
                scanned += 1
                child = next((c for c in gc.get_referents(ref) if id(c) in wanted), None)
                if child is None:
                    continue
                edge = edge_label(ref, child)
                self.parent[rid] = (id(child), edge)
                self.objects[rid] = ref
                if depth == 1:
                    direct[f"{type_name(ref)}{edge}"] += 1
                root = self.root_of(ref)
                if root is not None:
                    self.chains.append(self.chain_from(rid, root))
                    if len(self.chains) >= self.max_chains:
                        break
                    continue
                if len(nxt) < self.max_frontier:
                    nxt.append(ref)
            del referrers
            frontier[:] = nxt
        if frontier and depth >= self.max_depth and not self.chains:
            complete = False
        elapsed = time.monotonic() - began
        note = ""
        if not self.chains:
            note = (
                "no root found"
                + ("" if complete else f" within {self.max_depth} levels and {self.timeout:.0f}s")
                + (": only garbage (a reference cycle) holds it" if complete else "")
            )
        report = ReferrerReport(
            chains=tuple(self.chains),
            depth=depth,
            scanned=scanned,
            elapsed=elapsed,
            complete=complete,
            note=note,
            direct=tuple(f"{what} ×{n}" if n > 1 else what for what, n in direct.most_common(20)),
        )
        self.parent.clear()
        self.objects.clear()
        frontier.clear()
        return report


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
    with _lock:
        target = ref()
        if target is None:
            return ReferrerReport((), 0, 0, 0.0, True, "the object was collected")
        search = _Search(named_roots or {}, max_depth, max_frontier, timeout, max_chains)
        try:
            return search.run(target)
        finally:
            del target, search


def common_path(reports: list[ReferrerReport]) -> tuple[str, str] | None:
    """The most common generalised chain (its last segments) and its share."""
    counts: Counter[str] = Counter()
    for report in reports:
        seen = {chain.tail(2) for chain in report.chains}
        counts.update(seen)
    if not counts:
        return None
    path, n = counts.most_common(1)[0]
    return path, f"{n} of {len(reports)} sampled"


def crawl_roots(crawler: Any) -> dict[int, str]:
    """The crawl's own long-lived objects, by name: chains stop there."""
    roots: dict[int, str] = {}
    if crawler is None:
        return roots
    engine = getattr(crawler, "engine", None)
    named = {
        "crawler": crawler,
        "engine": engine,
        "scheduler": getattr(engine, "scheduler", None) if engine else None,
        "downloader": getattr(engine, "downloader", None) if engine else None,
        "scraper": getattr(engine, "scraper", None) if engine else None,
        "spider": getattr(crawler, "spider", None),
        "stats": getattr(crawler, "stats", None),
    }
    for name, obj in named.items():
        if obj is not None:
            roots[id(obj)] = name
    return roots


def describe(obj: Any, limit: int = 300) -> str:
    """A one-line label for a live object: its URL where it has one."""
    url = getattr(obj, "url", None)
    if isinstance(url, str):
        status = getattr(obj, "status", None)
        return clean_line(f"{status} {url}" if isinstance(status, int) else url, limit)
    name = getattr(obj, "name", None)
    if isinstance(name, str) and not inspect.isclass(obj):
        return clean_line(f"{type(obj).__name__} {name!r}", limit)
    return _short(obj, limit)
