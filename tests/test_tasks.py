"""The task table Docker and Prism keep their own tasks in (``backends.tasks``), on its own:
both call styles, the rules every task keeps (progress never goes backwards, a finished task
never changes), and each way a task ends. Work is gated on events the test opens, so nothing
depends on timing; every wait has a deadline."""

from __future__ import annotations

import asyncio

import pytest

from backends.errors import Conflict, TaskFailed
from backends.models import Task, TaskStatus
from backends.tasks import CLOSED, Aborted, TaskHandle, TaskTable

DEADLINE = 5.0


class Changes:
    """Counts the table's change callbacks (the backends publish on each)."""

    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


async def ended(table: TaskTable, task_id: str, on_progress=None) -> Task:
    return await asyncio.wait_for(table.wait(task_id, on_progress), DEADLINE)


async def test_work_runs_in_the_background_and_its_result_is_the_task_result():
    changes = Changes()
    table = TaskTable(changes, id_prefix="task")
    gate = asyncio.Event()

    async def work(handle: TaskHandle) -> str:
        handle.progress(40, "halfway")
        await gate.wait()
        return "made-1"

    task = table.start("create_volume", "data", work, target_id="h1")
    assert task.id.startswith("task-") and task.status is TaskStatus.RUNNING and task.message == "starting"
    assert task.started_at is not None and changes.count >= 1
    gate.set()
    final = await ended(table, task.id)
    assert (final.status, final.progress, final.message, final.result_id) == (TaskStatus.SUCCEEDED, 100, "done", "made-1")
    assert final.finished_at is not None and final.error is None
    assert table.all()[task.id] == final


async def test_progress_never_goes_backwards_and_a_running_task_stays_below_100():
    table = TaskTable(Changes())
    gate = asyncio.Event()
    seen: list[int] = []

    async def work(handle: TaskHandle) -> None:
        for percent in (30, 10, 150, 50):
            handle.progress(percent, f"at {percent}")
            seen.append(handle.task.progress)
        await gate.wait()

    task = table.start("upgrade_host", "web-1", work)
    await asyncio.wait_for(_until(lambda: len(seen) == 4), DEADLINE)
    assert seen == [30, 30, 99, 99]
    assert table.update(task.id, progress=5).progress == 99  # the direct style keeps the rule too
    gate.set()
    assert (await ended(table, task.id)).progress == 100


async def test_a_finished_task_does_not_change():
    table = TaskTable(Changes(), id_prefix="nc")
    task = table.start("delete_host", "web-1", message="deleting the VM")
    assert task.id.startswith("nc-") and task.progress == 0
    done = table.finish(task.id, TaskStatus.SUCCEEDED, message="deleted")
    assert done.progress == 100 and done.status is TaskStatus.SUCCEEDED
    assert table.update(task.id, progress=3, message="late", status=TaskStatus.RUNNING) == done
    assert table.finish(task.id, TaskStatus.FAILED, error="too late") == done
    assert table.get(task.id) == done


async def test_steps_that_finish_the_task_themselves_keep_their_outcome():
    table = TaskTable(Changes(), id_prefix="nc")
    task = table.start("create_host", "web-1", target_id="vm-1", message="creating the VM", progress=5)

    async def steps() -> None:
        table.update(task.id, progress=65, message="waiting for an IP address")
        table.finish(task.id, TaskStatus.FAILED, error="no IP address (the VM was deleted)")

    table.run(task.id, steps())
    final = await ended(table, task.id)
    assert (final.status, final.error, final.progress) == (TaskStatus.FAILED, "no IP address (the VM was deleted)", 65)


async def test_a_queued_task_starts_when_it_runs_and_children_join_their_parent():
    table = TaskTable(Changes())
    parent = table.start("upgrade_hosts", "2 hosts to 27.0")
    kids = [table.start("upgrade_host", n, parent_id=parent.id, status=TaskStatus.QUEUED) for n in ("a", "b")]
    assert table.get(parent.id).child_ids == tuple(k.id for k in kids)
    assert kids[0].started_at is None
    assert table.update(kids[0].id, status=TaskStatus.RUNNING).started_at is not None


@pytest.mark.parametrize(
    "error, status, reason, message",
    [
        (Aborted("aborted after 1 host(s); 2 not started"), TaskStatus.ABORTED, "aborted after 1 host(s); 2 not started", "aborted"),
        (Conflict("the container\nis running"), TaskStatus.FAILED, "Conflict: the container is running", "failed"),
        (TaskFailed("exit 7"), TaskStatus.FAILED, "Task failed: exit 7", "failed"),
        (KeyError("web-1"), TaskStatus.FAILED, "KeyError: 'web-1'", "failed"),
        (RuntimeError(), TaskStatus.FAILED, "RuntimeError", "failed"),
    ],
)
async def test_an_exception_is_the_task_outcome_in_one_line(error, status, reason, message):
    table = TaskTable(Changes())

    async def work(handle: TaskHandle) -> None:
        handle.progress(20, "working")
        raise error

    task = table.start("run_container", "web", work)
    final = await ended(table, task.id)
    assert (final.status, final.error, final.message) == (status, reason, message)
    assert final.progress == 20 and final.finished_at is not None


async def test_closing_cancels_running_tasks_and_ends_them_aborted():
    table = TaskTable(Changes())
    started = asyncio.Event()

    async def forever(handle: TaskHandle) -> None:
        handle.progress(10, "pulling")
        started.set()
        await asyncio.Event().wait()

    running = table.start("run_container", "web", forever)
    await asyncio.wait_for(started.wait(), DEADLINE)
    # Cancelled before its first step ran: nothing inside the work can end it.
    never_ran = table.start("run_container", "db", forever)
    waiting = asyncio.ensure_future(table.wait(running.id))
    await table.close()  # directly: a wait_for would let "db" take its first step first
    for task_id, progress in ((running.id, 10), (never_ran.id, 0)):
        final = table.get(task_id)
        assert (final.status, final.error, final.progress) == (TaskStatus.ABORTED, CLOSED, progress)
    assert (await asyncio.wait_for(waiting, DEADLINE)).status is TaskStatus.ABORTED


async def test_wait_reports_each_change_and_always_the_final_state():
    table = TaskTable(Changes())
    step = asyncio.Event()
    reports: list[Task] = []

    async def work(handle: TaskHandle) -> str:
        for percent in (25, 75):
            await step.wait()
            step.clear()
            handle.progress(percent, f"at {percent}")
        await step.wait()  # the waiter may skip states it was not awake for: give it each one
        return "r1"

    task = table.start("create_host", "web-1", work)
    waiting = asyncio.ensure_future(table.wait(task.id, reports.append))
    for count in (1, 2, 3):
        await asyncio.wait_for(_until(lambda: len(reports) == count), DEADLINE)
        step.set()
    final = await asyncio.wait_for(waiting, DEADLINE)
    assert [r.progress for r in reports] == [0, 25, 75, 100]
    assert reports[-1] == final and final.status is TaskStatus.SUCCEEDED
    # Waiting on a task that has ended reports that final state once and returns at once.
    again: list[Task] = []
    assert await ended(table, task.id, again.append) == final and again == [final]


async def _until(condition) -> None:
    # Lets the background work run until ``condition`` holds (the callers put a deadline on it).
    while not condition():
        await asyncio.sleep(0)
