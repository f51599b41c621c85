"""Reads: logs, inspect, shell commands, upgrade versions."""

from __future__ import annotations

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
