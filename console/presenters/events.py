"""Events: the console's columns, the CLI's row and table."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.models import Event, Severity

from .base import Presenter, Row, TableColumn, clock_text, state, when

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column


def columns() -> list["Column"]:
    from widgets.resource_table import Column

    return [
        # Ties on time are common (one fault, many events): order them by what they say, so
        # the list reads the same on every run.
        Column("time", "TIME", width=9, render=lambda e: clock_text(e.time), sort_key=lambda e: (e.time, e.target, e.message)),
        Column("severity", "LEVEL", width=8, render=lambda e: state(e.severity), sort_key=lambda e: e.severity.value),
        Column("target", "TARGET", width=16),
        Column("message", "MESSAGE", width=70),
    ]


def row(e: Event) -> Row:
    return {
        "id": e.id,
        "time": e.time,
        "severity": e.severity.value,
        "kind": e.kind,
        "target": e.target,
        "target_id": e.target_id,
        "message": e.message,
    }


def rows(inv: "Inventory") -> list[Row]:
    return [row(e) for e in sorted(inv.events.values(), key=lambda e: (e.time, e.id))]


PRESENTER = Presenter(
    "events",
    rows,
    [
        TableColumn("TIME", lambda r: when(r["time"])),
        TableColumn("SEVERITY", lambda r: r["severity"], Severity),
        TableColumn("TARGET", lambda r: r["target"]),
        TableColumn("MESSAGE", lambda r: r["message"]),
    ],
)
