"""A sparkline of a usage history against a fixed capacity (a host's cores or memory).

Textual's Sparkline scales to the largest value it is given, so a flat or short history
fills the whole box and says nothing. This one scales to the capacity: a bar's height is
the share of the capacity in use, the newest sample on the right.
"""

from __future__ import annotations

from typing import Sequence

from rich.text import Text
from textual.widget import Widget

EIGHTHS = " ▁▂▃▄▅▆▇█"
MIN_SAMPLES = 2  # below this there is no trend to draw


class UsageSparkline(Widget):
    DEFAULT_CSS = """
    UsageSparkline { height: 3; color: $accent; }
    UsageSparkline > .usage-sparkline--waiting { color: $text-muted; }
    """
    COMPONENT_CLASSES = {"usage-sparkline--waiting"}

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self._samples: tuple[float, ...] = ()
        self._capacity = 1.0

    def show(self, samples: Sequence[float], capacity: float) -> None:
        samples, capacity = tuple(samples), max(float(capacity), 1e-9)
        if samples != self._samples or capacity != self._capacity:
            self._samples, self._capacity = samples, capacity
            self.refresh()

    def render(self) -> Text:
        width, height = self.content_size.width, max(1, self.content_size.height)
        if len(self._samples) < MIN_SAMPLES:
            return Text("collecting…", style=self.get_component_rich_style("usage-sparkline--waiting"))
        return Text("\n".join(bars(self._samples[-width:], self._capacity, height)))


def bars(samples: Sequence[float], capacity: float, height: int) -> list[str]:
    """The rows of the sparkline, top first; each sample is one column of block characters."""
    levels = [round(max(0.0, min(1.0, value / capacity)) * height * 8) for value in samples]
    # Any use at all shows as at least the lowest block: zero and "a little" differ.
    levels = [max(1, level) if value > 0 else 0 for level, value in zip(levels, samples)]
    rows = []
    for row in range(height - 1, -1, -1):
        rows.append("".join(EIGHTHS[max(0, min(8, level - row * 8))] for level in levels))
    return rows
