"""The garbage collector, tuned for a crawl (``WORKBENCH_GC_THRESHOLD``).

A crawl allocates many short-lived container objects per page (requests,
headers, selectors, the recorder's records), nearly all freed by reference
counting. With Python's default thresholds, ``(700, 10, 10)``, the
collector runs a young collection every 700 net allocations and walks the
whole heap every hundred of those: on Scrapy's own benchmark that was about
a tenth of a plain crawl's CPU (1.2 to 1.3 s of 12 s, 6 to 8 full collections of
0.1 s each), for garbage that reference counting had mostly freed already.
A young generation of 10,000 cut it to 0.4 s, with the same peak memory
(``memusage/max`` within 0.3%): cycles wait a few thousand allocations
longer to be found, nothing more. ``benchmarks/README.md`` has the figures.

The objects alive when the crawl starts (modules, the app's widgets) are
frozen out of the collector's way (``gc.freeze``) as well: they live as long
as the process, and every full collection would walk them again.

One cycle is Scrapy's on every page: a response's cached selector refers
back to the response, so a response whose callback has run is freed by the
collector, not by reference counting, and it holds its body and parsed
document (lxml's, memory the collector does not count) until then. With
young collections ten times rarer, hundreds of finished responses waited
for one: 12 MiB more at the peak of a 20,000-page crawl than with Python's
thresholds. ``free_documents`` drops a response's cached selector once the
scraper has finished with it (``Slot.finish_response``), which breaks the
cycle: responses are freed as soon as Scrapy lets go of them, fewer live at
any time than in a plain crawl (16 against about 100 on that crawl), and
the collector has less to do. Code that kept a response and queries it
again gets a selector parsed anew; a response kept by a leak stays alive
and counted (Refs) as it would be, without its parsed document.

``WORKBENCH_GC_THRESHOLD`` (a Scrapy setting): ``"10000,10,10"`` by default,
up to three integers as ``gc.set_threshold`` takes them, or ``python`` to
leave the interpreter's own and responses' selectors as Scrapy keeps them.
Set once per process, for its first crawl; ``restore()`` puts back what was
there (a script's code after the crawl).
"""

from __future__ import annotations

import gc
import logging
from typing import Any

from workbench.core.control.late import late

logger = logging.getLogger(__name__)

SETTING = "WORKBENCH_GC_THRESHOLD"
DEFAULT = "10000,10,10"
KEEP = ("python", "default", "off", "none", "")

_saved: tuple[int, ...] | None = None
_froze = False


def parse(value: Any) -> tuple[int, ...] | None:
    """The thresholds a setting's value names; None: leave Python's.
    Raises ValueError with the reason when the value is not one."""
    text = str(value).strip().lower() if value is not None else DEFAULT
    if text in KEEP:
        return None
    parts = [part.strip() for part in text.split(",")]
    if not 1 <= len(parts) <= 3:
        raise ValueError(f"expected one to three integers, got {len(parts)}")
    try:
        numbers = tuple(int(part) for part in parts)
    except ValueError:
        raise ValueError("expected integers such as 10000,10,10, or python") from None
    if numbers[0] < 1 or any(n < 0 for n in numbers):
        raise ValueError("the first threshold must be at least 1, the others not negative")
    return numbers


def wanted(settings: Any, warn: bool = True) -> tuple[int, ...] | None:
    """The thresholds the crawl's settings ask for; None for Python's own (or a
    value that is not one: logged when ``warn``, and Python's kept)."""
    try:
        return parse(settings.get(SETTING, DEFAULT))
    except ValueError as exc:
        if warn:
            logger.warning("%s=%r ignored: %s", SETTING, settings.get(SETTING), exc)
        return None


def free_documents(crawler: Any) -> None:
    """Once the scraper has finished with a response, drop its cached selector
    (see the module): the response is then freed by reference counting. Hooked
    on the scraper's slot when the spider opens; without that slot (another
    Scrapy's internals) nothing changes."""

    def hook(**_: Any) -> None:
        scraper = getattr(late(crawler, "engine"), "scraper", None)
        slot: Any = getattr(scraper, "slot", None)
        finish = getattr(slot, "finish_response", None)
        if finish is None or getattr(finish, "__frees_documents__", False):
            return

        def finish_response(result: Any, request: Any) -> None:
            finish(result, request)
            if getattr(result, "_cached_selector", None) is not None:
                result._cached_selector = None

        finish_response.__frees_documents__ = True  # type: ignore[attr-defined]
        slot.finish_response = finish_response

    from scrapy import signals

    crawler.signals.connect(hook, signal=signals.spider_opened, weak=False)


def tune_for_crawl(settings: Any) -> bool:
    """Freeze what lives already and set the thresholds (once per process);
    True when this call changed them."""
    global _saved, _froze
    if _saved is not None:
        return False
    thresholds = wanted(settings)
    if thresholds is None:
        return False
    if gc.get_freeze_count() == 0:  # the app froze its own already
        gc.collect()
        gc.freeze()
        _froze = True
    _saved = gc.get_threshold()
    gc.set_threshold(*thresholds)
    return True


def restore() -> None:
    """Python's thresholds back, as they were before ``tune_for_crawl``, and
    what it froze unfrozen."""
    global _saved, _froze
    if _saved is not None:
        gc.set_threshold(*_saved)
        _saved = None
    if _froze:
        gc.unfreeze()
        _froze = False
