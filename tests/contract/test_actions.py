"""Every action returns a Task that reports progress and ends SUCCEEDED with progress 100,
and the inventory shows its effect."""

from __future__ import annotations

import uuid

import pytest

from backends.contract import Capability, ContainerSpec, HostSpec, MountSpec, UpgradeSpec, VolumeSpec
from backends.models import ContainerState, HostState, TaskStatus, VolumeState

from .envs import ContractEnv
from .helpers import finish, need, succeed


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


async def test_create_power_and_delete_a_host(env: ContractEnv):
    need(env, Capability.HOSTS_CREATE, Capability.HOSTS_DELETE, image=env.image, network=env.network)
    b = env.backend
    name = _name("ct-host")
    task = await b.create_host(HostSpec(name, env.image, env.host_cores, env.host_memory_mib, env.network))
    assert task.kind == "create_host" and task.target == name and not task.done
    done = await succeed(env, task)
    host = (await b.snapshot()).hosts[done.result_id]
    assert host.name == name and host.state is HostState.RUNNING and host.engine_version
    if Capability.HOSTS_POWER in env.capabilities:
        await succeed(env, await b.power_off_host(host.id))
        assert (await b.snapshot()).hosts[host.id].state is HostState.STOPPED
        await succeed(env, await b.power_on_host(host.id))
        assert (await b.snapshot()).hosts[host.id].state is HostState.RUNNING
        # A reboot goes down and comes back on its own (Prism: a power cycle of two tasks).
        rebooted = await succeed(env, await b.reboot_host(host.id))
        assert rebooted.kind == "reboot_host"
        assert (await b.snapshot()).hosts[host.id].state is HostState.RUNNING
    await succeed(env, await b.delete_host(host.id))
    assert host.id not in (await b.snapshot()).hosts


async def test_volume_create_attach_detach_delete(env: ContractEnv):
    need(env, Capability.VOLUMES_CREATE, Capability.VOLUMES_HOST_ATTACH, Capability.VOLUMES_DELETE, host_id=env.host_id)
    b = env.backend
    name = _name("ct-vol")
    created = await succeed(env, await b.create_volume(VolumeSpec(name, 3)))
    vol = next(v for v in (await b.snapshot()).volumes.values() if v.name == name)
    assert created.result_id in (None, vol.id) and vol.host_id is None
    assert vol.size_gib == 0 or vol.size_gib >= 3, "a sized volume is at least as big as asked (0: the driver has no size)"
    await succeed(env, await b.attach_volume(vol.id, env.host_id))
    vol = (await b.snapshot()).volumes[vol.id]
    assert vol.host_id == env.host_id and vol.state is VolumeState.ATTACHED
    await succeed(env, await b.detach_volume(vol.id))
    vol = (await b.snapshot()).volumes[vol.id]
    assert vol.host_id is None and vol.state is VolumeState.AVAILABLE
    await succeed(env, await b.delete_volume(vol.id))
    assert vol.id not in (await b.snapshot()).volumes


async def test_container_run_stop_start_restart_remove(env: ContractEnv):
    need(env, Capability.CONTAINERS_RUN, Capability.CONTAINERS_LIFECYCLE, Capability.CONTAINERS_REMOVE,
         host_id=env.host_id, container_image=env.container_image)
    b = env.backend
    name = _name("ct-ctr")
    run = await succeed(env, await b.run_container(ContainerSpec(env.container_image, env.host_id, name=name)))
    inv = await b.snapshot()
    c = inv.containers.get(run.result_id) or next(c for c in inv.containers.values() if c.name == name)
    assert c.name == name and c.host_id == env.host_id and c.state is ContainerState.RUNNING
    await succeed(env, await b.stop_container(c.id))
    assert (await b.snapshot()).containers[c.id].state is ContainerState.EXITED
    await succeed(env, await b.start_container(c.id))
    assert (await b.snapshot()).containers[c.id].state is ContainerState.RUNNING
    await succeed(env, await b.restart_container(c.id))
    assert (await b.snapshot()).containers[c.id].state is ContainerState.RUNNING
    await succeed(env, await b.remove_container(c.id, force=True))
    assert c.id not in (await b.snapshot()).containers


async def test_a_container_mounts_a_volume_on_its_host(env: ContractEnv):
    need(env, Capability.CONTAINERS_RUN, Capability.VOLUMES_CREATE, host_id=env.host_id,
         container_image=env.container_image)
    b = env.backend
    vol_name = _name("ct-data")
    await succeed(env, await b.create_volume(VolumeSpec(vol_name, 2)))
    spec = ContainerSpec(env.container_image, env.host_id, name=_name("ct-mnt"), mounts=(MountSpec(vol_name, "/data"),))
    run = await succeed(env, await b.run_container(spec))
    inv = await b.snapshot()
    c = inv.containers[run.result_id]
    vol = next(v for v in inv.volumes.values() if v.name == vol_name)
    assert [m.path for m in c.mounts if m.source in (vol.id, vol.name)] == ["/data"]
    assert vol.host_id == env.host_id and c.id in vol.container_ids


async def test_upgrade_hosts_in_waves(env: ContractEnv):
    need(env, Capability.HOSTS_UPGRADE, upgrade_target=env.upgrade_target, upgrade_host_ids=env.upgrade_host_ids)
    b = env.backend
    hosts = env.upgrade_host_ids[:2]
    assert env.upgrade_target in await b.upgrade_versions()
    task = await b.upgrade_hosts(UpgradeSpec(hosts, env.upgrade_target, batch_size=1))
    done = await succeed(env, task)
    inv = await b.snapshot()
    for host_id in hosts:
        assert inv.hosts[host_id].engine_version == env.upgrade_target
        assert inv.hosts[host_id].state is HostState.RUNNING
    children = [inv.tasks[c] for c in done.child_ids if c in inv.tasks]
    assert len(children) == len(hosts)
    assert all(c.parent_id == done.id and c.status is TaskStatus.SUCCEEDED for c in children)


async def test_pause_resume_and_abort_a_rolling_upgrade(env: ContractEnv):
    need(env, Capability.HOSTS_UPGRADE, Capability.TASKS_CONTROL, upgrade_target=env.upgrade_target)
    if len(env.upgrade_host_ids) < 3:
        pytest.skip("backend has fewer than three hosts to upgrade")
    b = env.backend
    first, second, third = env.upgrade_host_ids[:3]
    task = await b.upgrade_hosts(UpgradeSpec((first, second), env.upgrade_target, batch_size=1))
    paused = await b.pause_task(task.id)
    assert paused.status is TaskStatus.PAUSED
    await env.advance(120)  # the wave in flight ends; the next one waits for the resume
    inv = await b.snapshot()
    assert inv.tasks[task.id].status is TaskStatus.PAUSED
    assert inv.hosts[second].engine_version != env.upgrade_target
    assert (await b.resume_task(task.id)).status is TaskStatus.RUNNING
    await succeed(env, task)

    task = await b.upgrade_hosts(UpgradeSpec((third, first), env.upgrade_target, batch_size=1))
    await b.abort_task(task.id)
    final = await finish(env, task)
    assert final.status is TaskStatus.ABORTED and final.error
