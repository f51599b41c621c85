"""Faults: crashes, node failures (machines and volumes move), partitions, API errors, the story."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from backends.contract import ConnectionChanged, ConnectionState, ChangeBatch, Inventory, UpgradeSpec, VolumeSpec
from backends.errors import InvalidInput, Unavailable
from backends.models import ContainerState, HostState, TaskStatus
from backends.simulator import SimulatorBackend
from backends.simulator.faults import parse_faults
from tests.waiting import wait_until


def _volumes_follow_containers(inv: Inventory) -> None:
    for c in inv.containers.values():
        for m in c.mounts:
            assert inv.volumes[m.source].host_id == c.host_id, f"volume of {c.name} left behind"


async def test_a_crashed_machine_is_restarted_by_ha(sim: SimulatorBackend):
    host = next(h for h in (await sim.snapshot()).hosts.values() if h.state is HostState.RUNNING)
    sim.crash_host(host.id)
    inv = await sim.snapshot()
    assert inv.hosts[host.id].state is HostState.CRASHED and "crash" in inv.hosts[host.id].reason
    assert all(c.state is not ContainerState.RUNNING for c in inv.containers.values() if c.host_id == host.id)
    assert any(e.kind == "host.crashed" and e.target_id == host.id for e in inv.events.values())
    await sim.advance(90)
    inv = await sim.snapshot()
    assert inv.hosts[host.id].state is HostState.RUNNING and inv.hosts[host.id].node_id == host.node_id
    assert any(c.state is ContainerState.RUNNING for c in inv.containers.values() if c.host_id == host.id)


async def test_a_node_failure_restarts_its_machines_elsewhere_with_their_volumes(sim: SimulatorBackend):
    inv = await sim.snapshot()
    node = next(iter(inv.nodes.values()))
    victims = [h.id for h in inv.hosts.values() if h.node_id == node.id and h.state is HostState.RUNNING]
    assert victims
    sim.fail_node(node.id)
    inv = await sim.snapshot()
    assert not inv.nodes[node.id].up
    assert all(inv.hosts[h].state is HostState.RESTARTING for h in victims)
    await sim.advance(90)
    inv = await sim.snapshot()
    for h in victims:
        assert inv.hosts[h].state is HostState.RUNNING and inv.hosts[h].node_id != node.id
    _volumes_follow_containers(inv)
    await sim.advance(1000)
    assert (await sim.snapshot()).nodes[node.id].up, "the node is repaired after a while"


async def test_with_no_room_left_containers_move_to_another_machine_with_their_volumes(sim: SimulatorBackend):
    inv = await sim.snapshot()
    nodes = sorted(inv.nodes.values(), key=lambda n: n.name)
    failing = nodes[0]
    for other in nodes[1:]:  # no other node can take a machine
        sim.store.upsert(replace(other, memory_mib=1024))
    victims = [h.id for h in inv.hosts.values() if h.node_id == failing.id and h.state is HostState.RUNNING]
    moved = {c.id for c in inv.containers.values() if c.host_id in victims and c.mounts}
    assert moved
    sim.fail_node(failing.id)
    await sim.advance(90)
    inv = await sim.snapshot()
    for h in victims:
        assert inv.hosts[h].state is HostState.CRASHED and "capacity" in inv.hosts[h].reason
    for cid in moved:
        assert inv.containers[cid].host_id not in victims
    _volumes_follow_containers(inv)


async def test_a_partition_makes_the_backend_unreachable_then_catches_up(sim: SimulatorBackend):
    got: list = []

    async def consume() -> None:
        async for update in sim.updates():
            got.append(update)

    consumer = asyncio.create_task(consume())
    for _ in range(3):
        await asyncio.sleep(0)
    mine = await sim.snapshot()
    sim.set_partition(True)
    with pytest.raises(Unavailable, match="partition"):
        await sim.snapshot()
    with pytest.raises(Unavailable):
        await sim.create_volume(VolumeSpec("during-partition", 1))
    await sim.advance(10)  # the cluster goes on; the console just cannot see it
    sim.set_partition(False)
    await wait_until(lambda: len(got) >= 7, timeout=5, what="the held batches")
    consumer.cancel()
    notices = [u.state for u in got if isinstance(u, ConnectionChanged)]
    assert notices == [ConnectionState.UNREACHABLE, ConnectionState.CONNECTED]
    assert isinstance(got[0], ConnectionChanged) and isinstance(got[1], ConnectionChanged)
    for update in got:
        if isinstance(update, ChangeBatch):
            mine.apply(update)
    fresh = await sim.snapshot()
    assert mine.seq == fresh.seq and mine.containers == fresh.containers and mine.hosts == fresh.hosts


async def test_api_errors_hit_the_configured_share_of_calls():
    sim = SimulatorBackend(seed=7, speed=0.0, faults="api-errors=1.0")
    await sim.connect()
    try:
        with pytest.raises(Unavailable, match="simulated API error"):
            await sim.create_volume(VolumeSpec("v1", 1))
    finally:
        await sim.close()
    sim = SimulatorBackend(seed=7, speed=0.0, faults="api-errors=0.3")
    await sim.connect()
    failures = 0
    for _ in range(200):
        try:
            await sim.snapshot()
        except Unavailable:
            failures += 1
    await sim.close()
    assert 30 < failures < 90


def test_fault_specs_are_parsed_or_refused_with_a_reason():
    plan = parse_faults("crash,node,api-errors=0.05,latency=0.1,partition")
    assert plan.crash and plan.node and plan.partition and plan.api_errors == 0.05 and plan.latency == 0.1
    assert parse_faults("all").api_errors > 0
    for bad in ("meteor", "api-errors=2", "latency=x", "crash=1"):
        with pytest.raises(InvalidInput):
            parse_faults(bad)


async def test_an_upgrade_fails_cleanly_when_its_host_crashes(sim: SimulatorBackend):
    inv = await sim.snapshot()
    host = next(h for h in sorted(inv.hosts.values(), key=lambda h: h.name)
                if h.state is HostState.RUNNING and h.engine_version != "26.1.4")
    task = await sim.upgrade_hosts(UpgradeSpec((host.id,), "26.1.4"))
    await sim.advance(12)
    sim.crash_host(host.id)
    final = await sim.wait_task(task.id)
    assert final.status is TaskStatus.FAILED and host.name in final.error
    child = (await sim.snapshot()).tasks[final.child_ids[0]]
    assert child.status is TaskStatus.FAILED and "crashed" in child.error


async def test_the_story_crashes_fails_a_node_and_upgrades():
    sim = SimulatorBackend(seed=7, speed=0.0, faults="story")
    await sim.connect()
    try:
        await sim.advance(400)
        inv = await sim.snapshot()
    finally:
        await sim.close()
    kinds = {e.kind for e in inv.events.values()}
    assert {"host.crashed", "node.failed", "host.restarted", "host.upgraded"} <= kinds
    upgrades = [t for t in inv.tasks.values() if t.kind == "upgrade_hosts"]
    assert upgrades and upgrades[0].status is TaskStatus.SUCCEEDED
    _volumes_follow_containers(inv)


async def test_scheduled_faults_happen_over_time():
    sim = SimulatorBackend(seed=7, speed=0.0, faults="crash,node,partition", activity=False)
    await sim.connect()
    try:
        await sim.advance(3600)
        sim.set_partition(False)
        inv = await sim.snapshot()
    finally:
        await sim.close()
    kinds = {e.kind for e in inv.events.values()}
    assert {"host.crashed", "node.failed"} <= kinds


async def test_latency_slows_calls_down_on_the_wall_clock():
    import time

    sim = SimulatorBackend(seed=7, speed=0.0, faults="latency=1.0")
    await sim.connect()
    try:
        started = time.monotonic()
        await sim.snapshot()
        assert time.monotonic() - started >= 0.2
    finally:
        await sim.close()
