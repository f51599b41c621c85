"""Two simulated contexts as one fleet (backends/fleet.py): the contract holds for the
composite too, with every id CONTEXT/ID and names given as CONTEXT/NAME where both contexts
have one."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from backends.fleet import FleetBackend
from backends.models import HostState
from backends.simulator import SimulatorBackend
from backends.waves import parse_version

from . import ContractEnv


@contextlib.asynccontextmanager
async def open_env(*, read_only: bool = False) -> AsyncIterator[ContractEnv]:
    east = SimulatorBackend(seed=11, speed=0.0, read_only=read_only)
    west = SimulatorBackend(seed=12, speed=0.0, read_only=read_only)
    fleet = FleetBackend({"east": east, "west": west})
    await fleet.connect()

    async def advance(seconds: float) -> None:
        await east.advance(seconds)
        await west.advance(seconds)

    try:
        inv = east.store.snapshot()
        running = sorted((h for h in inv.hosts.values() if h.state is HostState.RUNNING), key=lambda h: h.name)
        newest = (await east.upgrade_versions())[0]
        behind = tuple(f"east/{h.id}" for h in running if parse_version(h.engine_version) < parse_version(newest))
        yield ContractEnv(
            backend=fleet,
            advance=advance,
            image="east/" + next(i.name for i in inv.images.values() if i.engine_version == newest),
            network="east/vlan110-apps",
            host_id=f"east/{running[0].id}",
            other_host_id=f"east/{running[1].id}",
            container_image="nginx:1.25.4",
            full_project="east/sandbox",
            upgrade_target=newest,
            upgrade_host_ids=behind,
            task_timeout=10.0,
        )
    finally:
        await fleet.close()
