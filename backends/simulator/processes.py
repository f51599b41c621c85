"""What each action does over simulated time: the steps a real cluster goes through.

Every process takes plain JSON args (ids and pre-drawn durations) and is written so that a
step's effects can run again when a saved task resumes at the step it had reached.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ..models import Container, ContainerState, Host, HostState, Mount, PortBinding, Severity, TaskStatus, Volume, VolumeState
from ..waves import HEALTH_TIMEOUT, PlannedHost, WaveControl, expected_back, plan_waves, run_waves, wait_back
from .activity import fresh_usage
from .tasks import Aborted, StepFailed, TaskContext, TaskRunner
from .world import HOST_DISK_GIB, CLUSTER, World, human_status


def revert(world: World, kind: str, item_id: str, **fields: Any) -> None:
    """Put back fields of an item an aborted task had changed, if it still exists."""
    item = world.store.tables[kind].get(item_id)
    if item is not None:
        world.store.upsert(replace(item, **fields))


def durations(world: World, *ranges: tuple[float, float]) -> list[float]:
    return [round(world.rng.uniform(lo, hi), 1) for lo, hi in ranges]


# -- hosts ------------------------------------------------------------------------------------

CREATE_HOST_STEPS = ((2, 4), (6, 12), (3, 6), (4, 10), (3, 8))


async def create_host(ctx: TaskContext, host_id: str, name: str, image_id: str, network_id: str,
                      project_id: str | None, cores: int, memory_mib: int, durations: list[float]) -> str:
    world = ctx.world
    store = world.store
    image = store.images[image_id]
    # The machine exists from the request on, so its name and quota are taken at once.
    if host_id not in store.hosts:
        store.upsert(Host(
            id=host_id, name=name, state=HostState.PROVISIONING, cores=cores, memory_mib=memory_mib,
            os=image.os, project_id=project_id, image_id=image_id, network_id=network_id,
            cluster=CLUSTER, storage_gib=HOST_DISK_GIB, created_at=store.clock.now, observed_at=store.clock.now,
        ))
        world.recount_projects()

    def undo() -> None:
        store.delete("hosts", host_id)
        world.recount_projects()

    ctx.on_abort(undo)
    await ctx.step("placing on node", durations[0], 10)
    if store.hosts[host_id].node_id is None:
        node = world.place(cores, memory_mib)
        if node is None:
            undo()
            raise StepFailed(f"no node has {cores} vCPUs and {memory_mib} MiB free")
        store.upsert(replace(store.hosts[host_id], node_id=node.id))
    await ctx.step(f"cloning image {image.name}", durations[1], 40)
    await ctx.step("powering on", durations[2], 55)
    await ctx.step("waiting for IP", durations[3], 75)
    host = store.hosts[host_id]
    if host.ip is None:
        ip = world.take_ip()
        host = store.upsert(replace(host, ip=ip, endpoint=f"tcp://{ip}:2376"))
    await ctx.step(f"starting Docker Engine {image.engine_version}", durations[4], 95)
    host = store.upsert(replace(store.hosts[host_id], state=HostState.RUNNING, engine_version=image.engine_version,
                                memory_used_mib=380, observed_at=store.clock.now))
    world.event(Severity.INFO, name, f"Container machine created on {store.nodes[host.node_id].name} ({host.ip})",
                "host.created", host_id)
    return host_id


async def delete_host(ctx: TaskContext, host_id: str, durations: list[float]) -> str:
    store = ctx.world.store
    host = store.hosts[host_id]
    store.upsert(replace(host, state=HostState.DELETING))
    ctx.on_abort(lambda: revert(ctx.world, "hosts", host_id, state=host.state))
    await ctx.step("stopping containers", durations[0], 30)
    for c in [c for c in store.containers.values() if c.host_id == host_id]:
        store.delete("containers", c.id)
    await ctx.step("powering off", durations[1], 60)
    for v in [v for v in store.volumes.values() if v.host_id == host_id]:
        store.upsert(replace(v, host_id=None, container_ids=(), state=VolumeState.AVAILABLE, mount_point=None))
    await ctx.step("deleting disks", durations[2], 95)
    store.delete("hosts", host_id)
    ctx.world.recount_projects()
    ctx.world.event(Severity.INFO, host.name, "Container machine deleted", "host.deleted", host_id)
    return host_id


async def power_off_host(ctx: TaskContext, host_id: str, durations: list[float]) -> str:
    store = ctx.world.store
    await ctx.step("stopping containers", durations[0], 40)
    stop_containers_of(ctx.world, host_id, 0)
    await ctx.step("shutting down guest OS", durations[1], 95)
    host = store.upsert(replace(store.hosts[host_id], state=HostState.STOPPED, cpu_percent=0.0, memory_used_mib=0))
    ctx.world.recount_projects()
    ctx.world.event(Severity.INFO, host.name, "Container machine powered off", "host.powered_off", host_id)
    return host_id


async def power_on_host(ctx: TaskContext, host_id: str, durations: list[float]) -> str:
    world = ctx.world
    store = world.store
    await ctx.step("powering on", durations[0], 30)
    host = store.hosts[host_id]
    node = store.nodes.get(host.node_id or "")
    if node is None or not node.up:
        node = world.place(host.cores, host.memory_mib)
        if node is None:
            raise StepFailed(f"no node has room for {host.name}")
        host = store.upsert(replace(host, node_id=node.id))
    await ctx.step("waiting for IP", durations[1], 60)
    await ctx.step("starting Docker Engine", durations[2], 90)
    host_up(world, host_id)
    world.event(Severity.INFO, host.name, "Container machine powered on", "host.powered_on", host_id)
    return host_id


def host_up(world: World, host_id: str) -> None:
    """Running again (powered on, rebooted): its containers with a restart policy start."""
    store = world.store
    store.upsert(replace(store.hosts[host_id], state=HostState.RUNNING, reason=None, observed_at=store.clock.now))
    start_containers_of(world, host_id, only_restarting_policy=True)


async def reboot_host(ctx: TaskContext, host_id: str, durations: list[float]) -> str:
    """Down and up on the same node: its containers stop, then those with a restart policy
    start again, as after a power-on."""
    world = ctx.world
    store = world.store
    host = store.hosts[host_id]
    store.upsert(replace(host, state=HostState.RESTARTING))
    ctx.on_abort(lambda: revert(world, "hosts", host_id, state=host.state))
    await ctx.step("stopping containers", durations[0], 30)
    stop_containers_of(world, host_id, 0)
    store.upsert(replace(store.hosts[host_id], cpu_percent=0.0, memory_used_mib=0))
    await ctx.step("restarting guest OS", durations[1], 60)
    await ctx.step("starting Docker Engine", durations[2], 90)
    host_up(world, host_id)
    world.event(Severity.INFO, host.name, "Container machine rebooted", "host.rebooted", host_id)
    return host_id


def stop_containers_of(world: World, host_id: str, exit_code: int) -> None:
    now = world.store.clock.now
    for c in [c for c in world.store.containers.values() if c.host_id == host_id]:
        if c.state in (ContainerState.RUNNING, ContainerState.RESTARTING, ContainerState.PAUSED):
            world.store.upsert(replace(
                c, state=ContainerState.EXITED, exit_code=exit_code, finished_at=now, cpu_percent=0.0, memory_mib=0.0,
                status=human_status(ContainerState.EXITED, now, now, exit_code)))


def start_containers_of(world: World, host_id: str, *, only_restarting_policy: bool) -> None:
    now = world.store.clock.now
    for c in [c for c in world.store.containers.values() if c.host_id == host_id]:
        if c.state is ContainerState.RUNNING:
            continue
        if only_restarting_policy and c.restart_policy not in ("always", "unless-stopped"):
            continue
        cpu, mem = fresh_usage(world, c)
        world.store.upsert(replace(
            c, state=ContainerState.RUNNING, exit_code=None, started_at=now, finished_at=None, cpu_percent=cpu,
            memory_mib=mem, status=human_status(ContainerState.RUNNING, now, now, None)))


# -- upgrades ---------------------------------------------------------------------------------

UPGRADE_HOST_STEPS = ((3, 8), (2, 5), (10, 25), (3, 8), (4, 10))


async def upgrade_hosts(ctx: TaskContext, host_ids: list[str], target_version: str, batch_size: int,
                        continue_on_failure: bool, left_out: list[str]) -> None:
    world = ctx.world
    store = world.store
    runner: TaskRunner = ctx.runner
    hosts = [store.hosts[h] for h in host_ids if h in store.hosts]
    plan = plan_waves(hosts, target_version, batch_size, inventory=store)
    total = max(1, plan.host_count)
    done: list[str] = []
    wave_count = len(plan.waves)
    control: WaveControl = ctx.control
    note = f" ({', '.join(left_out)} left out: not running)" if left_out else ""
    ctx.update(message=f"{plan.host_count} host(s) in {wave_count} wave(s) to Docker {target_version}{note}")

    async def upgrade_one(planned: PlannedHost) -> None:
        child = runner.new_task("upgrade_host", planned.name, planned.host_id, parent_id=ctx.task_id)
        runner.update(ctx.task_id, child_ids=ctx.task.child_ids + (child.id,))
        child_ctx = TaskContext(runner, child.id)
        try:
            await upgrade_host(child_ctx, planned.host_id, target_version, durations(world, *UPGRADE_HOST_STEPS))
        except StepFailed as err:
            runner.finish(child.id, TaskStatus.FAILED, error=str(err))
            raise
        else:
            runner.finish(child.id, TaskStatus.SUCCEEDED)
        finally:
            done.append(planned.host_id)
            ctx.update(progress=max(ctx.task.progress, min(99, int(100 * len(done) / total))))

    back: dict[int, dict[str, str]] = {}  # wave number -> the containers that must come back

    def on_wave(wave) -> None:
        names = ", ".join(h.name for h in wave.hosts)
        back[wave.number] = expected_back(store, [h.host_id for h in wave.hosts])
        ctx.update(message=f"wave {wave.number}/{wave_count}: upgrading {names}{note}")

    async def health_gate(wave) -> None:
        expected = back.pop(wave.number, {})
        if expected:
            ctx.update(message=f"wave {wave.number}/{wave_count}: waiting for {len(expected)} container(s) to run again{note}")
        await wait_back(wave, expected, lambda: store, world.store.clock.sleep, timeout=HEALTH_TIMEOUT)

    outcome = await run_waves(plan, upgrade_one, control=control, continue_on_failure=continue_on_failure,
                              on_wave=on_wave, after_wave=health_gate)
    if outcome.aborted:
        raise Aborted()
    if outcome.failed:
        names = ", ".join(store.hosts[h].name if h in store.hosts else h for h, _ in outcome.failed)
        first = outcome.failed[0][1]
        raise StepFailed(f"{len(outcome.failed)} host(s) failed ({names}): {first}")
    return None


async def upgrade_host(ctx: TaskContext, host_id: str, target_version: str, durations: list[float]) -> None:
    world = ctx.world
    store = world.store

    def host() -> Host:
        h = store.hosts.get(host_id)
        if h is None:
            raise StepFailed("the host was deleted during the upgrade")
        if h.state is not HostState.UPGRADING:
            raise StepFailed(f"{h.name} became {h.state.value} during the upgrade" + (f": {h.reason}" if h.reason else ""))
        return h

    h = store.hosts[host_id]
    if h.state is not HostState.RUNNING:
        raise StepFailed(f"{h.name} is {h.state.value}")
    store.upsert(replace(h, state=HostState.UPGRADING))
    running = sum(1 for c in store.containers.values() if c.host_id == host_id and c.state is ContainerState.RUNNING)
    await ctx.step(f"draining: stopping {running} container(s)", durations[0], 15)
    stop_containers_of(world, host().id, 0)
    await ctx.step("stopping Docker Engine", durations[1], 30)
    host()
    await ctx.step(f"installing Docker Engine {target_version}", durations[2], 70)
    host()
    await ctx.step("starting Docker Engine", durations[3], 85)
    store.upsert(replace(host(), engine_version=target_version))
    await ctx.step("restarting containers", durations[4], 99)
    store.upsert(replace(host(), state=HostState.RUNNING))
    start_containers_of(world, host_id, only_restarting_policy=True)
    world.event(Severity.INFO, h.name, f"Docker Engine upgraded from {h.engine_version} to {target_version}",
                "host.upgraded", host_id)


# -- volumes ----------------------------------------------------------------------------------


async def create_volume(ctx: TaskContext, volume_id: str, name: str, size_gib: float, driver: str,
                        storage_container: str, host_id: str | None, durations: list[float]) -> str:
    store = ctx.world.store
    await ctx.step("allocating volume group", durations[0], 40)
    if volume_id not in store.volumes:
        store.upsert(Volume(volume_id, name, size_gib, VolumeState.CREATING, driver=driver,
                            storage_container=storage_container, created_at=store.clock.now))
    ctx.on_abort(lambda: store.delete("volumes", volume_id))
    await ctx.step("formatting ext4", durations[1], 70 if host_id else 95)
    vol = store.upsert(replace(store.volumes[volume_id], state=VolumeState.AVAILABLE))
    if host_id:
        await ctx.step(f"attaching to {store.hosts[host_id].name}", durations[2], 95)
        attach_now(ctx.world, volume_id, host_id, None, None)
    ctx.world.event(Severity.INFO, name, f"Volume created ({size_gib:g} GiB)", "volume.created", vol.id)
    return volume_id


def attach_now(world: World, volume_id: str, host_id: str, container_id: str | None, mount_path: str | None,
               read_only: bool = False) -> None:
    store = world.store
    vol = store.volumes[volume_id]
    ids = vol.container_ids
    if container_id and container_id in store.containers:
        c = store.containers[container_id]
        if not any(m.source == volume_id for m in c.mounts):
            store.upsert(replace(c, mounts=c.mounts + (Mount(volume_id, mount_path or "/data", read_only=read_only),)))
        if container_id not in ids:
            ids = ids + (container_id,)
    store.upsert(replace(vol, state=VolumeState.ATTACHED, host_id=host_id, container_ids=ids,
                         mount_point=f"/mnt/volumes/{vol.name}"))


async def attach_volume(ctx: TaskContext, volume_id: str, host_id: str, container_id: str | None,
                        mount_path: str | None, durations: list[float]) -> str:
    store = ctx.world.store
    host = store.hosts[host_id]
    await ctx.step(f"attaching volume group to {host.name}", durations[0], 60 if container_id else 95)
    attach_now(ctx.world, volume_id, host_id, None, None)
    if container_id:
        await ctx.step(f"mounting at {mount_path} in {store.containers[container_id].name}", durations[1], 95)
        attach_now(ctx.world, volume_id, host_id, container_id, mount_path)
    vol = store.volumes[volume_id]
    ctx.world.event(Severity.INFO, vol.name, f"Volume attached to {host.name}", "volume.attached", volume_id)
    return volume_id


def detach_now(world: World, volume_id: str) -> None:
    store = world.store
    vol = store.volumes[volume_id]
    for cid in vol.container_ids:
        c = store.containers.get(cid)
        if c is not None:
            store.upsert(replace(c, mounts=tuple(m for m in c.mounts if m.source != volume_id)))
    store.upsert(replace(vol, state=VolumeState.AVAILABLE, host_id=None, container_ids=(), mount_point=None))


async def detach_volume(ctx: TaskContext, volume_id: str, durations: list[float]) -> str:
    store = ctx.world.store
    vol = store.volumes[volume_id]
    store.upsert(replace(vol, state=VolumeState.DETACHING))
    ctx.on_abort(lambda: revert(ctx.world, "volumes", volume_id, state=vol.state))
    await ctx.step("unmounting file system", durations[0], 40)
    await ctx.step("detaching volume group", durations[1], 95)
    detach_now(ctx.world, volume_id)
    ctx.world.event(Severity.INFO, vol.name, "Volume detached", "volume.detached", volume_id)
    return volume_id


async def delete_volume(ctx: TaskContext, volume_id: str, durations: list[float]) -> str:
    store = ctx.world.store
    vol = store.volumes[volume_id]
    store.upsert(replace(vol, state=VolumeState.DELETING))
    ctx.on_abort(lambda: revert(ctx.world, "volumes", volume_id, state=vol.state))
    await ctx.step("deleting volume group", durations[0], 95)
    store.delete("volumes", volume_id)
    ctx.world.event(Severity.INFO, vol.name, "Volume deleted", "volume.deleted", volume_id)
    return volume_id


# -- containers -------------------------------------------------------------------------------


async def run_container(ctx: TaskContext, container_id: str, name: str, image: str, host_id: str, command: str,
                        ports: list[list[Any]], mounts: list[list[str]], restart_policy: str,
                        labels: list[list[str]], durations: list[float], env: list[str] | None = None) -> str:
    world = ctx.world
    store = world.store
    host = store.hosts[host_id]
    await ctx.step(f"pulling {image}", durations[0], 50)
    await ctx.step("creating container", durations[1], 70)
    now = store.clock.now
    if container_id not in store.containers:
        store.upsert(Container(
            id=container_id, name=name, image=image, host_id=host_id, state=ContainerState.CREATED,
            status="Created", command=command, memory_limit_mib=None,
            ports=tuple(PortBinding(int(cp), "tcp", int(hp) if hp else None, host.ip) for cp, hp in ports),
            labels=tuple((k, v) for k, v in labels), restart_policy=restart_policy, created_at=now,
        ))
        if env:
            world.container_env[container_id] = tuple(env)
        for vol_id, path, *mode in mounts:  # mode: [read_only] (older saved tasks have none)
            attach_now(world, vol_id, host_id, container_id, path, read_only=bool(mode and mode[0]))
    await ctx.step("starting", durations[2], 95)
    start_one(world, container_id)
    world.event(Severity.INFO, name, f"Container started on {host.name}", "container.started", container_id)
    return container_id


def start_one(world: World, container_id: str) -> None:
    c = world.store.containers[container_id]
    now = world.store.clock.now
    cpu, mem = fresh_usage(world, c)
    world.store.upsert(replace(c, state=ContainerState.RUNNING, started_at=now, finished_at=None, exit_code=None,
                               cpu_percent=cpu, memory_mib=mem, status=human_status(ContainerState.RUNNING, now, now, None)))


def stop_one(world: World, container_id: str, exit_code: int) -> None:
    c = world.store.containers[container_id]
    now = world.store.clock.now
    world.store.upsert(replace(c, state=ContainerState.EXITED, exit_code=exit_code, finished_at=now, cpu_percent=0.0,
                               memory_mib=0.0, status=human_status(ContainerState.EXITED, now, now, exit_code)))


async def start_container(ctx: TaskContext, container_id: str, durations: list[float]) -> str:
    await ctx.step("starting", durations[0], 95)
    start_one(ctx.world, container_id)
    return container_id


async def stop_container(ctx: TaskContext, container_id: str, durations: list[float]) -> str:
    await ctx.step("sending SIGTERM", durations[0], 95)
    stop_one(ctx.world, container_id, 0)
    return container_id


async def restart_container(ctx: TaskContext, container_id: str, durations: list[float]) -> str:
    await ctx.step("stopping", durations[0], 50)
    stop_one(ctx.world, container_id, 0)
    await ctx.step("starting", durations[1], 95)
    start_one(ctx.world, container_id)
    return container_id


async def remove_container(ctx: TaskContext, container_id: str, durations: list[float]) -> str:
    store = ctx.world.store
    c = store.containers[container_id]
    if c.state is ContainerState.RUNNING:
        await ctx.step("killing", durations[0], 40)
        stop_one(ctx.world, container_id, 137)
    await ctx.step("removing", durations[1], 95)
    for m in c.mounts:
        vol = store.volumes.get(m.source)
        if vol is not None:
            store.upsert(replace(vol, container_ids=tuple(i for i in vol.container_ids if i != container_id)))
    store.delete("containers", container_id)
    return container_id


PROCESSES = {
    f.__name__: f
    for f in (
        create_host, delete_host, power_on_host, power_off_host, reboot_host, upgrade_hosts, create_volume, attach_volume,
        detach_volume, delete_volume, run_container, start_container, stop_container, restart_container,
        remove_container,
    )
}
