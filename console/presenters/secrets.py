"""Swarm secrets: names, dates and who uses them; never a value (the swarm gives none)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from backends.models import Secret

from .base import Presenter, Row, TableColumn, by_name, date_time_text

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


def users(inv: "Inventory") -> dict[str, list[str]]:
    """Secret id -> the names of the services that use it, sorted."""
    found: dict[str, list[str]] = {}
    for s in inv.services.values():
        for secret_id in s.secret_ids:
            found.setdefault(secret_id, []).append(s.name)
    return {k: sorted(v) for k, v in found.items()}


@dataclass(frozen=True, slots=True)
class SecretRow:
    """A secret as the console's Secrets pane shows it: with the names of the services that
    use it. A row of its own (not the Secret) because who uses a secret changes with the
    services: a new row then, so the table re-sorts and re-filters it as any changed row."""

    id: str
    name: str
    created_at: float
    updated_at: float
    services: tuple[str, ...] = ()


def pane_rows(inv: "Inventory") -> list[SecretRow]:
    by_secret = users(inv)
    return [SecretRow(s.id, s.name, s.created_at, s.updated_at, tuple(by_secret.get(s.id, ()))) for s in inv.secrets.values()]


def columns() -> list["Column"]:
    """The Secrets pane's columns, over ``SecretRow``s. No value: the swarm gives none."""
    from widgets.resource_table import Column

    return [
        Column("name", "NAME", width=24),
        Column("created", "CREATED", width=23, render=lambda s: date_time_text(s.created_at), sort_key=lambda s: s.created_at),
        Column("updated", "UPDATED", width=23, render=lambda s: date_time_text(s.updated_at), sort_key=lambda s: s.updated_at),
        Column("services", "SERVICES", width=30, render=lambda s: ",".join(s.services)),
    ]


def row(s: Secret, used_by: list[str]) -> Row:
    return {
        "id": s.id,
        "name": s.name,
        "created": s.created_at,
        "updated": s.updated_at,
        "services": used_by,
    }


def rows(inv: "Inventory") -> list[Row]:
    by_secret = users(inv)
    return [row(s, by_secret.get(s.id, [])) for s in by_name(inv.secrets.values())]


PRESENTER = Presenter(
    "secrets",
    rows,
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("CREATED", lambda r: date_time_text(r["created"])),
        TableColumn("SERVICES", lambda r: ", ".join(r["services"])),
        TableColumn("ID", lambda r: r["id"]),
    ],
)
