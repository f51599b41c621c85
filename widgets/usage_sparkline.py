"""A sparkline of a usage history against a fixed capacity (a cluster's cores or memory).

Textual's Sparkline scales to the largest value it is given, so a flat or short history
fills the whole box and says nothing. This one scales to the capacity: a bar's height is
the share of the capacity in use, the newest sample on the right. The header draws one line
of it next to the cluster's capacity figures; the details screens draw line plots
(widgets/line_plot.py).
"""

from __future__ import annotations

from typing import Sequence

EIGHTHS = " ▁▂▃▄▅▆▇█"


def bars(samples: Sequence[float], capacity: float, height: int) -> list[str]:
    """The rows of the sparkline, top first; each sample is one column of block characters."""
    levels = [round(max(0.0, min(1.0, value / capacity)) * height * 8) for value in samples]
    # Any use at all shows as at least the lowest block: zero and "a little" differ.
    levels = [max(1, level) if value > 0 else 0 for level, value in zip(levels, samples)]
    rows = []
    for row in range(height - 1, -1, -1):
        rows.append("".join(EIGHTHS[max(0, min(8, level - row * 8))] for level in levels))
    return rows
