"""A bar chart over time with a y scale and a time axis, drawn in eighth blocks.

Textual's ``Sparkline`` has neither axis.  Each column is ``step`` seconds
(the mean of the points in it, a gap where there are none), the newest at
the right edge; the y scale starts at 0 and ends at a round number above
the largest value shown; the bottom line labels the time before now.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rich.text import Text
from textual.widget import Widget

EIGHTHS = " ▁▂▃▄▅▆▇█"
LABEL_WIDTH = 7  # y labels, right-aligned, then one space


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is >= ``value``."""
    if value <= 0:
        return 1.0
    power = 1.0
    while power * 10 < value:
        power *= 10
    while power > value:
        power /= 10
    for factor in (1, 2, 2.5, 5, 10):
        if factor * power >= value * (1 - 1e-12):
            return factor * power
    return 10 * power  # pragma: no cover


def ago(seconds: float) -> str:
    """A time-axis label: -30s, -2m, -1m30s, -1h."""
    seconds = round(seconds)
    if seconds <= 0:
        return "now"
    if seconds < 60:
        return f"-{seconds}s"
    if seconds < 3600:
        minutes, secs = divmod(seconds, 60)
        return f"-{minutes}m" + (f"{secs:02d}s" if secs else "")
    hours, rest = divmod(seconds, 3600)
    return f"-{hours}h" + (f"{rest // 60:02d}m" if rest // 60 else "")


TICK_SECONDS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)


def columns(
    points: Sequence[tuple[float, float | None]], now: float, step: float, width: int
) -> list[float | None]:
    """``width`` columns of ``step`` seconds ending at ``now``: the mean of each."""
    sums = [0.0] * width
    counts = [0] * width
    for t, value in points:
        if value is None:
            continue
        index = width - 1 - int((now - t) // step)
        if 0 <= index < width:
            sums[index] += value
            counts[index] += 1
    return [s / n if n else None for s, n in zip(sums, counts, strict=True)]


class TimeChart(Widget):
    """Bars of one series over time (see the module's docstring)."""

    DEFAULT_CSS = """
    TimeChart { height: 6; min-width: 24; }
    """

    def __init__(
        self,
        title: str,
        formatter: Callable[[float], str],
        style: str = "cyan",
        *,
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        self.title = title
        self.formatter = formatter
        self.bar_style = style
        self.points: list[tuple[float, float | None]] = []
        self.now = 0.0
        self.step = 1.0
        self.note = ""

    def set_data(
        self,
        points: Sequence[tuple[float, float | None]],
        now: float,
        step: float,
        note: str = "",
    ) -> None:
        """``step`` seconds a column; 0: as many as make every point fit the width
        (at least one second), a column without a point showing the one before
        (a level sampled now and then, such as RSS, not a rate)."""
        points = list(points)
        if (points, now, step, note) == (self.points, self.now, self.step, self.note):
            return  # the same picture: no paint
        self.points = points
        self.now = now
        self.step = step
        self.note = note
        self.refresh()

    def render(self) -> Text:
        width, height = self.size.width, self.size.height
        plot_width = max(1, width - LABEL_WIDTH - 1)
        rows = max(1, height - 2)
        step = self.step
        if step <= 0:  # fit: the oldest point at the left edge
            oldest = min((t for t, _ in self.points), default=self.now)
            step = max(1.0, (self.now - oldest) / max(1, plot_width - 1))
        values = columns(self.points, self.now, step, plot_width)
        if self.step <= 0:  # fit: a level holds until the next sample
            last = None
            for index, value in enumerate(values):
                if value is None and last is not None:
                    values[index] = last
                last = values[index]
        shown = [v for v in values if v is not None]
        top = nice_ceiling(max(shown, default=0.0))
        latest = next((v for v in reversed(values) if v is not None), None)
        text = Text(no_wrap=True, overflow="crop")
        text.append(self.title, style="bold")
        if latest is not None:
            text.append(f"  {self.formatter(latest)}", style=f"bold {self.bar_style}")
            text.append(f"  max {self.formatter(max(shown))}", style="dim")
        else:
            text.append("  no data yet", style="dim")
        if self.note:
            text.append(f"  {self.note}", style="dim")
        eighths = [None if v is None else round(v / top * rows * 8) for v in values]
        for row in range(rows - 1, -1, -1):
            text.append("\n")
            if row == rows - 1:
                label = self.formatter(top)
            elif row == 0:
                label = self.formatter(0.0)
            else:
                label = ""
            text.append(
                f"{label[:LABEL_WIDTH]:>{LABEL_WIDTH}}┤" if label else " " * LABEL_WIDTH + "│",
                style="dim",
            )
            line = []
            for n in eighths:
                if n is None:
                    line.append(" ")
                else:
                    line.append(EIGHTHS[max(0, min(8, n - row * 8))])
            text.append("".join(line), style=self.bar_style)
        text.append("\n")
        text.append(self._axis(plot_width, step), style="dim")
        return text

    def _axis(self, plot_width: int, step: float) -> str:
        """Time labels under the columns, right-aligned at their tick."""
        span = plot_width * step
        tick = next((t for t in TICK_SECONDS if t / step >= 10), TICK_SECONDS[-1])
        axis = [" "] * (LABEL_WIDTH + 1 + plot_width)
        label = "now"
        axis[-len(label) :] = label
        occupied = len(axis) - len(label) - 1
        seconds = tick
        while seconds < span:
            column = LABEL_WIDTH + 1 + plot_width - 1 - int(seconds / step)
            label = ago(seconds)
            end = column + 1
            begin = end - len(label)
            if begin > LABEL_WIDTH and end < occupied:
                axis[begin:end] = label
                occupied = begin - 1
            seconds += tick
        return "".join(axis)
