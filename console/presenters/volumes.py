"""Volumes: the console's columns, the CLI's row and table."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

from backends.models import Volume, VolumeState

from .base import Presenter, Row, TableColumn, by_name, name_of, number, state

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


def columns(host_name: Callable[[str | None], str] | None) -> list["Column"]:
    """The volumes' columns; without ``host_name`` (all on one host) no HOST column."""
    from widgets.resource_table import Column

    cols = [
        Column("name", "NAME", width=16),
        Column("state", "STATE", width=9, render=lambda v: state(v.state), sort_key=lambda v: v.state.value),
        # Docker volumes have no size of their own.
        Column("size_gib", "SIZE", width=6, align="right", render=lambda v: f"{v.size_gib:g}G" if v.size_gib else "-"),
        Column("used_by", "USERS", width=5, align="right", render=lambda v: str(len(v.container_ids)), sort_key=lambda v: len(v.container_ids)),
    ]
    if host_name is not None:
        cols.insert(
            3,
            Column(
                "host",
                "HOST",
                width=12,
                render=lambda v: host_name(v.host_id) if v.host_id else "-",
                sort_key=lambda v: host_name(v.host_id) if v.host_id else "",
            ),
        )
    return cols


def row(v: Volume, inv: "Inventory") -> Row:
    return {
        "id": v.id,
        "name": v.name,
        "size_gib": v.size_gib,
        "host": name_of(inv.hosts, v.host_id),
        "host_id": v.host_id,
        "containers": [name_of(inv.containers, c) for c in v.container_ids],
        "container_ids": list(v.container_ids),
        "state": v.state.value,
        "driver": v.driver,
        "storage_container": v.storage_container,
        "mount_point": v.mount_point,
        "created_at": v.created_at,
    }


def rows(inv: "Inventory") -> list[Row]:
    return [row(v, inv) for v in by_name(inv.volumes.values())]


PRESENTER = Presenter(
    "volumes",
    rows,
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("SIZE GIB", lambda r: number(r["size_gib"])),
        TableColumn("STATE", lambda r: r["state"], VolumeState),
        TableColumn("HOST", lambda r: r["host"]),
        TableColumn("CONTAINERS", lambda r: ",".join(r["containers"])),
    ],
)
