"""Helpers the contract tests share."""

from __future__ import annotations

import asyncio

import pytest

from backends.contract import Capability
from backends.models import Task, TaskStatus

from .envs import ContractEnv


def need(env: ContractEnv, *capabilities: Capability, **facts: object) -> None:
    """Skip unless the backend has every capability and every fact is known."""
    missing = [c.value for c in capabilities if c not in env.capabilities]
    missing += [name for name, value in facts.items() if value in (None, (), "")]
    if missing:
        pytest.skip(f"backend lacks {', '.join(missing)}")


async def finish(env: ContractEnv, started: Task) -> Task:
    """Wait (bounded) for a task to end; returns its final state."""
    return await asyncio.wait_for(env.backend.wait_task(started.id), timeout=env.task_timeout)


async def succeed(env: ContractEnv, started: Task) -> Task:
    """The task ends SUCCEEDED with progress 100, having reported progress along the way."""
    seen: list[Task] = []
    final = await asyncio.wait_for(env.backend.wait_task(started.id, seen.append), timeout=env.task_timeout)
    assert final.status is TaskStatus.SUCCEEDED, f"{final.kind} {final.target}: {final.status.value}: {final.error}"
    assert final.progress == 100 and final.finished_at is not None
    progress = [t.progress for t in seen]
    assert progress == sorted(progress), f"progress went backwards: {progress}"
    return final
