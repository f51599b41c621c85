"""One presenter per resource kind (as k9s's ``internal/render/``): how hosts, containers,
volumes, tasks, images, networks, projects, nodes and events are shown, in the console's
tables and in the CLI's tables and ``--json``, from one module each. States have one colour
everywhere (``base.STATE_STYLE``).

Light on purpose: the CLI lists without loading Textual (the console's columns import the
widgets when asked for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Iterable, Iterator

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


# Kinds that can be listed by the hundred thousand: their rows are made one at a time.
STREAMS: dict[str, Callable[["Inventory"], Iterator[Row]]] = {"containers": containers.stream}


def stream_rows(kind: str, inv: "Inventory") -> Iterable[Row]:
    """``rows``, made as they are read where the kind can be that large."""
    stream = STREAMS.get(kind)
    return stream(inv) if stream is not None else rows(kind, inv)


def rows(kind: str, inv: "Inventory") -> list[Row]:
    """The CLI's items of ``kind`` in a stable order (by name; tasks and events by time)."""
    try:
        return PRESENTERS[kind].rows(inv)
    except KeyError:
        raise ValueError(f"unknown kind {kind!r}") from None
