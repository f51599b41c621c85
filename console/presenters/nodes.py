"""Nodes (the cluster's physical machines): the CLI's row and table, and the Nodes screen's
rows and columns (capacity bars: what the hosts placed on a node were given of it)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from backends.models import Host, Node

from .base import Presenter, Row, TableColumn, by_name
from .usage import sort_key, usage_bar

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


def row(n: Node, hosts: list[Host]) -> Row:
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


def rows(inv: "Inventory") -> list[Row]:
    on_node: dict[str, list[Host]] = {}
    for h in inv.hosts.values():
        if h.node_id:
            on_node.setdefault(h.node_id, []).append(h)
    return [row(n, on_node.get(n.id, [])) for n in by_name(inv.nodes.values())]


PRESENTER = Presenter(
    "nodes",
    rows,
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("CLUSTER", lambda r: r["cluster"]),
        # A node that is down is the one thing to see here: bold red, as a crashed host.
        TableColumn("UP", lambda r: "yes" if r["up"] else "NO", style=lambda cell: "bold red" if cell == "NO" else "green"),
        TableColumn("CORES", lambda r: f"{r['cores_allocated']}/{r['cpu_cores']}"),
        TableColumn("MEMORY MIB", lambda r: f"{r['memory_allocated_mib']}/{r['memory_mib']}"),
        TableColumn("HOSTS", lambda r: r["hosts"]),
    ],
)


# -- the Nodes screen --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeRow:
    """The CLI's row of a node (the same figures), as the screen's table holds it."""

    id: str
    name: str
    cluster: str
    up: bool
    cpu_cores: int
    memory_mib: int
    hosts: int
    cores_allocated: int
    memory_allocated_mib: int


def screen_rows(inv: "Inventory") -> list[NodeRow]:
    return [NodeRow(**r) for r in rows(inv)]


def columns() -> list["Column"]:
    from rich.text import Text

    from widgets.resource_table import Column

    return [
        Column("name", "NAME", width=18),
        Column("cluster", "CLUSTER", width=14),
        Column("up", "STATE", width=5, render=lambda r: Text("up", "green") if r.up else Text("DOWN", "bold red"),
               sort_key=lambda r: r.up),
        Column(
            "cores", "CORES", width=26,
            render=lambda r: usage_bar(r.cores_allocated, r.cpu_cores, f"{r.cores_allocated}/{r.cpu_cores}"),
            sort_key=lambda r: sort_key(r.cores_allocated, r.cpu_cores),
        ),
        Column(
            "memory", "MEMORY GIB", width=28,
            render=lambda r: usage_bar(
                r.memory_allocated_mib, r.memory_mib, f"{r.memory_allocated_mib / 1024:g}/{r.memory_mib / 1024:g}"
            ),
            sort_key=lambda r: sort_key(r.memory_allocated_mib, r.memory_mib),
        ),
        Column("hosts", "HOSTS", width=5, align="right", render=lambda r: str(r.hosts), sort_key=lambda r: r.hosts),
    ]
