"""``SwarmBackend``: a Docker swarm through one manager.

Hosts are the swarm's nodes keyed by node id; containers are the services' tasks (keyed by
task id, on their node) plus the manager engine's own standalone containers; volumes are
the manager's (a worker's engine is not reached through the manager); services and secrets
are the swarm's. The manager is supervised as the Docker backend supervises an engine: when
it stops answering, the connection turns UNREACHABLE with the reason, the last data stays
with its age, and it is retried with backoff (``docker.engine``).

Actions run in this process as the Docker backend's do (``backends.tasks.TaskTable``); one
that changes a service follows it until the swarm has converged (every task running), or
fails with the tasks' own error.
"""

from __future__ import annotations

import asyncio
import base64
import time
from typing import Any, AsyncIterator, Callable, Iterable, Literal

from ..contract import (
    Backend,
    Capability,
    ChangeBatch,
    ConfigSpec,
    ConnectionChanged,
    ConnectionState,
    Inventory,
    LogLine,
    PullSpec,
    ScaleSpec,
    SecretSpec,
    ServiceSpec,
    UpgradeSpec,
    ServiceUpdateSpec,
    Update,
    resolve,
)
from ..docker import actions as docker_actions, image_tasks
from ..docker.engine import FIRST_BACKOFF
from ..docker.transport import parse_endpoint
from ..errors import Conflict, InvalidInput, NotFound, TaskFailed, Unavailable
from ..models import Container, Host, HostState, Secret, Service, Task
from ..poller import Broadcast, diff
from ..settings import Settings
from ..tasks import TaskHandle, TaskTable
from ..validation import (
    check_constraint,
    check_image_ref,
    check_replicas,
    check_secret_name,
    check_service_name,
    check_update_policy,
)
from . import parse, updates
from .engine import SwarmEngine
from .upgrade import SwarmUpgrades, parse_node_ssh

CONNECT_TIMEOUT = 20.0
PUBLISH_DELAY = 0.02  # coalesce changes made in one burst into one batch
CONVERGE_TIMEOUT = 120.0  # a service change that has not converged by then has failed
DRAIN_TIMEOUT = 120.0
TASK_CONTAINER_LABEL = "com.docker.swarm.task.id"
_AVAILABILITY_WORDS = {"active": "activating", "pause": "pausing", "drain": "draining"}


class SwarmBackend(Backend):
    kind = "swarm"

    def __init__(
        self,
        manager: str,
        *,
        tls_verify: bool | None = None,
        cert_path: str | None = None,
        accept_new_host_keys: bool = False,
        upgrade_command: str | None = None,
        node_ssh: Iterable[str] = (),
        node_ssh_user: str | None = None,
        upgrade_versions: Iterable[str] = (),
        read_only: bool = False,
        label: str = "",
    ) -> None:
        super().__init__(read_only=read_only, label=label)
        from .about import BACKEND

        # Machine upgrades (and pausing one between waves) need an upgrade_command. Task
        # control is there either way: a service update the swarm paused is resumed (resume on
        # its task); pausing an update under way is refused, saying why (updates.py).
        caps = set(BACKEND.capabilities)
        caps.add(Capability.TASKS_CONTROL)
        if not upgrade_command:
            caps.discard(Capability.HOSTS_UPGRADE)
        self.capabilities = frozenset(caps)
        self._upgrades = SwarmUpgrades(
            self, upgrade_command, parse_node_ssh(node_ssh), node_ssh_user, accept_new_host_keys=accept_new_host_keys
        )
        self._upgrade_versions = tuple(upgrade_versions)
        self._endpoint = parse_endpoint(manager, tls_verify=tls_verify, cert_path=cert_path)
        self.engine = SwarmEngine(self._endpoint, on_change=self._changed, accept_new_host_keys=accept_new_host_keys)
        self._tasks = TaskTable(self._changed)
        self._broadcast = Broadcast()
        self._published = Inventory()
        self._seq = 0
        self._flush_handle: asyncio.TimerHandle | None = None
        self._connection: ConnectionState | None = None
        self._closed = False
        # Update tasks the swarm paused: task id -> service id, for resume_task.
        self._paused_updates: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> "SwarmBackend":
        s = settings.swarm
        return cls(
            s.hosts[0],
            tls_verify=s.tls_verify,
            cert_path=s.cert_path,
            accept_new_host_keys=s.accept_new_host_keys,
            upgrade_command=s.upgrade_command,
            node_ssh=s.node_ssh,
            node_ssh_user=s.node_ssh_user,
            upgrade_versions=s.upgrade_versions,
            read_only=settings.read_only,
            label=settings.context or "",
        )

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self) -> None:
        self.engine.start()
        try:
            await asyncio.wait_for(self.engine.first_attempt.wait(), CONNECT_TIMEOUT)
        except asyncio.TimeoutError:
            pass
        if not self.engine.reachable:
            error = self.engine.last_error
            reason = self.engine.reason or "no answer"
            await self.close()
            raise error if error is not None else Unavailable(f"{self._endpoint.url}: {reason}")
        self._flush()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._tasks.close()
        await self.engine.stop()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._broadcast.close()

    # -- inventory and the change stream --------------------------------------------------

    def _changed(self) -> None:
        if self._closed or self._flush_handle is not None:
            return
        self._flush_handle = asyncio.get_running_loop().call_later(PUBLISH_DELAY, self._flush)

    def _build(self) -> Inventory:
        engine, raw = self.engine, self.engine.inventory
        inv = Inventory()
        names = parse.node_names(raw.nodes.values())
        for node_id, node in raw.nodes.items():
            mine = node_id == raw.node_id
            host = parse.host_from_node(
                node, names[node_id], observed_at=engine.observed_at, endpoint=self._endpoint.url if mine else None
            )
            if mine and not engine.reachable:
                # What the swarm said of its manager is as old as the data; what is known now is
                # that it does not answer.
                host = _replace(host, state=HostState.UNREACHABLE, reason=engine.reason)
            inv.hosts[node_id] = host
        service_names = {sid: parse.service_from_api(s, (), {}).name for sid, s in raw.services.items()}
        node_ready = {nid: h.state is HostState.RUNNING for nid, h in inv.hosts.items()}
        for task in raw.tasks.values():
            # A task not yet placed (no node can take it) or on a node since removed has no
            # host to sit on; its service shows it as a replica short.
            if task.get("NodeID") in inv.hosts:
                name = service_names.get(task.get("ServiceID", ""), parse.short(task.get("ServiceID", "?")))
                c = parse.container_from_task(task, name)
                inv.containers[c.id] = c
        for c in raw.container_values():
            # A task's container is shown as its task; the engine's others as they are.
            if not any(k == TASK_CONTAINER_LABEL for k, _ in c.labels) and c.host_id in inv.hosts:
                inv.containers[c.id] = c
        for v in raw.volume_values():
            if v.host_id in inv.hosts:
                inv.volumes[v.id] = v
        image_tasks.add_manager_images(inv, raw)
        tasks = list(raw.tasks.values())
        for sid, s in raw.services.items():
            inv.services[sid] = parse.service_from_api(s, tasks, node_ready)
        for sid, s in raw.secrets.items():
            inv.secrets[sid] = parse.secret_from_api(s)
        for cid, c in raw.configs.items():
            inv.configs[cid] = parse.config_from_api(c)
        inv.events.update(raw.events)
        inv.tasks = self._tasks.all()
        return inv

    def _flush(self) -> None:
        self._flush_handle = None
        new = self._build()
        changes = diff(self._published, new)
        if changes:
            self._seq += 1
            self._broadcast.publish(ChangeBatch(self._seq, tuple(changes)))
        new.seq = self._seq
        self._published = new
        self._publish_connection()

    def _publish_connection(self) -> None:
        if self.engine.reachable:
            state, reason = ConnectionState.CONNECTED, ""
        else:
            state, reason = ConnectionState.UNREACHABLE, f"manager {self.engine.name}: {self.engine.reason}"
        if state is not self._connection:
            first = self._connection is None
            self._connection = state
            if not first:
                self._broadcast.publish(ConnectionChanged(state, reason))

    async def snapshot(self) -> Inventory:
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._flush()
        return self._published.copy()

    def updates(self) -> AsyncIterator[Update]:
        return self._broadcast.subscribe()

    @property
    def retry_delay(self) -> float:
        """Seconds until the manager is tried again (the engine's backoff)."""
        return self.engine.backoff if not self.engine.reachable else FIRST_BACKOFF

    # -- tasks ----------------------------------------------------------------------------

    async def handed_over(self, task_id: str) -> Task:
        # This process runs the action (it follows the swarm until it converged): to its end.
        return await self.wait_task(task_id)

    async def wait_task(
        self, task_id: str, on_progress: Callable[[Task], None] | None = None, *, poll_interval: float = 0.5
    ) -> Task:
        if self._tasks.get(task_id) is None:
            raise NotFound(f"task {task_id} not found")
        return await self._tasks.wait(task_id, on_progress)

    # -- lookups --------------------------------------------------------------------------

    def _reachable(self) -> SwarmEngine:
        if not self.engine.reachable:
            raise Unavailable(f"the manager {self.engine.name} is unreachable: {self.engine.reason}")
        return self.engine

    def _inventory(self) -> Inventory:
        return self._build()

    def _host(self, ref: str) -> Host:
        hosts = list(self._inventory().hosts.values())
        try:
            return resolve(hosts, ref, "host")
        except NotFound:
            # A short node id, or a hostname two nodes do not share, as ``docker node`` takes.
            matches = [h for h in hosts if len(ref) >= 4 and h.id.startswith(ref)] or [
                h for h in hosts if h.name.split("/", 1)[0] == ref
            ]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidInput(f"host {ref!r} names {len(matches)} nodes: use a node id") from None
            raise

    def _service(self, ref: str) -> Service:
        services = list(self._inventory().services.values())
        try:
            return resolve(services, ref, "service")
        except NotFound:
            matches = [s for s in services if len(ref) >= 4 and s.id.startswith(ref)]
            if len(matches) != 1:
                raise
            return matches[0]

    def _secret(self, ref: str) -> Secret:
        secrets = list(self._inventory().secrets.values())
        try:
            return resolve(secrets, ref, "secret")
        except NotFound:
            matches = [s for s in secrets if len(ref) >= 4 and s.id.startswith(ref)]
            if len(matches) != 1:
                raise
            return matches[0]

    def _container(self, ref: str) -> Container:
        containers = list(self._inventory().containers.values())
        try:
            return resolve(containers, ref, "container")
        except NotFound:
            matches = [c for c in containers if len(ref) >= 4 and c.id.startswith(ref)]
            if len(matches) != 1:
                raise
            return matches[0]

    # -- the manager's images (a worker's engine is not reached through the manager) -----

    def _image_engine(self, host_ref: str) -> SwarmEngine:
        engine = self._reachable()
        if self._host(host_ref).id != engine.inventory.host_id:
            raise InvalidInput(f"only the manager's images are reachable here ({engine.name}), not {host_ref}'s")
        return engine

    async def pull_image(self, spec: PullSpec) -> Task:
        return image_tasks.pull_task(self._tasks, self._image_engine(spec.host), spec)

    async def remove_image(self, image_id: str, *, force: bool = False) -> Task:
        engine = self._image_engine(image_id.partition("/")[0])
        return image_tasks.remove_task(self._tasks, engine, image_id, force=force)

    async def prune_images(self, host_id: str, *, unused: bool = False) -> Task:
        return image_tasks.prune_task(self._tasks, self._image_engine(host_id), unused=unused)

    # -- reads ----------------------------------------------------------------------------

    async def inspect_container(self, container_id: str) -> dict[str, Any]:
        c = self._container(container_id)
        api = self._reachable().api
        if c.service is None:
            return await api.get(f"/containers/{c.id}/json")
        # A task, as the swarm gives it, with the keys a container's inspect has (its id,
        # name, state) so it reads like the other containers' documents.
        doc = await api.get(f"/tasks/{c.id}")
        state = (doc.get("Status") or {}).get("State") or ""
        return {**doc, "Id": c.id, "Name": c.name, "State": {"Status": state, "Running": state == "running"}}

    def logs(
        self, container_id: str, *, follow: bool = False, tail: int | None = None, since: float | None = None
    ) -> AsyncIterator[LogLine]:
        c = self._container(container_id)
        api = self._reachable().api
        if c.service is None:
            return docker_actions.logs(api, c.id, follow=follow, tail=tail, since=since)
        return _task_logs(api, c.id, follow=follow, tail=tail, since=since)

    # -- services -------------------------------------------------------------------------

    async def _converge(self, task: TaskHandle, service_id: str, start: int, what: str, want: int | None) -> None:
        """Follow the service until every task it wants runs (``want`` of them; None for a
        global service: one per node), or fail with its tasks' error."""
        deadline = time.monotonic() + CONVERGE_TIMEOUT
        inventory = self.engine.inventory
        while True:
            await inventory.refresh_swarm()
            raw = inventory.services.get(service_id)
            if raw is None:
                raise TaskFailed(f"service {what} was removed meanwhile")
            s = self._inventory().services[service_id]
            # The swarm's count lags the spec a moment: 0/0 just after a create is not done.
            wanted = s.replicas_desired == want if want is not None else s.replicas_desired > 0
            if wanted and s.replicas_running == s.replicas_desired:
                return
            span = max(1, s.replicas_desired)
            task.progress(start + (99 - start) * min(s.replicas_running, span) // span,
                          f"{s.replicas_running}/{s.replicas_desired} tasks running")
            if time.monotonic() > deadline:
                errors = sorted({t["Status"]["Err"] for t in inventory.tasks.values()
                                 if t.get("ServiceID") == service_id and (t.get("Status") or {}).get("Err")})
                why = f": {'; '.join(errors[:3])}" if errors else ""
                raise TaskFailed(
                    f"{what}: {s.replicas_running}/{s.replicas_desired} tasks running after {CONVERGE_TIMEOUT:g}s{why}"
                )
            await asyncio.sleep(0.5)

    async def create_service(self, spec: ServiceSpec) -> Task:
        check_service_name(spec.name)
        check_image_ref(spec.image)
        if spec.replicas is not None:
            check_replicas(spec.replicas)
        for expr in spec.constraints:
            check_constraint(expr)
        check_update_policy(spec.update)
        check_update_policy(spec.rollback)
        engine = self._reachable()
        inv = self._inventory()
        if any(s.name == spec.name for s in inv.services.values()):
            raise Conflict(f"a service named {spec.name} already exists")
        secrets = [self._secret(ref) for ref in spec.secrets]
        configs = [updates.find_config(self, ref) for ref in spec.configs]
        body = {
            "Name": spec.name,
            "TaskTemplate": {
                "ContainerSpec": {
                    "Image": spec.image,
                    "Env": [f"{k}={v}" for k, v in spec.env],
                    # Mounted as files: a secret at /run/secrets/NAME, a config at /NAME.
                    "Secrets": [updates.secret_ref(s) for s in secrets],
                    "Configs": [updates.config_ref(c) for c in configs],
                    **({"Args": list(spec.command)} if spec.command else {}),
                },
                **({"Placement": {"Constraints": list(spec.constraints)}} if spec.constraints else {}),
            },
            "Mode": {"Global": {}} if spec.replicas is None else {"Replicated": {"Replicas": spec.replicas}},
            "UpdateConfig": parse.update_config(spec.update),
            "RollbackConfig": parse.update_config(spec.rollback),
        }

        async def work(task: TaskHandle) -> str:
            task.progress(10, f"creating service {spec.name}")
            created = await updates.post(engine.api, "/services/create", body, spec.registry_auth)
            service_id = str((created or {}).get("ID") or "")
            if not service_id:
                raise TaskFailed(f"the manager created service {spec.name} but gave no id")
            engine.inventory.settle()
            await self._converge(task, service_id, 30, f"service {spec.name}", spec.replicas)
            return service_id

        return self._tasks.start("create_service", spec.name, work)

    async def _service_update(self, service_id: str, change: Callable[[dict[str, Any]], None]) -> None:
        # The swarm refuses an update made from a stale version: read, change, send that version.
        api = self.engine.api
        raw = await api.get(f"/services/{service_id}")
        spec = raw.get("Spec") or {}
        change(spec)
        await api.post(f"/services/{service_id}/update", spec, version=(raw.get("Version") or {}).get("Index"))

    async def scale_service(self, spec: ScaleSpec) -> Task:
        check_replicas(spec.replicas)
        self._reachable()
        s = self._service(spec.service)
        if s.mode != "replicated":
            raise InvalidInput(f"service {s.name} is {s.mode}: it runs one task per node and is not scaled")

        def change(body: dict[str, Any]) -> None:
            body.setdefault("Mode", {}).setdefault("Replicated", {})["Replicas"] = spec.replicas

        async def work(task: TaskHandle) -> str:
            task.progress(10, f"scaling {s.name} to {spec.replicas}")
            await self._service_update(s.id, change)
            self.engine.inventory.settle()
            await self._converge(task, s.id, 30, f"service {s.name}", spec.replicas)
            return s.id

        return self._tasks.start("scale_service", f"{s.name} to {spec.replicas}", work, target_id=s.id)

    async def remove_service(self, service_id: str) -> Task:
        self._reachable()
        s = self._service(service_id)

        async def work(task: TaskHandle) -> None:
            task.progress(20, f"removing service {s.name}")
            await self.engine.api.delete(f"/services/{s.id}")
            await self.engine.inventory.refresh_swarm()
            self.engine.inventory.settle()

        return self._tasks.start("remove_service", s.name, work, target_id=s.id)

    # -- secrets --------------------------------------------------------------------------

    async def create_secret(self, spec: SecretSpec) -> Task:
        check_secret_name(spec.name)
        updates.check_secret_value(spec.name, spec.data)
        engine = self._reachable()
        if any(s.name == spec.name for s in self._inventory().secrets.values()):
            raise Conflict(f"a secret named {spec.name} already exists")
        # Encoded here, sent once in the request's body; the spec (and so the value) is not
        # kept by the task, which knows only the name.
        body = {"Name": spec.name, "Labels": {}, "Data": base64.b64encode(spec.data).decode()}

        async def work(task: TaskHandle) -> str:
            task.progress(20, f"creating secret {spec.name}")
            created = await engine.api.post("/secrets/create", body)
            body.clear()
            await engine.inventory.refresh_swarm()
            return str((created or {}).get("ID") or "")

        return self._tasks.start("create_secret", spec.name, work)

    async def remove_secret(self, secret_id: str) -> Task:
        engine = self._reachable()
        await engine.inventory.refresh_swarm()  # who uses it now, not a few seconds ago
        secret = self._secret(secret_id)
        users = sorted(s.name for s in self._inventory().services.values() if secret.id in s.secret_ids)
        if users:
            raise Conflict(f"secret {secret.name} is used by service(s) {', '.join(users)}: remove it from them first")

        async def work(task: TaskHandle) -> None:
            task.progress(20, f"removing secret {secret.name}")
            await engine.api.delete(f"/secrets/{secret.id}")
            await engine.inventory.refresh_swarm()

        return self._tasks.start("remove_secret", secret.name, work, target_id=secret.id)

    async def rotate_secret(self, secret_id: str, data: bytes) -> Task:
        return await updates.rotate_secret(self, secret_id, data)

    # -- rolling updates and configs (backends/swarm/updates.py) ----------------------------

    async def update_service(self, spec: ServiceUpdateSpec) -> Task:
        return await updates.update_service(self, spec)

    async def rollback_service(self, service_id: str) -> Task:
        return await updates.rollback_service(self, service_id)

    async def pause_task(self, task_id: str) -> Task:
        if self._upgrades.owns(task_id):  # a rolling machine upgrade, between its waves
            return self._upgrades.pause(task_id)
        return updates.pause_update(self, task_id)

    async def resume_task(self, task_id: str) -> Task:
        if self._upgrades.owns(task_id):
            return self._upgrades.resume(task_id)
        return await updates.resume_update(self, task_id)

    async def abort_task(self, task_id: str) -> Task:
        return self._upgrades.abort(task_id)

    # -- machine upgrades: drain, upgrade over SSH, activate, wave by wave (upgrade.py) ---------

    async def upgrade_hosts(self, spec: UpgradeSpec) -> Task:
        return await self._upgrades.start(spec)

    async def upgrade_versions(self) -> list[str]:
        return await self._upgrades.versions(self._upgrade_versions)

    async def create_config(self, spec: ConfigSpec) -> Task:
        return await updates.create_config(self, spec)

    async def remove_config(self, config_id: str) -> Task:
        return await updates.remove_config(self, config_id)

    # -- nodes ----------------------------------------------------------------------------

    async def set_host_availability(self, host_id: str, availability: Literal["active", "pause", "drain"]) -> Task:
        if availability not in _AVAILABILITY_WORDS:
            raise InvalidInput(f"availability {availability!r}: choose active, pause or drain")
        engine = self._reachable()
        host = self._host(host_id)
        verb = _AVAILABILITY_WORDS[availability]

        async def work(task: TaskHandle) -> str:
            task.progress(10, f"{verb} {host.name}")
            raw = await engine.api.get(f"/nodes/{host.id}")
            spec = dict(raw.get("Spec") or {})
            spec["Availability"] = availability
            await engine.api.post(f"/nodes/{host.id}/update", spec, version=(raw.get("Version") or {}).get("Index"))
            engine.inventory.settle()
            if availability == "drain":
                await self._drained(task, host)
            else:
                await engine.inventory.refresh_swarm()
            return host.id

        kind = {"active": "activate_host", "pause": "pause_host", "drain": "drain_host"}[availability]
        return self._tasks.start(kind, host.name, work, target_id=host.id)

    async def _drained(self, task: TaskHandle, host: Host) -> None:
        """A drain is done when nothing is meant to run on the node any more; the swarm
        starts the replicas elsewhere on its own time (the services' rows show it)."""
        deadline = time.monotonic() + DRAIN_TIMEOUT
        inventory = self.engine.inventory
        while True:
            await inventory.refresh_swarm()
            left = [t for t in inventory.tasks.values()
                    if t.get("NodeID") == host.id and (t.get("Status") or {}).get("State") in ("running", "starting", "preparing")]
            if not left:
                return
            task.progress(50, f"{len(left)} task(s) still on {host.name}")
            if time.monotonic() > deadline:
                raise TaskFailed(f"{len(left)} task(s) still on {host.name} after {DRAIN_TIMEOUT:g}s")
            await asyncio.sleep(0.5)


def _replace(value: Any, **changes: Any) -> Any:
    from dataclasses import replace

    return replace(value, **changes)


async def _task_logs(
    api: Any, task_id: str, *, follow: bool, tail: int | None, since: float | None
) -> AsyncIterator[LogLine]:
    """A task's logs through the manager (``/tasks/ID/logs``), from whichever node runs it:
    the same multiplexed stream as a container's."""
    params: dict[str, Any] = {"stdout": True, "stderr": True, "timestamps": True, "follow": follow,
                              "tail": "all" if tail is None else tail}
    if since is not None:
        params["since"] = f"{since:.9f}"
    splitters = {1: docker_actions._LineSplitter("stdout"), 2: docker_actions._LineSplitter("stderr")}
    state: dict[str, Any] = {}
    async with api.stream(f"/tasks/{task_id}/logs", **params) as response:
        async for chunk in response.aiter_bytes():
            for stream_type, data in docker_actions.demultiplex([chunk], state):
                for line in splitters.get(stream_type, splitters[1]).feed(data):
                    yield line
    for splitter in splitters.values():
        for line in splitter.rest():
            yield line
