"""Containers: the console's columns, the CLI's row and table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterator

from backends.models import Container, ContainerState, Mount

from .base import Presenter, Row, TableColumn, by_name, name_of, percent, state

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


def columns(host_name: Callable[[str | None], str] | None) -> list["Column"]:
    """The containers' columns; without ``host_name`` (all on one host) no HOST column and
    narrower cells, to fit half a screen."""
    from widgets.resource_table import Column

    on_one_host = host_name is None
    cols = [
        Column("name", "NAME", width=20),
        Column("state", "STATE", width=10, render=lambda c: state(c.state), sort_key=lambda c: c.state.value),
        Column("image", "IMAGE", width=26 if on_one_host else 34),
        Column("cpu_percent", "CPU%", width=6, align="right", render=lambda c: percent(c.cpu_percent)),
        Column("memory_mib", "MEM", width=6, align="right", render=lambda c: f"{c.memory_mib:.0f}M"),
        Column("status", "STATUS", width=20 if on_one_host else 24),
    ]
    if on_one_host:
        return cols
    cols.insert(3, Column("host", "HOST", width=12, render=lambda c: host_name(c.host_id), sort_key=lambda c: host_name(c.host_id)))
    cols.append(
        Column(
            "ports",
            "PORTS",
            width=20,
            render=lambda c: ",".join(f"{p.host_port}->{p.container_port}" if p.host_port else str(p.container_port) for p in c.ports),
        )
    )
    return cols


def _mount(m: Mount, inv: "Inventory") -> Row:
    volume = m.kind == "volume"
    return {
        "kind": m.kind,
        "source": name_of(inv.volumes, m.source) if volume else m.source,
        "source_id": m.source if volume else None,
        "path": m.path,
        "read_only": m.read_only,
    }


def _port(container_port: int, protocol: str, host_port: int | None, host_ip: str | None) -> str:
    inside = f"{container_port}/{protocol}"
    if host_port is None:
        return inside
    return f"{host_ip + ':' if host_ip else ''}{host_port}->{inside}"


def row(c: Container, inv: "Inventory", host_names: dict[str, str] | None = None) -> Row:
    # ``host_names`` is given when listing: at 100,000 rows every lookup counts.
    host = (host_names or {}).get(c.host_id) if host_names is not None else name_of(inv.hosts, c.host_id)
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
        # A swarm service's task (other backends have none: the keys are left out).
        **(
            {"service": c.service, "slot": c.slot, "desired_state": c.desired_state, "error": c.error}
            if c.service is not None
            else {}
        ),
    }


def rows(inv: "Inventory") -> list[Row]:
    return list(stream(inv))


def stream(inv: "Inventory") -> Iterator[Row]:
    """The rows one at a time, for the CLI to write each as it is made: at 100,000
    containers the list of dicts alone is 70 MiB."""
    host_names = {h.id: h.name for h in inv.hosts.values()}
    for c in by_name(inv.containers.values()):
        yield row(c, inv, host_names)


PRESENTER = Presenter(
    "containers",
    rows,
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("IMAGE", lambda r: r["image"]),
        TableColumn("HOST", lambda r: r["host"]),
        TableColumn("STATE", lambda r: r["state"], ContainerState),
        TableColumn("STATUS", lambda r: r["status"]),
        TableColumn("ID", lambda r: r["id"]),
    ],
)
