"""A large simulated world is handed over in pages (backends/contract.py ``paged_snapshot``):
the first page with every machine and the first containers at once, the rest as batches of
the change stream flagged as the load, the last saying it is done; the same world as a whole
snapshot gives, in the same order."""

from __future__ import annotations

import asyncio

from backends.contract import KIND_NAMES, ContainerSpec, Inventory
from backends.simulator import SimulatorBackend
from backends.simulator import backend as simulator_backend
from tests.waiting import wait_until

SCALE = 6_000


async def _whole(seed: int = 7) -> Inventory:
    sim = SimulatorBackend(seed=seed, scale=SCALE, activity=False)
    try:
        await sim.connect()
        return await sim.snapshot()
    finally:
        await sim.close()


async def test_pages_add_up_to_the_whole_world_in_its_order():
    sim = SimulatorBackend(seed=7, scale=SCALE, activity=False)
    await sim.connect()
    try:
        stream = sim.updates()
        first = await sim.paged_snapshot()
        assert first.loading is not None and first.loading.kind == "containers" and first.loading.total == SCALE
        assert 0 < len(first.containers) < SCALE
        assert len(first.hosts) == SCALE // 20  # every machine is in the first page
        inventory, pages = first, 0
        async for update in stream:
            assert update.loading is not None  # nothing else happens in a quiet world
            inventory.apply(update)
            pages += 1
            if update.loading.done:
                break
        assert pages > 1
        whole = await _whole()
        for kind in KIND_NAMES:
            assert list(inventory.of(kind).items()) == list(whole.of(kind).items()), kind
    finally:
        await sim.close()


async def test_a_whole_snapshot_waits_for_the_pages_and_an_action_for_the_world(monkeypatch):
    release = asyncio.Event()

    async def held() -> None:  # the pages wait for the test, not for an idle loop
        await release.wait()

    monkeypatch.setattr(simulator_backend, "_loop_at_rest", held)
    sim = SimulatorBackend(seed=7, scale=SCALE, activity=False)
    await sim.connect()
    try:
        first = await sim.paged_snapshot()
        assert first.loading is not None
        host = next(iter(first.hosts.values()))
        started = asyncio.ensure_future(sim.run_container(ContainerSpec(image="nginx:1.25.4", host=host.name)))
        whole = asyncio.ensure_future(sim.snapshot())
        await asyncio.sleep(0.05)
        assert not started.done() and not whole.done()  # the world is not whole yet
        assert len(sim.store.containers) < SCALE
        release.set()
        await wait_until(started.done, what="the action, once the world is whole")
        assert started.result().kind == "run_container"
        assert len((await whole).containers) == SCALE
    finally:
        await sim.close()


async def test_a_small_world_is_one_page():
    sim = SimulatorBackend(seed=7, activity=False)
    await sim.connect()
    try:
        first = await sim.paged_snapshot()
        assert first.loading is None and len(first.containers) == 60
    finally:
        await sim.close()
