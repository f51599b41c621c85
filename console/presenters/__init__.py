"""One presenter per resource kind (as k9s's ``internal/render/``): how hosts, containers,
volumes, tasks, images, networks, projects, nodes and events are shown, in the console's
tables and in the CLI's tables and ``--json``, from one module each. States have one colour
everywhere (``base.STATE_STYLE``).

Light on purpose: the CLI lists without loading Textual (the console's columns import the
widgets when asked for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import (
    configs, containers, events, host_images, hosts, images, networks, nodes, projects, secrets, services, tasks, volumes,
)
from .base import Presenter, Row

if TYPE_CHECKING:
    from backends.contract import Inventory

PRESENTERS: dict[str, Presenter] = {
    m.PRESENTER.kind: m.PRESENTER for m in (
        hosts, containers, volumes, tasks, images, networks, projects, nodes, events, services, secrets, configs, host_images,
    )
}


def rows(kind: str, inv: "Inventory") -> list[Row]:
    """The CLI's items of ``kind`` in a stable order (by name; tasks and events by time)."""
    try:
        return PRESENTERS[kind].rows(inv)
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}") from None
