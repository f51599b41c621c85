"""Nodes (the cluster's physical machines): the CLI's row and table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.models import Host, Node

from .base import Presenter, Row, TableColumn, by_name

if TYPE_CHECKING:
    from backends.contract import Inventory


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
