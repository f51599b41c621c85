"""Simulated time: events in order, activity batches, tasks that take time, the wall-clock driver."""

from __future__ import annotations

import asyncio

from backends.contract import ChangeBatch, HostSpec
from backends.models import TaskStatus
from backends.simulator import SimulatorBackend
from tests.waiting import wait_until


async def _collect(sim: SimulatorBackend) -> tuple[list, asyncio.Task]:
    got: list = []

    async def run() -> None:
        async for update in sim.updates():
            got.append(update)

    task = asyncio.create_task(run())
    for _ in range(3):
        await asyncio.sleep(0)
    return got, task


async def test_activity_moves_about_five_percent_of_containers_every_two_seconds():
    sim = SimulatorBackend(seed=7, scale=2000, speed=0.0)
    await sim.connect()
    got, consumer = await _collect(sim)
    start = sim.clock.now
    await sim.advance(10)
    await wait_until(lambda: len(got) >= 5, timeout=5, what="five activity batches")
    consumer.cancel()
    await sim.close()
    batches = [u for u in got if isinstance(u, ChangeBatch)]
    assert len(batches) == 5 and sim.clock.now == start + 10
    for batch in batches:
        moved = [c for c in batch.changes if c.kind == "containers"]
        assert 0 < len(moved) <= 100  # 5% of 2000, running ones only
        assert {c.kind for c in batch.changes} <= {"containers", "hosts", "events"}  # events: a container died
    assert [b.seq for b in batches] == list(range(batches[0].seq, batches[0].seq + 5))


async def test_a_task_takes_simulated_time_and_reports_each_step(sim: SimulatorBackend):
    spec = HostSpec("web-77", "ubuntu-22.04-docker-25.0.5", 2, 4096, "vlan110-apps", project="production")
    task = await sim.create_host(spec)
    started = sim.clock.now
    seen = []
    final = await sim.wait_task(task.id, seen.append)
    assert final.status is TaskStatus.SUCCEEDED and final.progress == 100
    assert 18 <= sim.clock.now - started <= 40, "creating a host takes 20-40 simulated seconds"
    messages = [t.message for t in seen]
    for step in ("placing on node", "cloning image", "powering on", "waiting for IP", "starting Docker Engine"):
        assert any(m.startswith(step) for m in messages), step
    host = (await sim.snapshot()).hosts[final.result_id]
    assert host.name == "web-77" and host.ip.startswith("127.")


async def test_advance_without_waiting_leaves_a_task_half_done(sim: SimulatorBackend):
    task = await sim.create_host(HostSpec("web-78", "ubuntu-22.04-docker-26.1.4", 2, 4096, "vlan110-apps"))
    await sim.advance(12)
    mid = (await sim.snapshot()).tasks[task.id]
    assert mid.status is TaskStatus.RUNNING and 0 < mid.progress < 100
    await sim.advance(60)
    assert (await sim.snapshot()).tasks[task.id].status is TaskStatus.SUCCEEDED


async def test_speed_drives_the_clock_from_the_wall_clock():
    sim = SimulatorBackend(seed=7, speed=200.0)
    await sim.connect()
    try:
        start = sim.clock.now
        task = await sim.create_host(HostSpec("web-79", "ubuntu-22.04-docker-26.1.4", 2, 4096, "vlan110-apps"))
        final = await asyncio.wait_for(sim.wait_task(task.id, poll_interval=0.05), timeout=10)
        assert final.status is TaskStatus.SUCCEEDED and sim.clock.now - start >= 18
    finally:
        await sim.close()
