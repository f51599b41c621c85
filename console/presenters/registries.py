"""Registries and the images they hold (issue 13): the CLI's rows (``--json``) and tables.

Not in ``PRESENTERS``: these rows come from the config and from registries, not from a
backend's inventory, so they have no ``rows(inventory)``. Every cell still goes through the
CLI's table printer, which shows a registry's strings with their controls made visible.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Row, TableColumn

if TYPE_CHECKING:
    from backends.registries.models import ImageTag, RegistryEntry


def registry_row(entry: "RegistryEntry", reachable: bool | None, problem: str | None) -> Row:
    return {
        "name": entry.name,
        "url": entry.url,
        "user": entry.user,
        "project": entry.project,
        "context": entry.context,
        "reachable": reachable,
        "problem": problem,
    }


def _yes_no(value: object) -> str:
    return {True: "yes", False: "no"}.get(value, "-")  # type: ignore[call-overload]


REGISTRY_TABLE = [
    TableColumn("NAME", lambda r: r["name"]),
    TableColumn("URL", lambda r: r["url"]),
    TableColumn("USER", lambda r: r["user"] or "-"),
    TableColumn("PROJECT", lambda r: r["project"] or "-"),
    TableColumn("REACHABLE", lambda r: _yes_no(r["reachable"]), style=lambda c: {"yes": "green", "no": "bold red"}.get(c, "")),
    TableColumn("PROBLEM", lambda r: r["problem"] or ""),
]


def image_row(i: "ImageTag") -> Row:
    return {
        "repository": i.repository,
        "tag": i.tag,
        "digest": i.digest,
        "size_bytes": i.size_bytes,
        "platforms": list(i.platforms),
        "media_type": i.media_type,
    }


def _size(value: int | None) -> str:
    if value is None:
        return "-"
    for unit, scale in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if value >= scale:
            return f"{value / scale:.1f}{unit}"
    return f"{value}B"


IMAGE_TABLE = [
    TableColumn("REPOSITORY", lambda r: r["repository"]),
    TableColumn("TAG", lambda r: r["tag"]),
    TableColumn("DIGEST", lambda r: r["digest"]),
    TableColumn("SIZE", lambda r: _size(r["size_bytes"])),
    TableColumn("PLATFORMS", lambda r: ",".join(r["platforms"]) or "-"),
]
