"""A line plot of one or more series over a time window, drawn in braille dots.

Each cell holds 2 x 4 dots, so a plot W cells wide shows 2W points and H rows show 4H levels.
No dependency beyond Textual and Rich, and no randomness or clock: the same series and size
always give the same cells, which is what snapshot tests need.

The widget knows nothing of what it plots. The caller hands it series of floats, oldest
first, evenly spaced over ``span`` seconds that end now, and a formatter for the y axis.
A value that is not a number (NaN) is a gap: nothing was known then. A negative value is
drawn at zero, an infinite or too large one at the top: the plot never draws outside itself.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

from rich.text import Text
from textual.widget import Widget

# Bit of each dot in a braille cell (U+2800 + bits), by [column][row from the top].
_DOTS = ((0x01, 0x02, 0x04, 0x40), (0x08, 0x10, 0x20, 0x80))
_NICE = (1.0, 2.0, 2.5, 5.0, 10.0)
# Tick spacings for the time axis, in seconds: a label every so often, never crowded.
_TICKS = (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)


@dataclass(frozen=True, slots=True)
class Series:
    label: str
    values: Sequence[float]
    style: str = ""


def nice_top(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten at or above ``value`` (1 for none)."""
    if not math.isfinite(value) or value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in _NICE:
        if step * power >= value * (1 - 1e-9):
            return step * power
    return 10.0 * power


def fit_top(values: Sequence[float], ceiling: float | None = None) -> float:
    """A scale for ``values``: a round number just above the largest, never above ``ceiling``
    (a capacity), so small movements show and a full one reaches the top."""
    largest = max((v for v in values if math.isfinite(v)), default=0.0)
    top = nice_top(largest)
    return min(top, ceiling) if ceiling else top


def resample(values: Sequence[float], points: int) -> list[float]:
    """``values`` stretched or squeezed to ``points`` points. Squeezed, a point is the largest
    of the values it covers, so a short peak is not averaged away; a point over gaps only is
    a gap."""
    n = len(values)
    if n == 0 or points <= 0:
        return [math.nan] * max(0, points)
    out = []
    for i in range(points):
        lo = i * n // points
        hi = max(lo + 1, (i + 1) * n // points)
        finite = [v for v in values[lo:hi] if not math.isnan(v)]
        out.append(max(finite) if finite else math.nan)
    return out


def age_label(seconds: float) -> str:
    if seconds <= 0:
        return "now"
    if seconds < 60:
        return f"-{seconds:.0f}s"
    if seconds < 3600:
        return f"-{seconds / 60:g}m"
    return f"-{seconds / 3600:g}h"


def time_axis(width: int, span: float) -> str:
    """A line ``width`` wide with ``-15m ... -5m ... now`` placed where those times are."""
    if width <= 0:
        return ""
    line = [" "] * width
    now = "now"
    if width >= len(now):
        line[width - len(now):] = now
    if span <= 0:
        return "".join(line)
    # The smallest spacing that leaves room for a label and a gap between ticks, one that
    # divides the window where there is one (-15m -10m -5m, not -14m -12m ... -2m).
    roomy = [t for t in _TICKS if width * t / span >= 10 and t <= span]
    if not roomy:
        return "".join(line)
    step = next((t for t in roomy if span % t == 0), roomy[0])
    ago = step
    while ago <= span + 1e-9:
        label = age_label(ago)
        x = round((1 - ago / span) * (width - 1))
        start = min(max(0, x - len(label) // 2), width - len(label))
        end = start + len(label)
        # Only where nothing is written yet, one blank on each side: labels never run together.
        if start >= 0 and all(c == " " for c in line[max(0, start - 1):min(width, end + 1)]):
            line[start:end] = label
        ago += step
    return "".join(line)


def braille_rows(series: Sequence[Series], width: int, height: int, top: float) -> list[list[tuple[int, str]]]:
    """Rows of cells, top first; each cell is (dot bits, style of the last series in it)."""
    cells = [[(0, "")] * width for _ in range(height)]
    levels = height * 4
    for s in series:
        points = resample(s.values, width * 2)
        previous: int | None = None
        for x, value in enumerate(points):
            if math.isnan(value):
                previous = None
                continue
            share = 0.0 if value <= 0 else min(1.0, value / top)
            level = round(share * (levels - 1))  # 0 is the bottom dot
            # Joined to the point before by a vertical run, so a step reads as a line.
            low, high = (level, level) if previous is None else (min(level, previous), max(level, previous))
            for dot in range(low, high + 1):
                row_from_top = levels - 1 - dot
                row, sub = divmod(row_from_top, 4)
                bits, _ = cells[row][x // 2]
                cells[row][x // 2] = (bits | _DOTS[x % 2][sub], s.style)
            previous = level
    return cells


class LinePlot(Widget):
    """A braille line plot: a caption row, the plot with its y scale on the left, a time axis."""

    DEFAULT_CSS = """
    LinePlot { height: 7; }
    LinePlot > .line-plot--axis { color: $text-muted; }
    LinePlot > .line-plot--empty { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"line-plot--axis", "line-plot--empty"}

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._caption: Text = Text()
        self._series: tuple[Series, ...] = ()
        self._top: float | None = None
        self._span = 0.0
        self._format: Callable[[float], str] = lambda v: f"{v:g}"
        self._gutter = 0

    def show(
        self,
        caption: Text | str,
        series: Sequence[Series],
        *,
        span: float,
        top: float | None = None,
        y_format: Callable[[float], str] | None = None,
        gutter: int = 0,
    ) -> None:
        """Plot ``series`` (oldest first) over the last ``span`` seconds. ``top`` fixes the
        scale (a capacity); without it the scale fits the largest value. ``gutter``: the
        least width of the y scale, so plots stacked one above another line up in time."""
        self._gutter = gutter
        self._caption = caption if isinstance(caption, Text) else Text(caption)
        self._series = tuple(Series(s.label, tuple(s.values), s.style) for s in series)
        self._top, self._span = top, span
        if y_format is not None:
            self._format = y_format
        self.refresh()

    def scale_top(self) -> float:
        if self._top is not None and math.isfinite(self._top) and self._top > 0:
            return self._top
        finite = [v for s in self._series for v in s.values if math.isfinite(v)]
        return nice_top(max(finite, default=0.0))

    def render(self) -> Text:
        width, height = self.content_size.width, self.content_size.height
        return self.render_text(width, height)

    def render_text(self, width: int, height: int) -> Text:
        out = Text(no_wrap=True, overflow="crop")
        out.append_text(self._caption)
        plot_rows = height - 2
        if plot_rows < 1 or width < 8:
            return out
        top = self.scale_top()
        labels = [self._format(top), self._format(0.0)]
        gutter = max(self._gutter, max(len(label) for label in labels) + 1)
        plot_width = width - gutter
        axis_style = self.get_component_rich_style("line-plot--axis", partial=True) if self.is_mounted else ""
        if not any(not math.isnan(v) for s in self._series for v in s.values):
            empty = self.get_component_rich_style("line-plot--empty", partial=True) if self.is_mounted else ""
            for row in range(plot_rows):
                out.append("\n")
                if row == plot_rows // 2:
                    out.append(" " * gutter + "no samples yet", style=empty)
            out.append("\n" + " " * gutter + time_axis(plot_width, self._span), style=axis_style)
            return out
        cells = braille_rows(self._series, plot_width, plot_rows, top)
        for row, cell_row in enumerate(cells):
            out.append("\n")
            label = labels[0] if row == 0 else labels[1] if row == plot_rows - 1 else ""
            out.append(label.rjust(gutter - 1) + "┤" if label else " " * (gutter - 1) + "│", style=axis_style)
            for bits, style in cell_row:
                out.append(chr(0x2800 + bits) if bits else " ", style=style or None)
        out.append("\n" + " " * gutter + time_axis(plot_width, self._span), style=axis_style)
        return out
