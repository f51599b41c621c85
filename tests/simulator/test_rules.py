"""The rules the simulator enforces, with reasons a user can act on."""

from __future__ import annotations

from dataclasses import replace

import pytest

from backends.contract import HostSpec, UpgradeSpec
from backends.errors import Conflict, InvalidInput, QuotaExceeded
from backends.models import ContainerState, HostState, TaskStatus
from backends.simulator import SimulatorBackend

IMAGE, NET = "ubuntu-22.04-docker-26.1.4", "vlan110-apps"


async def test_quota_and_capacity_refusals_name_what_is_exceeded(sim: SimulatorBackend):
    with pytest.raises(QuotaExceeded, match="'sandbox' VM count quota"):
        await sim.create_host(HostSpec("sb-1", IMAGE, 2, 4096, NET, project="sandbox"))
        await sim.create_host(HostSpec("sb-2", IMAGE, 2, 4096, NET, project="sandbox"))
    with pytest.raises(QuotaExceeded, match="no node"):
        await sim.create_host(HostSpec("huge", IMAGE, 64, 1024 * 1024, NET))
    with pytest.raises(InvalidInput, match="carries no Docker Engine"):
        await sim.create_host(HostSpec("plain", "ubuntu-22.04-cloudimg", 2, 4096, NET))


async def test_aborting_a_host_creation_removes_the_half_made_host_and_frees_the_quota(sim: SimulatorBackend):
    used = next(p for p in (await sim.snapshot()).projects.values() if p.name == "sandbox").used
    task = await sim.create_host(HostSpec("sb-1", IMAGE, 2, 4096, NET, project="sandbox"))
    await sim.advance(5)
    assert task.target_id in (await sim.snapshot()).hosts
    await sim.abort_task(task.id)
    final = await sim.wait_task(task.id)
    inv = await sim.snapshot()
    assert final.status is TaskStatus.ABORTED and final.error == "aborted by user"
    assert task.target_id not in inv.hosts
    assert next(p for p in inv.projects.values() if p.name == "sandbox").used == used
    with pytest.raises(Conflict, match="no longer be controlled"):
        await sim.pause_task(task.id)


async def test_a_busy_host_refuses_other_actions(sim: SimulatorBackend):
    task = await sim.create_host(HostSpec("web-60", IMAGE, 2, 4096, NET))
    await sim.advance(5)
    with pytest.raises(Conflict, match="provisioning"):
        await sim.delete_host(task.target_id)


async def test_a_volume_in_use_by_a_running_container_cannot_be_detached(sim: SimulatorBackend):
    inv = await sim.snapshot()
    c = next(c for c in inv.containers.values() if c.mounts and c.state is ContainerState.RUNNING)
    with pytest.raises(Conflict, match="stop it first"):
        await sim.detach_volume(c.mounts[0].source)


async def test_upgrading_all_hosts_leaves_out_the_ones_not_running(sim: SimulatorBackend):
    inv = await sim.snapshot()
    stopped = next(h for h in inv.hosts.values() if h.state is HostState.STOPPED)
    sim.store.upsert(replace(stopped, engine_version="24.0.7"))  # behind, yet it cannot be upgraded now
    task = await sim.upgrade_hosts(UpgradeSpec(tuple(inv.hosts), "26.1.4", batch_size=4))
    assert stopped.name in task.message and "not running" in task.message
    final = await sim.wait_task(task.id)
    inv = await sim.snapshot()
    assert final.status is TaskStatus.SUCCEEDED
    assert {h.engine_version for h in inv.hosts.values() if h.state is HostState.RUNNING} == {"26.1.4"}
    with pytest.raises(Conflict, match="already runs"):
        await sim.upgrade_hosts(UpgradeSpec(tuple(h for h in inv.hosts if h != stopped.id), "26.1.4"))
