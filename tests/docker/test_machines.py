"""Machines over a real sshd: provisioning a machine into a Docker host, and rolling upgrades."""

from __future__ import annotations

import pytest

from backends.contract import HostSpec, UpgradeSpec, VolumeSpec
from backends.docker import DockerBackend
from backends.models import HostState, TaskStatus

pytestmark = [pytest.mark.docker, pytest.mark.ssh]


def _spec(name: str, target: str) -> HostSpec:
    return HostSpec(name=name, image="", cores=0, memory_mib=0, network="", ssh_target=target)


async def test_create_host_registers_an_engine_that_answers_over_ssh(backend, dockerd, sshd, ssh_home):
    target = f"{sshd.user}@127.0.0.1:{sshd.port}{dockerd.socket_path}"
    task = await backend.run_task(backend.create_host(_spec("machine-1", target)))
    host = (await backend.snapshot()).hosts[task.result_id]
    assert host.name == "machine-1" and host.state is HostState.RUNNING
    assert host.endpoint == f"ssh://{target}"
    assert host.engine_version == dockerd.cli("version", "--format", "{{.Server.Version}}").strip()


async def test_create_host_without_an_engine_or_script_fails_and_leaves_no_host(backend, sshd, ssh_home, tmp_path):
    target = f"{sshd.user}@127.0.0.1:{sshd.port}{tmp_path}/nothing.sock"
    started = await backend.create_host(_spec("machine-2", target))
    assert (await backend.snapshot()).hosts[started.target_id].state is HostState.PROVISIONING
    final = await backend.wait_task(started.id, poll_interval=0.05)
    assert final.status is TaskStatus.FAILED and "no provisioning script" in final.error
    assert started.target_id not in (await backend.snapshot()).hosts


async def test_create_host_runs_the_provisioning_script_when_no_engine_answers(dockerd, sshd, ssh_home, tmp_path):
    # The "installation" here makes the engine answer at the machine's socket path.
    socket = tmp_path / "engine.sock"
    script = tmp_path / "provision.sh"
    script.write_text(f"#!/bin/sh\nset -e\nln -s {dockerd.socket_path} {socket}\n")
    backend = DockerBackend([dockerd.url], provision_script=str(script))
    await backend.connect()
    try:
        task = await backend.run_task(backend.create_host(_spec("machine-3", f"{sshd.user}@127.0.0.1:{sshd.port}{socket}")))
        assert socket.is_symlink()
        assert (await backend.snapshot()).hosts[task.result_id].state is HostState.RUNNING
    finally:
        await backend.close()


async def test_a_failed_upgrade_wave_stops_the_rolling_upgrade(dockerd, sshd, ssh_home, tmp_path):
    (tmp_path / "second.sock").symlink_to(dockerd.socket_path)
    urls = [sshd.ssh_url(dockerd.socket_path), sshd.ssh_url(str(tmp_path / "second.sock"))]
    backend = DockerBackend(urls, upgrade_command="echo cannot install {version} >&2; exit 7")
    await backend.connect()
    try:
        inv = await backend.snapshot()
        first, second = sorted(inv.hosts.values(), key=lambda h: (h.name, h.id))
        started = await backend.upgrade_hosts(UpgradeSpec((first.id, second.id), "99.0.0", batch_size=1))
        final = await backend.wait_task(started.id, poll_interval=0.05)
        assert final.status is TaskStatus.FAILED
        assert "cannot install 99.0.0" in final.error and "1 host(s) not started" in final.error
        (child,) = [t for t in (await backend.snapshot()).tasks.values() if t.parent_id == started.id]
        assert child.kind == "upgrade_host" and child.status is TaskStatus.FAILED and "exit 7" in child.error
        hosts = (await backend.snapshot()).hosts
        assert all(h.state is HostState.RUNNING for h in hosts.values())  # nothing left half-way
    finally:
        await backend.close()


async def test_upgrade_refuses_engines_it_cannot_reach_over_ssh(dockerd):
    from backends.errors import InvalidInput

    backend = DockerBackend([dockerd.url], upgrade_command="true")
    await backend.connect()
    try:
        host = next(iter((await backend.snapshot()).hosts))
        with pytest.raises(InvalidInput, match="not reached over SSH"):
            await backend.upgrade_hosts(UpgradeSpec((host,), "99.0.0"))
    finally:
        await backend.close()


async def test_shells_over_ssh_run_docker_exec_on_the_machine(dockerd, sshd, ssh_home, image, name):
    cid = dockerd.cli("create", "--network", "none", "--name", name, image).strip()
    backend = DockerBackend([sshd.ssh_url(dockerd.socket_path)])
    await backend.connect()
    try:
        cmd = await backend.shell("container", cid)
        assert cmd.argv == (
            "ssh", "-p", str(sshd.port), "-t", f"{sshd.user}@127.0.0.1",
            "docker", "-H", f"unix://{dockerd.socket_path}", "exec", "-it", cid, "sh",
        )
        host = await backend.shell("host", next(iter((await backend.snapshot()).hosts)))
        assert host.argv == ("ssh", "-p", str(sshd.port), f"{sshd.user}@127.0.0.1")
    finally:
        await backend.close()
        dockerd.cli("rm", cid)


async def test_create_host_checks_the_name_first(backend, sshd):
    from backends.errors import Conflict, InvalidInput

    with pytest.raises(InvalidInput, match="Web_01!"):
        await backend.create_host(_spec("Web_01!", sshd.target))
    taken = next(iter((await backend.snapshot()).hosts.values())).name
    with pytest.raises(Conflict, match=taken):
        await backend.create_host(_spec(taken, sshd.target))


async def test_a_rolling_upgrade_can_be_paused_resumed_and_aborted(dockerd, sshd, ssh_home, tmp_path):
    from backends.errors import InvalidInput

    (tmp_path / "second.sock").symlink_to(dockerd.socket_path)
    urls = [sshd.ssh_url(dockerd.socket_path), sshd.ssh_url(str(tmp_path / "second.sock"))]
    backend = DockerBackend(urls, upgrade_command="exit 7")
    await backend.connect()
    try:
        ids = tuple(sorted((await backend.snapshot()).hosts))
        spec = UpgradeSpec(ids, "99.0.0", batch_size=1, continue_on_failure=True)
        # Paused before its first wave: nothing runs until resumed.
        started = await backend.upgrade_hosts(spec)
        assert (await backend.pause_task(started.id)).status is TaskStatus.PAUSED
        await backend.abort_task(started.id)
        final = await backend.wait_task(started.id, poll_interval=0.05)
        assert final.status is TaskStatus.ABORTED and "2 not started" in final.error
        assert not [t for t in (await backend.snapshot()).tasks.values() if t.parent_id == started.id]

        started = await backend.upgrade_hosts(spec)
        await backend.pause_task(started.id)
        assert (await backend.resume_task(started.id)).status is TaskStatus.RUNNING
        final = await backend.wait_task(started.id, poll_interval=0.05)
        children = [t for t in (await backend.snapshot()).tasks.values() if t.parent_id == started.id]
        assert final.status is TaskStatus.FAILED and len(children) == 2  # went on after the failed wave

        other = await backend.create_volume(VolumeSpec("ctl-x", 1, host=ids[0]))
        with pytest.raises(InvalidInput, match="only a rolling upgrade"):
            await backend.pause_task(other.id)
        await backend.wait_task(other.id, poll_interval=0.05)
        dockerd.cli("volume", "rm", "ctl-x")
    finally:
        await backend.close()
