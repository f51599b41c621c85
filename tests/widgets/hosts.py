"""Tiny host apps and fixed data for the widget tests."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.message import Message

from backends.models import Container, ContainerState, Task, TaskStatus
from widgets import Column, LogView, ResourceTable, TaskStrip

STATES = [ContainerState.RUNNING, ContainerState.EXITED, ContainerState.PAUSED]


def containers(count: int, start: int = 0) -> list[Container]:
    return [
        Container(
            id=f"c{n:06d}",
            name=f"app-{n}",
            image="nginx:1.25" if n % 2 else "redis:7",
            host_id=f"host-{n % 7}",
            state=STATES[n % 3],
            cpu_percent=float((n * 37) % 100),
        )
        for n in range(start, start + count)
    ]


def state_cell(container: Container):
    from rich.text import Text

    colour = {"running": "green", "exited": "red", "paused": "yellow"}[container.state.value]
    return Text(container.state.value, style=colour)


COLUMNS = [
    Column("name", "Name"),
    Column("image", "Image"),
    Column("host_id", "Host"),
    Column("state", "State", render=state_cell, sort_key=lambda c: c.state.value),
    Column(
        "cpu_percent",
        "CPU%",
        width=6,
        render=lambda c: f"{c.cpu_percent:.1f}",
        sort_key=lambda c: c.cpu_percent,
        align="right",
    ),
]


class TableApp(App):
    def __init__(self, rows: list[Container] | None = None) -> None:
        super().__init__()
        self.initial_rows = rows
        self.messages: list[Message] = []

    def compose(self) -> ComposeResult:
        yield ResourceTable(COLUMNS, id="table")

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        if self.initial_rows is not None:
            table.set_rows(self.initial_rows)
        table.focus()

    def on_resource_table_cursor_moved(self, message: ResourceTable.CursorMoved) -> None:
        self.messages.append(message)

    def on_resource_table_selected(self, message: ResourceTable.Selected) -> None:
        self.messages.append(message)

    def on_resource_table_marks_changed(self, message: ResourceTable.MarksChanged) -> None:
        self.messages.append(message)


class LogApp(App):
    def __init__(self, max_lines: int = 100) -> None:
        super().__init__()
        self.max_lines = max_lines

    def compose(self) -> ComposeResult:
        yield LogView(max_lines=self.max_lines, id="log")

    def on_mount(self) -> None:
        self.query_one(LogView).focus()


class StripApp(App):
    def __init__(self, clock) -> None:
        super().__init__()
        self.clock = clock

    def compose(self) -> ComposeResult:
        yield TaskStrip(max_lines=4, fade_after=10, linger=60, clock=self.clock, id="tasks")


def task(n: int, status: TaskStatus, progress: int, message: str = "", **extra):
    """A task as the console hands it to the strip (the strip itself knows no tasks)."""
    from console.presenters.tasks import strip_entry

    return strip_entry(Task(
        id=f"t{n}",
        kind="create_host",
        target=f"web-{n:02d}",
        status=status,
        progress=progress,
        message=message,
        created_at=1000.0 + n,
        **extra,
    ))
