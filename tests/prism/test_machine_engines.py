"""Containers of container machines, from their engines, through the Docker backend.

End to end: ``sim serve``'s app on a real uvicorn plays Prism Central; one of its container
machines gets keys in the machines directory, as if this computer had made it, and its
``engine`` file points at a real sshd in front of a real dockerd (the sim's machines have no
engines of their own). Nothing connects outside 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backends.contract import Capability, ChangeBatch, ContainerSpec
from backends.errors import Conflict, NotFound, Unavailable
from backends.models import Container, ContainerState, HostState, TaskStatus
from tests.daemons import DEFAULT_COMMAND, TEST_IMAGE, SSHDaemon, dockerd, require, start_sshd  # noqa: F401
from tests.prism.servers import PASSWORD, backend_for, serve, sim_app
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def machines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "machines"
    monkeypatch.setenv("NTNX_CONSOLE_MACHINES_DIR", str(directory))
    return directory


@pytest.fixture
def server(machines):
    with serve(sim_app(seed=5)) as srv:
        yield srv


@pytest.fixture
async def backend(server):
    b = backend_for(server, poll_interval=0.2)
    yield b
    await b.close()


@pytest.fixture
def own_sshd():
    """A private sshd: this test kills it."""
    daemon = start_sshd()
    try:
        yield daemon
    finally:
        _kill_sshd(daemon)
        shutil.rmtree(daemon.root, ignore_errors=True)


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_sshd(daemon: SSHDaemon) -> None:
    """The listener and the sessions it forked (the engine's tunnel lives in one of them)."""
    if daemon.proc is None:
        return
    sessions = _descendants(daemon.proc.pid)
    daemon.stop()
    for pid in sessions:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _restart_sshd(daemon: SSHDaemon) -> None:
    log = (daemon.root / "sshd.log").open("ab")
    daemon.proc = subprocess.Popen(
        [require("sshd", "openssh-server"), "-D", "-e", "-f", str(daemon.root / "sshd_config")], stdout=log, stderr=subprocess.STDOUT
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            with socket.create_connection(("127.0.0.1", daemon.port), timeout=1) as s:
                if s.recv(4) == b"SSH-":
                    return
        except OSError:
            pass
        assert time.monotonic() < deadline and daemon.proc.poll() is None, "sshd did not come back"
        time.sleep(0.05)


def _hold_keys(machines: Path, vm_id: str, sshd: SSHDaemon, engine_url: str | None = None) -> None:
    """The machine's directory as ``create host`` leaves it (under its VM's uuid), with the
    sshd's keys."""
    directory = machines / vm_id
    directory.mkdir(parents=True)
    shutil.copy(sshd.client_key, directory / "id_ed25519")
    shutil.copy(sshd.known_hosts, directory / "known_hosts")
    if engine_url:
        (directory / "engine").write_text(engine_url + "\n")


def _remove(dockerd, suffix: str, volume: str) -> None:
    for prefix in ("web", "job", "late"):
        dockerd.cli("rm", "-f", f"{prefix}-{suffix}", check=False)
    dockerd.cli("volume", "rm", volume, check=False)


def _container_machines(inv):
    return sorted(
        (h for h in inv.hosts.values() if h.role == "container-machine" and h.state is HostState.RUNNING and h.ip),
        key=lambda h: h.name,
    )


def _on_host(inv, host_id: str) -> set[tuple[str, str]]:
    return {(c.id, c.name) for c in inv.containers.values() if c.host_id == host_id}


def _docker_ps(dockerd) -> set[tuple[str, str]]:
    return {(p["ID"], p["Names"]) for p in dockerd.ps_json()}


async def test_a_machine_engine_s_containers_join_its_host_and_survive_its_sshd_dying(
    backend, server, machines, own_sshd, dockerd, request
):
    inv = await backend.snapshot()
    assert not backend.supports(Capability.CONTAINERS_LIFECYCLE), "containers claimed with no engine to deliver them"
    candidates = {h.id: h for h in _container_machines(inv)}
    group = sorted((v for v in inv.volumes.values() if v.host_id in candidates), key=lambda v: v.name)[0]
    machine = candidates[group.host_id]
    suffix = str(time.monotonic_ns())[-6:]
    request.addfinalizer(lambda: _remove(dockerd, suffix, group.name))
    dockerd.cli("run", "-d", "--network", "none", "--name", f"web-{suffix}", TEST_IMAGE, "sh", "-c", DEFAULT_COMMAND)
    # The volume group's Docker volume, as attaching it to a real machine makes it.
    dockerd.cli("volume", "create", group.name)
    dockerd.cli("create", "--network", "none", "--name", f"job-{suffix}", "-v", f"{group.name}:/data", TEST_IMAGE)
    _hold_keys(machines, machine.id, own_sshd, own_sshd.ssh_url(dockerd.socket_path))

    async def shown():
        return _on_host(await backend.snapshot(), machine.id) == _docker_ps(dockerd)

    await wait_until(shown, timeout=20, interval=0.1, what="the engine's containers under the machine")
    inv = await backend.snapshot()
    assert inv.hosts[machine.id].reason is None and inv.hosts[machine.id].state is HostState.RUNNING
    assert backend.supports(Capability.CONTAINERS_LIFECYCLE) and backend.supports(Capability.CONTAINERS_RUN)
    assert {(c.id, c.name) for c in inv.containers.values()} == _docker_ps(dockerd), "containers under no machine"

    # A container mounting the volume group's Docker volume uses the volume group: it stays.
    job = next(c for c in inv.containers.values() if c.name == f"job-{suffix}")
    assert [(m.source, m.path) for m in job.mounts] == [(group.id, "/data")]
    assert inv.volumes[group.id].container_ids == (job.id,)
    with pytest.raises(Conflict, match=f"volume {group.name} is used by 1 container"):
        await backend.detach_volume(group.id)

    # Figures for the rows in view, asked of the engine that runs the container.
    web = next(c for c in inv.containers.values() if c.name == f"web-{suffix}")
    assert web.state is ContainerState.RUNNING and web.memory_mib == 0.0
    backend.request_stats([web.id])

    async def measured():
        return (await backend.snapshot()).containers[web.id].memory_mib > 0

    await wait_until(measured, timeout=15, interval=0.1, what="the container's figures")

    # An action goes to the engine that holds the container, and the stream shows it live.
    assert inv.hosts[machine.id].endpoint == own_sshd.ssh_url(dockerd.socket_path)
    seen: list[Container] = []

    async def collect() -> None:
        async for update in backend.updates():
            if isinstance(update, ChangeBatch):
                seen.extend(c.item for c in update.changes if c.kind == "containers" and c.op == "upsert")

    collector = asyncio.create_task(collect())
    try:
        final = await asyncio.wait_for(backend.wait_task((await backend.stop_container(web.id)).id), 30)
        assert final.status is TaskStatus.SUCCEEDED, final.error
        assert final.target_id == web.id
        assert next(p for p in dockerd.ps_json() if p["ID"] == web.id)["State"] == "exited"
        await wait_until(
            lambda: any(c.id == web.id and c.state is ContainerState.EXITED and c.host_id == machine.id for c in seen),
            timeout=10,
            what="the stopped container on the change stream",
        )
    finally:
        collector.cancel()

    # The sshd dies: the host says its engine is unreachable, Prism's state stays.
    _kill_sshd(own_sshd)

    async def unreachable():
        reason = (await backend.snapshot()).hosts[machine.id].reason or ""
        return reason.startswith("engine unreachable:")

    await wait_until(unreachable, timeout=20, interval=0.1, what="the engine unreachable")
    inv = await backend.snapshot()
    host = inv.hosts[machine.id]
    assert host.state is HostState.RUNNING
    assert "containers as of" in host.reason, host.reason
    assert _on_host(inv, machine.id), "the last known containers were dropped"
    with pytest.raises(Unavailable, match=f"{machine.name} is unreachable"):
        await backend.start_container(web.id)

    # While it is away, a container appears; once the sshd is back, so is the engine, with it.
    dockerd.cli("create", "--network", "none", "--name", f"late-{suffix}", TEST_IMAGE)
    _restart_sshd(own_sshd)
    await wait_until(shown, timeout=40, interval=0.2, what="the engine back with fresh containers")
    assert (await backend.snapshot()).hosts[machine.id].reason is None

    # The CLI, started now, lists them as ``docker ps -a`` does, on the machine's host.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTNX_")}
    env.update(NTNX_PASSWORD=PASSWORD, NTNX_CONSOLE_MACHINES_DIR=str(machines))
    argv = [sys.executable, "-m", "console", "--backend", "prism", "--prism-endpoint", server.endpoint,
            "--prism-user", "admin", "--ca-bundle", str(server.cert.cert), "containers", "list", "--json"]
    done = await asyncio.to_thread(
        subprocess.run, argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
    )
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    assert {(r["id"], r["name"]) for r in rows} == _docker_ps(dockerd)
    assert {r["host"] for r in rows} == {machine.name}
    assert next(r for r in rows if r["name"] == f"job-{suffix}")["mounts"][0]["source"] == group.name


async def test_engines_at_the_simulator_s_addresses_are_unreachable_promptly(backend, machines, own_sshd):
    inv = await backend.snapshot()
    first, second, third = _container_machines(inv)[:3]
    # A machine whose engine file names something no machine engine is: said, not fatal.
    _hold_keys(machines, third.id, own_sshd, "unix:///var/run/docker.sock")
    # Keys for the machine, no engine file: its engine is ssh://docker@ its 127.x address,
    # where nothing listens.
    _hold_keys(machines, first.id, own_sshd)
    assert first.ip.startswith("127.")
    started = time.monotonic()

    async def unreachable():
        reason = (await backend.snapshot()).hosts[first.id].reason or ""
        return reason.startswith(f"engine unreachable: ssh docker@{first.ip}")

    await wait_until(unreachable, timeout=10, interval=0.1, what="the engine unreachable")
    assert time.monotonic() - started < 10
    inv = await backend.snapshot()
    assert inv.hosts[first.id].state is HostState.RUNNING
    assert inv.hosts[second.id].reason is None, "a machine without keys got an engine"
    assert backend.supports(Capability.CONTAINERS_RUN)

    with pytest.raises(Unavailable, match=f"{first.name} is unreachable"):
        await backend.run_container(ContainerSpec(TEST_IMAGE, first.name))
    with pytest.raises(Unavailable, match=f"{second.name}: not made from this computer"):
        await backend.run_container(ContainerSpec(TEST_IMAGE, second.name))
    with pytest.raises(NotFound):
        await backend.start_container("no-such-container")
    assert inv.hosts[third.id].reason == "engine unusable: unix:///var/run/docker.sock: a machine's engine is reached over ssh:// or tcp:// with TLS"
    with pytest.raises(Unavailable, match=f"{third.name}: engine unusable"):
        await backend.run_container(ContainerSpec(TEST_IMAGE, third.name))

    # Every poll stays quick although the engine keeps refusing (backoff, short timeouts).
    started = time.monotonic()
    for _ in range(5):
        await backend.snapshot()
    assert time.monotonic() - started < 5


async def test_a_machine_engine_over_tcp_with_tls_uses_the_machine_s_certificates(backend, machines, own_sshd, dockerd, request):
    inv = await backend.snapshot()
    machine = _container_machines(inv)[0]
    name = f"tls-{str(time.monotonic_ns())[-6:]}"
    request.addfinalizer(lambda: dockerd.cli("rm", "-f", name, check=False))
    dockerd.cli("create", "--network", "none", "--name", name, TEST_IMAGE)
    _hold_keys(machines, machine.id, own_sshd, dockerd.tls_url)
    for pem in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(dockerd.tls_dir / pem, machines / machine.id / pem)

    async def shown():
        return _on_host(await backend.snapshot(), machine.id) == _docker_ps(dockerd)

    await wait_until(shown, timeout=20, interval=0.1, what="the engine's containers over tcp+TLS")
    assert (await backend.snapshot()).hosts[machine.id].reason is None


def test_the_docker_backend_is_loaded_only_for_a_machine_whose_keys_are_held(server, machines, own_sshd):
    probe = (
        "import asyncio, sys\n"
        "from backends.prism import PrismBackend\n"
        "from backends.prism.client import Credentials\n"
        "from backends.prism.about import PrismSettings\n"
        "async def main():\n"
        f"    b = PrismBackend(PrismSettings(endpoint={server.endpoint!r}, user='admin', ca_bundle={str(server.cert.cert)!r}),\n"
        f"                     credentials=Credentials('admin', {PASSWORD!r}))\n"
        "    inv = await b.snapshot()\n"
        "    await b.close()\n"
        "    print('backends.docker' in sys.modules, sum(1 for h in inv.hosts.values() if h.reason and 'engine' in h.reason))\n"
        "asyncio.run(main())\n"
    )
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("NTNX_")}, "NTNX_CONSOLE_MACHINES_DIR": str(machines)}

    def run() -> str:
        done = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout.strip()

    assert run() == "False 0"
    sim_machine = next(
        h for h in asyncio.run(_first_listing(server)).hosts.values()
        if h.role == "container-machine" and h.state is HostState.RUNNING and h.ip
    )
    _hold_keys(machines, sim_machine.id, own_sshd)
    assert run() == "True 1"


async def _first_listing(server):
    b = backend_for(server)
    try:
        return await b.snapshot()
    finally:
        await b.close()
