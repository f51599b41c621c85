"""The simulator in the contract suite: speed 0, so time moves only when a test says so."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from backends.models import HostState
from backends.simulator import SimulatorBackend
from backends.waves import parse_version

from . import ContractEnv


@contextlib.asynccontextmanager
async def open_env(*, read_only: bool = False) -> AsyncIterator[ContractEnv]:
    async with open_simulator(read_only=read_only, swarm=False) as env:
        yield env


@contextlib.asynccontextmanager
async def open_simulator(*, read_only: bool, swarm: bool) -> AsyncIterator[ContractEnv]:
    """The simulator's env, as a plain cluster or as a swarm (the same machines, the swarm's
    nodes): one place for the facts, so both modes are tested on the same cluster."""
    sim = SimulatorBackend(seed=11, speed=0.0, read_only=read_only, swarm=swarm)
    await sim.connect()
    try:
        inv = sim.store.snapshot()
        running = sorted((h for h in inv.hosts.values() if h.state is HostState.RUNNING), key=lambda h: h.name)
        newest = (await sim.upgrade_versions())[0]
        behind = tuple(h.id for h in running if parse_version(h.engine_version) < parse_version(newest))
        sandbox = next(p for p in inv.projects.values() if p.name == "sandbox")
        yield ContractEnv(
            backend=sim,
            advance=sim.advance,
            image=next(i.name for i in inv.images.values() if i.engine_version == newest),
            network="vlan110-apps",
            host_id=running[0].id,
            other_host_id=running[1].id,
            container_image="nginx:1.25.4",
            full_project=sandbox.name,
            upgrade_target=newest,
            upgrade_host_ids=behind,
            task_timeout=10.0,
        )
    finally:
        await sim.close()
