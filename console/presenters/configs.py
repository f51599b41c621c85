"""Swarm configs: names, dates and who uses them. Shaped as secrets are; the value is not
listed (it may be large, and lists are for finding things)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from backends.models import Config

from .base import Presenter, Row, TableColumn, by_name, date_time_text

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


def users(inv: "Inventory") -> dict[str, list[str]]:
    """Config id -> the names of the services that use it, sorted."""
    found: dict[str, list[str]] = {}
    for s in inv.services.values():
        for config_id in s.config_ids:
            found.setdefault(config_id, []).append(s.name)
    return {k: sorted(v) for k, v in found.items()}


def row(c: Config, used_by: list[str]) -> Row:
    return {"id": c.id, "name": c.name, "created": c.created_at, "updated": c.updated_at, "services": used_by}


def rows(inv: "Inventory") -> list[Row]:
    by_config = users(inv)
    return [row(c, by_config.get(c.id, [])) for c in by_name(inv.configs.values())]


PRESENTER = Presenter(
    "configs",
    rows,
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("CREATED", lambda r: date_time_text(r["created"])),
        TableColumn("SERVICES", lambda r: ", ".join(r["services"])),
        TableColumn("ID", lambda r: r["id"]),
    ],
)


@dataclass(frozen=True, slots=True)
class ConfigRow:
    """A config as the `:configs` screen shows it: with the services that use it (a new row
    when they change, as the Secrets pane's SecretRow)."""

    id: str
    name: str
    created_at: float
    updated_at: float
    services: tuple[str, ...] = ()


def screen_rows(inv: "Inventory") -> list[ConfigRow]:
    by_config = users(inv)
    return [ConfigRow(c.id, c.name, c.created_at, c.updated_at, tuple(by_config.get(c.id, ()))) for c in inv.configs.values()]


def columns() -> list["Column"]:
    """The `:configs` screen's columns, over ``ConfigRow``s. No content: lists are for finding."""
    from widgets.resource_table import Column

    return [
        Column("name", "NAME", width=24),
        Column("created", "CREATED", width=23, render=lambda c: date_time_text(c.created_at), sort_key=lambda c: c.created_at),
        Column("updated", "UPDATED", width=23, render=lambda c: date_time_text(c.updated_at), sort_key=lambda c: c.updated_at),
        Column("services", "SERVICES", width=30, render=lambda c: ",".join(c.services)),
    ]
