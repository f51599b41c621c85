"""Swarm configs: names, dates and who uses them. Shaped as secrets are; the value is not
listed (it may be large, and lists are for finding things)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.models import Config

from .base import Presenter, Row, TableColumn, by_name, date_time_text

if TYPE_CHECKING:
    from backends.contract import Inventory


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
