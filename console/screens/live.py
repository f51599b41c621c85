"""What a screen that follows the inventory offers the app.

The app hands every live screen each drained batch of changes, asks it to redraw its status
as the data ages, and asks which containers it shows (their CPU and memory are fetched for
those alone). A screen says it is live by being a ``Live``; the defaults do nothing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..store import Drained


class Live:
    """A mixin for screens (``class X(Live, Screen)``): every method has a do-nothing default."""

    def apply_changes(self, drained: "Drained") -> None:
        """Patch what the screen shows with the changes since the last drain."""

    def refresh_status(self) -> None:
        """Redraw the header: the connection's state and the data's age."""

    def stats_wanted(self) -> list[str]:
        """The ids of the containers whose figures the user sees now."""
        return []

    def open_command_line(self) -> None:
        """`:`: open the command prompt, where the screen has one."""
