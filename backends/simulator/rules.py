"""The rules the real systems enforce, checked before an action starts.

Each check raises the contract's typed error with a reason a user can act on.
"""

from __future__ import annotations

from typing import Any

from ..contract import ContainerSpec, HostSpec, VolumeSpec, resolve
from ..errors import Conflict, InvalidInput, QuotaExceeded
from ..validation import check_container_name, check_host_name, check_image_ref, check_run_options, check_volume_name, check_volume_size
from ..models import Container, Host, HostState, Image, Network, Project, Volume, VolumeState
from .world import HOST_DISK_GIB, World

def unique_name(items: Any, name: str, what: str, scope: str = "") -> None:
    for item in items:
        if item.name == name:
            raise Conflict(f"a {what} named {name!r} already exists{scope}")


def host(world: World, ref: str) -> Host:
    return resolve(world.store.hosts.values(), ref, "host") if ref not in world.store.hosts else world.store.hosts[ref]


def container(world: World, ref: str) -> Container:
    if ref in world.store.containers:
        return world.store.containers[ref]
    # Docker accepts a unique id prefix too.
    if len(ref) >= 6 and all(c in "0123456789abcdef" for c in ref):
        hits = [c for cid, c in world.store.containers.items() if cid.startswith(ref)]
        if len(hits) == 1:
            return hits[0]
    return resolve(world.store.containers.values(), ref, "container")


def volume(world: World, ref: str) -> Volume:
    return world.store.volumes[ref] if ref in world.store.volumes else resolve(world.store.volumes.values(), ref, "volume")


def check_create_host(world: World, spec: HostSpec) -> tuple[Image, Network, Project | None]:
    check_host_name(spec.name)
    if spec.cores < 1 or spec.cores > 64:
        raise InvalidInput(f"cores must be between 1 and 64, not {spec.cores}")
    if spec.memory_mib < 1024 or spec.memory_mib % 256:
        raise InvalidInput(f"memory must be at least 1024 MiB and a multiple of 256, not {spec.memory_mib}")
    store = world.store
    image = resolve(store.images.values(), spec.image, "image")
    if image.engine_version is None:
        raise InvalidInput(f"image {image.name!r} carries no Docker Engine: pick a container-host image")
    network = resolve(store.networks.values(), spec.network, "network")
    project = resolve(store.projects.values(), spec.project, "project") if spec.project else None
    unique_name(store.hosts.values(), spec.name, "host")
    if project is not None:
        check_quota(project, spec.cores, spec.memory_mib, HOST_DISK_GIB)
    if world.place(spec.cores, spec.memory_mib) is None:
        raise QuotaExceeded(
            f"no node of cluster has {spec.cores} vCPUs and {spec.memory_mib} MiB free for {spec.name!r}"
        )
    return image, network, project


def check_quota(project: Project, cores: int, memory_mib: int, storage_gib: float) -> None:
    q, u = project.quota, project.used
    asks = (
        ("VM count", q.vms, u.vms, 1, ""),
        ("vCPU", q.vcpus, u.vcpus, cores, ""),
        ("memory", q.memory_mib, u.memory_mib, memory_mib, " MiB"),
        ("storage", q.storage_gib, u.storage_gib, storage_gib, " GiB"),
    )
    for what, limit, used, ask, unit in asks:
        if limit is not None and (used or 0) + ask > limit:
            raise QuotaExceeded(
                f"project {project.name!r} {what} quota: {used:g}{unit} used + {ask:g}{unit} asked > {limit:g}{unit} allowed"
            )


def check_create_volume(world: World, spec: VolumeSpec) -> Host | None:
    check_volume_name(spec.name)
    check_volume_size(spec.size_gib)
    unique_name(world.store.volumes.values(), spec.name, "volume")
    return host(world, spec.host) if spec.host else None


def check_attach(world: World, vol: Volume, target: Host, container_id: str | None, mount_path: str | None) -> Container | None:
    if vol.host_id is not None and vol.host_id != target.id:
        holder = world.store.hosts.get(vol.host_id)
        raise Conflict(
            f"volume {vol.name!r} is attached to {holder.name if holder else vol.host_id}: a volume is attached to one host at a time; detach it first"
        )
    if vol.state not in (VolumeState.AVAILABLE, VolumeState.ATTACHED):
        raise Conflict(f"volume {vol.name!r} is {vol.state.value}")
    require_running(target, "attach a volume to")
    ctr = None
    if container_id:
        ctr = container(world, container_id)
        if ctr.host_id != target.id:
            raise InvalidInput(f"container {ctr.name!r} runs on another host than {target.name!r}")
        if not mount_path or not mount_path.startswith("/"):
            raise InvalidInput("a mount path (absolute, e.g. /data) is needed to mount the volume into a container")
    elif mount_path:
        raise InvalidInput("a mount path needs a container to mount into")
    return ctr


def check_delete_volume(vol: Volume) -> None:
    if vol.host_id is not None or vol.state is VolumeState.ATTACHED:
        raise Conflict(f"volume {vol.name!r} is attached: detach it before deleting")
    if vol.container_ids:
        raise Conflict(f"volume {vol.name!r} is mounted by {len(vol.container_ids)} container(s)")


def require_running(h: Host, doing: str) -> None:
    if h.state is not HostState.RUNNING:
        raise Conflict(f"cannot {doing} host {h.name!r}: it is {h.state.value}")


def check_run_container(world: World, spec: ContainerSpec) -> tuple[Host, list[Volume]]:
    target = host(world, spec.host)
    require_running(target, "run a container on")
    check_image_ref(spec.image)
    check_run_options(spec)
    if spec.name is not None:
        check_container_name(spec.name)
        for c in world.store.containers.values():
            if c.host_id == target.id and c.name == spec.name:
                raise Conflict(f"a container named {spec.name!r} already exists on {target.name!r}")
    vols = []
    for m in spec.mounts:
        vol = volume(world, m.volume)
        if vol.host_id not in (None, target.id):
            raise Conflict(f"volume {vol.name!r} is attached to another host: a volume is attached to one host at a time")
        if not m.path.startswith("/"):
            raise InvalidInput(f"mount path {m.path!r} must be absolute")
        vols.append(vol)
    return target, vols

