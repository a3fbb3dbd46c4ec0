"""Reading a scrapy-redis queue entry without running anything from Redis.

scrapy-redis stores each queued request as ``request.to_dict()``, pickled by
default (``scrapy_redis.picklecompat``), or in whatever ``SCHEDULER_SERIALIZER``
the project names (JSON, say).  Whoever can write to that Redis can put any
pickle there, and ``pickle.loads`` runs what a pickle names (``os.system``...).

:func:`safe_loads` reads a pickle with an unpickler whose ``find_class``
refuses every global but a few plain builtins: it builds dicts, lists, tuples,
str, bytes, numbers, booleans, None, sets, and nothing else; a pickle that
names anything (a class, a function) is refused with the name it asked for,
before anything of it is called.  Sizes and depth are bounded.
:func:`decode_entry` picks pickle or JSON from the entry's first byte.
"""

from __future__ import annotations

import codecs
import io
import json
import pickle
from typing import Any

MAX_ENTRY = 1024 * 1024  # bytes of one entry read at all
MAX_DEPTH = 40

# the only globals a plain-data pickle needs: what protocols 0-2 spell through a
# call (protocol 4+ has opcodes for them)
_ALLOWED: dict[tuple[str, str], Any] = {
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "bytearray"): bytearray,
    ("builtins", "complex"): complex,
    ("__builtin__", "set"): set,
    ("__builtin__", "frozenset"): frozenset,
}


class Refused(ValueError):
    """An entry that is not plain data (or too large): why, in one line."""


def _latin1_encode(text: Any, encoding: str = "latin1", errors: str = "strict") -> bytes:
    """``_codecs.encode`` as protocols 0-2 use it for bytes: latin-1 only."""
    if not isinstance(text, str) or codecs.lookup(encoding).name != "iso8859-1":
        raise Refused("the pickle calls _codecs.encode with something other than latin-1 text")
    return text.encode("latin-1", errors="strict")


class PlainDataUnpickler(pickle.Unpickler):
    """Builds only plain data; every other global is refused before it is called."""

    def find_class(self, module: str, name: str) -> Any:
        found = _ALLOWED.get((module, name))
        if found is not None:
            return found
        if (module, name) == ("_codecs", "encode"):
            return _latin1_encode
        raise Refused(f"the pickle names {module[:80]}.{name[:80]}: not plain data, not loaded")

    def persistent_load(self, pid: Any) -> Any:
        raise Refused("the pickle asks for a persistent object: not loaded")


def safe_loads(data: bytes) -> Any:
    """A pickle's plain data, or :class:`Refused` (never runs what it names)."""
    if len(data) > MAX_ENTRY:
        raise Refused(f"the entry is {len(data):,} bytes (over {MAX_ENTRY:,}): not read")
    try:
        value = PlainDataUnpickler(io.BytesIO(data)).load()
    except Refused:
        raise
    except RecursionError:
        raise Refused("the pickle nests too deep") from None
    except Exception as exc:  # a broken pickle: its error, never its text
        raise Refused(f"not a readable pickle ({type(exc).__name__})") from None
    _check_depth(value)
    return value


def _check_depth(value: Any) -> None:
    stack: list[tuple[Any, int]] = [(value, 0)]
    seen = 0
    while stack:
        item, depth = stack.pop()
        seen += 1
        if depth > MAX_DEPTH:
            raise Refused(f"the entry nests deeper than {MAX_DEPTH}")
        if seen > 200_000:
            raise Refused("the entry holds over 200,000 values")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
            stack.extend((k, depth + 1) for k in item)
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend((v, depth + 1) for v in item)


PICKLE = "pickle"
JSON = "json"


def decode_entry(data: bytes, serializer: str | None = None) -> tuple[Any, str]:
    """(plain data, the format it was read as) for one queue entry.

    ``serializer``: the project's ``SCHEDULER_SERIALIZER`` when known ("json", a
    module path ending in json); otherwise the first byte says (pickle protocol
    2+ starts with 0x80, JSON with ``{``).  :class:`Refused` otherwise.
    """
    if len(data) > MAX_ENTRY:
        raise Refused(f"the entry is {len(data):,} bytes (over {MAX_ENTRY:,}): not read")
    wants_json = bool(serializer) and str(serializer).lower().endswith("json")
    if wants_json or data[:1] in (b"{", b"["):
        try:
            value = json.loads(data.decode("utf-8"))
        except (ValueError, RecursionError):
            if wants_json:
                raise Refused("not JSON, although SCHEDULER_SERIALIZER says json") from None
        else:
            _check_depth(value)
            return value, JSON
    if data[:1] == b"\x80" or not wants_json:
        return safe_loads(data), PICKLE
    raise Refused("neither a pickle nor JSON")
