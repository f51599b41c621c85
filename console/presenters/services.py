"""Swarm services: the console's columns, the CLI's row and table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.models import Service

from .base import Presenter, Row, TableColumn, by_name, name_of

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


def _replicas_style(cell: str) -> str:
    # Fewer running than wanted is what an operator looks for: yellow, and red at none.
    running, _, desired = cell.partition("/")
    if not desired or running == desired:
        return "green"
    return "bold red" if running == "0" else "yellow"


def columns() -> list["Column"]:
    from widgets.resource_table import Column

    return [
        Column("name", "NAME", width=20),
        Column("mode", "MODE", width=10),
        Column(
            "replicas", "REPLICAS", width=8, align="right",
            render=lambda s: f"{s.replicas_running}/{s.replicas_desired}",
            sort_key=lambda s: (s.replicas_running - s.replicas_desired, s.replicas_desired),
        ),
        Column("image", "IMAGE", width=30),
        Column("ports", "PORTS", width=18, render=lambda s: ",".join(s.ports)),
        Column("update_state", "UPDATE", width=12, render=lambda s: s.update_state or "-", sort_key=lambda s: s.update_state or ""),
    ]


def row(s: Service, inv: "Inventory") -> Row:
    return {
        "id": s.id,
        "name": s.name,
        "mode": s.mode,
        "replicas_running": s.replicas_running,
        "replicas_desired": s.replicas_desired,
        "image": s.image,
        "update_state": s.update_state,
        "ports": list(s.ports),
        "secrets": [name_of(inv.secrets, ref) for ref in s.secret_ids],
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    }


def rows(inv: "Inventory") -> list[Row]:
    return [row(s, inv) for s in by_name(inv.services.values())]


PRESENTER = Presenter(
    "services",
    rows,
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("MODE", lambda r: r["mode"]),
        TableColumn("REPLICAS", lambda r: f"{r['replicas_running']}/{r['replicas_desired']}", style=_replicas_style),
        TableColumn("IMAGE", lambda r: r["image"]),
        TableColumn("UPDATE", lambda r: r["update_state"]),
        TableColumn("ID", lambda r: r["id"]),
    ],
)
