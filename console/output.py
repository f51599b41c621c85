"""How the headless CLI prints: JSON, tables, and a task's progress.

What is printed for each kind of resource (its JSON items, its table's columns and colours)
is its presenter's (``console.presenters``); this module only lays it out. JSON goes to
stdout one item per line (fast at 100,000 items, and easy to grep); progress and notes go to
stderr, so stdout is only ever the data.
"""

from __future__ import annotations

import json
import sys
from typing import IO, Any, Iterable

from backends.models import Task
from widgets.terminal_text import visible

from .presenters import PRESENTERS, Row
from .presenters.base import TableColumn
from .presenters.tasks import line as task_line

# Rich lays a table out in Python; past this many rows it takes seconds, so bigger tables
# (and every table that is not going to a terminal) are plain aligned text, as `docker ps` prints.
RICH_TABLE_MAX_ROWS = 2000


def _cell(value: Any) -> str:
    # Every cell may be a server's string: its controls are shown, never sent to the terminal
    # (JSON needs nothing: json.dumps escapes them).
    return "" if value is None else visible(str(value))


# Rows encoded before a write: few enough that memory stays bounded, many enough that the
# writes are few (about 60 KB each for containers).
JSON_BATCH = 100


def print_json(items: Iterable[Row] | Row, out: IO[str] | None = None) -> None:
    """One JSON array, one item per line, written as the items come: a generator of
    100,000 rows is never held as a list of dicts or as one string."""
    out = out or sys.stdout
    if isinstance(items, dict):
        out.write(json.dumps(items, indent=2) + "\n")
        return
    encode = json.JSONEncoder(check_circular=False).encode  # fresh dicts of plain values: no cycles
    write = out.write
    opening = "[\n"
    batch: list[str] = []
    for row in items:
        batch.append(encode(row))
        if len(batch) == JSON_BATCH:
            write(opening + ",\n".join(batch))
            opening, batch = ",\n", []
    if batch:
        write(opening + ",\n".join(batch))
        opening = ",\n"
    write("[]\n" if opening == "[\n" else "\n]\n")


def print_table(kind: str, items: Iterable[Row], out: IO[str] | None = None) -> None:
    """``items`` may be a generator: only the cells are kept (the widths need them all)."""
    out = out or sys.stdout
    columns = PRESENTERS[kind].table
    cells = [[_cell(c.get(r)) for c in columns] for r in items]
    if out.isatty() and len(cells) <= RICH_TABLE_MAX_ROWS:
        _rich_table(columns, cells, out)
    else:
        _plain_table(columns, cells, out)


def print_columns(columns: list[TableColumn], items: list[Row], out: IO[str] | None = None) -> None:
    """``print_table`` for rows that are no inventory kind (registries and their images):
    the same cleaning of every cell, the same layout."""
    out = out or sys.stdout
    cells = [[_cell(c.get(r)) for c in columns] for r in items]
    if out.isatty() and len(items) <= RICH_TABLE_MAX_ROWS:
        _rich_table(columns, cells, out)
    else:
        _plain_table(columns, cells, out)


def _rich_table(columns: list[TableColumn], cells: list[list[str]], out: IO[str]) -> None:
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, header_style="bold", pad_edge=False)
    for column in columns:
        table.add_column(column.header, overflow="fold")
    for row in cells:
        table.add_row(*(Text(c, style=column.style_of(c)) for column, c in zip(columns, row)))
    Console(file=out).print(table)


def _plain_table(columns: list[TableColumn], cells: list[list[str]], out: IO[str]) -> None:
    headers = [c.header for c in columns]
    widths = [len(h) for h in headers]
    for row in cells:
        for i, c in enumerate(row):
            if len(c) > widths[i]:
                widths[i] = len(c)
    lines = ["   ".join(c.ljust(w) for c, w in zip(headers, widths)).rstrip()]
    lines.extend("   ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells)
    out.write("\n".join(lines) + "\n")


# ---------------------------------------------------------------------------------------------
# Tasks: a started task, its progress while waiting, its result


class TaskProgress:
    """Follows a task on stderr: a progress bar on a terminal, else a line per change."""

    def __init__(self, err: IO[str] | None = None) -> None:
        self._err = err or sys.stderr
        self._last: tuple[Any, ...] | None = None
        self._bar: Any = None
        self._bar_task: Any = None

    def __enter__(self) -> "TaskProgress":
        if self._err.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn

            # The description and step are data (a target's name, a server's message): cleaned
            # and never read as markup.
            self._bar = Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TaskProgressColumn(),
                TimeElapsedColumn(),
                TextColumn("{task.fields[step]}", markup=False),
                console=Console(file=self._err),
                transient=False,
            )
            self._bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._bar is not None:
            self._bar.stop()

    def update(self, t: Task) -> None:
        key = (t.status, t.progress, t.message, t.error)
        if key == self._last:
            return
        self._last = key
        if self._bar is None:
            self._err.write(task_line(t) + "\n")
            self._err.flush()
            return
        step = visible(t.error or t.message or "")
        if self._bar_task is None:
            self._bar_task = self._bar.add_task(visible(f"{t.kind} {t.target}"), total=100, step=step)
        self._bar.update(self._bar_task, completed=t.progress, step=step)
