"""The Prism backend's own rules, end to end against ``sim serve``'s app on a real uvicorn:
checks made before anything is sent, cleanup of a half-made machine, upgrades in waves, and
the change stream following an action live."""

from __future__ import annotations

import asyncio

import pytest

from backends.contract import ChangeBatch, HostSpec, UpgradeSpec, VolumeSpec
from backends.errors import Conflict, InvalidInput, NotFound, QuotaExceeded
from backends.models import HostState, TaskStatus
from backends.prism import PrismBackend
from tests.prism.servers import backend_for, serve, sim_app


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("NTNX_CONSOLE_MACHINES_DIR", str(tmp_path / "machines"))
    with serve(sim_app(seed=5)) as srv:
        yield srv


@pytest.fixture
async def backend(server):
    b = backend_for(server, poll_interval=0.2)
    yield b
    await b.close()


def sim_tasks(server) -> int:
    return len(server.app.app.state.facade.sim.store.tasks)


async def facts(b: PrismBackend):
    inv = await b.snapshot()
    image = next(i for i in inv.images.values() if i.engine_version)
    network = next(iter(inv.networks.values()))
    return inv, image, network


async def test_the_simulator_says_it_is_simulated(backend):
    await backend.snapshot()
    assert backend.simulated


async def test_quota_and_names_are_checked_before_anything_is_sent(backend, server):
    inv, image, network = await facts(backend)
    sandbox = next(p for p in inv.projects.values() if p.name == "sandbox")
    before = sim_tasks(server)
    with pytest.raises(QuotaExceeded, match="project sandbox: vCPUs quota"):
        await backend.create_host(HostSpec("too-big", image.name, sandbox.quota.vcpus + 1, 4096, network.name, project="sandbox"))
    with pytest.raises(NotFound, match="image 'no-such-image' not found"):
        await backend.create_host(HostSpec("web-77", "no-such-image", 2, 4096, network.name))
    with pytest.raises(NotFound, match="network"):
        await backend.create_host(HostSpec("web-77", image.name, 2, 4096, "no-such-net"))
    with pytest.raises(InvalidInput, match="Web_01!"):
        await backend.create_host(HostSpec("Web_01!", image.name, 2, 4096, network.name))
    assert sim_tasks(server) == before, "a refused create reached Prism"


async def test_a_machine_whose_engine_never_answers_is_deleted(tmp_path, monkeypatch):
    monkeypatch.setenv("NTNX_CONSOLE_MACHINES_DIR", str(tmp_path / "machines"))
    # The simulator not saying it is one: the backend then checks the engine over SSH, as on
    # real Prism, and nothing answers SSH on the machine's 127.16.x.y address.
    with serve(sim_app(seed=5, announce=False)) as server:
        backend = backend_for(server, engine_timeout=0.5)
        try:
            await _engine_never_answers(backend, tmp_path)
        finally:
            await backend.close()


async def _engine_never_answers(backend: PrismBackend, tmp_path) -> None:
    _, image, network = await facts(backend)
    assert not backend.simulated
    task = await backend.create_host(HostSpec("web-78", image.name, 2, 4096, network.name))
    final = await asyncio.wait_for(backend.wait_task(task.id), 60)
    assert final.status is TaskStatus.FAILED
    assert "ssh docker@127." in final.error and final.error.endswith("(the VM was deleted)")
    names = {h.name for h in (await backend.snapshot()).hosts.values() if h.state is not HostState.DELETING}
    assert "web-78" not in names
    assert list((tmp_path / "machines").iterdir()) == [], "the machine's keys outlived it"


async def test_upgrade_runs_in_waves_of_the_batch_size(backend):
    inv = await backend.snapshot()
    newest = (await backend.upgrade_versions())[0]
    behind = sorted((h for h in inv.hosts.values() if h.engine_version != newest and h.state is HostState.RUNNING), key=lambda h: h.name)[:4]
    assert len(behind) == 4
    task = await backend.upgrade_hosts(UpgradeSpec(tuple(h.id for h in behind), newest, batch_size=2))
    states: list[set[str]] = []

    def watch(t) -> None:
        inv = backend._poller.current
        states.append({h.name for h in inv.hosts.values() if h.state is HostState.UPGRADING})

    final = await asyncio.wait_for(backend.wait_task(task.id, watch), 60)
    assert final.status is TaskStatus.SUCCEEDED, final.error
    children = [backend._tasks.get(c) for c in final.child_ids]
    by_name = {t.target: t for t in children}
    wave1 = [by_name[h.name] for h in behind[:2]]
    wave2 = [by_name[h.name] for h in behind[2:]]
    assert max(t.finished_at for t in wave1) <= min(t.started_at for t in wave2)
    assert max(t.started_at for t in wave1) < min(t.finished_at for t in wave1)  # a wave runs together
    after = await backend.snapshot()
    assert {after.hosts[h.id].engine_version for h in behind} == {newest}
    assert all(h.state is HostState.RUNNING for h in after.hosts.values() if h.id in {b.id for b in behind})
    # While a wave ran its hosts showed as upgrading, never more than the batch at once.
    assert any(states) and max(len(s) for s in states) <= 2


async def test_the_change_stream_follows_a_create_live(backend):
    _, image, network = await facts(backend)
    stream = backend.updates()
    seen: list[ChangeBatch] = []

    async def collect() -> None:
        async for update in stream:
            if isinstance(update, ChangeBatch):
                seen.append(update)

    collector = asyncio.create_task(collect())
    await asyncio.sleep(0)
    task = await backend.create_host(HostSpec("web-79", image.name, 2, 4096, network.name))
    await asyncio.wait_for(backend.wait_task(task.id), 60)

    def upserted(kind: str, pred) -> bool:
        return any(c.kind == kind and c.op == "upsert" and pred(c.item) for b in seen for c in b.changes)

    try:
        deadline = asyncio.get_running_loop().time() + 20
        while not upserted("hosts", lambda h: h.name == "web-79" and h.state is HostState.RUNNING):
            assert asyncio.get_running_loop().time() < deadline, "the new host never reached the stream"
            await asyncio.sleep(0.05)
        assert upserted("tasks", lambda t: t.id == task.id and t.status is TaskStatus.SUCCEEDED)
        assert [b.seq for b in seen] == sorted({b.seq for b in seen})
    finally:
        collector.cancel()


async def test_volume_rules(backend):
    inv = await backend.snapshot()
    running = sorted((h for h in inv.hosts.values() if h.state is HostState.RUNNING), key=lambda h: h.name)
    task = await backend.create_volume(VolumeSpec("vol-rules", 4, host=running[0].name))
    final = await asyncio.wait_for(backend.wait_task(task.id), 60)
    assert final.status is TaskStatus.SUCCEEDED and "disk not mounted: simulated machine" in final.message
    vol = (await backend.snapshot()).volumes[final.result_id]
    assert vol.host_id == running[0].id and vol.size_gib == 4
    with pytest.raises(Conflict, match="one host at a time"):
        await backend.attach_volume(vol.id, running[1].id)
    with pytest.raises(Conflict, match="detach it first"):
        await backend.delete_volume(vol.id)
    # A volume a running container mounts: the simulator's Prism refuses the detach (409).
    used = next(v for v in inv.volumes.values() if v.host_id and v.name.endswith("-data"))
    with pytest.raises(Conflict, match="mounted by running container"):
        await backend.detach_volume(used.id)


async def test_a_volume_attaches_to_an_unreachable_machine_and_says_it_is_not_mounted(tmp_path, monkeypatch):
    monkeypatch.setenv("NTNX_CONSOLE_MACHINES_DIR", str(tmp_path / "machines"))
    with serve(sim_app(seed=5, announce=False)) as server:
        backend = backend_for(server)
        try:
            _, image, network = await facts(backend)
            made = await backend.create_host(HostSpec("web-80", image.name, 1, 2048, network.name, engine_check=False))
            made = await asyncio.wait_for(backend.wait_task(made.id), 60)
            assert made.status is TaskStatus.SUCCEEDED and "engine check skipped (--no-engine-check)" in made.message
            task = await backend.create_volume(VolumeSpec("web-80-data", 2, host="web-80"))
            final = await asyncio.wait_for(backend.wait_task(task.id), 60)
            assert final.status is TaskStatus.SUCCEEDED, final.error
            assert final.message.startswith("attached to web-80; disk not mounted: machine unreachable over SSH (ssh docker@127.")
            assert (await backend.snapshot()).volumes[final.result_id].host_id == made.result_id
        finally:
            await backend.close()


async def test_a_partitioned_prism_is_unavailable_and_the_stream_says_so(backend, server):
    from backends.contract import ConnectionChanged, ConnectionState
    from backends.errors import Unavailable

    await backend.snapshot()
    facade = server.app.app.state.facade
    notices: list[ConnectionChanged] = []

    async def collect() -> None:
        async for update in backend.updates():
            if isinstance(update, ConnectionChanged):
                notices.append(update)

    collector = asyncio.create_task(collect())
    try:
        facade.loop.call_soon_threadsafe(facade.sim.set_partition, True)
        with pytest.raises(Unavailable, match="partition"):
            await backend.snapshot()
        deadline = asyncio.get_running_loop().time() + 20
        while not notices:
            assert asyncio.get_running_loop().time() < deadline, "no unreachable notice"
            await asyncio.sleep(0.05)
        assert notices[0].state is ConnectionState.UNREACHABLE and "partition" in notices[0].reason
        facade.loop.call_soon_threadsafe(facade.sim.set_partition, False)
        assert (await backend.snapshot()).hosts
        while notices[-1].state is not ConnectionState.CONNECTED:
            assert asyncio.get_running_loop().time() < deadline, "no reconnected notice"
            await asyncio.sleep(0.05)
    finally:
        collector.cancel()
