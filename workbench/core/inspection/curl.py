"""Export a flow's request as a curl command; add a request to the crawl from one.

Export writes Scrapy's format (``curl -X METHOD URL --data-raw BODY -H ...``)
but quotes every word itself: Scrapy's :func:`~scrapy.utils.request.request_to_curl`
leaves the method and URL unquoted and puts values in single quotes as they
are, so a recorded request (from the web, or a HAR file) could run commands
when pasted.  Printable words are quoted with :func:`shlex.quote`; a word with
control characters is written in bash's ``$'...'`` quoting (see :func:`_word`),
so the command is one line of printable text.  Import uses
:meth:`scrapy.Request.from_curl`, with errors a person can act on and the
options it ignored reported.
"""

from __future__ import annotations

import contextlib
import io
import shlex
import warnings
from typing import Any
from urllib.parse import urlsplit

from scrapy import Request, Spider

from workbench.core.formats.sanitize import clean_line
from workbench.core.inspection.rebuild import RebuildError, rebuild_request
from workbench.core.recording.records import Flow

INJECTED_META = "workbench_injected"
# Methods of scrapy.Spider (and common framework hooks) that are not callbacks.
NOT_CALLBACKS = frozenset(
    {"start", "start_requests", "closed", "close", "from_crawler", "update_settings", "log"}
)


class CurlError(ValueError):
    """A curl command that cannot be exported or turned into a request."""


def _word(value: str | bytes, what: str) -> str:
    """One shell word that bash reads back as exactly ``value`` (bytes as they are).

    Printable text is quoted with :func:`shlex.quote`.  A word with any other
    character (control bytes, C1, bidi overrides, invalid UTF-8) is written in
    bash's ANSI-C quoting, ``$'...'``, those characters as ``\\xHH`` bytes: the
    command stays one line of printable text and pastes as the request.  A quote
    inside ``$'...'`` is ``\\x27`` too (``\\'`` would confuse bash's history
    expansion).  A NUL cannot be in an argument: :class:`CurlError`.
    """
    raw = value if isinstance(value, bytes) else value.encode("utf-8", "surrogatepass")
    if b"\0" in raw:
        raise CurlError(f"the request's {what} holds a NUL byte: a command line cannot carry it")
    text = raw.decode("utf-8", "surrogateescape")
    if text.isprintable():
        return shlex.quote(text)
    out = ["$'"]
    for char in text:
        if char.isprintable() and char not in "\\'":
            out.append(char)
        else:
            data = char.encode("utf-8", "surrogateescape")
            out.append("".join(f"\\x{byte:02x}" for byte in data))
    out.append("'")
    return "".join(out)


def _cookie_pairs(cookies: Any) -> list[str]:
    if isinstance(cookies, dict):
        return [f"{k}={v}" for k, v in cookies.items()]
    if isinstance(cookies, list):
        return [
            f"{c.get('name')}={c.get('value')}"
            for c in cookies
            if isinstance(c, dict) and c.get("name")
        ]
    return []


def request_curl(request: Request) -> str:
    """A curl command for ``request`` (first value of each header), safe to paste.

    Every word is quoted (see :func:`_word`), so a method, URL, header or body
    with shell syntax or terminal control characters in it is passed to curl as
    it is and runs nothing else.  Without such characters Scrapy's
    :meth:`~scrapy.Request.from_curl` reads the command back to the same request.
    """
    if request.body:
        try:
            request.body.decode("utf-8")
        except UnicodeDecodeError:
            raise CurlError(
                "the request body is binary (not UTF-8): a curl command cannot carry it"
            ) from None
    if request.url.startswith("-"):
        raise CurlError("the URL starts with '-': curl would read it as an option")
    parts = ["curl", "-X", _word(request.method, "method"), _word(request.url, "URL")]
    if request.body:
        parts += ["--data-raw", _word(request.body, "body")]
    for name, values in request.headers.items():
        if not values:
            continue
        if name.startswith(b"@"):
            raise CurlError("a header name starts with '@': curl -H would read a file")
        what = f"header {clean_line(name.decode('utf-8', 'replace'), 60)}"
        parts += ["-H", _word(name + b": " + values[0], what)]
    pairs = _cookie_pairs(request.cookies)
    if pairs:
        parts += ["--cookie", _word("; ".join(pairs), "cookies")]
    return " ".join(parts)


def flow_to_curl(flow: Flow) -> str:
    """The flow's request (method, URL, headers as sent, body) as a curl command."""
    try:
        request = rebuild_request(flow)
    except (RebuildError, ValueError, TypeError) as exc:
        raise CurlError(f"flow #{flow.id} cannot be exported: {exc}") from None
    return request_curl(request)


def _normalise(text: str) -> str:
    text = text.strip()
    # shell line continuations, as in a browser's "Copy as cURL (bash)"
    for continuation in ("\\\r\n", "\\\n"):
        text = text.replace(continuation, " ")
    return text


def request_from_curl(text: str, **kwargs: Any) -> tuple[Request, list[str]]:
    """A request from a curl command; returns (request, the options Scrapy ignored).

    ``kwargs`` go to :class:`~scrapy.Request` (callback, meta, ...).  Raises
    :class:`CurlError` with a message for a person on bad input.
    """
    text = _normalise(text)
    if not text:
        raise CurlError("paste a curl command (it starts with curl)")
    try:
        tokens = shlex.split(text)
    except ValueError as exc:
        raise CurlError(f"the command cannot be read as shell words: {exc}") from None
    if not tokens or tokens[0] != "curl":
        first = tokens[0] if tokens else ""
        raise CurlError(f"not a curl command: it starts with {first[:40]!r}, not 'curl'")
    if len(tokens) == 1:
        raise CurlError("no URL in the curl command")
    with warnings.catch_warnings(record=True) as caught, contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("always")
        try:
            request = Request.from_curl(text, ignore_unknown_options=True, **kwargs)
        except SystemExit:  # argparse's -h/--help
            raise CurlError("curl's --help is not a request") from None
        except ValueError as exc:
            message = str(exc)
            if "required: url" in message:
                raise CurlError("no URL in the curl command") from None
            if message.startswith("There was an error parsing"):
                raise CurlError(message) from None
            # e.g. -H without "Name: value", -u without "user:password"
            raise CurlError(f"cannot read the curl command: {message}") from None
        except Exception as exc:
            raise CurlError(f"cannot read the curl command: {type(exc).__name__}: {exc}") from None
    ignored: list[str] = []
    prefix = "Unrecognized options: "
    for warning in caught:
        message = str(warning.message)
        if message.startswith(prefix):
            ignored += message[len(prefix) :].split(", ")
    urls = [arg for arg in ignored if arg.startswith(("http://", "https://"))]
    if urls:
        options = ", ".join(arg for arg in ignored if arg.startswith("-")) or "an option"
        raise CurlError(
            f"{urls[0]} was not read as the URL: Scrapy does not know {options} "
            f"(it took {request.url} as the URL). Remove those options or put the URL first."
        )
    return request, ignored


def spider_callbacks(spider: Spider | type) -> list[str]:
    """Names of the spider's own methods that can be callbacks, ``parse`` first."""
    cls = spider if isinstance(spider, type) else type(spider)
    names: list[str] = ["parse"]
    for klass in cls.__mro__:
        if klass in (Spider, object) or klass.__module__.startswith("scrapy."):
            continue
        for name, value in vars(klass).items():
            if (
                callable(value)
                and not isinstance(value, (staticmethod, classmethod, type))
                and not name.startswith("_")
                and name not in NOT_CALLBACKS
                and name not in names
            ):
                names.append(name)
    return names


def _allowed(spider: Any, url: str) -> bool:
    """Whether Scrapy's offsite middleware lets ``url`` through (host, any port)."""
    allowed = [str(d).lower() for d in getattr(spider, "allowed_domains", None) or () if d]
    if not allowed:
        return True
    host = (urlsplit(url).hostname or "").lower()
    return any(host == d or host.endswith("." + d) for d in allowed)


def inject_curl(crawler: Any, text: str, callback: str = "parse") -> str:
    """Add the request of a curl command to the running crawl; returns a message.

    The request goes through the scheduler like any other (``engine.crawl``),
    with ``dont_filter=True`` so a URL already crawled is fetched again, and
    ``meta["workbench_injected"] = True``.  Its response becomes a flow.
    """
    spider = getattr(crawler, "spider", None) if crawler is not None else None
    engine = getattr(crawler, "_engine", None) if spider is not None else None
    if spider is None or engine is None or not engine.running:
        raise CurlError("the crawl is not running: there is nothing to add the request to")
    slot = getattr(engine, "_slot", None)
    if slot is None or slot.closing is not None:
        raise CurlError("the crawl is closing: it takes no new requests")
    name = (callback or "").strip() or "parse"
    method = getattr(spider, name, None) if name.isidentifier() else None
    if not callable(method):
        known = ", ".join(spider_callbacks(spider))
        raise CurlError(f"the spider has no method {name!r}; its callbacks: {known}")
    request, ignored = request_from_curl(
        text, callback=method, dont_filter=True, meta={INJECTED_META: True}
    )
    engine.crawl(request)
    message = f"Queued {request.method} {request.url} → {name}."
    if ignored:
        message += f" Ignored curl options: {' '.join(ignored)}."
    if not _allowed(spider, request.url):
        message += " Its domain is not in allowed_domains: the offsite middleware may drop it."
    if engine.paused:
        message += " The crawl is paused: it leaves the queue when you resume."
    return message
