"""How each kind of resource is shown: the columns of its table, and the words and colours
of its states. One renderer per resource, used by the dashboard and the details screens."""

from __future__ import annotations

import time
from typing import Callable

from rich.text import Text

from backends.models import ContainerState, HostState, Severity, Task, TaskStatus, VolumeState
from widgets.resource_table import Column
from widgets.terminal_text import visible

STATE_STYLE = {
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


def shown(text: object, style: str = "") -> Text:
    """Data (a name, a message, a server's reason) for a widget: its controls made visible
    and, being Text, never read as markup. Use it wherever a widget would take a str."""
    return Text(visible(str(text)), style=style)


def state(value) -> Text:
    return Text(value.value, style=STATE_STYLE.get(value, ""))


def gib(mib: float) -> str:
    return f"{mib / 1024:.1f}G"


def percent(value: float) -> str:
    return f"{value:5.1f}%"


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


def age_text(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def host_columns(node_name: Callable[[str | None], str]) -> list[Column]:
    return [
        Column("name", "NAME", width=16),
        Column("state", "STATE", width=12, render=lambda h: state(h.state), sort_key=lambda h: h.state.value),
        Column("ip", "IP", width=15, render=lambda h: h.ip or "-"),
        Column("cores", "CPU", width=4, align="right"),
        Column("memory", "MEM", width=6, align="right", render=lambda h: gib(h.memory_mib), sort_key=lambda h: h.memory_mib),
        Column("cpu_percent", "CPU%", width=6, align="right", render=lambda h: percent(h.cpu_percent / max(1, h.cores))),
        Column("engine", "DOCKER", width=8, render=lambda h: h.engine_version or "-", sort_key=lambda h: h.engine_version or ""),
        Column("node", "NODE", width=14, render=lambda h: node_name(h.node_id), sort_key=lambda h: node_name(h.node_id)),
    ]


def container_columns(host_name: Callable[[str | None], str] | None) -> list[Column]:
    """The containers' columns; without ``host_name`` (all on one host) no HOST column and
    narrower cells, to fit half a screen."""
    on_one_host = host_name is None
    columns = [
        Column("name", "NAME", width=20),
        Column("state", "STATE", width=10, render=lambda c: state(c.state), sort_key=lambda c: c.state.value),
        Column("image", "IMAGE", width=26 if on_one_host else 34),
        Column("cpu_percent", "CPU%", width=6, align="right", render=lambda c: percent(c.cpu_percent)),
        Column("memory_mib", "MEM", width=6, align="right", render=lambda c: f"{c.memory_mib:.0f}M"),
        Column("status", "STATUS", width=20 if on_one_host else 24),
    ]
    if on_one_host:
        return columns
    columns.insert(3, Column("host", "HOST", width=12, render=lambda c: host_name(c.host_id), sort_key=lambda c: host_name(c.host_id)))
    columns.append(Column("ports", "PORTS", width=20, render=lambda c: ",".join(f"{p.host_port}->{p.container_port}" if p.host_port else str(p.container_port) for p in c.ports)))
    return columns


def volume_columns(host_name: Callable[[str | None], str] | None) -> list[Column]:
    """The volumes' columns; without ``host_name`` (all on one host) no HOST column."""
    columns = [
        Column("name", "NAME", width=16),
        Column("state", "STATE", width=9, render=lambda v: state(v.state), sort_key=lambda v: v.state.value),
        Column("size_gib", "SIZE", width=6, align="right", render=lambda v: f"{v.size_gib:g}G" if v.size_gib else "-"),  # Docker volumes have no size
        Column("used_by", "USERS", width=5, align="right", render=lambda v: str(len(v.container_ids)), sort_key=lambda v: len(v.container_ids)),
    ]
    if host_name is not None:
        columns.insert(3, Column("host", "HOST", width=12, render=lambda v: host_name(v.host_id) if v.host_id else "-", sort_key=lambda v: host_name(v.host_id) if v.host_id else ""))
    return columns


def task_columns() -> list[Column]:
    return [
        Column("kind", "KIND", width=16),
        Column("target", "TARGET", width=18),
        Column("status", "STATUS", width=10, render=lambda t: state(t.status), sort_key=lambda t: t.status.value),
        Column("progress", "DONE", width=5, align="right", render=lambda t: f"{t.progress}%"),
        Column("message", "MESSAGE", width=40, render=lambda t: t.error or t.message),
        Column("created_at", "STARTED", width=9, render=lambda t: clock_text(t.created_at), sort_key=lambda t: (t.created_at, t.target, t.kind)),
    ]


def event_columns() -> list[Column]:
    return [
        # Ties on time are common (one fault, many events): order them by what they say, so
        # the list reads the same on every run.
        Column("time", "TIME", width=9, render=lambda e: clock_text(e.time), sort_key=lambda e: (e.time, e.target, e.message)),
        Column("severity", "LEVEL", width=8, render=lambda e: state(e.severity), sort_key=lambda e: e.severity.value),
        Column("target", "TARGET", width=16),
        Column("message", "MESSAGE", width=70),
    ]


def task_outcome(task: Task) -> tuple[str, str]:
    """The notification that ends an action: (message, severity)."""
    what = task.kind.replace("_", " ")
    if task.status is TaskStatus.SUCCEEDED:
        return f"{what} {task.target}: done", "information"
    reason = task.error or task.message or task.status.value.lower()
    return f"{what} {task.target}: {task.status.value.lower()}: {reason}", "error"

