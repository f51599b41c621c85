"""Actions against the real engine: each is a task; the docker CLI checks the outcome."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backends.contract import ContainerSpec, MountSpec, VolumeSpec
from backends.docker import DockerBackend
from backends.errors import InvalidInput, NotFound, PermissionDenied
from backends.models import ContainerState, TaskStatus
from tests.waiting import wait_until

pytestmark = pytest.mark.docker


# PID 1 ignores SIGTERM unless it handles it: without the trap every stop waits its full grace.
SLEEPER = "trap 'exit 0' TERM; sleep 300 & wait"


def _inspect(dockerd, ref: str) -> dict:
    return json.loads(dockerd.cli("inspect", ref))[0]


async def test_run_stop_start_restart_remove(backend, dockerd, image, name):
    host = next(iter((await backend.snapshot()).hosts))
    spec = ContainerSpec(
        image=image,
        host=host,
        name=name,
        command=("sh", "-c", SLEEPER),
        env=(("COLOR", "blue"),),
        ports=((8080, None),),
        mounts=(MountSpec(f"{name}-data", "/data"),),
        restart_policy="unless-stopped",
        labels=(("team", "infra"),),
    )
    task = await backend.run_task(backend.run_container(spec))
    cid = task.result_id
    inv = await backend.snapshot()
    assert inv.containers[cid].state is ContainerState.RUNNING and inv.tasks[task.id].status is TaskStatus.SUCCEEDED
    seen = _inspect(dockerd, cid)
    assert seen["Name"] == f"/{name}" and "COLOR=blue" in seen["Config"]["Env"]
    assert seen["Config"]["Labels"] == {"team": "infra"} and "8080/tcp" in seen["Config"]["ExposedPorts"]
    assert seen["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
    assert [(m["Name"], m["Destination"]) for m in seen["Mounts"]] == [(f"{name}-data", "/data")]

    await backend.run_task(backend.stop_container(name))
    assert _inspect(dockerd, cid)["State"]["Status"] == "exited"
    assert (await backend.snapshot()).containers[cid].state is ContainerState.EXITED
    await backend.run_task(backend.start_container(cid[:12]))  # a short id, as docker ps shows
    assert _inspect(dockerd, cid)["State"]["Running"]
    started = _inspect(dockerd, cid)["State"]["StartedAt"]
    await backend.run_task(backend.restart_container(cid))
    assert _inspect(dockerd, cid)["State"]["StartedAt"] != started

    removing = await backend.remove_container(cid)
    final = await backend.wait_task(removing.id, poll_interval=0.05)
    assert final.status is TaskStatus.FAILED and "running" in final.error.lower()  # not without force
    await backend.run_task(backend.remove_container(cid, force=True))
    assert cid not in (await backend.snapshot()).containers
    assert dockerd.cli("ps", "-aq", "--filter", f"id={cid}").strip() == ""
    dockerd.cli("volume", "rm", f"{name}-data")


async def test_refusals_are_typed_errors(backend, dockerd, image):
    with pytest.raises(NotFound):
        await backend.start_container("no-such-container")
    dockerd.cli("volume", "create", "refusals")
    host = next(iter(backend._published.hosts))
    await wait_until(lambda: f"{host}/refusals" in backend._published.volumes, what="volume")
    with pytest.raises(InvalidInput, match="container"):
        await backend.attach_volume(f"{host}/refusals", host)  # Docker mounts into a container
    dockerd.cli("volume", "rm", "refusals")
    read_only = DockerBackend([dockerd.url], read_only=True)
    with pytest.raises(PermissionDenied, match="read-only"):
        await read_only.run_container(ContainerSpec(image=image, host="x"))


async def test_logs_decode_the_multiplexed_stream(backend, dockerd, image, name):
    script = "echo out-1; echo err-1 >&2; printf 'no-newline-'; echo end; echo err-2 >&2"
    dockerd.cli("run", "--network", "none", "--name", name, image, "sh", "-c", script)
    cid = dockerd.cli("ps", "-aq", "--no-trunc", "--filter", f"name=^{name}$").strip()
    await wait_until(lambda: cid in backend._published.containers, what="container")
    lines = [line async for line in backend.logs(cid)]
    assert sorted((l.stream, l.text) for l in lines) == sorted(
        [("stdout", "out-1"), ("stderr", "err-1"), ("stdout", "no-newline-end"), ("stderr", "err-2")]
    )
    assert all(l.time and l.time > 0 for l in lines)
    tail = [l.text async for l in backend.logs(cid, tail=1)]
    assert len(tail) == 1


async def test_logs_follow_a_tty_container_and_see_new_lines(backend, dockerd, image, name):
    cid = dockerd.cli(
        "run", "-d", "-t", "--network", "none", "--name", name, image, "sh", "-c", "for i in 1 2 3; do echo line-$i; sleep 0.2; done"
    ).strip()
    await wait_until(lambda: cid in backend._published.containers, what="container")
    got = [l.text async for l in backend.logs(cid, follow=True)]  # ends when the container exits
    assert got == ["line-1", "line-2", "line-3"]


async def test_volume_create_remove_and_in_use_conflict(backend, dockerd, image, name):
    task = await backend.run_task(backend.create_volume(VolumeSpec(name=name, size_gib=1, driver_options=(("type", "tmpfs"), ("device", "tmpfs")))))
    vol = (await backend.snapshot()).volumes[task.result_id]
    assert vol.name == name and vol.driver == "local"
    assert json.loads(dockerd.cli("volume", "inspect", name))[0]["Options"] == {"type": "tmpfs", "device": "tmpfs"}
    cid = dockerd.cli("create", "--network", "none", "-v", f"{name}:/data", image).strip()
    failed = await backend.wait_task((await backend.delete_volume(name)).id, poll_interval=0.05)
    assert failed.status is TaskStatus.FAILED and failed.error.startswith("Conflict")
    dockerd.cli("rm", cid)
    await backend.run_task(backend.delete_volume(vol.id))
    assert name not in dockerd.cli("volume", "ls", "-q").split()


async def test_attach_volume_recreates_with_config_intact(backend, dockerd, image, name):
    dockerd.cli("volume", "create", f"{name}-old")
    dockerd.cli("volume", "create", f"{name}-new")
    dockerd.cli(
        "run", "-d", "--network", "none", "--name", name, "-e", "A=1", "--label", "k=v", "-p", "9000",
        "--restart", "always", "-v", f"{name}-old:/old", "--read-only", image, "sh", "-c", SLEEPER,
    )
    before = _inspect(dockerd, name)
    await backend.snapshot()
    await wait_until(lambda: any(v.name == f"{name}-new" for v in backend._published.volumes.values()), what="volume")
    host = before_host = next(iter(backend._published.hosts))
    task = await backend.run_task(backend.attach_volume(f"{name}-new", host, container_id=name, mount_path="/new"))
    after = _inspect(dockerd, name)
    assert after["Id"] == task.result_id != before["Id"]
    assert after["State"]["Running"]
    for key in ("Image", "Env", "Labels", "Cmd", "ExposedPorts"):
        assert after["Config"][key] == before["Config"][key], key
    for key in ("RestartPolicy", "PortBindings", "ReadonlyRootfs", "NetworkMode", "Binds"):
        assert after["HostConfig"][key] == before["HostConfig"][key], key
    assert {(m["Name"], m["Destination"]) for m in after["Mounts"]} == {(f"{name}-old", "/old"), (f"{name}-new", "/new")}
    assert dockerd.cli("ps", "-aq", "--no-trunc", "--filter", f"id={before['Id']}").strip() == ""
    inv = await backend.snapshot()
    assert before["Id"] not in inv.containers and task.result_id in inv.containers
    new_vol = next(v for v in inv.volumes.values() if v.name == f"{name}-new")
    assert new_vol.container_ids == (task.result_id,) and before_host == new_vol.host_id
    dockerd.cli("rm", "-f", name)


async def test_attach_volume_refuses_when_data_would_be_lost(backend, dockerd, image, name):
    dockerd.cli("volume", "create", f"{name}-v")
    # Files in the container's own writable layer would not survive re-creation.
    dockerd.cli("run", "-d", "--network", "none", "--name", f"{name}-w", image, "sh", "-c", "echo x > /tmp/state; " + SLEEPER)
    # An anonymous volume would be replaced by a new, empty one.
    dockerd.cli("create", "--network", "none", "--name", f"{name}-a", "-v", "/cache", image)
    await wait_until(
        lambda: {f"{name}-w", f"{name}-a"} <= {c.name for c in backend._published.containers.values()}
        and any(v.name == f"{name}-v" for v in backend._published.volumes.values()),
        what="containers and volume",
    )
    await wait_until(lambda: dockerd.cli("diff", f"{name}-w").strip() != "", what="the file written")
    host = next(iter(backend._published.hosts))
    for target, why in ((f"{name}-w", "writable layer"), (f"{name}-a", "anonymous volume")):
        before = _inspect(dockerd, target)
        final = await backend.wait_task(
            (await backend.attach_volume(f"{name}-v", host, container_id=target, mount_path="/v")).id, poll_interval=0.05
        )
        assert final.status is TaskStatus.FAILED and why in final.error
        after = _inspect(dockerd, target)
        assert after["Id"] == before["Id"] and after["State"]["Status"] == before["State"]["Status"]
    dockerd.cli("rm", "-f", f"{name}-w", f"{name}-a")


async def test_shell_commands_hand_the_terminal_to_docker_exec(backend, dockerd, image, name):
    cid = dockerd.cli("create", "--network", "none", "--name", name, image).strip()
    await wait_until(lambda: cid in backend._published.containers, what="container")
    cmd = await backend.shell("container", name)
    assert cmd.argv == ("docker", "-H", dockerd.url, "exec", "-it", cid, "sh")
    dockerd.cli("rm", cid)


def test_a_cli_action_without_wait_still_happens(dockerd, name, tmp_path):
    # No --wait: the command returns only once the engine has done it (this process is what
    # runs a Docker action), so the volume exists when it exits.
    from tests.docker.conftest import cli_env

    volume = f"{name}-nowait"
    done = subprocess.run(
        [sys.executable, "-m", "console", "--backend", "docker", "--docker-host", dockerd.url, "volume", "create", volume, "--size-gib", "1"],
        capture_output=True, text=True, timeout=60, env=cli_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    assert "SUCCEEDED" in done.stdout
    assert volume in dockerd.cli("volume", "ls", "--format", "{{.Name}}").split()
