"""Images (the disk images container machines are made from): the CLI's row and table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.models import Image

from .base import Presenter, Row, TableColumn, by_name, number

if TYPE_CHECKING:
    from backends.contract import Inventory


def row(i: Image) -> Row:
    return {
        "id": i.id,
        "name": i.name,
        "size_gib": i.size_gib,
        "engine_version": i.engine_version,
        "os": i.os,
        "description": i.description,
    }


PRESENTER = Presenter(
    "images",
    lambda inv: [row(i) for i in by_name(inv.images.values())],
    [
        TableColumn("NAME", lambda r: r["name"]),
        TableColumn("ENGINE", lambda r: r["engine_version"]),
        TableColumn("OS", lambda r: r["os"]),
        TableColumn("SIZE GIB", lambda r: number(r["size_gib"])),
    ],
)
