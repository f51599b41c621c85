"""Use against a limit, drawn: a bar and a percentage (``████░░░░  52%``), green, yellow when
near the limit, red at or over it; the figures follow (``12/24``). For the Projects screen's
quotas and the Nodes screen's capacity."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

BAR_WIDTH = 10
NEAR = 80.0  # percent: yellow from here; red at 100 and over


def percent(used: float, limit: float | None) -> float | None:
    """Use as a percentage of the limit; None without a limit (or a limit of 0)."""
    if not limit:
        return None
    return 100.0 * used / limit


def style_of(pct: float | None) -> str:
    if pct is None:
        return "dim"
    if pct >= 100:
        return "bold red"
    return "yellow" if pct >= NEAR else "green"


def usage_bar(used: float, limit: float | None, figures: str) -> "Text":
    """The bar, its percentage and ``figures`` ("12/24"); with no limit, "no quota" and the use."""
    from rich.text import Text

    from widgets.task_strip import progress_bar  # the CLI imports this module, never the widgets

    pct = percent(used, limit)
    if pct is None:
        return Text.assemble(("─" * BAR_WIDTH, "dim"), ("    - ", "dim"), (figures, ""))
    style = style_of(pct)
    return Text.assemble(
        progress_bar(min(100, round(pct)), BAR_WIDTH, style), (f" {pct:3.0f}% ", style), (figures, style if pct >= NEAR else "")
    )


def sort_key(used: float, limit: float | None) -> float:
    """Fullest last when sorted: no limit counts as empty."""
    pct = percent(used, limit)
    return -1.0 if pct is None else pct
