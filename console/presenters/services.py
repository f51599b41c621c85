"""Swarm services: the console's columns, the CLI's row and table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from backends.models import Service

from .base import Presenter, Row, TableColumn, by_name, name_of, shown, state

if TYPE_CHECKING:
    from rich.text import Text

    from backends.contract import Inventory
    from widgets.resource_table import Column


def replicas_style(cell: str) -> str:
    # Fewer running than wanted is what an operator looks for: yellow, and red at none.
    running, _, desired = cell.partition("/")
    if not desired or running == desired:
        return "green"
    return "bold red" if running == "0" else "yellow"


def _replicas(s: Service) -> "Text":
    cell = f"{s.replicas_running}/{s.replicas_desired}"
    return shown(cell, replicas_style(cell))


def columns() -> list["Column"]:
    from widgets.resource_table import Column

    return [
        Column("name", "NAME", width=20),
        Column("mode", "MODE", width=10),
        Column(
            "replicas", "REPLICAS", width=8, align="right",
            render=lambda s: _replicas(s),
            sort_key=lambda s: (s.replicas_running - s.replicas_desired, s.replicas_desired),
        ),
        Column("image", "IMAGE", width=30),
        Column("ports", "PORTS", width=18, render=lambda s: ",".join(s.ports)),
        Column("update_state", "UPDATE", width=12, render=lambda s: s.update_state or "-", sort_key=lambda s: s.update_state or ""),
    ]


def task_columns(host_name: Callable[[str | None], str]) -> list["Column"]:
    """A service's tasks on its details screen, as ``docker service ps`` shows them: the
    node, the slot (none for a global service's task), the current and desired state, the
    error. The rows are the backend's task containers."""
    from widgets.resource_table import Column

    return [
        Column("host", "NODE", width=20, render=lambda c: host_name(c.host_id), sort_key=lambda c: host_name(c.host_id)),
        Column(
            "slot", "SLOT", width=4, align="right",
            render=lambda c: "-" if c.slot is None else str(c.slot), sort_key=lambda c: -1 if c.slot is None else c.slot,
        ),
        Column("state", "STATE", width=10, render=lambda c: state(c.state), sort_key=lambda c: c.state.value),
        Column("desired_state", "DESIRED", width=8, render=lambda c: c.desired_state or "-", sort_key=lambda c: c.desired_state or ""),
        Column("status", "STATUS", width=20),
        Column("error", "ERROR", width=40, render=lambda c: c.error or "", sort_key=lambda c: c.error or ""),
        Column("name", "TASK", width=20),
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
        TableColumn("REPLICAS", lambda r: f"{r['replicas_running']}/{r['replicas_desired']}", style=replicas_style),
        TableColumn("IMAGE", lambda r: r["image"]),
        TableColumn("UPDATE", lambda r: r["update_state"]),
        TableColumn("ID", lambda r: r["id"]),
    ],
)
