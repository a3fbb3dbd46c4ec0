"""The Scrapy side of the pace monitor: :func:`pace_for` and :class:`PaceExtension`.

``pace_for(crawler)`` gives the crawler's one :class:`~.monitor.PaceMonitor`
(kept on the crawler as :data:`PACE_ATTR`); :class:`PaceExtension` connects
it to the crawl's signals, and :meth:`PaceExtension.detach` undoes that (an
attach agent leaving).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy import signals

from workbench.core.control.pace.monitor import PaceMonitor

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response

PACE_ATTR = "workbench_pace"


def pace_for(crawler: Crawler) -> PaceMonitor:
    monitor = getattr(crawler, PACE_ATTR, None)
    if monitor is None:
        monitor = PaceMonitor(crawler)
        setattr(crawler, PACE_ATTR, monitor)
    return monitor


class PaceExtension:
    """Feeds the crawler's :class:`PaceMonitor` (see the package's docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler
        self.monitor = pace_for(crawler)
        for handler, signal in self._receivers():
            crawler.signals.connect(handler, signal=signal)

    def _receivers(self) -> list[tuple[Any, Any]]:
        return [
            (self.spider_opened, signals.spider_opened),
            (self.spider_closed, signals.spider_closed),
            (self.response_downloaded, signals.response_downloaded),
            (self.request_left, signals.request_left_downloader),
        ]

    def detach(self) -> None:
        """Undo this extension (an attach agent installed it and is leaving).

        AutoThrottle gets its own receiver back, so it adjusts every slot
        again, including slots held from workbench."""
        for handler, signal in self._receivers():
            self.crawler.signals.disconnect(handler, signal=signal)
        monitor = self.monitor
        monitor.stop_sampling()
        throttle = monitor.throttle
        if throttle is not None:
            self.crawler.signals.connect(
                throttle._response_downloaded, signal=signals.response_downloaded
            )
            monitor.throttle = None

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> PaceExtension:
        return cls(crawler)

    def spider_opened(self, spider: Any) -> None:
        self.monitor.attach_throttle()
        self.monitor.start_sampling()

    def spider_closed(self, spider: Any, reason: str) -> None:
        self.monitor.stop_sampling()

    def response_downloaded(self, response: Response, request: Request, spider: Any) -> None:
        self.monitor.on_response(response, request)

    def request_left(self, request: Request, spider: Any) -> None:
        self.monitor.on_left(request)
