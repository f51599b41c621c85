"""Typed errors: a backend refuses before starting, with the error class the CLI maps to an exit code."""

from __future__ import annotations

import pytest

from backends.contract import (
    MUTATING_ACTIONS,
    Capability,
    ConfigSpec,
    ContainerSpec,
    HostSpec,
    PullSpec,
    ScaleSpec,
    SecretSpec,
    ServiceSpec,
    ServiceUpdateSpec,
    UpgradeSpec,
    VolumeSpec,
)
from backends.errors import Conflict, InvalidInput, NotFound, PermissionDenied, QuotaExceeded

from .envs import ContractEnv
from .helpers import need, succeed

MISSING = "00000000-0000-4000-8000-000000000000"

# Every action that takes an id, with the capability that says the backend has it.
BY_ID = {
    "delete_host": (Capability.HOSTS_DELETE, lambda b: b.delete_host(MISSING)),
    "power_on_host": (Capability.HOSTS_POWER, lambda b: b.power_on_host(MISSING)),
    "power_off_host": (Capability.HOSTS_POWER, lambda b: b.power_off_host(MISSING)),
    "reboot_host": (Capability.HOSTS_POWER, lambda b: b.reboot_host(MISSING)),
    "attach_volume": (Capability.VOLUMES_ATTACH, lambda b: b.attach_volume(MISSING, MISSING)),
    "detach_volume": (Capability.VOLUMES_ATTACH, lambda b: b.detach_volume(MISSING)),
    "delete_volume": (Capability.VOLUMES_DELETE, lambda b: b.delete_volume(MISSING)),
    "start_container": (Capability.CONTAINERS_LIFECYCLE, lambda b: b.start_container(MISSING)),
    "stop_container": (Capability.CONTAINERS_LIFECYCLE, lambda b: b.stop_container(MISSING)),
    "restart_container": (Capability.CONTAINERS_LIFECYCLE, lambda b: b.restart_container(MISSING)),
    "remove_container": (Capability.CONTAINERS_REMOVE, lambda b: b.remove_container(MISSING)),
    "run_container": (Capability.CONTAINERS_RUN, lambda b: b.run_container(ContainerSpec("busybox", MISSING))),
    "inspect_container": (Capability.CONTAINERS_INSPECT, lambda b: b.inspect_container(MISSING)),
    "pause_task": (Capability.TASKS_CONTROL, lambda b: b.pause_task(MISSING)),
    "abort_task": (Capability.TASKS_CONTROL, lambda b: b.abort_task(MISSING)),
    "get_task": (None, lambda b: b.get_task(MISSING)),
    "scale_service": (Capability.SERVICES_SCALE, lambda b: b.scale_service(ScaleSpec(MISSING, 2))),
    "remove_service": (Capability.SERVICES_REMOVE, lambda b: b.remove_service(MISSING)),
    "remove_secret": (Capability.SECRETS_REMOVE, lambda b: b.remove_secret(MISSING)),
    "set_host_availability": (Capability.HOSTS_AVAILABILITY, lambda b: b.set_host_availability(MISSING, "drain")),
    "update_service": (Capability.SERVICES_UPDATE, lambda b: b.update_service(ServiceUpdateSpec(MISSING, "busybox:1.36"))),
    "rollback_service": (Capability.SERVICES_UPDATE, lambda b: b.rollback_service(MISSING)),
    "rotate_secret": (Capability.SECRETS_ROTATE, lambda b: b.rotate_secret(MISSING, b"value")),
    "remove_config": (Capability.CONFIGS_REMOVE, lambda b: b.remove_config(MISSING)),
}


@pytest.mark.parametrize("action", sorted(BY_ID))
async def test_unknown_ids_are_not_found(env: ContractEnv, action: str):
    capability, call = BY_ID[action]
    if capability is not None:
        need(env, capability)
    with pytest.raises(NotFound):
        await call(env.backend)


async def test_logs_of_an_unknown_container_are_not_found(env: ContractEnv):
    need(env, Capability.CONTAINERS_LOGS)
    with pytest.raises(NotFound):
        async for _ in env.backend.logs(MISSING, tail=1):
            pass


async def test_a_taken_host_name_is_a_conflict(env: ContractEnv):
    need(env, Capability.HOSTS_CREATE, image=env.image, network=env.network, host_id=env.host_id)
    taken = (await env.backend.snapshot()).hosts[env.host_id].name
    with pytest.raises(Conflict, match=taken):
        await env.backend.create_host(HostSpec(taken, env.image, env.host_cores, env.host_memory_mib, env.network))


async def test_a_bad_host_name_is_invalid_input_with_a_reason(env: ContractEnv):
    need(env, Capability.HOSTS_CREATE, image=env.image, network=env.network)
    with pytest.raises(InvalidInput) as err:
        await env.backend.create_host(HostSpec("Web_01!", env.image, env.host_cores, env.host_memory_mib, env.network))
    line = err.value.one_line()
    assert "Web_01!" in line and "\n" not in line


async def test_a_taken_volume_name_is_a_conflict(env: ContractEnv):
    need(env, Capability.VOLUMES_CREATE)
    await succeed(env, await env.backend.create_volume(VolumeSpec("ct-twice", 1)))
    with pytest.raises(Conflict):
        await env.backend.create_volume(VolumeSpec("ct-twice", 1))


async def test_an_attached_volume_cannot_be_deleted_nor_attached_elsewhere(env: ContractEnv):
    need(env, Capability.VOLUMES_CREATE, Capability.VOLUMES_HOST_ATTACH, Capability.VOLUMES_DELETE, host_id=env.host_id)
    b = env.backend
    await succeed(env, await b.create_volume(VolumeSpec("ct-held", 1)))
    vol = next(v for v in (await b.snapshot()).volumes.values() if v.name == "ct-held")
    await succeed(env, await b.attach_volume(vol.id, env.host_id))
    with pytest.raises(Conflict):
        await b.delete_volume(vol.id)
    if env.other_host_id:
        with pytest.raises(Conflict, match="one host at a time"):
            await b.attach_volume(vol.id, env.other_host_id)


async def test_a_project_quota_is_enforced(env: ContractEnv):
    need(env, Capability.HOSTS_CREATE, Capability.PROJECTS, image=env.image, network=env.network,
         full_project=env.full_project)
    spec = HostSpec("ct-over-quota", env.image, 8, 65536, env.network, project=env.full_project)
    with pytest.raises(QuotaExceeded) as err:
        await env.backend.create_host(spec)
    # The project's name (a fleet's env gives it as CONTEXT/NAME; the context's backend names it).
    assert env.full_project.rpartition("/")[2] in str(err.value) and "quota" in str(err.value)


async def test_upgrading_to_an_older_version_is_refused(env: ContractEnv):
    need(env, Capability.HOSTS_UPGRADE, host_id=env.host_id)
    with pytest.raises(InvalidInput, match="older"):
        await env.backend.upgrade_hosts(UpgradeSpec((env.host_id,), "1.0.0"))


# One call per mutating action; none may get past read-only mode.
MUTATIONS = {
    "create_host": lambda b: b.create_host(HostSpec("ro-host", "img", 2, 4096, "net")),
    "delete_host": lambda b: b.delete_host(MISSING),
    "power_on_host": lambda b: b.power_on_host(MISSING),
    "power_off_host": lambda b: b.power_off_host(MISSING),
    "reboot_host": lambda b: b.reboot_host(MISSING),
    "create_volume": lambda b: b.create_volume(VolumeSpec("ro-vol", 1)),
    "attach_volume": lambda b: b.attach_volume(MISSING, MISSING),
    "detach_volume": lambda b: b.detach_volume(MISSING),
    "delete_volume": lambda b: b.delete_volume(MISSING),
    "run_container": lambda b: b.run_container(ContainerSpec("busybox", MISSING)),
    "start_container": lambda b: b.start_container(MISSING),
    "stop_container": lambda b: b.stop_container(MISSING),
    "restart_container": lambda b: b.restart_container(MISSING),
    "remove_container": lambda b: b.remove_container(MISSING),
    "upgrade_hosts": lambda b: b.upgrade_hosts(UpgradeSpec((MISSING,), "99.0.0")),
    "pause_task": lambda b: b.pause_task(MISSING),
    "resume_task": lambda b: b.resume_task(MISSING),
    "abort_task": lambda b: b.abort_task(MISSING),
    "shell": lambda b: b.shell("host", MISSING),
    "create_service": lambda b: b.create_service(ServiceSpec("ro-service", "busybox")),
    "scale_service": lambda b: b.scale_service(ScaleSpec(MISSING, 2)),
    "remove_service": lambda b: b.remove_service(MISSING),
    "create_secret": lambda b: b.create_secret(SecretSpec("ro-secret", b"value")),
    "remove_secret": lambda b: b.remove_secret(MISSING),
    "set_host_availability": lambda b: b.set_host_availability(MISSING, "drain"),
    "update_service": lambda b: b.update_service(ServiceUpdateSpec(MISSING, "busybox:1.36")),
    "rollback_service": lambda b: b.rollback_service(MISSING),
    "rotate_secret": lambda b: b.rotate_secret(MISSING, b"value"),
    "create_config": lambda b: b.create_config(ConfigSpec("ro-config", b"value")),
    "remove_config": lambda b: b.remove_config(MISSING),
    "pull_image": lambda b: b.pull_image(PullSpec(MISSING, "busybox:1.36")),
    "remove_image": lambda b: b.remove_image(MISSING),
    "prune_images": lambda b: b.prune_images(MISSING),
}


def test_every_mutating_action_is_covered():
    assert set(MUTATIONS) == set(MUTATING_ACTIONS)


@pytest.mark.parametrize("action", sorted(MUTATIONS))
async def test_read_only_refuses_every_mutating_action(read_only_env: ContractEnv, action: str):
    before = await read_only_env.backend.snapshot()
    with pytest.raises(PermissionDenied):
        await MUTATIONS[action](read_only_env.backend)
    after = await read_only_env.backend.snapshot()
    assert after.tasks.keys() == before.tasks.keys(), "a refused action started a task"
