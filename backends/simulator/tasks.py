"""Task processes: coroutines on the virtual clock that report progress step by step.

A process is an async function ``process(ctx, **args)``. It calls ``await ctx.step(message,
seconds, progress)`` for each step; every step (and every few seconds within a long one)
upserts the Task, so progress streams to the console. Pause, resume and abort are checked
between steps, with the same ``WaveControl`` the rolling upgrade uses.

A process's ``args`` are plain JSON and its durations are drawn when the action starts, so
``persist`` can save an unfinished task and resume it at the step it had reached.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any, Awaitable, Callable

from ..errors import BackendError, Conflict, NotFound
from ..models import Severity, Task, TaskStatus
from ..waves import WaveControl
from .world import World

TICK_SECONDS = 3.0  # a long step reports progress at least this often (simulated seconds)


class Aborted(Exception):
    """Raised inside a process at its next checkpoint after ``abort_task``."""


class StepFailed(Exception):
    """A process's own failure; the message is the task's reason."""


Process = Callable[..., Awaitable[str | None]]


class TaskContext:
    def __init__(self, runner: "TaskRunner", task_id: str, resume_step: int = 0, resume_elapsed: float = 0.0) -> None:
        self.runner = runner
        self.world = runner.world
        self.task_id = task_id
        self.control = WaveControl()
        self.step_index = 0
        self.resume_step = resume_step
        self.resume_elapsed = resume_elapsed
        self.step_started_at = runner.world.store.clock.now
        self._undo: list[Callable[[], None]] = []
        # What the finished task says instead of "completed" (a prune's reclaimed space).
        self.final_message: str | None = None

    @property
    def task(self) -> Task:
        return self.runner.world.store.tasks[self.task_id]

    def on_abort(self, undo: Callable[[], None]) -> None:
        """Register what puts things back if the task is aborted (run newest first)."""
        self._undo.append(undo)

    def undo(self) -> None:
        for action in reversed(self._undo):
            action()

    async def checkpoint(self) -> None:
        if self.control.paused:
            await self.control.checkpoint()
        if self.control.aborted:
            raise Aborted()

    async def step(self, message: str, seconds: float, progress: int) -> None:
        index = self.step_index
        self.step_index += 1
        if index < self.resume_step:
            return
        await self.checkpoint()
        clock = self.runner.world.store.clock
        start = self.task.progress
        elapsed = self.resume_elapsed if index == self.resume_step else 0.0
        self.step_started_at = clock.now - elapsed
        self.update(message=message)
        while elapsed < seconds:
            chunk = min(TICK_SECONDS, seconds - elapsed)
            await clock.sleep(chunk)
            elapsed += chunk
            self.update(progress=int(start + (progress - start) * elapsed / seconds))
        self.update(progress=max(self.task.progress, progress))

    def update(self, **changes: Any) -> Task:
        return self.runner.update(self.task_id, **changes)


class TaskRunner:
    def __init__(self, world: World) -> None:
        self.world = world
        # task id -> (process name, args, context, asyncio task): what ``persist`` saves
        self.running: dict[str, tuple[str, dict[str, Any], TaskContext, asyncio.Task[None]]] = {}
        self.processes: dict[str, Process] = {}

    def new_task(self, kind: str, target: str, target_id: str | None = None, parent_id: str | None = None) -> Task:
        now = self.world.store.clock.now
        task = Task(
            id=self.world.ids.uuid(),
            kind=kind,
            target=target,
            status=TaskStatus.RUNNING,
            progress=0,
            message="queued",
            target_id=target_id,
            parent_id=parent_id,
            created_at=now,
            started_at=now,
        )
        self.world.store.upsert(task)
        trim_tasks(self.world)
        return task

    def update(self, task_id: str, **changes: Any) -> Task:
        task = replace(self.world.store.tasks[task_id], **changes)
        return self.world.store.upsert(task)

    def start(self, task: Task, process: str, args: dict[str, Any], resume_step: int = 0, resume_elapsed: float = 0.0) -> TaskContext:
        ctx = TaskContext(self, task.id, resume_step, resume_elapsed)
        job = asyncio.create_task(self._run(ctx, process, args), name=f"sim-task-{task.kind}")
        self.running[task.id] = (process, args, ctx, job)
        self.world.store.clock.activity += 1
        return ctx

    async def _run(self, ctx: TaskContext, process: str, args: dict[str, Any]) -> None:
        try:
            result_id = await self.processes[process](ctx, **args)
        except Aborted:
            ctx.undo()
            self.finish(ctx.task_id, TaskStatus.ABORTED, error="aborted by user")
        except (StepFailed, BackendError) as err:
            self.finish(ctx.task_id, TaskStatus.FAILED, error=str(err))
        except asyncio.CancelledError:
            raise
        except Exception as err:  # a simulator bug must still end the task, with a reason
            self.finish(ctx.task_id, TaskStatus.FAILED, error=f"simulator error: {type(err).__name__}: {err}")
        else:
            self.finish(ctx.task_id, TaskStatus.SUCCEEDED, result_id=result_id, message=ctx.final_message)
        finally:
            self.running.pop(ctx.task_id, None)
            self.world.store.clock.activity += 1

    def finish(
        self, task_id: str, status: TaskStatus, *, error: str | None = None, result_id: str | None = None,
        message: str | None = None,
    ) -> None:
        task = self.world.store.tasks[task_id]
        done = status is TaskStatus.SUCCEEDED
        self.update(
            task_id,
            status=status,
            progress=100 if done else task.progress,
            message=(message or "completed") if done else f"{status.value.lower()}: {error}",
            error=error,
            result_id=result_id or task.result_id,
            finished_at=self.world.store.clock.now,
        )
        if status is TaskStatus.FAILED:
            self.world.event(Severity.WARNING, task.target, f"{task.kind} failed: {error}", "task.failed", task.target_id)

    def context(self, task_id: str) -> TaskContext:
        task = self.world.store.tasks.get(task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found")
        if task.parent_id and task.parent_id in self.running:
            # A host's step of a rolling upgrade is controlled through the whole upgrade.
            return self.running[task.parent_id][2]
        if task.done or task_id not in self.running:
            raise Conflict(f"task {task.kind} {task.target} is {task.status.value}: it can no longer be controlled")
        return self.running[task_id][2]

    def pause(self, task_id: str) -> Task:
        ctx = self.context(task_id)
        ctx.control.pause()
        return self.update(ctx.task_id, status=TaskStatus.PAUSED, message=f"paused ({ctx.task.message})")

    def resume(self, task_id: str) -> Task:
        ctx = self.context(task_id)
        if not ctx.control.paused:
            raise Conflict(f"task {ctx.task.kind} {ctx.task.target} is not paused")
        ctx.control.resume()
        message = ctx.task.message.removeprefix("paused (").removesuffix(")")
        return self.update(ctx.task_id, status=TaskStatus.RUNNING, message=message)

    def abort(self, task_id: str) -> Task:
        ctx = self.context(task_id)
        ctx.control.abort()
        return self.update(ctx.task_id, status=TaskStatus.RUNNING, message="aborting after the current step")

    def cancel_all(self) -> None:
        for _, _, _, job in self.running.values():
            job.cancel()


MAX_FINISHED_TASKS = 300


def trim_tasks(world: World) -> None:
    """Forget the oldest finished tasks beyond a bound, as Prism does, so the table stays small."""
    tasks = world.store.tables["tasks"]
    if len(tasks) <= MAX_FINISHED_TASKS + 50:
        return
    finished = sorted((t for t in tasks.values() if t.done), key=lambda t: t.finished_at or 0)
    for task in finished[: len(tasks) - MAX_FINISHED_TASKS]:
        world.store.delete("tasks", task.id)
