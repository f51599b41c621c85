"""Hosts (container machines): the console's columns, the CLI's row and table."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Callable

from backends.models import Host, HostState

from .base import Presenter, Row, TableColumn, by_name, gib, name_of, percent, state

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


def columns(node_name: Callable[[str | None], str]) -> list["Column"]:
    from widgets.resource_table import Column

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


def row(h: Host, inv: "Inventory", container_counts: Counter[str]) -> Row:
    return {
        "id": h.id,
        "name": h.name,
        "state": h.state.value,
        "ip": h.ip,
        "cores": h.cores,
        "memory_mib": h.memory_mib,
        "engine_version": h.engine_version,
        "os": h.os,
        "node": name_of(inv.nodes, h.node_id),
        "node_id": h.node_id,
        "project": name_of(inv.projects, h.project_id),
        "project_id": h.project_id,
        "image": name_of(inv.images, h.image_id),
        "image_id": h.image_id,
        "network": name_of(inv.networks, h.network_id),
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
        # A swarm node's (other backends have no such thing, and the keys are left out).
        **({"availability": h.availability} if h.availability is not None else {}),
        **({"manager_status": h.manager_status} if h.role == "manager" else {}),
    }


def rows(inv: "Inventory") -> list[Row]:
    counts = Counter(c.host_id for c in inv.containers.values())
    return [row(h, inv, counts) for h in by_name(inv.hosts.values())]


PRESENTER = Presenter(
    "hosts",
    rows,
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("STATE", lambda r: r["state"], HostState),
        TableColumn("IP", lambda r: r["ip"]),
        TableColumn("CORES", lambda r: r["cores"]),
        TableColumn("MEMORY MIB", lambda r: r["memory_mib"]),
        TableColumn("ENGINE", lambda r: r["engine_version"]),
        TableColumn("NODE", lambda r: r["node"]),
        TableColumn("PROJECT", lambda r: r["project"]),
        TableColumn("CONTAINERS", lambda r: r["containers"]),
    ],
)
