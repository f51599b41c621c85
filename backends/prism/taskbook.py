"""The console's own tasks on Prism: an action such as "create a container machine" is several
Prism tasks and SSH steps, so the backend keeps one Task per action here, runs its steps in
the background, and merges these tasks into the inventory next to Prism's."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import replace
from typing import Any, Awaitable, Callable

from ..errors import BackendError
from ..models import Task, TaskStatus


class TaskBook:
    def __init__(self, on_change: Callable[[], None]) -> None:
        self._tasks: dict[str, Task] = {}
        self._ended: dict[str, asyncio.Event] = {}
        self._running: set[asyncio.Task[None]] = set()
        self._on_change = on_change

    def all(self) -> dict[str, Task]:
        return dict(self._tasks)

    def get(self, task_id: str) -> Task | None:
        return self._tasks.get(task_id)

    def start(self, kind: str, target: str, **fields: Any) -> Task:
        now = time.time()
        status = fields.pop("status", TaskStatus.RUNNING)
        task = Task(
            id=f"nc-{uuid.uuid4()}",
            kind=kind,
            target=target,
            status=status,
            created_at=now,
            started_at=now if status is TaskStatus.RUNNING else None,
            **fields,
        )
        self._tasks[task.id] = task
        self._ended[task.id] = asyncio.Event()
        self._on_change()
        return task

    def update(self, task_id: str, **changes: Any) -> Task:
        task = self._tasks[task_id]
        if task.done:
            return task
        if changes.get("status") is TaskStatus.RUNNING and task.started_at is None:
            changes["started_at"] = time.time()
        if "progress" in changes:
            changes["progress"] = max(task.progress, min(100, int(changes["progress"])))
        task = replace(task, **changes)
        self._tasks[task_id] = task
        self._on_change()
        return task

    def finish(self, task_id: str, status: TaskStatus, *, error: str | None = None, **changes: Any) -> Task:
        task = self._tasks[task_id]
        if task.done:
            return task
        if status is TaskStatus.SUCCEEDED:
            changes["progress"] = 100
        task = replace(task, status=status, error=error, finished_at=time.time(), **changes)
        self._tasks[task_id] = task
        self._ended[task_id].set()
        self._on_change()
        return task

    def run(self, task_id: str, steps: Awaitable[None]) -> None:
        """Run ``steps`` in the background; an exception fails the task with its one line."""

        async def guarded() -> None:
            try:
                await steps
            except asyncio.CancelledError:
                self.finish(task_id, TaskStatus.ABORTED, error="the console closed before the task ended")
                raise
            except BackendError as err:
                self.finish(task_id, TaskStatus.FAILED, error=err.message)
            except Exception as err:  # the user gets one line, never a traceback
                self.finish(task_id, TaskStatus.FAILED, error=f"{type(err).__name__}: {err}")

        job = asyncio.create_task(guarded(), name=f"prism-task-{task_id}")
        self._running.add(job)
        job.add_done_callback(self._running.discard)

    async def wait(self, task_id: str, on_progress: Callable[[Task], None] | None = None) -> Task:
        ended = self._ended[task_id]
        last: Task | None = None
        while not ended.is_set():
            current = self._tasks[task_id]
            if on_progress and current != last:
                on_progress(current)
                last = current
            try:
                await asyncio.wait_for(ended.wait(), timeout=0.1)
            except asyncio.TimeoutError:
                pass
        final = self._tasks[task_id]
        if on_progress:
            on_progress(final)
        return final

    async def close(self) -> None:
        for job in list(self._running):
            job.cancel()
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
