"""`container logs C1 C2 …`: interleaved by time, each line prefixed with its container;
--grep narrows (plain or /regex/); --follow goes on with every container's new lines."""

from __future__ import annotations

import argparse
import asyncio
import json

from backends.simulator import SimulatorBackend
from console.log_commands import print_logs


def test_several_containers_are_interleaved_by_time_with_prefixes(cli):
    rows = [json.loads(line) for line in cli("--demo", "container", "logs", "api-1", "api-2", "api-3", "--tail", "20", "--json").out.splitlines()]
    assert {r["container"] for r in rows} == {"api-1", "api-2", "api-3"}
    times = [r["time"] for r in rows]
    assert times == sorted(times) and len(rows) > 20
    text = cli("--demo", "container", "logs", "api-1", "api-2", "--tail", "5")
    lines = text.out.splitlines() + text.err.splitlines()[1:]
    assert lines and all(line.split(" | ", 1)[0].strip() in ("api-1", "api-2") for line in lines)


def test_grep_keeps_only_matching_lines_plain_or_regex(cli):
    every = cli("--demo", "container", "logs", "api-1", "api-2", "--tail", "200", "--json").out.splitlines()
    plain = cli("--demo", "container", "logs", "api-1", "api-2", "--tail", "200", "--json", "--grep", "UPSTREAM").out.splitlines()
    assert 0 < len(plain) < len(every) and all("upstream" in json.loads(r)["text"] for r in plain)
    regex = cli("--demo", "container", "logs", "api-1", "api-2", "--tail", "200", "--json", "--grep", r"/status=2\d\d/").out.splitlines()
    assert regex and all("status=2" in json.loads(r)["text"] for r in regex)
    bad = cli("--demo", "container", "logs", "api-1", "api-2", "--grep", "/(x/")
    assert bad.code == 2 and "not a regular expression" in bad.err and bad.err.count("Invalid") == 1


def test_follow_goes_on_with_each_container_s_new_lines(capsys):
    names: set[str] = set()

    async def run() -> str:
        sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
        await sim.connect()
        try:
            inv = await sim.snapshot()
            running = sorted((c for c in inv.containers.values() if c.state.value == "running"), key=lambda c: c.name)
            containers = running[:2]
            names.update(c.name for c in containers)
            args = argparse.Namespace(follow=True, tail=1, grep=None, json=True)
            task = asyncio.create_task(print_logs(sim, args, containers))
            await asyncio.sleep(0.2)
            capsys.readouterr()
            for _ in range(5):
                await sim.advance(30)
                await asyncio.sleep(0.3)  # past the follow window: each batch printed in time order
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
            return capsys.readouterr().out
        finally:
            await sim.close()

    rows = [json.loads(line) for line in asyncio.run(run()).splitlines()]
    assert len(names) == 2 and {r["container"] for r in rows} == names
    times = [r["time"] for r in rows]
    assert times == sorted(times)  # new lines as they come: in time order
