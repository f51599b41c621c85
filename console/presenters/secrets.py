"""Swarm secrets: names, dates and who uses them; never a value (the swarm gives none). Shown
as configs are (``swarm_objects``)."""

from __future__ import annotations

from functools import partial

from . import swarm_objects
from .swarm_objects import columns

users = partial(swarm_objects.users, "secrets")  # secret id -> the services that use it
pane_rows = partial(swarm_objects.pane_rows, "secrets")  # the Secrets pane's rows

PRESENTER = swarm_objects.presenter("secrets")

__all__ = ["PRESENTER", "columns", "pane_rows", "users"]
