"""Chains of referrers, and how each link of one is named.

A chain (:class:`Chain`) runs from a root (a module's globals, a class
attribute, a running frame, one of the crawl's own objects) to the object
searched for; each :class:`Hop` is named as the code that built it would
name it: ``.attr``, ``['key']``, ``[3]``, a local variable's name
(:func:`edge_label`), an instance's ``__dict__`` folded into its attribute.
:func:`common_path` is the path most sampled objects share (the leak hint's
"held by"), :func:`describe` one line for a live object.  The search itself
is in :mod:`workbench.core.leaks.referrers`.
"""

from __future__ import annotations

import inspect
import re
import types
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from workbench.core.formats.sanitize import clean_line

CONTAINERS = (dict, list, tuple, set, frozenset, deque, types.CellType)


@dataclass(frozen=True, slots=True)
class Hop:
    """One object on a chain, and the edge from it to the next object."""

    type_name: str
    edge: str  # ".attr", "['key']", "[3]", "local x"; "" on the target
    container: bool  # a plain container (dict, list...): folded into the path


@dataclass(frozen=True, slots=True)
class Chain:
    root: str  # "module myproject.spiders", "scheduler", "frame parse() at x.py:12", a class
    hops: tuple[Hop, ...]  # root's object first, the target last
    origin: str = ""  # where a class root is defined: "class myproject.spiders.PagesSpider"

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

    def tail(self, segments: int = 2, keys: bool = True) -> str:
        """The last segments of the signature (``Request.cb_kwargs['page'] -> HtmlResponse``);
        without ``keys``, every subscript generalised (``Spider.seen[…] -> HtmlResponse``)."""
        text = self.signature() if keys else re.sub(r"\[[^\]]*\]", "[…]", self.text())
        return " -> ".join(text.split(" -> ")[-segments:])


@dataclass(frozen=True, slots=True)
class ReferrerReport:
    chains: tuple[Chain, ...]
    depth: int  # levels searched
    scanned: int  # referrers looked at
    elapsed: float
    complete: bool  # False: stopped by the time or depth bound
    note: str = ""
    direct: tuple[str, ...] = field(default=())  # the immediate referrers, described


def short_repr(value: Any, limit: int = 40) -> str:
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
                    return f"[{short_repr(key)}]" if not isinstance(key, str) else f"[{key!r}]"
                if key is child:
                    return f"<key {short_repr(key)}>"
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
            namespace = vars(referrer)
            for name, value in namespace.items():
                if value is child:
                    return f".{name}"
            if _is_namespace(namespace, child):  # the class's own dict: its attributes
                return ".__dict__"
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


def _is_namespace(namespace: Any, child: Any) -> bool:
    """``child`` is the dict behind a class's ``vars()`` (a mappingproxy of it):
    ``get_referrers`` finds the class through it, as it finds an instance
    through its ``__dict__``."""
    if type(child) is not dict or len(child) != len(namespace):
        return False
    return all(child.get(name, child) is value for name, value in namespace.items())


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


def fold_instance_dicts(hops: list[Hop]) -> tuple[Hop, ...]:
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


_SUBSCRIPT = re.compile(r"\[[^\]]*\]")


def common_path(reports: list[ReferrerReport]) -> tuple[str, str] | None:
    """The most common chain (its last two segments) and its share.

    Chains are alike when they differ in subscripts only; of those, a subscript
    every sampled object shares is kept and one that differs is generalised:
    ``PagesSpider.prices[…][0] -> HtmlResponse`` for responses kept in a dict of
    lists, ``Request.cb_kwargs['listing'] -> HtmlResponse`` for a cb_kwargs key."""
    groups: dict[str, list[list[str]]] = {}
    counts: Counter[str] = Counter()
    for report in reports:
        seen: set[str] = set()
        for chain in report.chains:
            tail = " -> ".join(chain.text().split(" -> ")[-2:])
            shape = _SUBSCRIPT.sub("[…]", tail)
            groups.setdefault(shape, []).append(_SUBSCRIPT.findall(tail))
            seen.add(shape)
        counts.update(seen)
    if not counts:
        return None
    shape, n = counts.most_common(1)[0]
    merged = iter(
        subs[0] if len(set(subs)) == 1 else "[…]" for subs in zip(*groups[shape], strict=True)
    )
    return _SUBSCRIPT.sub(lambda _: next(merged), shape), f"{n} of {len(reports)} sampled"


def describe(obj: Any, limit: int = 300) -> str:
    """A one-line label for a live object: its URL where it has one."""
    url = getattr(obj, "url", None)
    if isinstance(url, str):
        status = getattr(obj, "status", None)
        return clean_line(f"{status} {url}" if isinstance(status, int) else url, limit)
    name = getattr(obj, "name", None)
    if isinstance(name, str) and not inspect.isclass(obj):
        return clean_line(f"{type(obj).__name__} {name!r}", limit)
    return short_repr(obj, limit)
