"""What a swarm's secrets and configs are shown as: names, dates and the services that use
them. The two kinds have the same shape (a named object services mount), so one row, one
table and one set of columns serve both, told apart by the kind's name. No value or content
is ever listed: the swarm gives no secret's, and lists are for finding things."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from .base import Presenter, Row, TableColumn, by_name, date_time_text

if TYPE_CHECKING:
    from backends.contract import Inventory
    from backends.models import Service
    from widgets.resource_table import Column

# The kind -> the ids of that kind a service uses.
USED_IDS: dict[str, Callable[["Service"], tuple[str, ...]]] = {
    "secrets": lambda s: s.secret_ids,
    "configs": lambda s: s.config_ids,
}


def users(kind: str, inv: "Inventory") -> dict[str, list[str]]:
    """An object's id -> the names of the services that use it, sorted."""
    used_ids = USED_IDS[kind]
    found: dict[str, list[str]] = {}
    for s in inv.services.values():
        for object_id in used_ids(s):
            found.setdefault(object_id, []).append(s.name)
    return {k: sorted(v) for k, v in found.items()}


@dataclass(frozen=True, slots=True)
class UsedRow:
    """A secret or config as the console shows it: with the names of the services that use
    it. A row of its own (not the model) because who uses an object changes with the
    services: a new row then, so the table re-sorts and re-filters it as any changed row."""

    id: str
    name: str
    created_at: float
    updated_at: float
    services: tuple[str, ...] = ()


def pane_rows(kind: str, inv: "Inventory") -> list[UsedRow]:
    by_object = users(kind, inv)
    return [
        UsedRow(o.id, o.name, o.created_at, o.updated_at, tuple(by_object.get(o.id, ())))
        for o in getattr(inv, kind).values()
    ]


def columns() -> list["Column"]:
    """The console's columns, over ``UsedRow``s."""
    from widgets.resource_table import Column

    return [
        Column("name", "NAME", width=24),
        Column("created", "CREATED", width=23, render=lambda o: date_time_text(o.created_at), sort_key=lambda o: o.created_at),
        Column("updated", "UPDATED", width=23, render=lambda o: date_time_text(o.updated_at), sort_key=lambda o: o.updated_at),
        Column("services", "SERVICES", width=30, render=lambda o: ",".join(o.services)),
    ]


def presenter(kind: str) -> Presenter:
    """The CLI's table and ``--json`` rows of ``kind``, by name."""

    def rows(inv: "Inventory") -> list[Row]:
        by_object = users(kind, inv)
        return [
            {"id": o.id, "name": o.name, "created": o.created_at, "updated": o.updated_at, "services": by_object.get(o.id, [])}
            for o in by_name(getattr(inv, kind).values())
        ]

    return Presenter(
        kind,
        rows,
        [
            TableColumn("NAME", lambda r: r["name"]),
            TableColumn("CREATED", lambda r: date_time_text(r["created"])),
            TableColumn("SERVICES", lambda r: ", ".join(r["services"])),
            TableColumn("ID", lambda r: r["id"]),
        ],
    )
