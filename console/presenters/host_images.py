"""Container images on the hosts' engines (``docker image ls`` per host): the CLI's row and
table. One row per image per host; an image with several tags shows them all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.models import HostImage

from .base import Presenter, Row, TableColumn, date_time_text

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


def split_tag(ref: str) -> tuple[str, str]:
    """"registry:5000/app:1.2" -> ("registry:5000/app", "1.2"); a digest stays whole."""
    if "@" in ref:
        return ref, ""
    head, _, tail = ref.rpartition(":")
    if head and "/" not in tail:
        return head, tail
    return ref, ""


def row(i: HostImage, host_name: str) -> Row:
    repository, tag = split_tag(i.repo_tags[0]) if i.repo_tags else ("<none>", "<none>")
    return {
        "id": i.id,
        "host_id": i.host_id,
        "host": host_name,
        "image_id": i.image_id,
        "repository": repository,
        "tag": tag,
        "repo_tags": list(i.repo_tags),
        "size_bytes": i.size_bytes,
        "created": i.created_at,
        "containers": list(i.container_ids),
        "dangling": i.dangling,
    }


def rows(inv: "Inventory") -> list[Row]:
    names = {h.id: h.name for h in inv.hosts.values()}
    found = [row(i, names.get(i.host_id, i.host_id)) for i in inv.host_images.values()]
    return sorted(found, key=lambda r: (r["host"], r["repository"], r["tag"], r["image_id"]))


def _size(n: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return str(n)


PRESENTER = Presenter(
    "host_images",
    rows,
    [
        TableColumn("HOST", lambda r: r["host"]),
        TableColumn("REPOSITORY", lambda r: r["repository"]),
        TableColumn("TAG", lambda r: r["tag"]),
        TableColumn("IMAGE ID", lambda r: r["image_id"].removeprefix("sha256:")[:12]),
        TableColumn("SIZE", lambda r: _size(r["size_bytes"])),
        TableColumn("CREATED", lambda r: date_time_text(r["created"])),
        TableColumn("CONTAINERS", lambda r: str(len(r["containers"]))),
    ],
)


def repository_tag(i: HostImage) -> tuple[str, str]:
    """The first tag split as ``docker image ls`` shows it; ("<none>", "<none>") when dangling."""
    return split_tag(i.repo_tags[0]) if i.repo_tags else ("<none>", "<none>")


def columns() -> list["Column"]:
    """The Images screen's columns: one host's images (its name is in the title)."""
    from widgets.resource_table import Column

    return [
        Column("repository", "REPOSITORY", width=36, render=lambda i: repository_tag(i)[0]),
        Column("tag", "TAG", width=14, render=lambda i: repository_tag(i)[1]),
        Column("image_id", "IMAGE ID", width=12, render=lambda i: i.image_id.removeprefix("sha256:")[:12]),
        Column("size_bytes", "SIZE", width=9, align="right", render=lambda i: _size(i.size_bytes), sort_key=lambda i: i.size_bytes),
        Column("created_at", "CREATED", width=16, render=lambda i: date_time_text(i.created_at), sort_key=lambda i: i.created_at),
        Column(
            "containers", "CONTAINERS", width=10, align="right",
            render=lambda i: str(len(i.container_ids)), sort_key=lambda i: len(i.container_ids),
        ),
        Column("dangling", "DANGLING", width=8, render=lambda i: "yes" if i.dangling else "", sort_key=lambda i: i.dangling),
    ]
