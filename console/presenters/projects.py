"""Projects and their quota use: the CLI's row and table."""

from __future__ import annotations

from backends.models import Project, Quota

from .base import Presenter, Row, TableColumn, by_name, number


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
