"""Snapshot of the Projects screen (issue 15): the demo's projects with their quota bars.
Seed, size and clock pinned as in test_snapshots.py."""

from __future__ import annotations

from .test_snapshots import on, shoot


def test_projects_screen(snap_compare):
    assert shoot(snap_compare, ["colon", *"projects", "enter"], on("ProjectsScreen"))
