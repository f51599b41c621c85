"""Registries and the images they hold (issue 13): the CLI's rows (``--json``) and tables.

Not in ``PRESENTERS``: these rows come from the config and from registries, not from a
backend's inventory, so they have no ``rows(inventory)``. Every cell still goes through the
CLI's table printer, which shows a registry's strings with their controls made visible. The
console's Registries screen has its rows and columns at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import Row, TableColumn, shown

if TYPE_CHECKING:
    from rich.text import Text

    from backends.registries.models import ImageTag, RegistryEntry
    from widgets.resource_table import Column


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


# -- the console's Registries screen (console/screens/registries.py) ----------------------------
# Rows are values with an ``id`` (the ResourceTable keys rows by it); every cell goes through
# the table, which shows a registry's strings with their controls made visible.


@dataclass(frozen=True, slots=True)
class RegistryItem:
    id: str  # the registry's name
    name: str
    url: str
    user: str | None
    builtin: bool  # the simulator's own, not from the config
    reachable: bool | None = None  # None: not probed yet
    problem: str | None = None


@dataclass(frozen=True, slots=True)
class RepositoryItem:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class TagItem:
    id: str  # the tag
    tag: str
    digest: str
    size_bytes: int | None
    platforms: tuple[str, ...]
    media_type: str


def tag_item(i: "ImageTag") -> TagItem:
    return TagItem(i.tag, i.tag, i.digest, i.size_bytes, tuple(i.platforms), i.media_type)


_REACHABLE_STYLE = {"yes": "green", "no": "bold red", "…": "dim"}
_MEDIA = {
    "application/vnd.oci.image.index.v1+json": "OCI index",
    "application/vnd.oci.image.manifest.v1+json": "OCI image",
    "application/vnd.docker.distribution.manifest.list.v2+json": "Docker list",
    "application/vnd.docker.distribution.manifest.v2+json": "Docker v2",
}


def _reachable(r: RegistryItem) -> "Text":
    word = {True: "yes", False: "no"}.get(r.reachable, "…")  # type: ignore[call-overload]
    return shown(word, _REACHABLE_STYLE[word])


def registry_columns() -> list["Column"]:
    from widgets.resource_table import Column

    return [
        Column("name", "NAME", width=16),
        Column("url", "URL", width=36),
        Column("user", "USER", width=12, render=lambda r: r.user or "-", sort_key=lambda r: r.user or ""),
        Column("reachable", "REACHABLE", width=10, render=_reachable, sort_key=lambda r: (r.reachable is None, r.reachable)),
        Column("builtin", "FROM", width=10, render=lambda r: "simulator" if r.builtin else "config"),
        Column("problem", "PROBLEM", width=60, render=lambda r: r.problem or "", sort_key=lambda r: r.problem or ""),
    ]


def repository_columns() -> list["Column"]:
    from widgets.resource_table import Column

    return [Column("name", "REPOSITORY", width=60)]


def tag_columns() -> list["Column"]:
    from widgets.resource_table import Column

    return [
        Column("tag", "TAG", width=20),
        Column("digest", "DIGEST", width=71),
        Column(
            "size_bytes", "SIZE", width=9, align="right",
            render=lambda t: _size(t.size_bytes), sort_key=lambda t: -1 if t.size_bytes is None else t.size_bytes,
        ),
        Column("platforms", "PLATFORMS", width=28, render=lambda t: ",".join(t.platforms) or "-"),
        Column("media_type", "TYPE", width=11, render=lambda t: _MEDIA.get(t.media_type, t.media_type or "-")),
    ]
