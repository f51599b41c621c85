"""What the headless CLI prints: inventory rows (the JSON items), tables, task results and progress.

``rows(kind, inventory)`` is the one place that turns the domain into the CLI's items: every
item has ``id`` (and ``name`` where the value has one); references are printed as names, with
the ``*_id`` beside them. JSON goes to stdout one item per line (fast at 100,000 items, and
easy to grep); progress and notes go to stderr, so stdout is only ever the data.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from typing import IO, Any, Callable, Iterable

from backends.contract import Inventory
from backends.models import Container, Event, Host, Image, Mount, Network, Node, Project, Quota, Task, Volume
from widgets.terminal_text import visible

Row = dict[str, Any]

# Rich lays a table out in Python; past this many rows it takes seconds, so bigger tables
# (and every table that is not going to a terminal) are plain aligned text, as `docker ps` prints.
RICH_TABLE_MAX_ROWS = 2000


# ---------------------------------------------------------------------------------------------
# Rows


def _name(table: dict[str, Any], ref: str | None) -> str | None:
    item = table.get(ref) if ref else None
    return item.name if item is not None else ref


def host_row(h: Host, inv: Inventory, container_counts: Counter[str]) -> Row:
    return {
        "id": h.id,
        "name": h.name,
        "state": h.state.value,
        "ip": h.ip,
        "cores": h.cores,
        "memory_mib": h.memory_mib,
        "engine_version": h.engine_version,
        "os": h.os,
        "node": _name(inv.nodes, h.node_id),
        "node_id": h.node_id,
        "project": _name(inv.projects, h.project_id),
        "project_id": h.project_id,
        "image": _name(inv.images, h.image_id),
        "image_id": h.image_id,
        "network": _name(inv.networks, h.network_id),
        "network_id": h.network_id,
        "cluster": h.cluster,
        "role": h.role,
        "containers": container_counts.get(h.id, 0),
        "cpu_percent": h.cpu_percent,
        "memory_used_mib": h.memory_used_mib,
        "endpoint": h.endpoint,
        "reason": h.reason,
        "observed_at": h.observed_at,
        "created_at": h.created_at,
    }


def container_row(c: Container, inv: Inventory, host_names: dict[str, str] | None = None) -> Row:
    # ``host_names`` is given when listing: at 100,000 rows every lookup counts.
    host = (host_names or {}).get(c.host_id) if host_names is not None else _name(inv.hosts, c.host_id)
    return {
        "id": c.id,
        "name": c.name,
        "image": c.image,
        "host": host or c.host_id,
        "host_id": c.host_id,
        "state": c.state.value,
        "status": c.status,
        "command": c.command,
        "cpu_percent": c.cpu_percent,
        "memory_mib": c.memory_mib,
        "memory_limit_mib": c.memory_limit_mib,
        "ports": [_port(p.container_port, p.protocol, p.host_port, p.host_ip) for p in c.ports] if c.ports else [],
        "mounts": [_mount(m, inv) for m in c.mounts] if c.mounts else [],
        "restart_policy": c.restart_policy,
        "exit_code": c.exit_code,
        "created_at": c.created_at,
        "started_at": c.started_at,
    }


def _mount(m: Mount, inv: Inventory) -> Row:
    volume = m.kind == "volume"
    return {
        "kind": m.kind,
        "source": _name(inv.volumes, m.source) if volume else m.source,
        "source_id": m.source if volume else None,
        "path": m.path,
        "read_only": m.read_only,
    }


def _port(container_port: int, protocol: str, host_port: int | None, host_ip: str | None) -> str:
    inside = f"{container_port}/{protocol}"
    if host_port is None:
        return inside
    return f"{host_ip + ':' if host_ip else ''}{host_port}->{inside}"


def volume_row(v: Volume, inv: Inventory) -> Row:
    return {
        "id": v.id,
        "name": v.name,
        "size_gib": v.size_gib,
        "host": _name(inv.hosts, v.host_id),
        "host_id": v.host_id,
        "containers": [_name(inv.containers, c) for c in v.container_ids],
        "container_ids": list(v.container_ids),
        "state": v.state.value,
        "driver": v.driver,
        "storage_container": v.storage_container,
        "mount_point": v.mount_point,
        "created_at": v.created_at,
    }


def task_row(t: Task) -> Row:
    return {
        "id": t.id,
        "kind": t.kind,
        "target": t.target,
        "target_id": t.target_id,
        "status": t.status.value,
        "progress": t.progress,
        "message": t.message,
        "error": t.error,
        "parent_id": t.parent_id,
        "child_ids": list(t.child_ids),
        "result_id": t.result_id,
        "created_at": t.created_at,
        "started_at": t.started_at,
        "finished_at": t.finished_at,
    }


def image_row(i: Image) -> Row:
    return {
        "id": i.id,
        "name": i.name,
        "size_gib": i.size_gib,
        "engine_version": i.engine_version,
        "os": i.os,
        "description": i.description,
    }


def network_row(n: Network) -> Row:
    return {"id": n.id, "name": n.name, "cluster": n.cluster, "vlan_id": n.vlan_id, "cidr": n.cidr}


def _quota(q: Quota) -> Row:
    return {"vcpus": q.vcpus, "memory_mib": q.memory_mib, "storage_gib": q.storage_gib, "vms": q.vms}


def project_row(p: Project) -> Row:
    return {"id": p.id, "name": p.name, "quota": _quota(p.quota), "used": _quota(p.used)}


def node_row(n: Node, hosts: list[Host]) -> Row:
    return {
        "id": n.id,
        "name": n.name,
        "cluster": n.cluster,
        "up": n.up,
        "cpu_cores": n.cpu_cores,
        "memory_mib": n.memory_mib,
        "hosts": len(hosts),
        "cores_allocated": sum(h.cores for h in hosts),
        "memory_allocated_mib": sum(h.memory_mib for h in hosts),
    }


def event_row(e: Event) -> Row:
    return {
        "id": e.id,
        "time": e.time,
        "severity": e.severity.value,
        "kind": e.kind,
        "target": e.target,
        "target_id": e.target_id,
        "message": e.message,
    }


def rows(kind: str, inv: Inventory) -> list[Row]:
    """The CLI's items of ``kind`` in a stable order (by name; tasks and events by time)."""
    if kind == "hosts":
        counts = Counter(c.host_id for c in inv.containers.values())
        return [host_row(h, inv, counts) for h in _by_name(inv.hosts.values())]
    if kind == "containers":
        host_names = {h.id: h.name for h in inv.hosts.values()}
        return [container_row(c, inv, host_names) for c in _by_name(inv.containers.values())]
    if kind == "volumes":
        return [volume_row(v, inv) for v in _by_name(inv.volumes.values())]
    if kind == "tasks":
        return [task_row(t) for t in sorted(inv.tasks.values(), key=lambda t: (t.created_at, t.id))]
    if kind == "images":
        return [image_row(i) for i in _by_name(inv.images.values())]
    if kind == "networks":
        return [network_row(n) for n in _by_name(inv.networks.values())]
    if kind == "projects":
        return [project_row(p) for p in _by_name(inv.projects.values())]
    if kind == "nodes":
        on_node: dict[str, list[Host]] = {}
        for h in inv.hosts.values():
            if h.node_id:
                on_node.setdefault(h.node_id, []).append(h)
        return [node_row(n, on_node.get(n.id, [])) for n in _by_name(inv.nodes.values())]
    if kind == "events":
        return [event_row(e) for e in sorted(inv.events.values(), key=lambda e: (e.time, e.id))]
    raise ValueError(f"unknown kind {kind!r}")


def _by_name(items: Iterable[Any]) -> list[Any]:
    return sorted(items, key=lambda i: (i.name, i.id))


# ---------------------------------------------------------------------------------------------
# Tables: the columns a person reads, each (header, how to show it from a row)


def _gib(v: float | None) -> str:
    return "" if v is None else f"{v:g}"


def _used(used: float | None, limit: float | None) -> str:
    if limit is None:
        return f"{_gib(used)}/-"
    return f"{_gib(used)}/{_gib(limit)}"


def _when(t: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t)) if t else ""


Column = tuple[str, Callable[[Row], Any]]

COLUMNS: dict[str, list[Column]] = {
    "hosts": [
        ("NAME", lambda r: r["name"]),
        ("STATE", lambda r: r["state"]),
        ("IP", lambda r: r["ip"]),
        ("CORES", lambda r: r["cores"]),
        ("MEMORY MIB", lambda r: r["memory_mib"]),
        ("ENGINE", lambda r: r["engine_version"]),
        ("NODE", lambda r: r["node"]),
        ("PROJECT", lambda r: r["project"]),
        ("CONTAINERS", lambda r: r["containers"]),
    ],
    "containers": [
        ("NAME", lambda r: r["name"]),
        ("IMAGE", lambda r: r["image"]),
        ("HOST", lambda r: r["host"]),
        ("STATE", lambda r: r["state"]),
        ("STATUS", lambda r: r["status"]),
        ("ID", lambda r: r["id"]),
    ],
    "volumes": [
        ("NAME", lambda r: r["name"]),
        ("SIZE GIB", lambda r: _gib(r["size_gib"])),
        ("STATE", lambda r: r["state"]),
        ("HOST", lambda r: r["host"]),
        ("CONTAINERS", lambda r: ",".join(r["containers"])),
    ],
    "tasks": [
        ("ID", lambda r: r["id"]),
        ("KIND", lambda r: r["kind"]),
        ("TARGET", lambda r: r["target"]),
        ("STATUS", lambda r: r["status"]),
        ("PROGRESS", lambda r: f"{r['progress']}%"),
        ("MESSAGE", lambda r: r["error"] or r["message"]),
    ],
    "images": [
        ("NAME", lambda r: r["name"]),
        ("ENGINE", lambda r: r["engine_version"]),
        ("OS", lambda r: r["os"]),
        ("SIZE GIB", lambda r: _gib(r["size_gib"])),
    ],
    "networks": [
        ("NAME", lambda r: r["name"]),
        ("CLUSTER", lambda r: r["cluster"]),
        ("VLAN", lambda r: r["vlan_id"]),
        ("CIDR", lambda r: r["cidr"]),
    ],
    "projects": [
        ("NAME", lambda r: r["name"]),
        ("VCPUS", lambda r: _used(r["used"]["vcpus"], r["quota"]["vcpus"])),
        ("MEMORY MIB", lambda r: _used(r["used"]["memory_mib"], r["quota"]["memory_mib"])),
        ("STORAGE GIB", lambda r: _used(r["used"]["storage_gib"], r["quota"]["storage_gib"])),
        ("VMS", lambda r: _used(r["used"]["vms"], r["quota"]["vms"])),
    ],
    "nodes": [
        ("NAME", lambda r: r["name"]),
        ("CLUSTER", lambda r: r["cluster"]),
        ("UP", lambda r: "yes" if r["up"] else "NO"),
        ("CORES", lambda r: f"{r['cores_allocated']}/{r['cpu_cores']}"),
        ("MEMORY MIB", lambda r: f"{r['memory_allocated_mib']}/{r['memory_mib']}"),
        ("HOSTS", lambda r: r["hosts"]),
    ],
    "events": [
        ("TIME", lambda r: _when(r["time"])),
        ("SEVERITY", lambda r: r["severity"]),
        ("TARGET", lambda r: r["target"]),
        ("MESSAGE", lambda r: r["message"]),
    ],
}

_STATE_STYLES = {
    "running": "green",
    "SUCCEEDED": "green",
    "available": "green",
    "attached": "cyan",
    "stopped": "dim",
    "exited": "dim",
    "crashed": "bold red",
    "dead": "bold red",
    "unreachable": "bold red",
    "FAILED": "bold red",
    "ABORTED": "red",
    "error": "bold red",
    "warning": "yellow",
    "NO": "bold red",
}


def _cell(value: Any) -> str:
    # Every cell may be a server's string: its controls are shown, never sent to the terminal
    # (JSON needs nothing: json.dumps escapes them).
    return "" if value is None else visible(str(value))


def print_json(items: list[Row] | Row, out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    if isinstance(items, dict):
        out.write(json.dumps(items, indent=2) + "\n")
        return
    if not items:
        out.write("[]\n")
        return
    out.write("[\n" + ",\n".join(json.dumps(r) for r in items) + "\n]\n")


def print_table(kind: str, items: list[Row], out: IO[str] | None = None) -> None:
    out = out or sys.stdout
    columns = COLUMNS[kind]
    cells = [[_cell(get(r)) for _, get in columns] for r in items]
    if out.isatty() and len(items) <= RICH_TABLE_MAX_ROWS:
        _rich_table(columns, cells, out)
    else:
        _plain_table(columns, cells, out)


def _rich_table(columns: list[Column], cells: list[list[str]], out: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    for row in cells:
        table.add_row(*(Text(c, style=_STATE_STYLES.get(c, "")) for c in row))
    Console(file=out).print(table)


def _plain_table(columns: list[Column], cells: list[list[str]], out: IO[str]) -> None:
    headers = [h for h, _ in columns]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            if len(c) > widths[i]:
                widths[i] = len(c)
    lines = ["   ".join(c.ljust(w) for c, w in zip(headers, widths)).rstrip()]
    lines.extend("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)
    out.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# Tasks: a started task, its progress while waiting, its result


def task_line(t: Task) -> str:
    text = f"{t.kind} {t.target}: {t.status.value} {t.progress}%"
    detail = t.error or t.message
    return visible(f"{text} {detail}" if detail else text)  # the target and message are data


class TaskProgress:
    """Follows a task on stderr: a progress bar on a terminal, else a line per change."""

    def __init__(self, err: IO[str] | None = None) -> None:
        self._err = err or sys.stderr
        self._last: tuple[Any, ...] | None = None
        self._bar: Any = None
        self._bar_task: Any = None

    def __enter__(self) -> "TaskProgress":
        if self._err.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

            # The description and step are data (a target's name, a server's message): cleaned
            # and never read as markup.
            self._bar = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[step]}", markup=False),
                console=Console(file=self._err),
                transient=False,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, t: Task) -> None:
        key = (t.status, t.progress, t.message, t.error)
        if key == self._last:
            return
        self._last = key
        if self._bar is None:
            self._err.write(task_line(t) + "\n")
            self._err.flush()
            return
        step = visible(t.error or t.message or "")
        if self._bar_task is None:
            self._bar_task = self._bar.add_task(visible(f"{t.kind} {t.target}"), total=100, step=step)
        self._bar.update(self._bar_task, completed=t.progress, step=step)
