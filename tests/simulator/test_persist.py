"""--demo-state: the whole state survives between runs, and unfinished tasks go on."""

from __future__ import annotations

import json

import pytest

from backends.contract import KIND_NAMES, HostSpec, UpgradeSpec
from backends.errors import InvalidInput
from backends.models import HostState, TaskStatus
from backends.simulator import SimulatorBackend


def _plain(inv) -> dict:
    return {k: {i: v.to_dict() for i, v in inv.of(k).items()} for k in KIND_NAMES}


async def test_round_trip_keeps_everything_and_resumes_a_task(tmp_path):
    path = str(tmp_path / "state.json")
    first = SimulatorBackend(seed=5, speed=0.0, state_path=path)
    await first.connect()
    task = await first.create_host(HostSpec("web-50", "ubuntu-22.04-docker-26.1.4", 2, 4096, "vlan110-apps"))
    await first.advance(11)  # part-way: the host exists but is still provisioning
    before = _plain(await first.snapshot())
    now = first.clock.now
    await first.close()

    second = SimulatorBackend(seed=5, speed=0.0, state_path=path)
    await second.connect()
    assert second.clock.now == now
    assert _plain(await second.snapshot()) == before
    mid = (await second.snapshot()).tasks[task.id]
    assert mid.status is TaskStatus.RUNNING and 0 < mid.progress < 100
    final = await second.wait_task(task.id)
    assert final.status is TaskStatus.SUCCEEDED
    host = (await second.snapshot()).hosts[final.result_id]
    assert host.name == "web-50" and host.state is HostState.RUNNING
    await second.close()


async def test_with_speed_the_time_between_runs_passes(tmp_path):
    path = tmp_path / "state.json"
    first = SimulatorBackend(seed=5, speed=0.0, state_path=str(path))
    await first.connect()
    task = await first.create_host(HostSpec("web-51", "ubuntu-22.04-docker-26.1.4", 2, 4096, "vlan110-apps"))
    await first.close()
    data = json.loads(path.read_text())
    data["saved_at_wall"] -= 60  # as if the next CLI call came a minute later
    path.write_text(json.dumps(data))

    second = SimulatorBackend(seed=5, speed=1.0, state_path=str(path))
    await second.connect()
    try:
        assert second.clock.now >= data["now"] + 60
        assert (await second.snapshot()).tasks[task.id].status is TaskStatus.SUCCEEDED
    finally:
        await second.close()


async def test_an_interrupted_upgrade_resumes_its_remaining_hosts(tmp_path):
    path = str(tmp_path / "state.json")
    first = SimulatorBackend(seed=5, speed=0.0, state_path=path)
    await first.connect()
    inv = await first.snapshot()
    hosts = tuple(h.id for h in sorted(inv.hosts.values(), key=lambda h: h.name)
                  if h.state is HostState.RUNNING and h.engine_version != "26.1.4")[:3]
    task = await first.upgrade_hosts(UpgradeSpec(hosts, "26.1.4", batch_size=1))
    await first.advance(20)
    await first.close()

    second = SimulatorBackend(seed=5, speed=0.0, state_path=path)
    await second.connect()
    final = await second.wait_task(task.id)
    inv = await second.snapshot()
    await second.close()
    assert final.status is TaskStatus.SUCCEEDED
    assert all(inv.hosts[h].engine_version == "26.1.4" and inv.hosts[h].state is HostState.RUNNING for h in hosts)


async def test_a_bad_state_file_is_one_clear_error(tmp_path):
    path = tmp_path / "state.json"
    path.write_text("{not json")
    sim = SimulatorBackend(state_path=str(path))
    with pytest.raises(InvalidInput, match="not a simulator state file"):
        await sim.connect()


async def test_recoveries_under_way_go_on_after_a_load(tmp_path):
    path = str(tmp_path / "state.json")
    first = SimulatorBackend(seed=5, speed=0.0, state_path=path)
    await first.connect()
    inv = await first.snapshot()
    host = next(h for h in inv.hosts.values() if h.state is HostState.RUNNING)
    node = next(n for n in inv.nodes.values() if n.id != host.node_id)
    first.crash_host(host.id)
    first.fail_node(node.id)
    first.set_partition(True)
    await first.close()

    second = SimulatorBackend(seed=5, speed=0.0, state_path=path)
    await second.connect()
    await second.snapshot()  # a new run starts connected
    await second.advance(1000)
    inv = await second.snapshot()
    await second.close()
    assert inv.hosts[host.id].state is HostState.RUNNING and inv.nodes[node.id].up
    assert not [h.name for h in inv.hosts.values() if h.state is HostState.RESTARTING]
