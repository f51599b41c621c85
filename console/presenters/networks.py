"""Networks: the CLI's row and table, and the Networks screen's rows and columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from backends.models import Network

from .base import Presenter, Row, TableColumn, by_name

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


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


# -- the Networks screen -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NetworkRow:
    id: str
    name: str
    cluster: str
    vlan_id: int | None
    cidr: str | None
    hosts: tuple[str, ...]  # the names of the hosts on it


def screen_rows(inv: "Inventory") -> list[NetworkRow]:
    on: dict[str, list[str]] = {}
    for h in inv.hosts.values():
        if h.network_id:
            on.setdefault(h.network_id, []).append(h.name)
    return [NetworkRow(n.id, n.name, n.cluster, n.vlan_id, n.cidr, tuple(sorted(on.get(n.id, ())))) for n in inv.networks.values()]


def _hosts(r: NetworkRow) -> str:
    shown = ", ".join(r.hosts[:3])
    return shown + (f" and {len(r.hosts) - 3} more" if len(r.hosts) > 3 else "")


def columns() -> list["Column"]:
    from widgets.resource_table import Column

    return [
        Column("name", "NAME", width=20),
        Column("cluster", "CLUSTER", width=14),
        Column("vlan_id", "VLAN", width=5, align="right", render=lambda r: "" if r.vlan_id is None else str(r.vlan_id),
               sort_key=lambda r: -1 if r.vlan_id is None else r.vlan_id),
        Column("cidr", "CIDR", width=18, render=lambda r: r.cidr or ""),
        Column("count", "HOSTS", width=5, align="right", render=lambda r: str(len(r.hosts)), sort_key=lambda r: len(r.hosts)),
        Column("hosts", "USED BY", width=48, render=_hosts),
    ]
