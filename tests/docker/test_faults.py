"""Faults: dockerd killed under a running backend, and brought back. A private daemon, since
these tests kill it."""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import pytest

from backends.contract import ConnectionChanged, ConnectionState
from backends.docker import DockerBackend
from backends.models import HostState, TaskStatus
from tests.daemons import cleanup_dockerd, start_dockerd
from tests.waiting import wait_until

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def fragile_dockerd():
    daemon = start_dockerd()
    try:
        yield daemon
    finally:
        cleanup_dockerd(daemon)


@pytest.fixture
async def fragile_backend(fragile_dockerd):
    if fragile_dockerd.proc is None:
        fragile_dockerd.start()
    b = DockerBackend([fragile_dockerd.url])
    await b.connect()
    try:
        yield b
    finally:
        await b.close()


def _host(backend):
    (host,) = backend._published.hosts.values()
    return host


async def test_killed_engine_is_unreachable_with_its_age_then_back_with_fresh_data(fragile_backend, fragile_dockerd):
    b, daemon = fragile_backend, fragile_dockerd
    daemon.cli("create", "--network", "none", "--name", "before", daemon.image)
    await wait_until(lambda: any(c.name == "before" for c in b._published.containers.values()), what="container")
    notices: list[ConnectionChanged] = []

    async def watch():
        async for update in b.updates():
            if isinstance(update, ConnectionChanged):
                notices.append(update)

    watcher = asyncio.create_task(watch())
    await asyncio.sleep(0)
    fresh_at = _host(b).observed_at
    killed_at = time.time()
    daemon.kill()
    await wait_until(lambda: _host(b).state is HostState.UNREACHABLE, what="host unreachable", timeout=15)
    host = (await b.snapshot()).hosts[_host(b).id]  # snapshots keep working
    assert host.reason and "Unavailable" in host.reason
    # The data is as of when the engine stopped answering; its age grows from there.
    assert fresh_at <= killed_at <= host.observed_at <= time.time()
    await b.engines[0].first_attempt.wait()
    b.engines[0].retry_now()  # a failed reconnection attempt does not make the data fresher
    await wait_until(lambda: b.engines[0].backoff > 1.0, what="a failed retry")
    assert (await b.snapshot()).hosts[host.id].observed_at == host.observed_at
    assert any(c.name == "before" for c in (await b.snapshot()).containers.values())  # last data kept
    await wait_until(lambda: any(n.state is ConnectionState.UNREACHABLE for n in notices), what="notice")

    daemon.start()
    daemon.cli("create", "--network", "none", "--name", "after", daemon.image)
    await wait_until(lambda: _host(b).state is HostState.RUNNING, what="host back", timeout=20)
    await wait_until(lambda: any(c.name == "after" for c in b._published.containers.values()), what="fresh data")
    assert _host(b).observed_at > fresh_at and _host(b).reason is None
    await wait_until(lambda: notices[-1].state is ConnectionState.CONNECTED, what="connected notice")
    kinds = [e.kind for e in (await b.snapshot()).events.values()]
    assert kinds.index("host.unreachable") < kinds.index("host.reachable")
    watcher.cancel()
    daemon.remove_all_containers()


async def _wait_for_kill_signal(socket_path: str, cid: str, since: int) -> None:
    """Until the engine reports sending SIGTERM to ``cid`` (the stop request is in flight);
    ``since`` replays events from before the call, so none is missed."""
    transport = httpx.AsyncHTTPTransport(uds=socket_path)
    async with httpx.AsyncClient(transport=transport, base_url="http://docker", timeout=None) as client:
        filters = json.dumps({"event": ["kill"], "container": [cid]})
        async with client.stream("GET", "/events", params={"filters": filters, "since": str(since)}) as response:
            async for line in response.aiter_lines():
                if line.strip():
                    return


async def test_an_action_in_flight_when_the_engine_dies_ends_failed(fragile_backend, fragile_dockerd):
    b, daemon = fragile_backend, fragile_dockerd
    # PID 1 without a TERM handler ignores SIGTERM: stop waits out its whole grace period.
    # Its own stop timeout is short, so the restarted engine does not wait long to clean it up.
    cid = daemon.cli(
        "run", "-d", "--network", "none", "--stop-timeout", "1", "--name", "stubborn", daemon.image, "sleep", "300"
    ).strip()
    await wait_until(lambda: cid in b._published.containers, what="container")
    since = int(time.time()) - 1
    task = await b.stop_container(cid)
    await asyncio.wait_for(_wait_for_kill_signal(daemon.socket_path, cid, since), 15)
    daemon.kill()
    final = await asyncio.wait_for(b.wait_task(task.id, poll_interval=0.05), 15)
    assert final.status is TaskStatus.FAILED and final.error.startswith("Unavailable")
    assert "\n" not in final.error
    daemon.start()
    await wait_until(lambda: _host(b).state is HostState.RUNNING, what="host back", timeout=20)
    daemon.remove_all_containers()


async def test_actions_on_an_unreachable_engine_are_refused_with_the_reason(fragile_backend, fragile_dockerd):
    from backends.errors import Unavailable

    b, daemon = fragile_backend, fragile_dockerd
    cid = daemon.cli("create", "--network", "none", daemon.image).strip()
    await wait_until(lambda: cid in b._published.containers, what="container")
    daemon.kill()
    await wait_until(lambda: _host(b).state is HostState.UNREACHABLE, what="host unreachable", timeout=15)
    with pytest.raises(Unavailable, match="unreachable"):
        await b.start_container(cid)
    daemon.start()
    await wait_until(lambda: _host(b).state is HostState.RUNNING, what="host back", timeout=20)
    daemon.remove_all_containers()


async def test_an_ssh_engine_reconnects_through_a_new_tunnel(fragile_dockerd, sshd, ssh_home):
    daemon = fragile_dockerd
    if daemon.proc is None:
        daemon.start()
    b = DockerBackend([sshd.ssh_url(daemon.socket_path)])
    await b.connect()
    try:
        daemon.kill()
        await wait_until(lambda: _host(b).state is HostState.UNREACHABLE, what="host unreachable", timeout=15)
        daemon.start()
        daemon.cli("create", "--network", "none", "--name", "via-ssh", daemon.image)
        await wait_until(lambda: _host(b).state is HostState.RUNNING, what="host back", timeout=20)
        await wait_until(lambda: any(c.name == "via-ssh" for c in b._published.containers.values()), what="fresh data")
    finally:
        await b.close()
        daemon.remove_all_containers()


async def test_several_engines_one_down_the_rest_carry_on(dockerd, tmp_path):
    from backends.errors import Unavailable

    missing = f"unix://{tmp_path}/gone.sock"
    b = DockerBackend([dockerd.url, missing])
    await b.connect()
    try:
        hosts = {h.endpoint: h for h in (await b.snapshot()).hosts.values()}
        assert hosts[dockerd.url].state is HostState.RUNNING
        down = hosts[missing]
        assert down.state is HostState.UNREACHABLE and "gone.sock" in down.reason and down.observed_at == 0.0
        assert b._connection is ConnectionState.DEGRADED
    finally:
        await b.close()
    with pytest.raises(Unavailable, match="gone.sock"):
        await DockerBackend([missing]).connect()
