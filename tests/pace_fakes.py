"""Canned pace data for the fake source: two slots, their series and adjustments."""

from __future__ import annotations

from workbench.core.control.pace import (
    HELD,
    MAX_CONCURRENCY,
    MAX_DELAY,
    NON_200_KEPT,
    TOWARD_TARGET,
    UP_TO_TARGET,
    USER,
    Adjustment,
    PacePoint,
    PaceView,
    SlotRow,
)

T0 = 1_790_000_000.0
NOW = T0 + 65
SETTINGS = (
    ("AUTOTHROTTLE_ENABLED", "True"),
    ("AUTOTHROTTLE_TARGET_CONCURRENCY", "1.0"),
    ("AUTOTHROTTLE_START_DELAY", "1.0"),
    ("AUTOTHROTTLE_MAX_DELAY", "60.0"),
    ("AUTOTHROTTLE_DEBUG", "False"),
    ("DOWNLOAD_DELAY", "0"),
    ("DOWNLOAD_DELAY_JITTER", "0.5"),
    ("CONCURRENT_REQUESTS", "16"),
    ("CONCURRENT_REQUESTS_PER_DOMAIN", "8"),
    ("CONCURRENT_REQUESTS_PER_IP", "0"),
    ("DOWNLOAD_SLOTS", "{}"),
)


def _series(delay_of, latency_of, rate_of, n: int = 120) -> tuple[PacePoint, ...]:
    points = []
    for i in range(n):
        t = NOW - n + i + 1
        rate = rate_of(i)
        points.append(
            PacePoint(t, delay_of(i), 8, 8 + i % 5, i % 3, int(rate), rate, latency_of(i))
        )
    return tuple(points)


SERIES = {
    # the delay converging from the 1 s start delay toward a ~300 ms latency
    "reviews": _series(
        lambda i: 0.3 + 0.7 * 0.9**i,
        lambda i: None if i % 17 == 0 else 0.25 + 0.1 * ((i * 7) % 5) / 4,
        lambda i: 0.0 if i % 17 == 0 else 1 / (0.3 + 0.7 * 0.9**i),
    ),
    "127.0.0.1": _series(
        lambda i: 0.002,
        lambda i: 0.001 + 0.001 * (i % 3),
        lambda i: 20.0 + 5 * (i % 4) if i < 60 else 0.0,
    ),
}
TOTAL = tuple(
    PacePoint(
        a.time,
        (a.delay + b.delay) / 2,
        16,
        a.active + b.active,
        a.transferring + b.transferring,
        a.responses + b.responses,
        a.rate + b.rate,
        a.latency,
    )
    for a, b in zip(SERIES["reviews"], SERIES["127.0.0.1"], strict=True)
)


def _adjustments() -> list[Adjustment]:
    rows = []
    delay = 1.0
    for i in range(14):
        latency = 0.25 + 0.05 * (i % 4)
        status = 503 if i in (6, 7) else 200
        if status != 200:
            rows.append(
                Adjustment(
                    NOW - 30 + i * 2, "reviews", "autothrottle", NON_200_KEPT, delay, delay,
                    status, 0.001, 0.001, 1, 280,
                )
            )  # fmt: skip
            continue
        new = max(latency, (delay + latency) / 2)
        reason = UP_TO_TARGET if latency > (delay + latency) / 2 else TOWARD_TARGET
        rows.append(
            Adjustment(
                NOW - 30 + i * 2, "reviews", "autothrottle", reason, delay, new,
                status, latency, latency, 1, 812,
            )
        )  # fmt: skip
        delay = new
    rows.append(Adjustment(NOW - 1, "127.0.0.1", "autothrottle", TOWARD_TARGET, 0.003, 0.002,
                           200, 0.001, 0.001, 2, 6120))  # fmt: skip
    return rows


class FakePace:
    """Mixed into FakeSource: the pace part of the Source interface."""

    def _pace_init(self) -> None:
        self.slot_delays = {"127.0.0.1": 0.002, "reviews": 0.312}
        self.slot_concurrency = {"127.0.0.1": 8, "reviews": 8}
        self.held: set[str] = set()
        self.overrides: dict[str, set[str]] = {"127.0.0.1": set(), "reviews": set()}
        self.adjustment_rows = _adjustments()
        self.pace_calls: list[tuple[str, str | None, object]] = []
        self.engine = None  # the engine's readings (Diagnose): none by default

    def _row(self, key: str) -> SlotRow:
        fast = key == "127.0.0.1"
        return SlotRow(
            key=key,
            live=True,
            concurrency=self.slot_concurrency[key],
            active=0 if fast else 15,
            queued=0 if fast else 14,
            transferring=0 if fast else 1,
            delay=self.slot_delays[key],
            target_delay=0.001 if fast else 0.298,
            latency_last=0.001 if fast else 0.298,
            latency_mean=0.0015 if fast else 0.287,
            latency_p95=0.003 if fast else 0.371,
            responses=1_240 if fast else 96,
            errors=0 if fast else 2,
            non200=3 if fast else 11,
            rate=0.0 if fast else 3.2,
            last_seen=NOW - (12 if fast else 0.4),
            autothrottle="held" if key in self.held else "on",
            overrides=", ".join(sorted(self.overrides[key])),
        )

    def pace(self, selected: str | None = None, points: int = 900) -> PaceView:
        rows = tuple(self._row(k) for k in sorted(self.slot_delays))
        adjustments = self.adjustment_rows
        if selected in self.slot_delays:
            series = SERIES.get(selected, SERIES["reviews"])
            adjustments = [a for a in adjustments if a.slot == selected]
        else:
            selected, series = None, TOTAL
        return PaceView(
            time=NOW,
            rows=rows,
            settings=SETTINGS,
            autothrottle="scrapy.extensions.throttle.AutoThrottle",
            selected=selected,
            series=series[-points:] if points > 0 else (),
            adjustments=tuple(adjustments[-200:]),
            adjustments_total=len(self.adjustment_rows),
            in_flight=1,
            total_concurrency=16,
        )

    def engine_reading(self):
        """None (not measured) unless a test sets ``engine`` to an EngineReading."""
        return self.engine

    def _keys(self, key: str | None) -> list[str]:
        if key is None:
            return sorted(self.slot_delays)
        if key not in self.slot_delays:
            raise ValueError(f"no downloader slot {key!r}")
        return [key]

    def set_slot_delay(self, key: str | None, seconds: float) -> str:
        if not 0 <= seconds <= MAX_DELAY:
            raise ValueError(f"a delay is between 0 and {MAX_DELAY:g} seconds, not {seconds:g}")
        self.pace_calls.append(("delay", key, seconds))
        for k in self._keys(key):
            self.adjustment_rows.append(
                Adjustment(NOW, k, "user", USER, self.slot_delays[k], seconds)
            )
            self.slot_delays[k] = seconds
            self.held.add(k)
            self.overrides[k].add("delay")
        return f"Delay of {key or 'every slot'} set to {seconds:g}s."

    def set_slot_concurrency(self, key: str | None, value: int) -> str:
        if not 1 <= value <= MAX_CONCURRENCY:
            raise ValueError(f"a concurrency is between 1 and {MAX_CONCURRENCY}, not {value}")
        self.pace_calls.append(("concurrency", key, value))
        for k in self._keys(key):
            self.slot_concurrency[k] = value
            self.overrides[k].add("concurrency")
        return f"Concurrency of {key or 'every slot'} set to {value}."

    def set_slot_autothrottle(self, key: str | None, on: bool) -> str:
        self.pace_calls.append(("autothrottle", key, on))
        for k in self._keys(key):
            if on:
                self.held.discard(k)
            else:
                self.held.add(k)
                d = self.slot_delays[k]
                self.adjustment_rows.append(Adjustment(NOW, k, "autothrottle", HELD, d, d))
        return f"AutoThrottle {'on' if on else 'held'} for {key or 'every slot'}."
