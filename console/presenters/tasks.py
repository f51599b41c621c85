"""Tasks: the console's columns, the Tasks strip's lines, the notification that ends an
action, the CLI's row, table and one-line result."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backends.models import Task, TaskStatus
from widgets.terminal_text import visible

from .base import Presenter, Row, TableColumn, clock_text, state

if TYPE_CHECKING:
    from backends.contract import Inventory
    from widgets.resource_table import Column
    from widgets.task_strip import StripEntry

# The strip's lines are bold: a task is what the user is waiting for.
STRIP_STYLE = {
    TaskStatus.QUEUED: "dim",
    TaskStatus.RUNNING: "bold cyan",
    TaskStatus.PAUSED: "bold yellow",
    TaskStatus.SUCCEEDED: "bold green",
    TaskStatus.FAILED: "bold red",
    TaskStatus.ABORTED: "bold magenta",
}
STRIP_ICON = {
    TaskStatus.QUEUED: "…",
    TaskStatus.RUNNING: "▶",
    TaskStatus.PAUSED: "‖",
    TaskStatus.SUCCEEDED: "✔",
    TaskStatus.FAILED: "✘",
    TaskStatus.ABORTED: "■",
}


def what(task: Task) -> str:
    return task.kind.replace("_", " ")


def columns() -> list["Column"]:
    from widgets.resource_table import Column

    return [
        Column("kind", "KIND", width=16),
        Column("target", "TARGET", width=18),
        Column("status", "STATUS", width=10, render=lambda t: state(t.status), sort_key=lambda t: t.status.value),
        Column("progress", "DONE", width=5, align="right", render=lambda t: f"{t.progress}%"),
        Column("message", "MESSAGE", width=40, render=lambda t: t.error or t.message),
        Column("created_at", "STARTED", width=9, render=lambda t: clock_text(t.created_at), sort_key=lambda t: (t.created_at, t.target, t.kind)),
    ]


def strip_entry(task: Task) -> "StripEntry":
    from widgets.task_strip import StripEntry

    failed = task.status is TaskStatus.FAILED and task.error
    return StripEntry(
        id=task.id,
        title=f"{what(task)} {task.target}",
        kind=task.kind,
        target=task.target,
        progress=task.progress,
        status=task.status.value.lower(),
        style=STRIP_STYLE[task.status],
        icon=STRIP_ICON[task.status],
        message=(task.error if failed else task.message) or "",
        done=task.done,
        created_at=task.created_at,
        child=task.parent_id is not None,
    )


def outcome(task: Task) -> tuple[str, str]:
    """The notification that ends an action: (message, severity)."""
    if task.status is TaskStatus.SUCCEEDED:
        return f"{what(task)} {task.target}: done", "information"
    reason = task.error or task.message or task.status.value.lower()
    return f"{what(task)} {task.target}: {task.status.value.lower()}: {reason}", "error"


def line(t: Task) -> str:
    """The CLI's one line for a task."""
    text = f"{t.kind} {t.target}: {t.status.value} {t.progress}%"
    detail = t.error or t.message
    return visible(f"{text} {detail}" if detail else text)  # the target and message are data


def row(t: Task) -> Row:
    return {
        "id": t.id,
        "kind": t.kind,
        "target": t.target,
        "target_id": t.target_id,
        "status": t.status.value,
        "progress": t.progress,
        "message": t.message,
        "error": t.error,
        "parent_id": t.parent_id,
        "child_ids": list(t.child_ids),
        "result_id": t.result_id,
        "created_at": t.created_at,
        "started_at": t.started_at,
        "finished_at": t.finished_at,
    }


def rows(inv: "Inventory") -> list[Row]:
    return [row(t) for t in sorted(inv.tasks.values(), key=lambda t: (t.created_at, t.id))]


PRESENTER = Presenter(
    "tasks",
    rows,
    [
        TableColumn("ID", lambda r: r["id"]),
        TableColumn("KIND", lambda r: r["kind"]),
        TableColumn("TARGET", lambda r: r["target"]),
        TableColumn("STATUS", lambda r: r["status"], TaskStatus),
        TableColumn("PROGRESS", lambda r: f"{r['progress']}%"),
        TableColumn("MESSAGE", lambda r: r["error"] or r["message"]),
    ],
)
