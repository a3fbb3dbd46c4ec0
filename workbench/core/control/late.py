"""The parts of a Scrapy crawler that are set when its crawl starts."""

from __future__ import annotations

from typing import Any


def late(crawler: Any, name: str) -> Any:
    """``crawler.<name>`` (engine, stats, extensions, logformatter,
    request_fingerprinter), or None before the crawl sets it.

    Scrapy 2.19 raises RuntimeError ("Crawler.engine is not set yet") when one
    of them is read too early, which ``getattr(crawler, name, None)`` lets
    through: the status line's diagnosis failed that way while a crawl started.
    """
    if crawler is None:
        return None
    try:
        return getattr(crawler, name, None)
    except RuntimeError:
        return None
