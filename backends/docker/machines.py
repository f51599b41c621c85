"""Machines over SSH: provision a machine into a Docker host (as docker-machine's generic
driver does) and upgrade one engine in place. The rolling order comes from ``backends.waves``.
"""

from __future__ import annotations

import asyncio
import shlex
import time
import urllib.parse
from typing import Callable

from ..errors import BackendError, InvalidInput, Unavailable
from ..models import ContainerState
from ..waves import parse_version
from .engine import Engine
from .transport import DEFAULT_SOCKET, Endpoint, parse_endpoint, ssh_connect

COMMAND_TIMEOUT = 900.0
ENGINE_BACK_TIMEOUT = 300.0
CONTAINERS_BACK_TIMEOUT = 120.0
# Policies under which the engine itself starts a container again after it restarts.
RESTARTED_BY_ENGINE = ("always", "unless-stopped")

Progress = Callable[[int, str], None]


def ssh_endpoint(target: str) -> Endpoint:
    """``user@host[:port][/socket]`` (or a full ssh:// URL) as an ssh endpoint."""
    url = target if target.startswith("ssh://") else f"ssh://{target}"
    endpoint = parse_endpoint(url)
    if endpoint.scheme != "ssh":
        raise InvalidInput(f"{target}: not an SSH target (user@host[:port])")
    return endpoint


def _docker_cli(endpoint: Endpoint) -> str:
    if endpoint.path and endpoint.path != DEFAULT_SOCKET:
        return f"docker -H {shlex.quote('unix://' + endpoint.path)}"
    return "docker"


async def run_over_ssh(endpoint: Endpoint, command: str, *, stdin: str | None = None, accept_new: bool = False) -> str:
    """Run ``command`` on the endpoint's machine; its stdout, or BackendError with stderr's
    last line when it fails."""
    import asyncssh

    conn = await ssh_connect(endpoint.host or "", endpoint.port, endpoint.user, accept_new=accept_new, identity=endpoint.identity)
    try:
        result = await asyncio.wait_for(conn.run(command, input=stdin, check=False), COMMAND_TIMEOUT)
    except asyncio.TimeoutError:
        raise Unavailable(f"{endpoint.host}: {command!r} did not finish in {COMMAND_TIMEOUT:.0f}s") from None
    except (OSError, asyncssh.Error) as err:
        raise Unavailable(f"{endpoint.host}: {err}") from None
    finally:
        conn.close()
    if result.exit_status != 0:
        lines = str(result.stderr or result.stdout or "").strip().splitlines()
        raise BackendError(f"{endpoint.host}: {command!r} failed (exit {result.exit_status}): {lines[-1] if lines else ''}")
    return str(result.stdout or "")


async def engine_version_over_ssh(endpoint: Endpoint, *, accept_new: bool = False) -> str | None:
    """The engine version ``docker version`` reports on the machine, or None without one."""
    try:
        out = await run_over_ssh(
            endpoint, f"{_docker_cli(endpoint)} version --format '{{{{.Server.Version}}}}'", accept_new=accept_new
        )
    except Unavailable:
        raise
    except BackendError:
        return None
    return out.strip() or None


async def provision(
    endpoint: Endpoint, *, script: str | None, progress: Progress, accept_new: bool = False
) -> str:
    """Make the machine a Docker host; the engine version it runs."""
    progress(10, f"connecting to {endpoint.host} over SSH")
    version = await engine_version_over_ssh(endpoint, accept_new=accept_new)
    if version:
        progress(60, f"Docker Engine {version} is running")
        return version
    if not script:
        raise InvalidInput(
            f"{endpoint.host}: no Docker Engine answers there and no provisioning script is configured "
            "(set provision_script)"
        )
    progress(30, "installing Docker Engine with the provisioning script")
    with open(script, encoding="utf-8") as f:
        await run_over_ssh(endpoint, "sh -s", stdin=f.read(), accept_new=accept_new)
    version = await engine_version_over_ssh(endpoint, accept_new=accept_new)
    if not version:
        raise BackendError(f"{endpoint.host}: the provisioning script ran but no Docker Engine answers")
    progress(60, f"Docker Engine {version} installed")
    return version


async def upgrade_engine(engine: Engine, command: str, target_version: str, progress: Progress) -> None:
    """Run the upgrade command on the engine's machine (it installs the version and restarts
    the engine), wait until the engine answers with the new version and until the containers
    the engine restarts by policy are running again."""
    if engine.endpoint.scheme != "ssh":
        raise InvalidInput(f"{engine.name} is not reached over SSH ({engine.endpoint.url}): cannot upgrade it")
    expected = []
    for item in await engine.api.get("/containers/json", filters={"status": ["running"]}):
        info = await engine.api.get(f"/containers/{item['Id']}/json")
        if ((info.get("HostConfig") or {}).get("RestartPolicy") or {}).get("Name") in RESTARTED_BY_ENGINE:
            expected.append(item["Id"])
    progress(10, f"running the upgrade command on {engine.name}")
    await run_over_ssh(engine.endpoint, command.replace("{version}", shlex.quote(target_version)))
    progress(50, f"waiting for Docker Engine {target_version} on {engine.name}")
    target = parse_version(target_version)
    deadline = time.monotonic() + ENGINE_BACK_TIMEOUT
    engine.retry_now()
    while not (engine.reachable and engine.engine_version and parse_version(engine.engine_version) == target):
        if time.monotonic() > deadline:
            now = engine.engine_version if engine.reachable else f"unreachable ({engine.reason})"
            raise Unavailable(f"{engine.name}: the engine did not come back at {target_version} (now {now})")
        await asyncio.sleep(0.5)
        if not engine.reachable:
            engine.retry_now()
    progress(80, f"waiting for {len(expected)} container(s) with a restart policy")
    deadline = time.monotonic() + CONTAINERS_BACK_TIMEOUT
    while True:
        down = [cid for cid in expected if _state(engine, cid) is not ContainerState.RUNNING]
        if not down:
            return
        if time.monotonic() > deadline:
            raise BackendError(f"{engine.name}: {len(down)} container(s) did not come back: {', '.join(d[:12] for d in down)}")
        await asyncio.sleep(0.5)


def _state(engine: Engine, cid: str) -> ContainerState | None:
    c = engine.inventory.containers.get(cid)
    return c.state if c else None


def ssh_argv(endpoint: Endpoint, *remote: str) -> tuple[str, ...]:
    """The ``ssh`` command line to the endpoint's machine, running ``remote`` in a terminal
    when given (OpenSSH reads the same ~/.ssh/config and known_hosts as the backend)."""
    args = ["ssh"]
    if endpoint.identity is not None:
        identity = endpoint.identity
        args += ["-i", identity.client_key, "-o", f"UserKnownHostsFile={identity.known_hosts}", "-o", "StrictHostKeyChecking=yes"]
    if endpoint.port:
        args += ["-p", str(endpoint.port)]
    if remote:
        args.append("-t")
    args.append(f"{endpoint.user + '@' if endpoint.user else ''}{endpoint.host}")
    return (*args, *remote)


def socket_url(endpoint: Endpoint) -> str:
    return "unix://" + urllib.parse.quote(endpoint.path or DEFAULT_SOCKET)
