"""Projects and their quota use: the CLI's row and table, and the Projects screen's rows and
columns (quota bars)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from backends.models import Project, Quota

from .base import Presenter, Row, TableColumn, by_name, number
from .usage import sort_key, usage_bar

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


def _quota(q: Quota) -> Row:
    return {"vcpus": q.vcpus, "memory_mib": q.memory_mib, "storage_gib": q.storage_gib, "vms": q.vms}


def row(p: Project) -> Row:
    return {"id": p.id, "name": p.name, "quota": _quota(p.quota), "used": _quota(p.used)}


def used(used: float | None, limit: float | None) -> str:
    """"used/limit", with '-' for no limit."""
    return f"{number(used)}/-" if limit is None else f"{number(used)}/{number(limit)}"


PRESENTER = Presenter(
    "projects",
    lambda inv: [row(p) for p in by_name(inv.projects.values())],
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("VCPUS", lambda r: used(r["used"]["vcpus"], r["quota"]["vcpus"])),
        TableColumn("MEMORY MIB", lambda r: used(r["used"]["memory_mib"], r["quota"]["memory_mib"])),
        TableColumn("STORAGE GIB", lambda r: used(r["used"]["storage_gib"], r["quota"]["storage_gib"])),
        TableColumn("VMS", lambda r: used(r["used"]["vms"], r["quota"]["vms"])),
    ],
)


# -- the Projects screen -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProjectRow:
    """A project with what it holds: rows are worked out again when hosts or containers
    change, and only the ones that differ are redrawn."""

    id: str
    name: str
    quota: Quota
    used: Quota
    hosts: int
    containers: int


def screen_rows(inv: "Inventory") -> list[ProjectRow]:
    hosts: dict[str, set[str]] = {}
    for h in inv.hosts.values():
        if h.project_id:
            hosts.setdefault(h.project_id, set()).add(h.id)
    containers: dict[str, int] = {}
    for c in inv.containers.values():
        host = inv.hosts.get(c.host_id)
        if host is not None and host.project_id:
            containers[host.project_id] = containers.get(host.project_id, 0) + 1
    return [
        ProjectRow(p.id, p.name, p.quota, p.used, len(hosts.get(p.id, ())), containers.get(p.id, 0))
        for p in inv.projects.values()
    ]


def _gib(mib: float | None) -> str:
    return "" if mib is None else f"{mib / 1024:g}"


def _quota_column(key: str, title: str, get, text) -> "Column":
    from widgets.resource_table import Column

    def render(r: ProjectRow):
        used, limit = get(r.used) or 0, get(r.quota)
        return usage_bar(used, limit, f"{text(used)}/{text(limit) if limit is not None else '-'}")

    return Column(key, title, width=26, render=render, sort_key=lambda r: sort_key(get(r.used) or 0, get(r.quota)))


def columns() -> list["Column"]:
    from widgets.resource_table import Column

    return [
        Column("name", "NAME", width=18),
        Column("hosts", "HOSTS", width=5, align="right", render=lambda r: str(r.hosts), sort_key=lambda r: r.hosts),
        Column("containers", "CONTAINERS", width=10, align="right", render=lambda r: str(r.containers),
               sort_key=lambda r: r.containers),
        _quota_column("vcpus", "VCPUS", lambda q: q.vcpus, number),
        _quota_column("memory", "MEMORY GIB", lambda q: q.memory_mib, _gib),
        _quota_column("storage", "STORAGE GIB", lambda q: q.storage_gib, lambda v: f"{v:g}"),
        _quota_column("vms", "VMS", lambda q: q.vms, number),
    ]
