"""What every presenter is made of: the CLI's row and table, the TUI's columns, and the
words and colours of states, so that a state looks the same in the CLI and the console."""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from backends.models import ContainerState, HostState, Severity, TaskStatus, VolumeState
from widgets.terminal_text import visible

if TYPE_CHECKING:
    from rich.text import Text

    from backends.contract import Inventory

Row = dict[str, Any]

# The colour of every state, in the console's tables and the CLI's alike.
STATE_STYLE: dict[enum.Enum, str] = {
    HostState.RUNNING: "green",
    HostState.PROVISIONING: "cyan",
    HostState.UPGRADING: "cyan",
    HostState.RESTARTING: "yellow",
    HostState.STOPPED: "dim",
    HostState.CRASHED: "bold red",
    HostState.UNREACHABLE: "bold red",
    HostState.DELETING: "magenta",
    ContainerState.RUNNING: "green",
    ContainerState.CREATED: "cyan",
    ContainerState.RESTARTING: "yellow",
    ContainerState.PAUSED: "yellow",
    ContainerState.EXITED: "dim",
    ContainerState.REMOVING: "magenta",
    ContainerState.DEAD: "bold red",
    VolumeState.AVAILABLE: "cyan",
    VolumeState.ATTACHED: "green",
    VolumeState.CREATING: "cyan",
    VolumeState.DETACHING: "yellow",
    VolumeState.DELETING: "magenta",
    VolumeState.ERROR: "bold red",
    TaskStatus.QUEUED: "dim",
    TaskStatus.RUNNING: "cyan",
    TaskStatus.PAUSED: "yellow",
    TaskStatus.SUCCEEDED: "green",
    TaskStatus.FAILED: "bold red",
    TaskStatus.ABORTED: "magenta",
    Severity.INFO: "",
    Severity.WARNING: "yellow",
    Severity.ERROR: "bold red",
}


def state_style(kind: type[enum.Enum], value: str) -> str:
    """The colour of a state given as its word (a CLI row holds words, not enum members)."""
    try:
        return STATE_STYLE.get(kind(value), "")
    except ValueError:
        return ""


def state(value: enum.Enum) -> "Text":
    from rich.text import Text

    return Text(value.value, style=STATE_STYLE.get(value, ""))


def shown(text: object, style: str = "") -> "Text":
    """Data (a name, a message, a server's reason) for a widget: its controls made visible
    and, being Text, never read as markup. Use it wherever a widget would take a str."""
    from rich.text import Text

    return Text(visible(str(text)), style=style)


# -- units and times ---------------------------------------------------------------------------


def gib(mib: float) -> str:
    return f"{mib / 1024:.1f}G"


def percent(value: float) -> str:
    return f"{value:5.1f}%"


def number(v: float | None) -> str:
    return "" if v is None else f"{v:g}"


def clock_text(at: float | None) -> str:
    """A UTC time of day: the same for everyone, so screenshots and tests are stable."""
    if not at:
        return "-"
    return time.strftime("%H:%M:%S", time.gmtime(at))


def date_time_text(at: float | None) -> str:
    """A UTC date and time, for moments that may be days or months ago."""
    if not at:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(at))


def when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) if t else ""


def age_text(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def name_of(table: dict[str, Any], ref: str | None) -> str | None:
    """A reference shown as the referenced item's name (its id when it is not known)."""
    item = table.get(ref) if ref else None
    return item.name if item is not None else ref


def by_name(items: Any) -> list[Any]:
    return sorted(items, key=lambda i: (i.name, i.id))


# -- the presenter ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TableColumn:
    """A column of the CLI's table: its header, its cell from a row, and the enum of the state
    it holds (coloured as the console colours it)."""

    header: str
    get: Callable[[Row], Any]
    state: type[enum.Enum] | None = None
    style: Callable[[str], str] | None = None  # a colour for other cells that need one

    def style_of(self, cell: str) -> str:
        if self.state is not None:
            return state_style(self.state, cell)
        return self.style(cell) if self.style is not None else ""


@dataclass(frozen=True)
class Presenter:
    kind: str
    rows: Callable[["Inventory"], list[Row]]  # the CLI's items (--json), in a stable order
    table: list[TableColumn] = field(default_factory=list)  # the CLI's table


# -- several contexts at once (backends/fleet.py) ------------------------------------------------


def context_of(item_id: str) -> str:
    """The context of a fleet id ("CONTEXT/ID")."""
    return item_id.partition("/")[0]


def with_context(columns: list[Any], several: bool) -> list[Any]:
    """A pane's columns, with a CONTEXT column first when more than one context is open (its
    text is part of each row's filter text, so `/east` finds a context's rows)."""
    if not several:
        return columns
    from widgets.resource_table import Column

    return [Column("context", "CONTEXT", width=12, render=lambda r: context_of(r.id), sort_key=lambda r: context_of(r.id)), *columns]


# Columns a pane always shows (the Columns dialog cannot untick them, the preferences never
# hide them): a row must say what it is and, with several contexts, where.
ALWAYS_SHOWN = ("name", "context")


def several_contexts(backend: Any) -> bool:
    return len(getattr(backend, "contexts", ())) > 1
