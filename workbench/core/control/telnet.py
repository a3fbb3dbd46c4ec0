"""Workbench's objects in Scrapy's telnet console (``update_telnet_vars``).

Under ``workbench crawl`` the telnet console works as under ``scrapy crawl``
(``est()``, ``prefs()``, ``engine``...) and also has:

- ``pause()`` / ``resume()``: the engine, resumed at once (not at the next
  5 s heartbeat);
- ``flows(n=20)``: the last recorded responses and errors, one line each;
- ``slots()``: each downloader slot's pace (delay, concurrency, latency,
  AutoThrottle);
- ``wb``: the recorder, for anything else (``wb.flows``, ``wb.items``...).

What these print is sanitised like the rest of the workbench.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


class TelnetVars:
    """Adds workbench's names to each telnet session (see the module's docstring)."""

    def __init__(self, crawler: Crawler) -> None:
        if not crawler.settings.getbool("TELNETCONSOLE_ENABLED"):
            raise NotConfigured
        try:
            from scrapy.extensions.telnet import update_telnet_vars
        except ImportError:  # no twisted.conch: Scrapy has no console either
            raise NotConfigured from None
        self.crawler = crawler
        crawler.signals.connect(self.update, signal=update_telnet_vars)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> TelnetVars:
        return cls(crawler)

    def update(self, telnet_vars: dict[str, Any]) -> None:
        from workbench.core.recording.extension import recorder_for

        telnet_vars.update(
            pause=self.pause,
            resume=self.resume,
            flows=self.flows,
            slots=self.slots,
            wb=recorder_for(self.crawler),
        )
        telnet_vars["help"] = (
            str(telnet_vars.get("help", ""))
            + "\nworkbench adds: pause(), resume(), flows(n=20), slots(), wb (the recorder)."
        )

    def pause(self) -> str:
        engine = self.crawler.engine
        if engine is None or engine.paused:
            return "not running" if engine is None else "already paused"
        engine.pause()
        return "paused: requests in flight still finish"

    def resume(self) -> str:
        from workbench.core.control.host import resume_engine

        return "resumed" if resume_engine(self.crawler.engine) else "not paused"

    def flows(self, n: int = 20) -> None:
        from workbench.core.formats.sanitize import clean_line
        from workbench.core.recording.extension import recorder_for

        recorder = recorder_for(self.crawler)
        for flow in list(recorder.flows)[-max(0, n) :]:
            # a request that never reached the network: what became of it (a duplicate...)
            outcome = (
                str(flow.status)
                if flow.status is not None
                else (flow.error or flow.fate or "error")
            )
            latency = f"{flow.latency * 1000:.0f}ms" if flow.latency is not None else "-"
            print(
                f"#{flow.id:<6} {clean_line(outcome, 40):<6} {latency:>7}  "
                f"{clean_line(flow.method, 8)} {clean_line(flow.url, 200)}"
            )

    def slots(self) -> None:
        from workbench.core.control.pace import pace_for
        from workbench.core.formats.sanitize import clean_line

        view = pace_for(self.crawler).view(points=0, adjustments=0)
        for row in view.rows:
            mean = f"{row.latency_mean * 1000:.0f}ms" if row.latency_mean is not None else "-"
            print(
                f"{clean_line(row.key, 40):<24} delay {row.delay:.3f}s  conc {row.concurrency}  "
                f"active {row.active}  responses {row.responses}  mean latency {mean}  "
                f"AutoThrottle {row.autothrottle}"
            )
