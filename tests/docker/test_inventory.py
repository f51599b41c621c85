"""The inventory agrees with the docker CLI on the same engine, locally and through ssh://."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from backends.contract import ChangeBatch
from backends.docker import DockerBackend
from backends.models import ContainerState, HostState, VolumeState
from tests.docker.conftest import cli_env
from tests.waiting import wait_until

pytestmark = pytest.mark.docker


def _make_mixed_containers(dockerd, image: str, prefix: str) -> None:
    """Containers in three states, made by the docker CLI itself."""
    dockerd.cli("create", "--network", "none", "--name", f"{prefix}-created", image, "sleep", "60")
    dockerd.cli("run", "-d", "--network", "none", "--name", f"{prefix}-running", image, "sleep", "60")
    dockerd.cli("run", "--network", "none", "--name", f"{prefix}-exited", image, "sh", "-c", "exit 3", check=False)


def _as_ps(containers) -> set[tuple[str, str, str, str]]:
    return {(c.id, c.name, c.state.value, c.image) for c in containers}


def _docker_ps(dockerd) -> set[tuple[str, str, str, str]]:
    return {(p["ID"], p["Names"], p["State"], p["Image"]) for p in dockerd.ps_json()}


async def test_container_list_equals_docker_ps(backend, dockerd, image, name):
    _make_mixed_containers(dockerd, image, name)
    await wait_until(
        lambda: {f"{name}-created", f"{name}-running", f"{name}-exited"}
        <= {c.name for c in backend._published.containers.values()},
        what="the new containers in the inventory",
        timeout=10,
    )
    inv = await backend.snapshot()
    assert _as_ps(inv.containers.values()) == _docker_ps(dockerd)
    states = {c.name: c.state for c in inv.containers.values()}
    assert states[f"{name}-created"] is ContainerState.CREATED
    assert states[f"{name}-running"] is ContainerState.RUNNING
    assert states[f"{name}-exited"] is ContainerState.EXITED
    exited = next(c for c in inv.containers.values() if c.name == f"{name}-exited")
    assert exited.exit_code == 3
    await wait_until(
        lambda: any(e.kind == "container.die" and e.target_id == exited.id for e in backend._published.events.values()),
        what="the die event",
    )
    died = next(e for e in backend._published.events.values() if e.kind == "container.die" and e.target_id == exited.id)
    assert died.severity.value == "warning" and "exit 3" in died.message
    (host,) = inv.hosts.values()
    assert host.state is HostState.RUNNING and host.endpoint == dockerd.url
    assert host.engine_version == dockerd.cli("version", "--format", "{{.Server.Version}}").strip()
    assert host.cores >= 1 and host.memory_mib > 0 and host.os


async def test_cli_containers_list_json_equals_docker_ps(dockerd, image, name, tmp_path):
    _make_mixed_containers(dockerd, image, name)
    done = subprocess.run(
        [sys.executable, "-m", "console", "--backend", "docker", "--docker-host", dockerd.url, "containers", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {(r["id"], r["name"], r["state"], r["image"]) for r in rows} == _docker_ps(dockerd)


async def test_the_same_list_through_ssh(dockerd, sshd, ssh_home, image, name):
    _make_mixed_containers(dockerd, image, name)
    backend = DockerBackend([sshd.ssh_url(dockerd.socket_path)])
    await backend.connect()
    try:
        inv = await backend.snapshot()
        assert _as_ps(inv.containers.values()) == _docker_ps(dockerd)
        (host,) = inv.hosts.values()
        assert host.endpoint.startswith("ssh://") and host.state is HostState.RUNNING
        # live over the tunnel too
        dockerd.cli("create", "--network", "none", "--name", f"{name}-late", image)
        await wait_until(
            lambda: any(c.name == f"{name}-late" for c in backend._published.containers.values()),
            what="an event through the ssh tunnel",
        )
    finally:
        await backend.close()


async def test_ssh_host_keys_unknown_refused_accepted_on_request_changed_refused(dockerd, sshd, ssh_home):
    from backends.errors import AuthenticationFailed

    ssh_dir = ssh_home / ".ssh"
    # The user's own known_hosts (the default file), which does not know this server yet.
    (ssh_dir / "config").write_text(f"Host 127.0.0.1\n  IdentityFile {sshd.client_key}\n")
    url = sshd.ssh_url(dockerd.socket_path)
    with pytest.raises(AuthenticationFailed, match="host key not trusted"):
        await DockerBackend([url]).connect()

    accepting = DockerBackend([url], accept_new_host_keys=True)
    await accepting.connect()
    await accepting.close()
    recorded = (ssh_dir / "known_hosts").read_text()
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519" in recorded
    strict = DockerBackend([url])
    await strict.connect()  # now known: no acceptance needed
    await strict.close()

    # A changed key is refused, even when new keys are accepted.
    other = ssh_dir / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    fake = (ssh_dir / "other.pub").read_text().split()[:2]
    (ssh_dir / "known_hosts").write_text(f"[127.0.0.1]:{sshd.port} {fake[0]} {fake[1]}\n")
    with pytest.raises(AuthenticationFailed, match="host key not trusted"):
        await DockerBackend([url], accept_new_host_keys=True).connect()


async def test_changes_arrive_from_events_in_coalesced_batches(backend, dockerd, image, name):
    batches: list[ChangeBatch] = []

    async def collect():
        async for update in backend.updates():
            if isinstance(update, ChangeBatch):
                batches.append(update)

    import asyncio

    collector = asyncio.create_task(collect())
    await asyncio.sleep(0)  # let the subscription register before anything changes
    for i in range(5):
        dockerd.cli("create", "--network", "none", "--name", f"{name}-{i}", image)
    await wait_until(
        lambda: sum(1 for c in backend._published.containers.values() if c.name.startswith(f"{name}-")) == 5,
        what="five created containers",
    )
    seqs = [b.seq for b in batches]
    assert seqs == sorted(set(seqs))
    created = [c for b in batches for c in b.changes if c.kind == "containers" and c.item and c.item.name.startswith(name)]
    assert created
    dockerd.cli("rm", f"{name}-0")
    await wait_until(
        lambda: not any(c.name == f"{name}-0" for c in backend._published.containers.values()), what="removal"
    )
    collector.cancel()


async def test_volumes_know_which_containers_mount_them(backend, dockerd, image, name):
    dockerd.cli("volume", "create", name)
    cid = dockerd.cli("create", "--network", "none", "-v", f"{name}:/data", "--name", name, image).strip()

    def volume():
        return next((v for v in backend._published.volumes.values() if v.name == name), None)

    await wait_until(lambda: volume() is not None and volume().container_ids == (cid,), what="the volume's user")
    v = volume()
    assert v.state is VolumeState.ATTACHED and v.driver == "local"
    (container,) = [c for c in backend._published.containers.values() if c.id == cid]
    assert [(m.source, m.path, m.kind) for m in container.mounts] == [(v.id, "/data", "volume")]
    dockerd.cli("rm", cid)
    await wait_until(lambda: volume() is not None and volume().container_ids == (), what="the volume freed")
    assert volume().state is VolumeState.AVAILABLE


async def test_stats_only_when_asked_one_in_flight_per_container(backend, dockerd, image, name):
    cid = dockerd.cli("run", "-d", "--network", "none", "--name", name, image, "sleep", "60").strip()
    await wait_until(lambda: cid in backend._published.containers, what="the container")
    assert backend._published.containers[cid].memory_mib == 0.0  # nothing without asking
    backend.request_stats([cid])
    backend.request_stats([cid, cid])
    engine = backend.engines[0]
    assert engine.inventory.stats_in_flight() == {cid}
    await wait_until(lambda: backend._published.containers[cid].memory_mib > 0, what="stats", timeout=15)
    assert engine.inventory.stats_in_flight() == frozenset()
    dockerd.cli("rm", "-f", cid)


async def test_restart_policy_and_times_come_from_inspect(backend, dockerd, image, name):
    cid = dockerd.cli("run", "-d", "--network", "none", "--restart", "unless-stopped", "--name", name, image, "sleep", "60").strip()
    await wait_until(
        lambda: cid in backend._published.containers
        and backend._published.containers[cid].restart_policy == "unless-stopped",
        what="the restart policy",
    )
    c = backend._published.containers[cid]
    assert c.state is ContainerState.RUNNING and c.started_at and c.started_at >= c.created_at
    dockerd.cli("rm", "-f", cid)


async def test_cli_list_through_ssh_equals_docker_ps(dockerd, sshd, ssh_home, image, name, tmp_path):
    _make_mixed_containers(dockerd, image, name)
    done = subprocess.run(
        [sys.executable, "-m", "console", "--backend", "docker", "--docker-host", sshd.ssh_url(dockerd.socket_path),
         "containers", "list", "--json"],
        capture_output=True,
        text=True,
        timeout=60,
        env=cli_env(tmp_path),  # HOME is the one whose ~/.ssh/config names the key and known_hosts
    )
    assert done.returncode == 0, done.stderr
    assert {(r["id"], r["name"], r["state"], r["image"]) for r in json.loads(done.stdout)} == _docker_ps(dockerd)
