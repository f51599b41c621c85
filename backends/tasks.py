"""The task table of backends that keep their own tasks (Docker has none; on Prism one action
is several Prism tasks and SSH steps): each action becomes a ``Task`` here, its steps run in
the background, and the backend merges ``all()`` into its inventory.

Two call styles, one table:

- ``start(kind, target, work)``: ``work(TaskHandle)`` runs in the background; it reports with
  ``handle.progress``, raises ``Aborted`` to end ABORTED, and its return value becomes the
  task's ``result_id`` when it ends SUCCEEDED ("done").
- ``start(kind, target, **fields)`` then ``run(task_id, steps)``: the steps move the task
  themselves with ``update`` and end it with ``finish``.

Either way a finished task never changes again, progress never goes backwards, and an
exception becomes the task's outcome, never a traceback: ``CancelledError`` (the backend is
closing) ends it ABORTED, a ``BackendError`` FAILED with its one line, anything else FAILED
with ``Type: text``.
"""

from __future__ import annotations

import asyncio
import inspect
import time
import uuid
from dataclasses import replace
from typing import Any, Awaitable, Callable

from .errors import BackendError
from .models import Task, TaskStatus

CLOSED = "the console closed before the task ended"


class Aborted(Exception):
    """Raised by a task's work when the user aborted it: the task ends ABORTED with this text."""


class TaskHandle:
    """What a task's work sees: the task as it stands, and a way to report progress."""

    def __init__(self, table: TaskTable, task_id: str) -> None:
        self._table = table
        self.id = task_id

    @property
    def task(self) -> Task:
        return self._table._tasks[self.id]

    def progress(self, percent: int, message: str) -> None:
        # 100 is kept for the end: a task at 100% that is still running reads as a hang.
        self._table.update(self.id, progress=min(99, percent), message=message)


Work = Callable[[TaskHandle], Awaitable[str | None]]  # returns the result id, if any


class TaskTable:
    def __init__(self, on_change: Callable[[], None], *, id_prefix: str = "task") -> None:
        self._tasks: dict[str, Task] = {}
        # Replaced (after being set) on every change of its task, so a waiter wakes on each
        # change instead of polling; set for good once the task has ended.
        self._changed: dict[str, asyncio.Event] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._on_change = on_change
        self._id_prefix = id_prefix

    def all(self) -> dict[str, Task]:
        """A copy: the table changes only through its methods."""
        return dict(self._tasks)

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def start(self, kind: str, target: str, work: Work | None = None, **fields: Any) -> Task:
        """A new task, RUNNING unless ``status`` says otherwise (e.g. QUEUED). With ``work``,
        it runs in the background at once; without it, the caller moves it (``run``,
        ``update``, ``finish``). A ``parent_id`` links the new task into its parent's
        ``child_ids``."""
        now = time.time()
        status = fields.pop("status", TaskStatus.RUNNING)
        if work is not None:
            fields.setdefault("message", "starting")
        task = Task(
            id=f"{self._id_prefix}-{uuid.uuid4()}",
            kind=kind,
            target=target,
            status=status,
            created_at=now,
            started_at=now if status is TaskStatus.RUNNING else None,
            **fields,
        )
        self._tasks[task.id] = task
        self._changed[task.id] = asyncio.Event()
        parent = self._tasks.get(task.parent_id or "")
        if parent is not None and task.id not in parent.child_ids:
            self.update(parent.id, child_ids=(*parent.child_ids, task.id))
        if work is not None:
            self.run(task.id, work(TaskHandle(self, task.id)), name=f"{kind} {target}")
        self._notify(task.id)
        return task

    def update(self, task_id: str, **changes: Any) -> Task:
        """Change a running task; a finished one is returned as it ended."""
        task = self._tasks[task_id]
        if task.done:
            return task
        if changes.get("status") is TaskStatus.RUNNING and task.started_at is None:
            changes["started_at"] = time.time()
        if "progress" in changes:
            changes["progress"] = max(task.progress, min(100, int(changes["progress"])))
        task = replace(task, **changes)
        self._tasks[task_id] = task
        self._notify(task_id)
        return task

    def finish(self, task_id: str, status: TaskStatus, *, error: str | None = None, **changes: Any) -> Task:
        """End a task (once: a finished task is returned as it ended)."""
        task = self._tasks[task_id]
        if task.done:
            return task
        if status is TaskStatus.SUCCEEDED:
            changes["progress"] = 100
        task = replace(task, status=status, error=error, finished_at=time.time(), **changes)
        self._tasks[task_id] = task
        self._notify(task_id)
        return task

    def run(self, task_id: str, steps: Awaitable[str | None], *, name: str | None = None) -> None:
        """Run ``steps`` in the background for the task. If they return without ending it, it
        ends SUCCEEDED with their result as ``result_id``; if they raise, the exception is the
        outcome (see the module's docstring)."""

        async def guarded() -> None:
            try:
                result_id = await steps
            except asyncio.CancelledError:
                self.finish(task_id, TaskStatus.ABORTED, error=CLOSED)
                raise
            except Aborted as err:
                self.finish(task_id, TaskStatus.ABORTED, error=str(err) or "aborted", message="aborted")
            except BackendError as err:
                self.finish(task_id, TaskStatus.FAILED, error=err.one_line(), message="failed")
            except Exception as err:  # the user gets one line, never a traceback
                reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
                self.finish(task_id, TaskStatus.FAILED, error=" ".join(reason.split()), message="failed")
            else:
                self.finish(task_id, TaskStatus.SUCCEEDED, message="done", result_id=result_id)

        def settled(job: asyncio.Task[None]) -> None:
            self._running.pop(task_id, None)
            if job.cancelled():
                # Cancelled before its first step ran, ``guarded`` never saw it: end the task
                # here (a no-op if it did) and close the steps that will never run.
                self.finish(task_id, TaskStatus.ABORTED, error=CLOSED)
                if inspect.iscoroutine(steps):
                    steps.close()

        job = asyncio.create_task(guarded(), name=name or f"task {task_id}")
        self._running[task_id] = job
        job.add_done_callback(settled)

    async def wait(self, task_id: str, on_progress: Callable[[Task], None] | None = None) -> Task:
        """The task once it has ended; ``on_progress`` sees each state it is found in, and
        always the final one."""
        last: Task | None = None
        while True:
            current = self._tasks[task_id]
            if on_progress is not None and current != last:
                on_progress(current)
                last = current
            if current.done:
                return current
            await self._changed[task_id].wait()

    async def close(self) -> None:
        """Cancel every task still running (each ends ABORTED) and wait for them to unwind."""
        running = list(self._running.values())
        for job in running:
            job.cancel()
        await asyncio.gather(*running, return_exceptions=True)

    def _notify(self, task_id: str) -> None:
        changed = self._changed[task_id]
        changed.set()
        if not self._tasks[task_id].done:
            self._changed[task_id] = asyncio.Event()
        self._on_change()
