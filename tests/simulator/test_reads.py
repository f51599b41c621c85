"""Logs, inspect and the simulated shell."""

from __future__ import annotations

import asyncio
import subprocess

from backends.models import ContainerState
from backends.simulator import SimulatorBackend
from tests.waiting import wait_until


async def _running(sim: SimulatorBackend):
    inv = await sim.snapshot()
    return sorted((c for c in inv.containers.values() if c.state is ContainerState.RUNNING), key=lambda c: c.name)


async def test_logs_are_the_same_at_every_read_and_filter_by_tail_and_since(sim: SimulatorBackend):
    c = (await _running(sim))[0]
    first = [line async for line in sim.logs(c.id, tail=20)]
    second = [line async for line in sim.logs(c.id, tail=20)]
    assert first == second and len(first) == 20
    times = [line.time for line in first]
    assert times == sorted(times) and times[-1] <= sim.clock.now
    later = [line async for line in sim.logs(c.id, since=times[10])]
    assert later == first[11:]


async def test_follow_yields_new_lines_as_simulated_time_passes(sim: SimulatorBackend):
    c = (await _running(sim))[0]
    got = []

    async def follow() -> None:
        async for line in sim.logs(c.id, follow=True, tail=0):
            got.append(line)

    reader = asyncio.create_task(follow())
    for _ in range(3):
        await asyncio.sleep(0)
    assert got == []
    start = sim.clock.now
    await sim.advance(120)
    await wait_until(lambda: len(got) >= 8, timeout=5, what="followed lines")
    reader.cancel()
    assert all(start < line.time <= sim.clock.now for line in got)
    times = [line.time for line in got]
    assert times == sorted(times)


async def test_inspect_describes_mounts_and_state(sim: SimulatorBackend):
    c = next(c for c in await _running(sim) if c.mounts)
    doc = await sim.inspect_container(c.id)
    assert doc["State"]["Status"] == "running" and doc["Config"]["Image"] == c.image
    assert [m["Destination"] for m in doc["Mounts"]] == [m.path for m in c.mounts]


async def test_the_shell_is_a_local_program_that_says_where_it_is(sim: SimulatorBackend):
    host = next(h for h in (await sim.snapshot()).hosts.values() if h.name == "cm-web-01")
    cmd = await sim.shell("host", host.id)
    env = dict(cmd.env)
    proc = subprocess.run(list(cmd.argv), input="hostname\ndocker version\nexit\n", capture_output=True, text=True,
                          timeout=10, env={**env, "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0
    assert "cm-web-01" in proc.stdout and "Simulated shell" in proc.stdout and host.engine_version in proc.stdout
