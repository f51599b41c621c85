"""One snapshot per widget: fixed data, fixed size, nothing animated."""

from __future__ import annotations

from backends.models import TaskStatus
from widgets import LogView, ResourceTable, TaskStrip

from .hosts import LogApp, StripApp, TableApp, containers, task

SIZE = (100, 30)


def test_resource_table_snapshot(snap_compare):
    async def run_before(pilot):
        table = pilot.app.query_one(ResourceTable)
        table.sort_by("cpu_percent", reverse=True)
        table.set_filter("nginx")
        await pilot.press("g", "j", "j", "space", "j", "j", "space", "j")

    assert snap_compare(TableApp(containers(5_000)), terminal_size=SIZE, run_before=run_before)


def test_log_view_snapshot(snap_compare):
    async def run_before(pilot):
        log = pilot.app.query_one(LogView)
        log.append(f"2024-05-01T12:00:{n % 60:02d}Z {'WARN' if n % 9 == 0 else 'INFO'} request {n}" for n in range(300))
        log.search("warn")
        await pilot.press("n")

    assert snap_compare(LogApp(max_lines=200), terminal_size=SIZE, run_before=run_before)


def test_task_strip_snapshot(snap_compare):
    async def run_before(pilot):
        pilot.app.query_one(TaskStrip).update_tasks(
            [
                task(1, TaskStatus.SUCCEEDED, 100, "host web-01 created"),
                task(2, TaskStatus.RUNNING, 45, "cloning disk image"),
                task(3, TaskStatus.FAILED, 60, error="quota exceeded: memory"),
                task(4, TaskStatus.PAUSED, 30, "paused after wave 1"),
            ]
        )

    assert snap_compare(StripApp(lambda: 0.0), terminal_size=SIZE, run_before=run_before)
