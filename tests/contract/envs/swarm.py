"""The swarm backend in the contract suite, against a real two-node swarm (two dockerd on
loopback, ``tests.swarm.cluster``) shared with tests/swarm/, with a service running and a
standalone container on the manager."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from backends.swarm import SwarmBackend
from tests.swarm.cluster import Swarm, shared_swarm

from . import ContractEnv

_ready = False


def _swarm() -> Swarm:
    global _ready
    swarm = shared_swarm()
    if not _ready:
        swarm.cli("run", "-d", "--network", "none", "--name", "ct-running", swarm.manager.image)
        swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "ct-service", "--replicas", "2",
                  swarm.manager.image)
        _ready = True
    return swarm


async def _wait_a_little(seconds: float) -> None:
    # Real time, bounded: the swarm's own events and the console's settling reads.
    await asyncio.sleep(min(seconds, 1.0))


@contextlib.asynccontextmanager
async def open_env(*, read_only: bool = False) -> AsyncIterator[ContractEnv]:
    swarm = _swarm()
    backend = SwarmBackend(swarm.manager.url, read_only=read_only)
    await backend.connect()
    try:
        yield ContractEnv(
            backend=backend,
            advance=_wait_a_little,
            host_id=swarm.manager_id,
            other_host_id=swarm.worker_id,
            container_image=swarm.manager.image,
            task_timeout=120.0,
        )
    finally:
        await backend.close()
