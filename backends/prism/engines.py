"""The Docker Engines of container machines, reached through the Docker backend.

A machine's engine is followed when Prism says the VM is a container machine, powered on,
with an address, and this computer holds its keys (``machine.known_machine``). Its containers
join the Prism inventory under the VM's host id; an engine that does not answer leaves the
host's state as Prism says and puts the reason, and the age of its containers, in
``Host.reason``. The Docker backend is imported only once there is such a machine.

Each engine reconnects on its own with the Docker backend's backoff (capped at 30 s), with a
short connect timeout, so an address where nothing answers costs one quick refusal now and
then, never a hang.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import TYPE_CHECKING, Callable, Iterable

from ..contract import ContainerSpec, Inventory
from ..errors import InvalidInput, NotFound, Unavailable
from ..models import Host, HostState, Task
from . import parse
from .machine import engine_url, known_machine

if TYPE_CHECKING:
    from ..docker import DockerBackend
    from ..docker.engine import Engine
    from ..docker.transport import Endpoint

CONNECT_TIMEOUT = 5.0
# How long a listing waits for engines it has just started following, so that a first
# snapshot (a CLI call) already holds their containers: a connect timeout and a resync.
FIRST_ANSWER_WAIT = 10.0
FOLLOWED_STATES = (HostState.RUNNING, HostState.UPGRADING)


def machine_endpoint(host: Host) -> "Endpoint | None":
    """How to reach a container machine's engine, or None when the console cannot.
    Raises InvalidInput (or OSError) when the machine's own files say something unusable."""
    if host.role != parse.ROLE_VALUE or host.state not in FOLLOWED_STATES or not host.ip:
        return None
    keys = known_machine(host.id)
    if keys is None:
        return None
    from ..docker.transport import SSHIdentity, parse_endpoint

    client_key, known_hosts = keys
    url = engine_url(host.id, host.ip)
    if url.startswith("tcp://"):
        # TLS always, with the machine's own certificates when it has them.
        return parse_endpoint(url, tls_verify=True, cert_path=str(client_key.parent))
    endpoint = parse_endpoint(url)
    if endpoint.scheme != "ssh":
        raise InvalidInput(f"{url}: a machine's engine is reached over ssh:// or tcp:// with TLS")
    return replace(endpoint, identity=SSHIdentity(str(client_key), str(known_hosts), CONNECT_TIMEOUT))


class MachineEngines:
    def __init__(self, *, read_only: bool, on_change: Callable[[], None]) -> None:
        self._read_only = read_only
        self._on_change = on_change
        self._docker: DockerBackend | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._by_vm: dict[str, Engine] = {}  # VM id -> its engine
        self._vm_of: dict[str, str] = {}  # engine host id -> VM id
        self._unusable: dict[str, str] = {}  # VM id -> why its engine cannot be followed

    @property
    def active(self) -> bool:
        return bool(self._by_vm)

    @property
    def docker(self) -> "DockerBackend":
        if self._docker is None:
            raise NotFound("no container machine's engine is known to this console")
        return self._docker

    def _backend(self) -> "DockerBackend":
        if self._docker is None:
            from ..docker import DockerBackend

            # Never connect()ed: its engines are added one by one, as machines appear.
            self._docker = DockerBackend((), read_only=self._read_only, label="machine engines")
            self._watcher = asyncio.create_task(self._watch(self._docker), name="machine engines")
        return self._docker

    async def _watch(self, docker: "DockerBackend") -> None:
        # Container events, engine state and the engine tasks all arrive here.
        async for _ in docker.updates():
            self._on_change()

    async def sync(self, hosts: Iterable[Host]) -> None:
        """Follow the engines of these hosts that the console can reach, and no others; wait
        (a bounded time) for the first answer of engines followed from now on."""
        wanted: dict[str, tuple[Endpoint, str]] = {}
        self._unusable = {}
        for h in hosts:
            try:
                endpoint = machine_endpoint(h)
            except (InvalidInput, OSError) as err:
                self._unusable[h.id] = getattr(err, "message", None) or str(err)
                continue
            if endpoint is not None:
                wanted[h.id] = (endpoint, h.name)
        for vm_id, engine in list(self._by_vm.items()):
            if vm_id not in wanted or wanted[vm_id][0] != engine.endpoint:
                del self._by_vm[vm_id]
                del self._vm_of[engine.host_id]
                await self.docker.remove_engine(engine.host_id)
        new: list[Engine] = []
        for vm_id, (endpoint, name) in wanted.items():
            if vm_id in self._by_vm:
                continue
            from ..docker.engine import host_id_for

            if host_id_for(endpoint.url) in self._vm_of:
                continue  # two VMs claiming one engine: the first keeps it
            engine = self._backend().add_engine(endpoint, name=name)
            self._by_vm[vm_id] = engine
            self._vm_of[engine.host_id] = vm_id
            new.append(engine)
        if new:
            waiters = [asyncio.create_task(e.first_attempt.wait()) for e in new]
            _, pending = await asyncio.wait(waiters, timeout=FIRST_ANSWER_WAIT)
            for waiter in pending:
                waiter.cancel()

    async def merge(self, inv: Inventory) -> None:
        """Add the engines' containers, events and tasks to ``inv``, under the VMs' ids."""
        for vm_id, why in self._unusable.items():
            if vm_id in inv.hosts:
                inv.hosts[vm_id] = replace(inv.hosts[vm_id], reason=f"engine unusable: {why}")
        if self._docker is None:
            return
        engines = await self._docker.snapshot()
        for vm_id, engine in self._by_vm.items():
            host = inv.hosts.get(vm_id)
            if host is not None:
                inv.hosts[vm_id] = _with_engine(host, engine)
        # A volume group attached to a machine is mounted there as the Docker volume of its
        # name (``guest.prepare_volume``): containers that mount it use the volume group.
        groups = {(v.host_id, v.name): v.id for v in inv.volumes.values() if v.host_id}
        users: dict[str, list[str]] = {}
        for c in engines.containers.values():
            vm_id = self._vm_of.get(c.host_id)
            if vm_id is None:
                continue
            mounts = []
            for m in c.mounts:
                group = groups.get((vm_id, m.source.removeprefix(f"{c.host_id}/"))) if m.kind == "volume" else None
                if group is not None:
                    users.setdefault(group, []).append(c.id)
                    m = replace(m, source=group)
                mounts.append(m)
            inv.containers[c.id] = replace(c, host_id=vm_id, mounts=tuple(mounts))
        for group, ids in users.items():
            inv.volumes[group] = replace(inv.volumes[group], container_ids=tuple(sorted(ids)))
        for i in engines.host_images.values():
            vm_id = self._vm_of.get(i.host_id)
            if vm_id is not None:
                # Keyed under the VM, as its containers are: "<VM id>/<image id>".
                inv.host_images[f"{vm_id}/{i.image_id}"] = replace(i, id=f"{vm_id}/{i.image_id}", host_id=vm_id)
        for e in engines.events.values():
            inv.events[e.id] = replace(e, target_id=self._vm_of.get(e.target_id or "", e.target_id))
        for t in engines.tasks.values():
            inv.tasks[t.id] = replace(t, target_id=self._vm_of.get(t.target_id or "", t.target_id))

    async def task(self, task_id: str) -> Task | None:
        """One of the engines' tasks (a container action), under the VM's id; else None."""
        if self._docker is None:
            return None
        try:
            t = await self._docker.get_task(task_id)
        except NotFound:
            return None
        return replace(t, target_id=self._vm_of.get(t.target_id or "", t.target_id))

    def run_spec(self, spec: ContainerSpec, host: Host) -> ContainerSpec:
        """The spec with the host named as the Docker backend knows its engine; Unavailable
        when the host has no engine the console follows."""
        engine = self._by_vm.get(host.id)
        if engine is None:
            why = f"engine unusable: {self._unusable[host.id]}" if host.id in self._unusable else no_engine_reason(host)
            raise Unavailable(f"{host.name}: {why}")
        return replace(spec, host=engine.endpoint.url)

    def engine_of(self, host: Host) -> "Engine":
        """The engine of a machine the console follows; Unavailable (saying why) otherwise."""
        engine = self._by_vm.get(host.id)
        if engine is None:
            why = f"engine unusable: {self._unusable[host.id]}" if host.id in self._unusable else no_engine_reason(host)
            raise Unavailable(f"{host.name}: {why}")
        return engine

    async def close(self) -> None:
        if self._docker is not None:
            await self._docker.close()
        if self._watcher is not None:
            self._watcher.cancel()
            await asyncio.gather(self._watcher, return_exceptions=True)


def no_engine_reason(host: Host) -> str:
    if host.role != parse.ROLE_VALUE:
        return "not a container machine"
    if host.state not in FOLLOWED_STATES:
        return f"no engine while the machine is {host.state.value}"
    if not host.ip:
        return "no IP address yet"
    return "not made from this computer: no SSH key for its engine"


def _with_engine(host: Host, engine: "Engine") -> Host:
    host = replace(host, endpoint=engine.endpoint.url)
    if engine.reachable:
        return replace(host, engine_version=engine.engine_version or host.engine_version)
    if not engine.first_attempt.is_set():
        return replace(host, reason="engine: connecting")
    error = engine.last_error
    why = error.message if error is not None and engine.reason == error.one_line() else engine.reason
    reason = f"engine unreachable: {why}"
    if engine.observed_at:
        reason += f"; containers as of {time.strftime('%H:%M:%S', time.localtime(engine.observed_at))}"
    return replace(host, reason=reason)
