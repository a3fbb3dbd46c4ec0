"""Time a heap summary (Pympler's muppy) of a process holding N objects.

    python benchmarks/heap.py [--objects 1000000]

Allocates about N extra objects (small lists holding a string: muppy sees
objects the collector tracks and their direct referents), then takes a
summary the way the Memory panel does: in a worker thread, with progress,
while an asyncio loop (standing in for the UI) ticks every 10 ms.  Prints
the progress as it arrives, the summary's time and object count, and how
late the loop's ticks were (the UI's worst stall).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.core.leaks.heap import MemoryWatch


def allocate(n: int) -> list:
    # each record: a list (tracked by the collector) and the str it holds
    return [[f"record {i}"] for i in range(n // 2)]


async def measure(n: int) -> None:
    kept = allocate(n)
    watch = MemoryWatch()
    shown: list[str] = []

    def progress(fraction: float, phase: str) -> None:
        if not shown or shown[-1] != phase.split(" ")[0] or fraction >= 1.0:
            print(f"  {fraction:6.1%}  {phase}", flush=True)
            shown.append(phase.split(" ")[0])

    watch._progress = progress  # type: ignore[method-assign]
    lateness: list[float] = []
    done = False

    async def ticker() -> None:
        while not done:
            before = time.perf_counter()
            await asyncio.sleep(0.01)
            lateness.append(time.perf_counter() - before - 0.01)

    tick = asyncio.create_task(ticker())
    began = time.perf_counter()
    summary = await asyncio.to_thread(watch.take_summary)
    elapsed = time.perf_counter() - began
    done = True
    await tick
    print(
        f"heap summary of {summary.objects:,} objects ({len(summary.rows):,} types, "
        f"{summary.size / 2**20:,.0f} MiB shallow) in {elapsed:.1f}s"
    )
    print(
        f"loop ticks (10 ms) during it: median {statistics.median(lateness) * 1000:.1f} ms "
        f"late, worst {max(lateness) * 1000:.0f} ms late"
    )
    del kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(measure(args.objects))


if __name__ == "__main__":
    main()
