"""Inventory: the snapshot's shape, and a change stream that converges to a fresh snapshot."""

from __future__ import annotations

import asyncio

from backends.contract import KIND_NAMES, Capability, ChangeBatch, ConnectionChanged, Inventory, VolumeSpec
from backends.models import TaskStatus
from tests.waiting import wait_until

from .envs import ContractEnv
from .helpers import succeed

NAMED = ("hosts", "containers", "volumes", "images", "networks", "projects", "nodes")


async def test_snapshot_items_have_ids_and_names(env: ContractEnv):
    inv = await env.backend.snapshot()
    assert isinstance(inv, Inventory)
    assert inv.hosts, "a connected backend shows at least one host"
    for kind in KIND_NAMES:
        for key, item in inv.of(kind).items():
            assert isinstance(item.id, str) and item.id and key == item.id, (kind, key)
            if kind in NAMED:
                assert isinstance(item.name, str) and item.name, (kind, key)
    for c in inv.containers.values():
        assert c.host_id in inv.hosts, f"container {c.name} on unknown host {c.host_id}"
    for v in inv.volumes.values():
        assert v.host_id is None or v.host_id in inv.hosts


async def test_snapshot_is_the_callers_to_keep(env: ContractEnv):
    first = await env.backend.snapshot()
    first.hosts.clear()
    assert (await env.backend.snapshot()).hosts


class Recorder:
    """Collects one subscription to ``updates()`` in the background."""

    def __init__(self, env: ContractEnv) -> None:
        self.updates: list[object] = []
        self._stream = env.backend.updates()
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        async for update in self._stream:
            self.updates.append(update)

    async def started(self) -> None:
        # The subscription exists once the consumer has run up to its first wait.
        for _ in range(3):
            await asyncio.sleep(0)

    @property
    def batches(self) -> list[ChangeBatch]:
        return [u for u in self.updates if isinstance(u, ChangeBatch)]

    async def stop(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


async def test_change_stream_is_ordered_and_converges_to_a_fresh_snapshot(env: ContractEnv):
    recorder = Recorder(env)
    await recorder.started()
    try:
        inv = await env.backend.snapshot()
        task_id = None
        if Capability.VOLUMES_CREATE in env.capabilities:
            task_id = (await succeed(env, await env.backend.create_volume(VolumeSpec("contract-stream", 2)))).id
        await env.advance(10)

        async def converged() -> bool:
            fresh = await env.backend.snapshot()
            mine = inv.copy()
            for batch in recorder.batches:
                mine.apply(batch)
            return all(mine.of(k).keys() == fresh.of(k).keys() for k in KIND_NAMES) and all(
                mine.tasks[t].status == fresh.tasks[t].status for t in fresh.tasks
            )

        await wait_until(converged, timeout=30, interval=0.05, what="the stream to catch up with a snapshot")
        seqs = [b.seq for b in recorder.batches]
        assert seqs, "an action and time passing produce at least one change batch"
        assert all(a < b for a, b in zip(seqs, seqs[1:])), f"seq not strictly increasing: {seqs}"
        assert all(isinstance(u, (ChangeBatch, ConnectionChanged)) for u in recorder.updates)
        if Capability.VOLUMES_CREATE in env.capabilities:
            names = {c.item.name for b in recorder.batches for c in b.changes if c.kind == "volumes" and c.item}
            assert "contract-stream" in names
            # The task's progress streams too, ending with its final state.
            task_states = [c.item for b in recorder.batches for c in b.changes if c.kind == "tasks" and c.id == task_id]
            assert task_states and task_states[-1].status is TaskStatus.SUCCEEDED and task_states[-1].progress == 100
    finally:
        await recorder.stop()
