"""Networks: the CLI's row and table."""

from __future__ import annotations

from backends.models import Network

from .base import Presenter, Row, TableColumn, by_name


def row(n: Network) -> Row:
    return {"id": n.id, "name": n.name, "cluster": n.cluster, "vlan_id": n.vlan_id, "cidr": n.cidr}


PRESENTER = Presenter(
    "networks",
    lambda inv: [row(n) for n in by_name(inv.networks.values())],
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("CLUSTER", lambda r: r["cluster"]),
        TableColumn("VLAN", lambda r: r["vlan_id"]),
        TableColumn("CIDR", lambda r: r["cidr"]),
    ],
)
