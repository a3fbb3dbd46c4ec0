"""The crawl's pace: downloader slots, AutoThrottle's adjustments, and live control.

:class:`PaceExtension` (a Scrapy extension) keeps one :class:`PaceMonitor`
per crawler (``pace_for(crawler)``):

- per-slot counters from signals: ``response_downloaded`` (responses,
  non-200s, ``download_latency``) and ``request_left_downloader`` (a request
  that left without a response is a download error);
- a sampler, once a second, that appends one :class:`PacePoint` per live
  slot and one for the whole crawl to bounded series (the charts);
- AutoThrottle: the extension's ``response_downloaded`` receiver is
  disconnected and called from ours instead, so the delay before and after
  each adjustment is known and every adjustment becomes an
  :class:`Adjustment` row with its reason -- what ``AUTOTHROTTLE_DEBUG``
  logs, as data.  A user's AutoThrottle subclass still runs its own policy;
  a row whose result the stock formula does not explain says so.  A slot
  can be *held*: AutoThrottle then leaves its delay alone;
- controls: a slot's delay and concurrency (or every slot's, and the
  defaults of slots yet to come), AutoThrottle on or off per slot.  Changes
  also go into ``downloader.per_slot_settings`` (``DOWNLOAD_SLOTS``), so a
  slot that Scrapy drops when idle comes back with them.  Each one is
  logged.

Reads ``slot.delay`` (never ``download_delay()``, which randomizes) and
relies on two private names of Scrapy 2.19: ``Downloader._delay`` (the
delay of new slots) and ``Downloader._process_queue`` (to apply a change
now instead of after the delay already scheduled).

Where things live:

- ``model``: the limits, the reasons of an adjustment, what the monitor
  reports (:class:`PacePoint`, :class:`Adjustment`, :class:`SlotRow`,
  :class:`PaceView`) and AutoThrottle's stock policy explained (:func:`explain`);
- ``monitor``: :class:`PaceMonitor`: the per-slot counters, the sampler,
  the AutoThrottle takeover, the view;
- ``controls``: the slot controls :class:`PaceMonitor` inherits (delay,
  concurrency, AutoThrottle on or off);
- ``extension``: :class:`PaceExtension` and :func:`pace_for`.
"""

from __future__ import annotations

from workbench.core.control.pace.extension import PACE_ATTR, PaceExtension, pace_for
from workbench.core.control.pace.model import (
    ADJUSTMENTS_KEPT,
    AT_MAXIMUM,
    AT_MINIMUM,
    CUSTOM,
    DONT_ADJUST,
    EXTERNAL,
    HELD,
    LATENCY_WINDOW,
    MAX_CONCURRENCY,
    MAX_DELAY,
    MAX_SAMPLED,
    MAX_TRACKED,
    NO_LATENCY,
    NON_200_KEPT,
    RATE_WINDOW,
    SAMPLE_INTERVAL,
    SERIES_POINTS,
    TOTAL_POINTS,
    TOWARD_TARGET,
    UP_TO_TARGET,
    USER,
    Adjustment,
    PacePoint,
    PaceView,
    SlotRow,
    explain,
    percentile,
    settings_in_force,
)
from workbench.core.control.pace.monitor import PaceMonitor

__all__ = [
    "ADJUSTMENTS_KEPT",
    "AT_MAXIMUM",
    "AT_MINIMUM",
    "CUSTOM",
    "DONT_ADJUST",
    "EXTERNAL",
    "HELD",
    "LATENCY_WINDOW",
    "MAX_CONCURRENCY",
    "MAX_DELAY",
    "MAX_SAMPLED",
    "MAX_TRACKED",
    "NON_200_KEPT",
    "NO_LATENCY",
    "PACE_ATTR",
    "RATE_WINDOW",
    "SAMPLE_INTERVAL",
    "SERIES_POINTS",
    "TOTAL_POINTS",
    "TOWARD_TARGET",
    "UP_TO_TARGET",
    "USER",
    "Adjustment",
    "PaceExtension",
    "PaceMonitor",
    "PacePoint",
    "PaceView",
    "SlotRow",
    "explain",
    "pace_for",
    "percentile",
    "settings_in_force",
]
