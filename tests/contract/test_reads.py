"""Reads: logs, inspect, shell commands, upgrade versions, a host's stats history."""

from __future__ import annotations

import time

from backends.contract import Capability, LogLine, ShellCommand
from backends.models import ContainerState
from backends.waves import parse_version

from .envs import ContractEnv
from .helpers import need


async def _running_container(env: ContractEnv):
    inv = await env.backend.snapshot()
    running = sorted((c for c in inv.containers.values() if c.state is ContainerState.RUNNING), key=lambda c: c.name)
    if not running:
        need(env, running_container=None)
    return running[0]


async def test_logs_tail_gives_at_most_that_many_lines(env: ContractEnv):
    need(env, Capability.CONTAINERS_LOGS)
    c = await _running_container(env)
    lines = [line async for line in env.backend.logs(c.id, tail=5)]
    assert 0 < len(lines) <= 5
    assert all(isinstance(line, LogLine) and line.text and "\n" not in line.text for line in lines)
    assert all(line.stream in ("stdout", "stderr") for line in lines)


async def test_inspect_is_docker_shaped(env: ContractEnv):
    need(env, Capability.CONTAINERS_INSPECT)
    c = await _running_container(env)
    doc = await env.backend.inspect_container(c.id)
    assert doc["Id"] == c.id and doc["State"]["Running"] is True and doc["Name"].lstrip("/") == c.name


async def test_shell_is_a_command_to_run(env: ContractEnv):
    need(env, Capability.CONTAINERS_SHELL)
    c = await _running_container(env)
    cmd = await env.backend.shell("container", c.id)
    assert isinstance(cmd, ShellCommand) and cmd.argv


async def test_upgrade_versions_are_newest_first(env: ContractEnv):
    need(env, Capability.HOSTS_UPGRADE)
    versions = await env.backend.upgrade_versions()
    assert versions and [parse_version(v) for v in versions] == sorted((parse_version(v) for v in versions), reverse=True)


async def test_stats_history_is_the_window_asked_for_oldest_first(env: ContractEnv):
    need(env, Capability.STATS_HISTORY, host_id=env.host_id)
    clock = getattr(env.backend, "clock", None)  # the simulator's virtual clock; else the wall's
    now = clock.now if clock is not None else time.time()
    samples = await env.backend.stats_history("hosts", env.host_id, now - 600, 30)
    assert samples, "a running host has a past"
    times = [s.at for s in samples]
    assert times == sorted(times) and now - 631 <= times[0] and times[-1] <= now + 60
    assert len(samples) <= 600 // 30 + 2
    for s in samples:
        assert all(v is None or v >= 0 for v in (s.cpu_percent, s.memory_mib, s.net_rx_kibps, s.net_tx_kibps))
    inv = await env.backend.snapshot()
    running = [c for c in inv.containers.values() if c.state is ContainerState.RUNNING]
    if running:  # a container's past may be empty (Prism keeps none), never an error
        assert isinstance(await env.backend.stats_history("containers", running[0].id, now - 600, 30), list)
