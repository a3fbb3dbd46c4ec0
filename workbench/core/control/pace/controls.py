"""The slot controls: a slot's delay and concurrency, AutoThrottle on or off.

:class:`SlotControls` is the part of :class:`~.monitor.PaceMonitor` that
changes the crawl: each change is applied to the live slot at once, kept in
``downloader.per_slot_settings`` (so a slot Scrapy re-makes after idling
comes back with it), recorded as a ``user`` :class:`~.model.Adjustment` and
logged.
"""

from __future__ import annotations

import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from workbench.core.control.pace.model import MAX_CONCURRENCY, MAX_DELAY, USER, Adjustment

if TYPE_CHECKING:
    from workbench.core.control.pace.monitor import Track

logger = logging.getLogger(__package__)  # the package's name, as before the split


class SlotControls:
    """Mixed into :class:`~.monitor.PaceMonitor`, which provides the state below."""

    tracks: dict[str, Track]
    held: set[str]
    hold_new: bool
    throttle: Any
    total_concurrency: int

    @property
    def downloader(self) -> Any:
        raise NotImplementedError

    def _track(self, key: str) -> Track:
        raise NotImplementedError

    def _add(self, adjustment: Adjustment) -> None:
        raise NotImplementedError

    def _keys(self, key: str | None) -> list[str]:
        if key is None:
            return sorted(set(getattr(self.downloader, "slots", {})) | set(self.tracks))
        if key not in self.tracks and key not in getattr(self.downloader, "slots", {}):
            raise ValueError(f"no downloader slot {key!r}")
        return [key]

    def _kick(self, slot: Any) -> None:
        """Apply a slot's new delay or concurrency now (not after the wait already set)."""
        downloader = self.downloader
        if slot.latercall is not None:
            slot.latercall.cancel()
            slot.latercall = None
        with contextlib.suppress(Exception):
            downloader._process_queue(slot)

    def _override(self, key: str, name: str, value: Any) -> None:
        self._track(key).overrides[name] = value
        downloader = self.downloader
        if downloader is not None:
            downloader.per_slot_settings.setdefault(key, {})[name] = value

    def set_delay(self, key: str | None, seconds: float) -> str:
        """Set a slot's delay (``key`` None: every slot, and new ones)."""
        if not 0 <= seconds <= MAX_DELAY:
            raise ValueError(f"a delay is between 0 and {MAX_DELAY:g} seconds, not {seconds:g}")
        downloader = self.downloader
        if downloader is None:
            raise ValueError("the crawl has no downloader yet")
        keys = self._keys(key)
        now = time.time()
        held = []
        for k in keys:
            slot = downloader.slots.get(k)
            old = slot.delay if slot is not None else self._track(k).last_delay or 0.0
            if slot is not None:
                slot.delay = seconds
                self._kick(slot)
            self._override(k, "delay", seconds)
            track = self._track(k)
            track.last_delay = seconds
            self._add(Adjustment(now, k, "user", USER, old, seconds))
            if self.throttle is not None and k not in self.held:
                self.held.add(k)
                held.append(k)
        where = f"slot {key}" if key is not None else "every slot and new ones"
        if key is None:
            downloader._delay = seconds
            if self.throttle is not None:
                self.hold_new = True
        message = f"Delay of {where} set to {seconds:g}s"
        if held:
            message += " (AutoThrottle's adjustment is off there now, so it holds; a: back on)"
        logger.info("%s in workbench.", message)
        return message + "."

    def set_concurrency(self, key: str | None, value: int) -> str:
        """Set a slot's concurrency (``key`` None: every slot, and new ones)."""
        if not 1 <= value <= MAX_CONCURRENCY:
            raise ValueError(f"a concurrency is between 1 and {MAX_CONCURRENCY}, not {value}")
        downloader = self.downloader
        if downloader is None:
            raise ValueError("the crawl has no downloader yet")
        now = time.time()
        for k in self._keys(key):
            slot = downloader.slots.get(k)
            old = slot.concurrency if slot is not None else None
            if slot is not None:
                slot.concurrency = value
                self._kick(slot)
            self._override(k, "concurrency", value)
            delay = slot.delay if slot is not None else 0.0
            detail = f"concurrency {old if old is not None else '-'} -> {value}"
            self._add(Adjustment(now, k, "user", USER, delay, delay, detail=detail))
        if key is None:
            if downloader.ip_concurrency:
                downloader.ip_concurrency = value
            else:
                downloader.domain_concurrency = value
        where = f"slot {key}" if key is not None else "every slot and new ones"
        message = f"Concurrency of {where} set to {value}"
        if self.total_concurrency and value > self.total_concurrency:
            message += f" (CONCURRENT_REQUESTS={self.total_concurrency} still caps the crawl)"
        logger.info("%s in workbench.", message)
        return message + "."

    def set_autothrottle(self, key: str | None, on: bool) -> str:
        """Let AutoThrottle adjust a slot's delay, or hold it where it is."""
        if self.throttle is None:
            raise ValueError(
                "AutoThrottle is not enabled in this crawl (AUTOTHROTTLE_ENABLED=True enables it)"
            )
        keys = self._keys(key)
        now = time.time()
        downloader = self.downloader
        for k in keys:
            if on:
                self.held.discard(k)
                # the delay is AutoThrottle's again, also for the slot re-made after idling
                self._track(k).overrides.pop("delay", None)
                if downloader is not None:
                    downloader.per_slot_settings.get(k, {}).pop("delay", None)
            else:
                self.held.add(k)
            slot = getattr(downloader, "slots", {}).get(k)
            delay = slot.delay if slot is not None else 0.0
            detail = f"AutoThrottle {'on' if on else 'held'}"
            self._add(Adjustment(now, k, "user", USER, delay, delay, detail=detail))
        if key is None:
            self.hold_new = not on
        where = f"slot {key}" if key is not None else "every slot"
        message = (
            f"AutoThrottle adjusts the delay of {where} again"
            if on
            else f"AutoThrottle holds the delay of {where} as it is"
        )
        logger.info("%s (set in workbench).", message)
        return message + "."
