"""Turn a stored response body into text fit for display.

Decoding follows Scrapy's own rules (the response class, the declared
encoding, BOM, meta charset) by rebuilding the response object.  Output is
bounded; binary bodies become a hex dump; the result is sanitised.
"""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass
from itertools import accumulate
from typing import Any

from scrapy.http import Headers, Response, TextResponse
from scrapy.responsetypes import responsetypes

from workbench.core.formats.sanitize import clean
from workbench.core.recording.records import header_items

DISPLAY_LIMIT = 512 * 1024  # characters of text shown at most
HEX_LIMIT = 16 * 1024  # bytes shown as hex at most
# deeper JSON is shown raw: its pretty form grows with the square of the depth,
# and json recurses (a body nested 100,000 deep raises RecursionError)
MAX_JSON_DEPTH = 100
MAX_JSON_DIGITS = 4300  # Python's int limit (sys.int_info.default_max_str_digits)


@dataclass(frozen=True, slots=True)
class RenderedBody:
    text: str  # sanitised
    lexer: str | None  # pygments lexer name for highlighting, None for plain
    kind: str  # "html", "json", "xml", "javascript", "text", "binary", "compressed", "empty"
    encoding: str | None
    size: int
    note: str  # e.g. "showing the first 512 KiB of 3.1 MiB"


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


def _kind(content_type: str, text_response: bool, body: bytes) -> str:
    ct = content_type.lower()
    if "json" in ct:
        return "json"
    if "html" in ct:
        return "html"
    if "xml" in ct:
        return "xml"
    if "javascript" in ct or "ecmascript" in ct:
        return "javascript"
    if text_response or ct.startswith("text/"):
        return "text"
    head = body[:512].lstrip()
    if head[:1] in (b"{", b"[") and b"\x00" not in head:
        return "json"
    if b"\x00" in body[:4096]:
        return "binary"
    try:
        body[:4096].decode("utf-8")
    except UnicodeDecodeError:
        return "binary"
    return "text"


LEXERS = {"json": "json", "html": "html", "xml": "xml", "javascript": "javascript"}


def hexdump(data: bytes, limit: int = HEX_LIMIT) -> str:
    lines = []
    for offset in range(0, min(len(data), limit), 16):
        chunk = data[offset : offset + 16]
        hexpart = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexpart:<47}  {text}")
    return "\n".join(lines)


DECODING_HEADERS = (b"content-type", b"content-encoding", b"content-disposition")


def decoding_headers(headers: Any) -> Headers | None:
    """The headers that decide how a body decodes (its type, charset, encoding, file
    name), as a ``Headers``: from frozen pairs, a ``Headers`` or a mapping.  A response
    with 100,000 headers would cost half a second each time a Response copies them."""
    kept = [
        (name, values)
        for name, values in header_items(headers)
        if (name if isinstance(name, bytes) else str(name).encode()).lower() in DECODING_HEADERS
    ]
    return Headers(kept) if kept else None


def response_class(url: str, headers: Headers | None, body: bytes) -> type[Response]:
    """The class Scrapy would build for this response (HtmlResponse, TextResponse, ...)."""
    headers = headers if headers is not None else Headers()
    try:
        return responsetypes.from_args(headers=headers, url=url, body=body[:4096])
    except Exception:
        return responsetypes.from_args(body=body[:4096])


@dataclass(frozen=True, slots=True)
class DecodedBody:
    """A stored body with Scrapy's response object rebuilt around it.

    ``response`` is what the spider's callback received: the class Scrapy's
    ``responsetypes`` picks from the headers, URL and body (a plain
    :class:`TextResponse` when that class is not a text one but the body is
    text), so ``response.encoding`` and ``response.text`` follow Scrapy's
    rules.  It is ``None`` for binary and empty bodies.  Building it is cheap:
    decoding only happens when ``response.text`` is read.
    """

    response: TextResponse | None
    kind: str  # "html", "json", "xml", "javascript", "text", "binary", "empty"
    content_type: str


def decode_body(url: str, headers: Headers | None, body: bytes) -> DecodedBody:
    """Rebuild the Scrapy response for ``body`` (see :class:`DecodedBody`)."""
    if not body:
        return DecodedBody(None, "empty", "")
    headers = headers if headers is not None else Headers()
    cls = response_class(url, headers, body)
    content_type = (headers.get(b"Content-Type") or b"").decode("latin-1")
    text_response = issubclass(cls, TextResponse)
    kind = _kind(content_type, text_response, body)
    if kind == "binary":
        return DecodedBody(None, kind, content_type)
    text_cls: type[TextResponse] = cls if issubclass(cls, TextResponse) else TextResponse
    try:
        response = text_cls(url=url, headers=headers, body=body)
    except Exception:  # e.g. a URL Scrapy refuses: decode as UTF-8 at least
        response = TextResponse(url="about:blank", body=body, encoding="utf-8")
    return DecodedBody(response, kind, content_type)


PEEK = 1024 * 1024  # bytes of a compressed body decompressed to say what it holds

_MAGIC = {"gzip": b"\x1f\x8b", "x-gzip": b"\x1f\x8b", "zstd": b"\x28\xb5\x2f\xfd"}


def _still_compressed(headers: Headers | None, body: bytes) -> str | None:
    """The Content-Encoding of a body Scrapy never decompressed, or None.

    Scrapy's HttpCompressionMiddleware removes the header once it has decoded
    the body; a flow that still has it is the response as it came off the
    wire: a decompression bomb over DOWNLOAD_MAXSIZE that the middleware
    dropped, or a crawl with COMPRESSION_ENABLED off."""
    if headers is None:
        return None
    value = (headers.get(b"Content-Encoding") or b"").decode("latin-1").strip().lower()
    if not value or value == "identity":
        return None
    magic = _MAGIC.get(value.split(",")[-1].strip())
    return value if magic is None or body.startswith(magic) else None


def _peek(encoding: str, body: bytes) -> str:
    """What the first PEEK bytes of a compressed body are, decompressed (bounded)."""
    if encoding.split(",")[-1].strip() not in ("gzip", "x-gzip", "deflate"):
        return "is not decompressed here"
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header
    try:
        out = inflater.decompress(body, PEEK)
    except zlib.error as exc:
        return f"does not decompress ({exc})"
    if inflater.unconsumed_tail or len(out) >= PEEK:
        used = len(body) - len(inflater.unconsumed_tail)
        return (
            f"decompresses to more than {human_size(PEEK)} "
            f"({human_size(PEEK)} from its first {human_size(used)})"
        )
    return f"decompresses to {human_size(len(out))}"


class _ShownRaw(ValueError):
    """JSON that is not pretty-printed; the message says why."""


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_DEPTH_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def json_depth(text: str) -> int:
    """How deep the brackets of ``text`` nest, outside strings (no recursion)."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(map(_DEPTH_STEP.__getitem__, brackets)), default=0)


def _json_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_JSON_DIGITS:
        raise _ShownRaw("JSON number too long to pretty-print; shown raw")
    return int(digits)


def _json_float(digits: str) -> float:
    value = float(digits)
    if value in (float("inf"), float("-inf")):  # 1e999: pretty-printed, it would read Infinity
        raise _ShownRaw("JSON number out of a float's range; shown raw")
    return value


def _json_constant(name: str) -> float:
    raise _ShownRaw(f"JSON with {name} (not standard JSON); shown raw")


def pretty_json(text: str, limit: int = DISPLAY_LIMIT) -> tuple[str, str]:
    """``text`` indented (at most about ``limit`` characters of it) and a note; or
    ``text`` itself and why, when it is not JSON or not worth printing.  Never raises:
    not on depth, huge numbers, NaN or lone surrogates."""
    try:
        if json_depth(text) > MAX_JSON_DEPTH:
            raise _ShownRaw("JSON nested too deep to pretty-print; shown raw")
        data = json.loads(
            text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant
        )
        chunks = json.JSONEncoder(indent=2, ensure_ascii=False).iterencode(data)
        shown, size = [], 0
        for chunk in chunks:  # stop once past the limit: the pretty form may be far bigger
            shown.append(chunk)
            size += len(chunk)
            if size > limit:
                break
        return "".join(shown), ""
    except _ShownRaw as exc:
        return text, str(exc)
    except RecursionError:
        return text, "JSON nested too deep to pretty-print; shown raw"
    except ValueError:
        return text, "invalid JSON"
    except Exception as exc:  # whatever else json may raise: the text, as it came
        return text, f"JSON not pretty-printed ({type(exc).__name__}); shown raw"


def render_body(
    url: str,
    headers: Headers | None,
    body: bytes,
    original_size: int | None = None,
    limit: int = DISPLAY_LIMIT,
) -> RenderedBody:
    size = original_size if original_size is not None else len(body)
    if not body:
        return RenderedBody("", None, "empty", None, size, "empty body")
    notes = []
    if len(body) < size:
        notes.append(f"{human_size(len(body))} of {human_size(size)} kept")
    compressed = _still_compressed(headers, body)
    if compressed is not None:
        notes.append(
            f"still {compressed}-compressed, as it came off the wire: Scrapy did not decode "
            "it (a middleware dropped the response, e.g. over DOWNLOAD_MAXSIZE, see the log; "
            f"or COMPRESSION_ENABLED is off); it {_peek(compressed, body)}"
        )
        if len(body) > HEX_LIMIT:
            notes.append(f"hex of the first {human_size(HEX_LIMIT)}")
        return RenderedBody(hexdump(body), None, "compressed", None, size, "; ".join(notes))
    shown = len(body)
    if len(body) > limit * 4:  # no encoding takes more than 4 bytes a character
        body = body[: limit * 4]
        notes.append(f"decoded the first {human_size(len(body))}")
    decoded = decode_body(url, headers, body)
    kind = decoded.kind
    if decoded.response is None:
        text = hexdump(body)
        if len(body) > HEX_LIMIT:
            notes.append(f"hex of the first {human_size(HEX_LIMIT)}")
        return RenderedBody(text, None, kind, None, size, "; ".join(notes) or "binary")
    encoding = None
    try:
        encoding = decoded.response.encoding
        text = decoded.response.text
    except Exception:
        text = body.decode("utf-8", errors="replace")
        encoding = "utf-8 (replacement)"
    # U+FFFD the decoder put in (a page may also spell one, in UTF-8)
    utf8 = (encoding or "").lower().replace("_", "-") in ("utf-8", "utf8")
    invalid = text.count("\ufffd") - (body.count(b"\xef\xbf\xbd") if utf8 else 0)
    if shown > len(body) and text.endswith("\ufffd"):  # a character cut by the prefix
        text, invalid = text[:-1], invalid - 1
    if invalid > 0:
        notes.append(f"{invalid:,} bytes not valid {encoding} (shown as \ufffd)")
    if kind == "json":
        text, note = pretty_json(text, limit)
        if note:
            notes.append(note)
    if len(text) > limit:
        notes.append(f"showing the first {human_size(limit)} characters")
        text = text[:limit]
    return RenderedBody(
        clean(text.expandtabs(4)),
        LEXERS.get(kind),
        kind,
        encoding,
        size,
        "; ".join(notes),
    )
