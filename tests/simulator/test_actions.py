"""What the simulator's actions do to the rest of the world."""

from __future__ import annotations

import pytest

from backends.contract import ContainerSpec, MountSpec, VolumeSpec
from backends.errors import Conflict
from backends.models import ContainerState, HostState, TaskStatus, VolumeState
from backends.simulator import SimulatorBackend


async def _done(sim: SimulatorBackend, started) -> None:
    final = await sim.wait_task(started.id)
    assert final.status is TaskStatus.SUCCEEDED, final.error


async def test_a_volume_created_for_a_host_is_attached_to_it(sim: SimulatorBackend):
    host = next(h for h in (await sim.snapshot()).hosts.values() if h.name == "cm-web-01")
    await _done(sim, await sim.create_volume(VolumeSpec("logs-web", 20, host="cm-web-01")))
    vol = next(v for v in (await sim.snapshot()).volumes.values() if v.name == "logs-web")
    assert vol.host_id == host.id and vol.state is VolumeState.ATTACHED and vol.size_gib == 20


async def test_a_container_cannot_mount_a_volume_attached_to_another_host(sim: SimulatorBackend):
    inv = await sim.snapshot()
    vol = next(v for v in inv.volumes.values() if v.host_id and inv.hosts[v.host_id].name != "cm-web-01")
    with pytest.raises(Conflict, match="one host at a time"):
        await sim.run_container(ContainerSpec("redis:7.2.4", "cm-web-01", mounts=(MountSpec(vol.id, "/data"),)))


async def test_powering_off_stops_containers_and_on_brings_them_back(sim: SimulatorBackend):
    host = next(h for h in (await sim.snapshot()).hosts.values() if h.name == "cm-web-01")
    await _done(sim, await sim.power_off_host(host.id))
    inv = await sim.snapshot()
    assert inv.hosts[host.id].state is HostState.STOPPED and inv.hosts[host.id].cpu_percent == 0
    assert all(c.state is ContainerState.EXITED for c in inv.containers.values() if c.host_id == host.id)
    with pytest.raises(Conflict, match="stopped"):
        await sim.run_container(ContainerSpec("nginx:1.25.4", host.id))
    await _done(sim, await sim.power_on_host(host.id))
    inv = await sim.snapshot()
    assert any(c.state is ContainerState.RUNNING for c in inv.containers.values() if c.host_id == host.id)


async def test_deleting_a_host_frees_its_volumes_and_its_quota(sim: SimulatorBackend):
    inv = await sim.snapshot()
    host = next(h for h in inv.hosts.values() if h.name == "cm-web-01")
    project_before = inv.projects[host.project_id].used
    held = [v.id for v in inv.volumes.values() if v.host_id == host.id]
    assert held
    await _done(sim, await sim.delete_host(host.id))
    inv = await sim.snapshot()
    assert host.id not in inv.hosts
    assert not [c for c in inv.containers.values() if c.host_id == host.id]
    assert all(inv.volumes[v].state is VolumeState.AVAILABLE and inv.volumes[v].host_id is None for v in held)
    used = inv.projects[host.project_id].used
    assert (used.vms, used.vcpus) == (project_before.vms - 1, project_before.vcpus - host.cores)


async def test_removing_a_running_container_needs_force(sim: SimulatorBackend):
    c = next(c for c in (await sim.snapshot()).containers.values() if c.state is ContainerState.RUNNING)
    with pytest.raises(Conflict, match="force"):
        await sim.remove_container(c.id)
    await _done(sim, await sim.remove_container(c.id, force=True))
    inv = await sim.snapshot()
    assert c.id not in inv.containers
    assert all(c.id not in v.container_ids for v in inv.volumes.values())


async def test_containers_are_found_by_a_short_id_prefix_like_docker(sim: SimulatorBackend):
    c = next(c for c in (await sim.snapshot()).containers.values() if c.state is ContainerState.RUNNING)
    doc = await sim.inspect_container(c.id[:12])
    assert doc["Id"] == c.id
