"""Swarm configs: names, dates and who uses them; the content is not listed (it may be large,
and lists are for finding things). Shown as secrets are (``swarm_objects``)."""

from __future__ import annotations

from functools import partial

from . import swarm_objects
from .swarm_objects import columns

users = partial(swarm_objects.users, "configs")  # config id -> the services that use it
pane_rows = partial(swarm_objects.pane_rows, "configs")  # the `:configs` screen's rows

PRESENTER = swarm_objects.presenter("configs")

__all__ = ["PRESENTER", "columns", "pane_rows", "users"]
