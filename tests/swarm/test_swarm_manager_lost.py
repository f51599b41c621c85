"""A manager that stops answering under a running backend: unreachable with its data's age,
retried with backoff, and live again when it is back. Runs last: it restarts the manager."""

from __future__ import annotations

import asyncio
import time

from backends.contract import ConnectionChanged, ConnectionState
from backends.models import HostState
from backends.swarm import SwarmBackend
from tests.swarm.cluster import Swarm
from tests.waiting import wait_until


async def test_a_lost_manager_shows_unreachable_with_its_age_and_comes_back(swarm: Swarm):
    backend = SwarmBackend(swarm.manager.url)
    await backend.connect()
    notices: list[ConnectionChanged] = []

    async def record() -> None:
        async for update in backend.updates():
            if isinstance(update, ConnectionChanged):
                notices.append(update)

    recorder = asyncio.create_task(record())
    for _ in range(3):  # the subscription exists once the recorder has run up to its first wait
        await asyncio.sleep(0)
    try:
        before = await backend.snapshot()
        assert before.hosts[swarm.manager_id].state is HostState.RUNNING
        # The manager's engine stops (its containerd and the tasks' shims live on, as on a
        # machine whose dockerd restarts).
        swarm.manager.proc.terminate()
        swarm.manager.proc.wait(30)
        swarm.manager.proc = None

        async def manager_unreachable() -> bool:
            return (await backend.snapshot()).hosts[swarm.manager_id].state is HostState.UNREACHABLE

        await wait_until(manager_unreachable, timeout=30, what="the manager to show unreachable")
        inv = await backend.snapshot()
        manager = inv.hosts[swarm.manager_id]
        assert manager.reason and manager.observed_at <= time.time()
        # The rest is the last data, kept with its age, not thrown away.
        assert inv.hosts.keys() == before.hosts.keys() and inv.services.keys() == before.services.keys()
        await wait_until(lambda: bool(notices), timeout=5, what="a connection notice")
        assert notices[-1].state is ConnectionState.UNREACHABLE and "manager" in notices[-1].reason

        swarm.manager.start()

        async def back() -> bool:
            return (await backend.snapshot()).hosts[swarm.manager_id].state is HostState.RUNNING

        # Backoff doubles from 0.5 s (capped at 30 s): the restart is seen within a minute.
        await wait_until(back, timeout=60, interval=0.2, what="the manager to be back")
        await wait_until(lambda: notices[-1].state is ConnectionState.CONNECTED, timeout=5, what="the notice it is back")
        assert (await backend.snapshot()).hosts[swarm.manager_id].observed_at > manager.observed_at
    finally:
        recorder.cancel()
        await backend.close()
