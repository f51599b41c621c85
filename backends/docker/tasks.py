"""Docker has no tasks, so the backend keeps its own: each action becomes a ``Task`` that runs
in the background and reports its progress; failures end it FAILED with one clear line."""

from __future__ import annotations

import asyncio
import itertools
import time
from dataclasses import replace
from typing import Awaitable, Callable

from ..errors import BackendError
from ..models import Task, TaskStatus

_ids = itertools.count(1)


class Aborted(Exception):
    """Raised by an action's work when the user aborted it: the task ends ABORTED."""


class TaskHandle:
    """What an action's work sees: report progress, and the task as it stands."""

    def __init__(self, table: "TaskTable", task_id: str) -> None:
        self._table = table
        self.id = task_id

    @property
    def task(self) -> Task:
        return self._table.tasks[self.id]

    def progress(self, percent: int, message: str) -> None:
        self._table.update(self.id, progress=max(self.task.progress, min(99, percent)), message=message)


Work = Callable[[TaskHandle], Awaitable[str | None]]  # returns the result id, if any


class TaskTable:
    def __init__(self, on_change: Callable[[], None]) -> None:
        self.tasks: dict[str, Task] = {}
        self._on_change = on_change
        self._running: dict[str, asyncio.Task[None]] = {}

    def update(self, task_id: str, **fields: object) -> Task:
        task = replace(self.tasks[task_id], **fields)  # type: ignore[arg-type]
        self.tasks[task_id] = task
        self._on_change()
        return task

    def start(
        self, kind: str, target: str, work: Work, *, target_id: str | None = None, parent_id: str | None = None
    ) -> Task:
        now = time.time()
        task = Task(
            id=f"task-{next(_ids)}-{int(now * 1000) % 10**8}",
            kind=kind,
            target=target,
            status=TaskStatus.RUNNING,
            message="starting",
            target_id=target_id,
            parent_id=parent_id,
            created_at=now,
            started_at=now,
        )
        self.tasks[task.id] = task
        if parent_id is not None and parent_id in self.tasks:
            parent = self.tasks[parent_id]
            self.update(parent_id, child_ids=(*parent.child_ids, task.id))
        self._running[task.id] = asyncio.create_task(self._run(task.id, work), name=f"{kind} {target}")
        self._on_change()
        return task

    async def _run(self, task_id: str, work: Work) -> None:
        try:
            result_id = await work(TaskHandle(self, task_id))
        except asyncio.CancelledError:
            self.update(task_id, status=TaskStatus.ABORTED, error="the console closed", finished_at=time.time())
            raise
        except Aborted as err:
            self.update(task_id, status=TaskStatus.ABORTED, error=str(err), message="aborted", finished_at=time.time())
        except BackendError as err:
            self.update(
                task_id, status=TaskStatus.FAILED, error=err.one_line(), message="failed", finished_at=time.time()
            )
        except Exception as err:  # any failure is the task's outcome, never a traceback for the user
            reason = f"{type(err).__name__}: {err}" if str(err) else type(err).__name__
            self.update(task_id, status=TaskStatus.FAILED, error=reason, message="failed", finished_at=time.time())
        else:
            self.update(
                task_id,
                status=TaskStatus.SUCCEEDED,
                progress=100,
                message="done",
                result_id=result_id,
                finished_at=time.time(),
            )
        finally:
            self._running.pop(task_id, None)

    async def wait(self, task_id: str) -> Task:
        """The task once it has ended."""
        running = self._running.get(task_id)
        if running is not None:
            await asyncio.shield(running)
        return self.tasks[task_id]

    async def close(self) -> None:
        running = list(self._running.values())
        for t in running:
            t.cancel()
        await asyncio.gather(*running, return_exceptions=True)
