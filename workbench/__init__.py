"""workbench: an interactive debugging and inspection workbench for Scrapy.

From a script (see ``docs/scripts.md``)::

    import workbench

    workbench.run(process)              # in place of process.start()
    await workbench.run_async(runner)   # in place of await runner.join()
    workbench.record(process)           # no UI; workbench attach later

or ``from workbench import AsyncCrawlerProcess`` in place of Scrapy's.  The
names are loaded on first use: ``import workbench`` alone loads neither Scrapy
nor Textual.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

__all__ = [
    "AsyncCrawlerProcess",
    "CrawlerProcess",
    "RecordingAddon",
    "ScriptError",
    "record",
    "run",
    "run_async",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from workbench import api

        return getattr(api, name)
    raise AttributeError(f"module 'workbench' has no attribute {name!r}")
