"""Items health: how often each field of each item type is filled.

:class:`ItemHealthCounter` is fed every item the recorder records (scraped,
dropped or failed) and keeps, per item type (its class name; per spider when
several crawlers share a recorder) and per field, how many items had it
filled, set to None, or empty, and the first few items where it was not
filled (the item, its flow, the flow's URL).  Counting is a few dictionary
lookups per field; nothing is formatted until :meth:`ItemHealthCounter.view`.

A field is *expected* when the item's class declares it (``scrapy.Item``
fields, dataclass and attrs fields, as ``ItemAdapter`` reports them) or when
any item of the type had it: a declared field never set, or a key a dict item
lacks that others have, counts as *missing*.  The counts always add up:
``filled + none + empty + missing == total``.

What counts as empty: ``""`` and text of whitespace only, ``b""``, and an
empty list, tuple, dict or set.  :func:`value_state` is the one definition,
shared with the filter language's ``~f``, ``~none``, ``~empty``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

FILLED, NONE, EMPTY, MISSING = 0, 1, 2, 3
STATE_WORDS = ("filled", "None", "empty", "missing")
EXAMPLES = 3  # first items kept per field and state
MAX_TYPES = 200  # item types counted (per spider); more are not
MAX_FIELDS = 300  # fields counted per type; more are not

_CONTAINERS = (list, tuple, dict, set, frozenset)


def value_state(value: Any) -> int:
    """:data:`FILLED`, :data:`NONE` or :data:`EMPTY` for a field's value."""
    if value is None:
        return NONE
    kind = type(value)
    if kind is str:
        return FILLED if value and not value.isspace() else EMPTY
    if kind in (int, float, bool):
        return FILLED
    if isinstance(value, (str, bytes, bytearray)):
        return FILLED if value.strip() else EMPTY
    if isinstance(value, _CONTAINERS) and not value:
        return EMPTY
    return FILLED


def declared_fields(cls: type) -> tuple[str, ...]:
    """The fields an item class declares (none for dict or an unknown class)."""
    try:
        from itemadapter import ItemAdapter

        names = ItemAdapter.get_field_names_from_class(cls)
    except Exception:
        return ()
    return tuple(str(n) for n in names or ())[:MAX_FIELDS]


# -- the view --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FieldExample:
    """One item where a field was not filled."""

    item_id: int
    flow_id: int | None
    url: str | None  # the URL of the flow that produced it (when known)
    state: str  # "None", "empty" or "missing"


@dataclass(frozen=True, slots=True)
class FieldHealth:
    item_type: str
    field: str
    total: int  # items of the type
    filled: int
    none: int
    empty: int
    declared: bool  # the item class declares it (not only seen on some items)
    examples: tuple[FieldExample, ...] = ()  # the first items where it was not filled

    @property
    def missing(self) -> int:
        return max(0, self.total - self.filled - self.none - self.empty)

    @property
    def unfilled(self) -> int:
        return self.total - self.filled

    @property
    def fill_rate(self) -> float:
        return self.filled / self.total if self.total else 1.0

    @property
    def states(self) -> list[tuple[str, int]]:
        """(word, count) of each way it was not filled, commonest first."""
        parts = [("missing", self.missing), ("None", self.none), ("empty", self.empty)]
        return sorted([p for p in parts if p[1]], key=lambda p: -p[1])

    def sentence(self) -> str:
        """e.g. ``title missing in 14% of Product (42 of 300)``."""
        states = self.states
        if not states:
            return f"{self.field} filled in every {self.item_type} ({self.total})"
        words = [w for w, _ in states]
        how = words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]
        if words[0] != "missing":
            how = "is " + how
        share = percent(self.unfilled, self.total)
        text = f"{self.field} {how} in {share} of {self.item_type} ({self.unfilled} of {self.total}"
        if len(states) > 1:
            text += ": " + ", ".join(f"{n} {w}" for w, n in states)
        return text + ")"


@dataclass(frozen=True, slots=True)
class TypeHealth:
    name: str
    total: int
    dropped: int
    failed: int
    fields: tuple[FieldHealth, ...]  # in the order first declared or seen


@dataclass(frozen=True, slots=True)
class ItemHealth:
    """Every item type's fields and how often each was filled."""

    types: tuple[TypeHealth, ...] = ()
    total: int = 0  # items counted
    types_uncounted: int = 0  # items of types past MAX_TYPES (not counted)

    def rows(self) -> list[FieldHealth]:
        """Every field of every type, worst first (lowest fill rate, then most unfilled)."""
        rows = [f for t in self.types for f in t.fields]
        return sorted(rows, key=lambda f: (f.fill_rate, -f.unfilled, f.item_type, f.field))

    def problems(self) -> list[FieldHealth]:
        """The fields not filled in some items, worst first."""
        return [f for f in self.rows() if f.unfilled]

    def type(self, name: str) -> TypeHealth | None:
        for t in self.types:
            if t.name == name:
                return t
        return None

    def bounded(self, rows: int) -> ItemHealth:
        """The same, with at most ``rows`` fields (the worst) keeping their examples."""
        keep = {(f.item_type, f.field) for f in self.rows()[:rows]}
        types = tuple(
            TypeHealth(
                t.name,
                t.total,
                t.dropped,
                t.failed,
                tuple(f for f in t.fields if (f.item_type, f.field) in keep),
            )
            for t in self.types
        )
        return ItemHealth(types, self.total, self.types_uncounted)


def percent(part: int, whole: int) -> str:
    """A share as a percentage that is never 0% or 100% unless exactly so."""
    if not whole or not part:
        return "0%"
    if part == whole:
        return "100%"
    value = 100 * part / whole
    if value < 1:
        return f"{value:.1f}%" if value >= 0.1 else "<0.1%"
    if value > 99:
        return f"{value:.1f}%" if value <= 99.9 else ">99.9%"
    return f"{value:.0f}%"


# -- counting --------------------------------------------------------------------


Example = tuple[int, "int | None", "str | None"]  # item id, flow id, URL


class _TypeCounts:
    __slots__ = (
        "declared",
        "dropped",
        "examples",
        "failed",
        "fields",
        "first",
        "name",
        "open_missing",
        "total",
    )

    def __init__(self, name: str, declared: tuple[str, ...]) -> None:
        self.name = name
        self.declared = frozenset(declared)
        self.total = 0
        self.dropped = 0
        self.failed = 0
        # field -> [filled, none, empty]; the missing are the rest of total
        self.fields: dict[str, list[int]] = {n: [0, 0, 0] for n in declared}
        # (field, state) -> the first items where it was so
        self.examples: dict[tuple[str, int], list[Example]] = {}
        # the type's first items: the missing examples of a field first seen later
        self.first: list[Example] = []
        # the fields whose missing examples are not all found yet (in field order)
        self.open_missing: dict[str, None] = dict.fromkeys(declared)

    def new_field(self, field: str) -> None:
        """A field seen for the first time: the items before this one lacked it."""
        self.open_missing[field] = None
        for example in self.first:
            self.example(field, MISSING, example)

    def example(self, field: str, state: int, example: Example) -> None:
        shown = self.examples.get((field, state))
        if shown is None:
            shown = self.examples[(field, state)] = []
        elif len(shown) >= EXAMPLES:
            return
        shown.append(example)
        if state == MISSING and len(shown) >= EXAMPLES:
            self.open_missing.pop(field, None)


class ItemHealthCounter:
    """Counts, per item type and field, how often it was filled (see the module)."""

    def __init__(self) -> None:
        self._types: dict[tuple[str | None, str], _TypeCounts] = {}
        self._declared: dict[type, tuple[str, ...]] = {}
        self.uncounted = 0
        self.version = 0  # bumped on every item: the view is cached until then
        self._cache: dict[str | None, tuple[int, ItemHealth]] = {}

    def add(
        self,
        item_id: int,
        flow_id: int | None,
        url: str | None,
        name: str,
        fields: Sequence[tuple[str, Any]],
        cls: type | None = None,
        spider: str | None = None,
        outcome: int = 0,  # 0 scraped, 1 dropped, 2 failed
    ) -> None:
        self.version += 1
        key = (spider, name)
        counts = self._types.get(key)
        if counts is None:
            if len(self._types) >= MAX_TYPES:
                self.uncounted += 1
                return
            declared = ()
            if cls is not None and cls is not dict:
                declared = self._declared.get(cls)  # type: ignore[assignment]
                if declared is None:
                    declared = self._declared[cls] = declared_fields(cls)
            counts = self._types[key] = _TypeCounts(name, declared)
        counts.total += 1
        if outcome == 1:
            counts.dropped += 1
        elif outcome == 2:
            counts.failed += 1
        example = (item_id, flow_id, url)
        known = counts.fields
        seen = 0
        for field, value in fields:
            tally = known.get(field)
            if tally is None:
                if len(known) >= MAX_FIELDS:
                    continue
                tally = known[field] = [0, 0, 0]
                counts.new_field(field)
            seen += 1
            # value_state, inlined for the common cases
            if value is None:
                state = NONE
            elif type(value) is str:
                state = FILLED if value and not value.isspace() else EMPTY
            elif type(value) in (int, float):
                state = FILLED
            else:
                state = value_state(value)
            tally[state] += 1
            if state:
                counts.example(field, state, example)
        if seen < len(known) and counts.open_missing:  # an expected field it lacks
            present = {f for f, _ in fields}
            for field in [f for f in counts.open_missing if f not in present]:
                counts.example(field, MISSING, example)
        if len(counts.first) < EXAMPLES:
            counts.first.append(example)

    def view(self, spider: str | None = None) -> ItemHealth:
        """The counts as an :class:`ItemHealth`: every spider's, or one's."""
        cached = self._cache.get(spider)
        if cached is not None and cached[0] == self.version:
            return cached[1]
        by_name: dict[str, list[_TypeCounts]] = {}
        for (owner, name), counts in self._types.items():
            if spider is None or owner == spider:
                by_name.setdefault(name, []).append(counts)
        types = tuple(_type_view(name, parts) for name, parts in by_name.items())
        health = ItemHealth(types, sum(t.total for t in types), self.uncounted)
        self._cache[spider] = (self.version, health)
        return health


def _type_view(name: str, parts: list[_TypeCounts]) -> TypeHealth:
    total = sum(p.total for p in parts)
    names: dict[str, None] = {}
    for p in parts:
        names.update(dict.fromkeys(p.fields))
    rows = []
    for field in names:
        filled = none = empty = 0
        declared = False
        found: list[tuple[int, int | None, str | None, int]] = []
        for p in parts:
            tally = p.fields.get(field)
            if tally is None:  # this spider's items never had it: all missing
                found += [(*e, MISSING) for e in p.first]
                continue
            filled += tally[0]
            none += tally[1]
            empty += tally[2]
            declared = declared or field in p.declared
            for state in (NONE, EMPTY, MISSING):
                found += [(*e, state) for e in p.examples.get((field, state), ())]
        found.sort()
        examples = tuple(
            FieldExample(item_id, flow_id, url, STATE_WORDS[state])
            for item_id, flow_id, url, state in found[:EXAMPLES]
        )
        rows.append(FieldHealth(name, field, total, filled, none, empty, declared, examples))
    dropped = sum(p.dropped for p in parts)
    failed = sum(p.failed for p in parts)
    return TypeHealth(name, total, dropped, failed, tuple(rows))
