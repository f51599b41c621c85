"""The simulator as a Docker swarm (``--sim-swarm``, or ``swarm = true`` in a config context).

The container machines are the swarm's nodes (three managers on different Nutanix nodes, one
of them the leader; the rest workers), and the world has services (replicated ones, a global
one, one held to the managers by a constraint), secrets and configs. A service's tasks are
containers on the machines, with their service, slot, desired state and error, as the swarm
backend shows a real swarm's.

One orchestrator tick a simulated second (``Swarm.reconcile``) does what swarmkit's
orchestrator, scheduler and dispatcher do between them:
- a machine that is not running (crashed, failed with its Nutanix node, powered off, being
  upgraded or deleted) is a node that is down: its tasks are shut down and replaced on other
  active nodes; a drained node's tasks are stopped and replaced the same way; a paused node
  keeps its tasks and gets no new ones;
- a task that exited is replaced in its slot; a new task starts a few seconds after it is
  placed (``task_start_seconds``); an image tagged ``broken`` never starts (to try update
  failure actions with);
- a replicated service has a task in each of its slots, spread over the eligible nodes
  (fewest tasks of the service, then fewest tasks); a global service one on each eligible node;
- each slot keeps its last ``TASK_HISTORY`` shut-down tasks, as ``docker service ps`` shows.

Actions are the task runner's processes (``Swarm.processes``), so the CLI's ``--wait``, the
console's Tasks strip and ``--demo-state`` treat them as every other action. Rolling updates
follow the service's ``UpdatePolicy`` in waves on the virtual clock; a saved update resumes
by replacing the tasks still outdated. Nothing here keeps a secret's value: it is checked and
dropped when the action starts.

``SwarmActions`` is the backend's side (the contract's swarm methods), mixed into
``SimulatorBackend``; it refuses everything when the simulator is not a swarm.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal

from ..contract import Backend, ConfigSpec, ScaleSpec, SecretSpec, ServiceSpec, ServiceUpdateSpec, resolve
from ..errors import Conflict, InvalidInput, NotFound, PermissionDenied
from ..models import Config, Container, ContainerState, Host, HostState, Secret, Service, Severity, Task, UpdatePolicy
from ..validation import check_image_ref, check_replicas, check_secret_name, check_service_name
from .activity import fresh_usage
from .tasks import StepFailed, TaskContext, TaskRunner
from .world import APPS_BY_IMAGE, World, human_status

if TYPE_CHECKING:
    from .clock import Timer

TICK_SECONDS = 1.0  # the orchestrator's pace: a node failure is acted on within a second
TASK_HISTORY = 2  # shut-down tasks kept per slot (swarm keeps 5; two show the story)
CONVERGE_SECONDS = 300.0  # an action that has not converged by then has failed
MAX_SECRET_BYTES = 500 * 1024  # the swarm's own limit
MANAGERS = 3
FAILING_TAG = "broken"  # an image with this tag never starts: an update's failure, on demand

SERVICE_LABEL = "com.docker.swarm.service.id"
TASK_LABEL = "com.docker.swarm.task.id"

# The world's swarm: (name, image, replicas or None for global, ports, secrets, configs,
# constraints, env, update policy). Apps of the simulator's own catalogue where there is one,
# so their logs and figures are the apps' own.
SERVICES: tuple[tuple[Any, ...], ...] = (
    ("web", "nginx:1.25.4", 4, ("8080->80/tcp",), (), ("nginx-conf",), (), (),
     UpdatePolicy(parallelism=2, delay_s=10.0)),
    ("api", "registry.example.local/shop/api:3.14.2", 3, ("8081->8080/tcp",), ("db-password", "api-token"), (), (),
     (("MODE", "prod"),), UpdatePolicy(parallelism=1, delay_s=15.0, failure_action="rollback")),
    ("worker", "registry.example.local/shop/worker:3.14.2", 2, (), ("db-password",), (), (), (("QUEUE", "orders"),),
     UpdatePolicy()),
    ("cache", "redis:7.2.4", 1, (), (), (), ("node.role==worker",), (), UpdatePolicy()),
    ("proxy", "traefik:v2.11", 2, ("443->443/tcp",), ("tls-cert",), ("traefik-conf",), ("node.role==manager",), (),
     UpdatePolicy(order="start-first")),
    ("node-exporter", "prom/node-exporter:v1.7.0", None, ("9100/tcp",), (), (), (), (), UpdatePolicy(parallelism=0)),
)
SECRETS = ("db-password", "api-token", "tls-cert", "smtp-password")  # smtp-password: used by none
CONFIGS = ("nginx-conf", "traefik-conf")
# The api was updated once already: it can be rolled back from the first minute of the demo.
PREVIOUS_IMAGES = {"api": "registry.example.local/shop/api:3.14.1"}

_ALIVE = (ContainerState.CREATED, ContainerState.RUNNING, ContainerState.RESTARTING)
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def ready(host: Host | None) -> bool:
    """A node the swarm can reach: its machine runs (a crashed, restarting, stopped,
    upgrading or deleting machine is a node that is down)."""
    return host is not None and host.state is HostState.RUNNING


def failing(image: str) -> bool:
    tail = image.rsplit("/", 1)[-1]
    return tail.partition("@")[0].rpartition(":")[2] == FAILING_TAG if ":" in tail else False


def task_start_seconds(task_id: str) -> float:
    """Pull and start: 2 to 6 simulated seconds, drawn from the task's id (so a saved world
    needs no timer: the tick starts what is due)."""
    return 2.0 + hashlib.blake2b(task_id.encode(), digest_size=1).digest()[0] % 5


# -- placement constraints ---------------------------------------------------------------------


def parse_constraint(text: str) -> tuple[str, str, str]:
    """``node.role==manager``, ``node.hostname!=cm-web-01``, ``node.id==ID``: (field, op, value)."""
    for op in ("==", "!="):
        if op in text:
            key, _, value = (p.strip() for p in text.partition(op))
            if key in ("node.role", "node.hostname", "node.id") and value:
                if key == "node.role" and value not in ("manager", "worker"):
                    raise InvalidInput(f"constraint {text!r}: node.role is manager or worker")
                return key, op, value
            break
    raise InvalidInput(
        f"constraint {text!r}: the simulated swarm places by node.role, node.hostname or node.id with == or !="
    )


def satisfies(host: Host, constraints: Iterable[str]) -> bool:
    for text in constraints:
        key, op, value = parse_constraint(text)
        actual = {"node.role": host.role, "node.hostname": host.name, "node.id": host.id}[key]
        if (actual == value) != (op == "=="):
            return False
    return True


def check_state(document: dict[str, Any], swarm: bool, path: str) -> None:
    """A state file is a swarm's or not; said plainly rather than half-used."""
    saved = bool(document.get("swarm", False))
    if saved and not swarm:
        raise InvalidInput(f"{path} holds a simulated swarm: add --sim-swarm (or swarm = true) to use it")
    if swarm and not saved:
        raise InvalidInput(f"{path} holds a simulator that is not a swarm: leave out --sim-swarm, or use another file")


def next_secret_name(name: str, taken: Iterable[str]) -> str:
    """``db-password`` -> ``db-password-2`` -> ``db-password-3``: a rotated secret's name (a
    swarm secret cannot change; the new one is another secret). The swarm backend's rule: a
    trailing ``-N`` of one to three digits is the counter, a longer number part of the name."""
    match = re.match(r"^(?P<base>.+)-(?P<n>[0-9]{1,3})$", name)
    base, n = (match["base"], int(match["n"])) if match else (name, 1)
    taken = set(taken)
    while True:
        n += 1
        candidate = f"{base}-{n}"
        if len(candidate) > 64:
            raise InvalidInput(f"secret {name}: no room for a rotation counter within 64 characters")
        if candidate not in taken:
            return candidate


class Swarm:
    """The swarm's state beyond the tables (an index of the task containers) and its
    orchestrator. Everything it decides is upserted into the store, so it is saved with it."""

    def __init__(self, world: World, runner: TaskRunner) -> None:
        self.world = world
        self.runner = runner
        self.store = world.store
        self.clock = world.store.clock
        self.task_ids: set[str] = set()
        self._timer: Timer | None = None

    # -- building and loading -------------------------------------------------------------

    def build(self) -> None:
        """After the world is built: the machines join, the secrets, configs and services are
        made and their tasks run. Drawn from the world's generator after everything else, so
        the rest of the world is the same as without ``--sim-swarm``."""
        now = self.clock.now
        rng = self.world.rng
        hosts = list(self.store.hosts.values())
        managers: list[Host] = []
        nodes_used: set[str | None] = set()
        # Managers on different Nutanix nodes, as an operator would spread them, so one
        # node failing never takes the quorum.
        for h in hosts:
            if len(managers) < MANAGERS and h.state is HostState.RUNNING and h.node_id not in nodes_used:
                managers.append(h)
                nodes_used.add(h.node_id)
        if len(managers) < MANAGERS:
            managers = managers[:1]  # an odd number of managers: two would need both for a quorum
        for h in hosts:
            if h in managers:
                status = "leader" if h is managers[0] else "reachable"
                self.store.upsert(replace(h, role="manager", availability="active", manager_status=status))
            else:
                self.store.upsert(replace(h, role="worker", availability="active", manager_status=None))
        for name in SECRETS:
            made = now - rng.uniform(20, 60) * 86400
            self.store.upsert(Secret(self.world.ids.uuid(), name, made, made))
        for name in CONFIGS:
            made = now - rng.uniform(20, 60) * 86400
            self.store.upsert(Config(self.world.ids.uuid(), name, made, made))
        secrets = {s.name: s.id for s in self.store.secrets.values()}
        configs = {c.name: c.id for c in self.store.configs.values()}
        for name, image, replicas, ports, secret_names, config_names, constraints, env, policy in SERVICES:
            made = now - rng.uniform(10, 40) * 86400
            previous = PREVIOUS_IMAGES.get(name)
            self.store.upsert(Service(
                id=self.world.ids.uuid(), name=name, mode="global" if replicas is None else "replicated", image=image,
                replicas_desired=replicas or 0, ports=ports, secret_ids=tuple(secrets[s] for s in secret_names),
                created_at=made, updated_at=now - rng.uniform(1, 9) * 86400 if previous else made,
                config_ids=tuple(configs[c] for c in config_names), update_policy=policy, rollback_policy=policy,
                update_state="completed" if previous else None,
                update_message="update completed" if previous else None, previous_image=previous,
                constraints=constraints, env=env,
            ))
        self.reconcile(start_at_once=True)

    def adopt(self) -> None:
        """After a load: index the task containers (the tables came from the file)."""
        self.task_ids = {c.id for c in self.store.containers.values() if c.service is not None}

    def schedule(self) -> None:
        self._timer = self.clock.call_later(TICK_SECONDS, self._tick)

    def _tick(self) -> None:
        self.reconcile()
        self._timer = self.clock.call_later(TICK_SECONDS, self._tick)

    def processes(self) -> dict[str, Callable[..., Any]]:
        return {
            "create_service": self.create_service, "scale_service": self.scale_service,
            "remove_service": self.remove_service, "update_service": self.update_service,
            "rollback_service": self.rollback_service, "create_secret": self.create_secret,
            "remove_secret": self.remove_secret, "rotate_secret": self.rotate_secret,
            "create_config": self.create_config, "remove_config": self.remove_config,
            # Drain, pause and activate are one process under the task kinds the swarm backend uses.
            "drain_host": self.set_host_availability, "pause_host": self.set_host_availability,
            "activate_host": self.set_host_availability,
        }

    # -- reads ------------------------------------------------------------------------------

    def tasks(self) -> list[Container]:
        containers = self.store.containers
        gone = [i for i in self.task_ids if i not in containers]  # deleted with their machine
        self.task_ids.difference_update(gone)
        return [containers[i] for i in self.task_ids]

    def tasks_of(self, service: Service) -> list[Container]:
        return [t for t in self.tasks() if t.service == service.name]

    def eligible(self, host: Host, service: Service) -> bool:
        return host.availability == "active" and ready(host) and satisfies(host, service.constraints)

    def running_updates(self, service_id: str) -> list[str]:
        return [task_id for task_id, (process, args, _, _) in self.runner.running.items()
                if process in ("update_service", "rollback_service", "rotate_secret")
                and (args.get("service_id") == service_id or service_id in args.get("service_ids", ()))]

    # -- the orchestrator -------------------------------------------------------------------

    def reconcile(self, *, start_at_once: bool = False) -> None:
        store, now = self.store, self.clock.now
        if not self._sync_nodes():
            self._recount()
            return  # no quorum: the managers cannot decide anything, tasks stay as they are
        hosts = store.hosts
        services = {s.name: s for s in store.services.values()}
        # (service, node name, why) -> a replicated service's tasks rescheduled elsewhere (a
        # global service's task is not moved: its node gets one again when it is back)
        moved: dict[tuple[str, str, str], int] = {}
        for t in self.tasks():
            s = services.get(t.service or "")
            if s is None:
                self._delete(t)
                continue
            host = hosts.get(t.host_id)
            if host is None:
                self._delete(t)  # its machine was deleted (with its containers, as a rule)
                continue
            if t.desired_state == "running":
                if not ready(host):
                    self._shut_down(t, error=f"node {host.name} is down ({host.state.value})", stop=False)
                    if s.mode == "replicated":
                        key = (s.name, host.name, "node down")
                        moved[key] = moved.get(key, 0) + 1
                elif host.availability == "drain":
                    self._shut_down(t, stop=True)
                    if s.mode == "replicated":
                        key = (s.name, host.name, "drained")
                        moved[key] = moved.get(key, 0) + 1
                elif t.state in (ContainerState.EXITED, ContainerState.DEAD):
                    self._shut_down(t, error=t.error or f"task: non-zero exit ({t.exit_code or 0})", stop=False)
                elif s.mode == "global" and not satisfies(host, s.constraints):
                    self._shut_down(t, stop=True)
                elif t.state is ContainerState.CREATED and (start_at_once or now >= t.created_at + task_start_seconds(t.id)):
                    self._start(t, s, start_at_once)
            elif ready(host) and t.state in _ALIVE:
                self._stop(t)  # shut down while its node was away: stopped now it is back
        for (service, node, why), count in sorted(moved.items()):
            self.world.event(Severity.WARNING, service, f"{count} task(s) rescheduled from {node} ({why})",
                             "service.rescheduled")
        self._fill(services.values(), start_at_once)
        self._prune(services)
        self._recount()

    def _sync_nodes(self) -> bool:
        """Machines that came up join as workers; managers' reachability follows their
        machines and a new leader is elected among the reachable ones. False without quorum."""
        store = self.store
        managers = []
        for h in list(store.hosts.values()):
            if h.availability is None:
                if h.state is HostState.RUNNING:  # a machine made since: it joins as a worker
                    store.upsert(replace(h, role="worker", availability="active", manager_status=None))
                continue
            if h.role == "manager":
                managers.append(h)
        if not managers:
            return False
        leader = next((m for m in managers if m.manager_status == "leader" and ready(m)), None)
        if leader is None:
            up = sorted((m for m in managers if ready(m)), key=lambda m: m.name)
            leader = up[0] if up and len(up) * 2 > len(managers) else None
            if leader is not None:
                self.world.event(Severity.WARNING, leader.name, "Elected swarm leader", "node.leader", leader.id)
        for m in managers:
            status = "leader" if m is leader else ("reachable" if ready(m) else "unreachable")
            if m.manager_status != status:
                store.upsert(replace(m, manager_status=status))
        return leader is not None

    def _fill(self, services: Iterable[Service], start_at_once: bool) -> None:
        tasks = [t for t in self.tasks() if t.desired_state == "running"]
        load: dict[str, int] = {}
        for t in tasks:
            load[t.host_id] = load.get(t.host_id, 0) + 1
        nodes = sorted(self.store.hosts.values(), key=lambda h: h.name)
        for s in sorted(services, key=lambda s: s.name):
            mine = [t for t in tasks if t.service == s.name]
            if s.mode == "global":
                covered = {t.host_id for t in mine}
                for h in nodes:
                    if h.id not in covered and self.eligible(h, s):
                        self._new_task(s, None, h, start_at_once)
                        load[h.id] = load.get(h.id, 0) + 1
                continue
            by_slot = {t.slot for t in mine}
            for t in mine:
                if (t.slot or 0) > s.replicas_desired:
                    self._shut_down(t, stop=True)  # scaled down
            for slot in range(1, s.replicas_desired + 1):
                if slot in by_slot:
                    continue
                host = self.place(s, load)
                if host is None:
                    break  # no node can take it: the service shows a replica short
                self._new_task(s, slot, host, start_at_once)
                load[host.id] = load.get(host.id, 0) + 1

    def place(self, s: Service, load: dict[str, int], prefer: str | None = None) -> Host | None:
        """Spread: the eligible node with the fewest tasks of the service, then the fewest
        tasks; ``prefer`` (the node a slot ran on) when it is eligible."""
        hosts = self.store.hosts
        if prefer is not None and prefer in hosts and self.eligible(hosts[prefer], s):
            return hosts[prefer]
        mine: dict[str, int] = {}
        for t in self.tasks():
            if t.service == s.name and t.desired_state == "running":
                mine[t.host_id] = mine.get(t.host_id, 0) + 1
        candidates = [h for h in hosts.values() if self.eligible(h, s)]
        if not candidates:
            return None
        return min(candidates, key=lambda h: (mine.get(h.id, 0), load.get(h.id, 0), h.name))

    def _prune(self, services: dict[str, Service]) -> None:
        history: dict[tuple[str, Any], list[Container]] = {}
        for t in self.tasks():
            if t.desired_state == "running":
                continue
            s = services.get(t.service or "")
            if s is not None and s.mode == "replicated" and (t.slot or 0) > s.replicas_desired:
                if t.state not in _ALIVE or not ready(self.store.hosts.get(t.host_id)):
                    self._delete(t)  # a slot scaled away: its tasks go, as the swarm removes them
                continue
            history.setdefault((t.service, t.slot if t.slot is not None else t.host_id), []).append(t)
        for old in history.values():
            old.sort(key=lambda t: (t.created_at, t.id), reverse=True)
            for t in old[TASK_HISTORY:]:
                self._delete(t)

    def _recount(self) -> None:
        hosts = self.store.hosts
        running: dict[str, int] = {}
        for t in self.tasks():
            if t.desired_state == "running" and t.state is ContainerState.RUNNING and ready(hosts.get(t.host_id)):
                running[t.service or ""] = running.get(t.service or "", 0) + 1
        on_ready: dict[str, int] = {}
        for t in self.tasks():
            if t.desired_state == "running" and ready(hosts.get(t.host_id)):
                on_ready[t.service or ""] = on_ready.get(t.service or "", 0) + 1
        for s in list(self.store.services.values()):
            desired = s.replicas_desired
            if s.mode == "global":
                # One per node that has (or, being eligible, is given) a task: a paused node
                # keeps its task and counts; a drained or down one does not.
                desired = on_ready.get(s.name, 0)
            got = running.get(s.name, 0)
            if (got, desired) != (s.replicas_running, s.replicas_desired):
                self.store.upsert(replace(s, replicas_running=got, replicas_desired=desired))

    # -- tasks ------------------------------------------------------------------------------

    def _task_id(self) -> str:
        n = self.world.rng.getrandbits(128)
        digits = []
        for _ in range(25):
            n, r = divmod(n, 36)
            digits.append(_BASE36[r])
        return "".join(digits)

    def _new_task(self, s: Service, slot: int | None, host: Host, start_at_once: bool = False, image: str | None = None) -> Container:
        now = self.clock.now
        task_id = self._task_id()
        middle = str(slot) if slot is not None else host.id[:12]
        t = Container(
            id=task_id, name=f"{s.name}.{middle}.{task_id[:12]}", image=image or s.image, host_id=host.id,
            state=ContainerState.CREATED, status="Preparing", restart_policy="no",
            command=app.command if (app := APPS_BY_IMAGE.get(image or s.image)) else "",
            labels=((SERVICE_LABEL, s.id), ("com.docker.swarm.service.name", s.name), (TASK_LABEL, task_id)),
            created_at=now - (self.world.rng.uniform(3, 30) * 86400 if start_at_once else 0.0),
            service=s.name, slot=slot, desired_state="running",
        )
        self.store.upsert(t)
        self.task_ids.add(task_id)
        if start_at_once:
            self._start(t, s, True)
            t = self.store.containers[task_id]
        return t

    def _start(self, t: Container, s: Service, long_ago: bool = False) -> None:
        now = self.clock.now
        if failing(t.image):
            error = "task: non-zero exit (1)"
            self.store.upsert(replace(t, state=ContainerState.DEAD, exit_code=1, finished_at=now, error=error,
                                      status=f"Failed: {error}"))
            return
        cpu, mem = fresh_usage(self.world, t)
        started = t.created_at + 5 if long_ago else now
        self.store.upsert(replace(t, state=ContainerState.RUNNING, started_at=started, finished_at=None, exit_code=None,
                                  cpu_percent=cpu, memory_mib=mem,
                                  status=human_status(ContainerState.RUNNING, now, started, None)))

    def _stop(self, t: Container) -> None:
        now = self.clock.now
        t = self.store.containers.get(t.id, t)
        self.store.upsert(replace(t, state=ContainerState.EXITED, exit_code=0 if t.state is not ContainerState.CREATED else None,
                                  finished_at=now, cpu_percent=0.0, memory_mib=0.0, status="Shutdown"))

    def _shut_down(self, t: Container, *, error: str | None = None, stop: bool) -> None:
        t = self.store.upsert(replace(t, desired_state="shutdown", error=error or t.error))
        if stop and t.state in _ALIVE:
            self._stop(t)

    def _delete(self, t: Container) -> None:
        self.store.delete("containers", t.id)
        self.task_ids.discard(t.id)

    # -- processes: what each action does over simulated time ------------------------------

    def _service(self, service_id: str) -> Service:
        s = self.store.services.get(service_id)
        if s is None:
            raise StepFailed("the service was removed meanwhile")
        return s

    async def _sleep(self, ctx: TaskContext, seconds: float) -> None:
        await ctx.checkpoint()
        await self.clock.sleep(seconds)

    async def _converge(self, ctx: TaskContext, service_id: str, start: int) -> str:
        """Until every task the service wants runs, or ``CONVERGE_SECONDS`` have passed."""
        deadline = self.clock.now + CONVERGE_SECONDS
        while True:
            s = self._service(service_id)
            wanted = s.replicas_desired
            if s.replicas_running == wanted and not any(
                    t.desired_state == "running" and t.state is not ContainerState.RUNNING for t in self.tasks_of(s)):
                return service_id
            span = max(1, wanted)
            progress = start + (99 - start) * min(s.replicas_running, span) // span
            ctx.update(progress=max(ctx.task.progress, min(99, progress)),
                       message=f"{s.replicas_running}/{wanted} tasks running")
            if self.clock.now >= deadline:
                errors = sorted({t.error for t in self.tasks_of(s) if t.error})
                why = f": {'; '.join(errors[:3])}" if errors else ""
                raise StepFailed(f"{s.replicas_running}/{wanted} tasks running after {CONVERGE_SECONDS:g}s{why}")
            await self._sleep(ctx, TICK_SECONDS)

    async def create_service(self, ctx: TaskContext, service_id: str, name: str, image: str, replicas: int | None,
                             env: list[list[str]], secret_ids: list[str], config_ids: list[str],
                             constraints: list[str], update: list[Any], rollback: list[Any]) -> str:
        if service_id not in self.store.services:
            now = self.clock.now
            self.store.upsert(Service(
                id=service_id, name=name, mode="global" if replicas is None else "replicated", image=image,
                replicas_desired=replicas or 0, secret_ids=tuple(secret_ids), created_at=now, updated_at=now,
                config_ids=tuple(config_ids), update_policy=UpdatePolicy(*update), rollback_policy=UpdatePolicy(*rollback),
                constraints=tuple(constraints), env=tuple((k, v) for k, v in env),
            ))
            self.world.event(Severity.INFO, name, f"Service created ({'global' if replicas is None else f'{replicas} replicas'})",
                             "service.created")
        ctx.update(progress=10, message=f"scheduling the tasks of {name}")
        self.reconcile()
        return await self._converge(ctx, service_id, 20)

    async def scale_service(self, ctx: TaskContext, service_id: str, replicas: int) -> str:
        s = self._service(service_id)
        if s.replicas_desired != replicas:
            self.store.upsert(replace(s, replicas_desired=replicas, updated_at=self.clock.now))
            self.world.event(Severity.INFO, s.name, f"Service scaled from {s.replicas_desired} to {replicas}", "service.scaled")
        ctx.update(progress=10, message=f"scaling {s.name} to {replicas}")
        self.reconcile()
        return await self._converge(ctx, service_id, 20)

    async def remove_service(self, ctx: TaskContext, service_id: str) -> str:
        s = self.store.services.get(service_id)
        if s is not None:
            ctx.update(progress=20, message=f"removing service {s.name}")
            for t in self.tasks_of(s):
                self._shut_down(t, stop=True)
            self.store.delete("services", service_id)
            self.world.event(Severity.INFO, s.name, "Service removed", "service.removed")
            await self._sleep(ctx, 2.0)
            for t in [t for t in self.tasks() if t.service == s.name]:
                self._delete(t)  # the swarm removes a removed service's tasks shortly after
        return service_id

    async def create_secret(self, ctx: TaskContext, secret_id: str, name: str) -> str:
        await self._sleep(ctx, 0.5)
        if secret_id not in self.store.secrets:
            now = self.clock.now
            self.store.upsert(Secret(secret_id, name, now, now))
        return secret_id

    async def remove_secret(self, ctx: TaskContext, secret_id: str) -> str:
        await self._sleep(ctx, 0.5)
        self.store.delete("secrets", secret_id)
        return secret_id

    async def create_config(self, ctx: TaskContext, config_id: str, name: str) -> str:
        await self._sleep(ctx, 0.5)
        if config_id not in self.store.configs:
            now = self.clock.now
            self.store.upsert(Config(config_id, name, now, now))
        return config_id

    async def remove_config(self, ctx: TaskContext, config_id: str) -> str:
        await self._sleep(ctx, 0.5)
        self.store.delete("configs", config_id)
        return config_id

    async def set_host_availability(self, ctx: TaskContext, host_id: str, availability: str) -> str:
        host = self.store.hosts.get(host_id)
        if host is None:
            raise StepFailed("the host was deleted meanwhile")
        if host.availability != availability:
            self.store.upsert(replace(host, availability=availability))
            self.world.event(Severity.INFO, host.name, f"Node availability set to {availability}", f"node.{availability}", host_id)
        ctx.update(progress=20, message=f"{availability}: {host.name}")
        self.reconcile()
        if availability == "drain":
            deadline = self.clock.now + CONVERGE_SECONDS
            while left := [t for t in self.tasks() if t.host_id == host_id and t.state in _ALIVE]:
                ctx.update(progress=max(ctx.task.progress, 50), message=f"{len(left)} task(s) still on {host.name}")
                if self.clock.now >= deadline:
                    raise StepFailed(f"{len(left)} task(s) still on {host.name} after {CONVERGE_SECONDS:g}s")
                await self._sleep(ctx, TICK_SECONDS)
            # And until their replacements run elsewhere (a while at most: one that no node
            # can take leaves its service a replica short, which the Services pane shows). At
            # speed 0 time passes only while a task is waited for, so a CLI call that drained
            # would otherwise save a world whose moved tasks never start.
            settle_by = self.clock.now + 60.0
            while self.clock.now < settle_by and any(
                    t.desired_state == "running" and t.state is ContainerState.CREATED for t in self.tasks()):
                ctx.update(progress=max(ctx.task.progress, 80), message="starting the moved tasks on other nodes")
                await self._sleep(ctx, TICK_SECONDS)
        return host_id

    # -- rolling updates --------------------------------------------------------------------

    async def update_service(self, ctx: TaskContext, service_id: str, image: str) -> str:
        s = self._service(service_id)
        if s.image != image:  # else: resumed after a load, the spec already changed
            self.store.upsert(replace(s, image=image, previous_image=s.image, update_state="updating",
                                      update_message="update in progress", updated_at=self.clock.now))
            self.world.event(Severity.INFO, s.name, f"Service update started: {s.image} -> {image}", "service.updating")
        return await self._roll(ctx, service_id, lambda t: t.image != image, rollback=False)

    async def rollback_service(self, ctx: TaskContext, service_id: str, update_task_ids: list[str]) -> str:
        # An update under way was told to stop (aborted): it stops at its next checkpoint.
        while any(not self.store.tasks[i].done for i in update_task_ids if i in self.store.tasks):
            ctx.update(message="stopping the update under way")
            await self._sleep(ctx, TICK_SECONDS)
        s = self._service(service_id)
        if s.update_state not in ("rollback_started",):
            if s.previous_image is None:
                raise StepFailed(f"service {s.name} has no previous spec to roll back to")
            self.store.upsert(replace(s, image=s.previous_image, previous_image=s.image, update_state="rollback_started",
                                      update_message="manually requested rollback", updated_at=self.clock.now))
            self.world.event(Severity.WARNING, s.name, f"Service rollback started: back to {s.previous_image}",
                             "service.rollback")
        target = self._service(service_id).image
        return await self._roll(ctx, service_id, lambda t: t.image != target, rollback=True)

    async def rotate_secret(self, ctx: TaskContext, secret_id: str, new_id: str, new_name: str,
                            service_ids: list[str]) -> str:
        store = self.store
        old = store.secrets.get(secret_id)
        if new_id not in store.secrets:
            now = self.clock.now
            store.upsert(Secret(new_id, new_name, now, now))
        ctx.update(progress=10, message=f"created {new_name}")
        for n, sid in enumerate(service_ids):
            s = store.services.get(sid)
            if s is None:
                continue
            if secret_id in s.secret_ids:
                ids = tuple(new_id if i == secret_id else i for i in s.secret_ids)
                store.upsert(replace(s, secret_ids=ids, update_state="updating",
                                     update_message=f"moving to secret {new_name}", updated_at=self.clock.now))
            # Every task there is now holds the old secret's file: each is redeployed (after a
            # load, a resumed rotation redeploys them all again: more restarts, none missed).
            held = {t.id for t in self.tasks_of(store.services[sid])}
            await self._roll(ctx, sid, lambda t, held=held: t.id in held, rollback=False,
                             span=(10 + 80 * n // len(service_ids), 10 + 80 * (n + 1) // len(service_ids)))
        if old is not None:
            store.delete("secrets", secret_id)
            self.world.event(Severity.INFO, old.name, f"Secret rotated: services moved to {new_name}, {old.name} removed",
                             "secret.rotated")
        return new_id

    async def _roll(self, ctx: TaskContext, service_id: str, outdated: Callable[[Container], bool], *, rollback: bool,
                    span: tuple[int, int] = (5, 99)) -> str:
        """Replace the service's outdated tasks in waves of its policy's parallelism: each
        wave's new tasks must run, then are watched ``monitor_s``, then ``delay_s`` passes
        before the next wave. A task that fails takes the policy's failure action."""
        s = self._service(service_id)
        policy = s.rollback_policy if rollback else s.update_policy
        doing = "rollback" if rollback else "update"
        ctx.on_abort(lambda: self._stopped(service_id, f"{doing} stopped by user"))

        def todo() -> list[Container]:
            s = self._service(service_id)
            tasks = [t for t in self.tasks_of(s) if t.desired_state == "running" and outdated(t)]
            names = {h.id: h.name for h in self.store.hosts.values()}
            return sorted(tasks, key=lambda t: (t.slot if t.slot is not None else 0, names.get(t.host_id, "")))

        first = todo()
        size = policy.parallelism or max(1, len(first))
        waves = max(1, -(-len(first) // size))
        wave = 0
        while batch := todo()[:size]:
            wave += 1
            await self._checkpoint(ctx, service_id, doing)
            names = ", ".join(t.name.rsplit(".", 1)[0] for t in batch)
            ctx.update(message=f"wave {wave}/{max(wave, waves)}: {doing} of {names}")
            new = [self._replace(t, s, policy) for t in batch]
            failed = await self._watch(ctx, new, policy, s, doing)
            if failed is not None:
                if policy.failure_action != "continue":
                    return await self._failed(ctx, service_id, failed, policy, rollback)
                self.world.event(Severity.WARNING, s.name, f"task {failed.name} failed; the {doing} continues",
                                 "service.task_failed")
            for t in batch:  # start-first: the old task goes once its successor runs
                old = self.store.containers.get(t.id)
                if old is not None and old.desired_state == "running":
                    self._shut_down(old, stop=True)
            lo, hi = span
            ctx.update(progress=max(ctx.task.progress, min(99, lo + (hi - lo) * wave // waves)))
            if policy.delay_s and todo():
                ctx.update(message=f"wave {wave}/{waves} done; next in {policy.delay_s:g}s")
                await self._sleep(ctx, policy.delay_s)
        s = self._service(service_id)
        state = "rollback_completed" if rollback else "completed"
        self.store.upsert(replace(s, update_state=state, update_message=f"{doing} completed"))
        self.world.event(Severity.INFO, s.name, f"Service {doing} completed ({s.image})", f"service.{state}")
        return service_id

    def _replace(self, t: Container, s: Service, policy: UpdatePolicy) -> str:
        """The slot's new task, on the node the old one ran on while it is eligible."""
        s = self._service(s.id)
        if policy.order != "start-first":
            self._shut_down(t, stop=True)
        load: dict[str, int] = {}
        for other in self.tasks():
            if other.desired_state == "running":
                load[other.host_id] = load.get(other.host_id, 0) + 1
        host = self.place(s, load, prefer=t.host_id)
        if host is None:
            raise StepFailed(f"no node can take a task of {s.name}")
        return self._new_task(s, t.slot, host).id

    async def _watch(self, ctx: TaskContext, new: list[str], policy: UpdatePolicy, s: Service,
                     doing: str) -> Container | None:
        """Until the new tasks run, then ``monitor_s`` more: the first that failed, or None.
        A new task whose node went down meanwhile is the orchestrator's to replace (with the
        new spec): no longer watched here."""
        deadline = self.clock.now + CONVERGE_SECONDS
        watch_until: float | None = None
        while True:
            tasks = [t for i in new if (t := self.store.containers.get(i)) is not None]
            dead = next((t for t in tasks if t.state is ContainerState.DEAD), None)
            if dead is not None:
                return dead
            if not any(t.desired_state == "running" and t.state is not ContainerState.RUNNING for t in tasks):
                watch_until = watch_until if watch_until is not None else self.clock.now + policy.monitor_s
                if self.clock.now >= watch_until:
                    return None
            elif self.clock.now >= deadline:
                raise StepFailed(f"the new tasks of {s.name} did not start within {CONVERGE_SECONDS:g}s")
            await self._checkpoint(ctx, s.id, doing)
            await self.clock.sleep(TICK_SECONDS)

    async def _checkpoint(self, ctx: TaskContext, service_id: str, doing: str) -> None:
        if ctx.control.paused:
            s = self._service(service_id)
            before = (s.update_state, s.update_message)
            self.store.upsert(replace(s, update_state="paused", update_message=f"{doing} paused by user"))
            await ctx.checkpoint()
            s = self._service(service_id)
            if not ctx.control.aborted:
                self.store.upsert(replace(s, update_state=before[0], update_message=before[1]))
        await ctx.checkpoint()

    def _stopped(self, service_id: str, message: str) -> None:
        s = self.store.services.get(service_id)
        if s is not None and s.update_state not in ("completed", "rollback_completed"):
            self.store.upsert(replace(s, update_state="paused", update_message=message))

    async def _failed(self, ctx: TaskContext, service_id: str, task: Container, policy: UpdatePolicy,
                      rollback: bool) -> str:
        s = self._service(service_id)
        why = f"task {task.name} failed: {task.error or 'exited'}"
        if policy.failure_action == "rollback" and not rollback and s.previous_image:
            self.store.upsert(replace(s, image=s.previous_image, previous_image=s.image, update_state="rollback_started",
                                      update_message=f"update rolled back due to failure: {why}"))
            self.world.event(Severity.WARNING, s.name, f"Service update failed ({why}); rolling back to {s.previous_image}",
                             "service.rollback")
            target = s.previous_image
            await self._roll(ctx, service_id, lambda t: t.image != target, rollback=True)
            raise StepFailed(f"{why}; rolled back to {target}")
        self.store.upsert(replace(s, update_state="paused",
                                  update_message=f"update paused due to failure or early termination of {why}"))
        self.world.event(Severity.WARNING, s.name, f"Service {'rollback' if rollback else 'update'} paused: {why}",
                         "service.paused")
        raise StepFailed(f"{why}; the update is paused (roll it back, or update to another image)")


# -- the backend's side --------------------------------------------------------------------------


class SwarmActions(Backend):
    """The contract's swarm actions for ``SimulatorBackend`` (a ``Backend`` itself, so the base
    class wraps each mutating one in the read-only check). Uses the backend's ``swarm``,
    ``world``, ``faults``, ``runner`` and ``_start``."""

    swarm: Swarm | None
    world: World
    faults: Any
    runner: TaskRunner
    _start: Callable[..., Any]

    def _swarm(self, what: str) -> Swarm:
        if self.swarm is None:
            raise PermissionDenied(f"the simulator is not a swarm: it cannot {what} (start it with --sim-swarm)")
        return self.swarm

    def _find(self, table: str, ref: str, what: str) -> Any:
        items = self.world.store.tables[table]
        if ref in items:
            return items[ref]
        try:
            return resolve(items.values(), ref, what)
        except NotFound:
            hits = [i for i in items.values() if len(ref) >= 4 and i.id.startswith(ref)]
            if len(hits) != 1:
                raise
            return hits[0]

    async def create_service(self, spec: ServiceSpec) -> Task:
        self._swarm("create services")
        await self.faults.gate("create service")
        check_service_name(spec.name)
        check_image_ref(spec.image)
        if spec.replicas is not None:
            check_replicas(spec.replicas)
        for text in spec.constraints:
            parse_constraint(text)
        for policy in (spec.update, spec.rollback):
            _check_policy(policy)
        if any(s.name == spec.name for s in self.world.store.services.values()):
            raise Conflict(f"a service named {spec.name} already exists")
        secrets = [self._find("secrets", ref, "secret").id for ref in spec.secrets]
        configs = [self._find("configs", ref, "config").id for ref in spec.configs]
        service_id = self.world.ids.uuid()
        args = dict(service_id=service_id, name=spec.name, image=spec.image, replicas=spec.replicas,
                    env=[[k, v] for k, v in spec.env], secret_ids=secrets, config_ids=configs,
                    constraints=list(spec.constraints), update=_policy_args(spec.update),
                    rollback=_policy_args(spec.rollback))
        return await self._start("create_service", spec.name, service_id, args)

    async def scale_service(self, spec: ScaleSpec) -> Task:
        self._swarm("scale services")
        await self.faults.gate("scale service")
        check_replicas(spec.replicas)
        s = self._find("services", spec.service, "service")
        if s.mode != "replicated":
            raise InvalidInput(f"service {s.name} is {s.mode}: it runs one task per node and is not scaled")
        return await self._start("scale_service", f"{s.name} to {spec.replicas}", s.id,
                                 dict(service_id=s.id, replicas=spec.replicas))

    async def remove_service(self, service_id: str) -> Task:
        self._swarm("remove services")
        await self.faults.gate("remove service")
        s = self._find("services", service_id, "service")
        return await self._start("remove_service", s.name, s.id, dict(service_id=s.id))

    async def update_service(self, spec: ServiceUpdateSpec) -> Task:
        swarm = self._swarm("update services")
        await self.faults.gate("update service")
        check_image_ref(spec.image)
        s = self._find("services", spec.service, "service")
        if swarm.running_updates(s.id):
            raise Conflict(f"service {s.name} is being updated: wait for it, or roll it back")
        if s.image == spec.image:
            raise Conflict(f"service {s.name} already runs {spec.image}")
        return await self._start("update_service", s.name, s.id, dict(service_id=s.id, image=spec.image))

    async def rollback_service(self, service_id: str) -> Task:
        swarm = self._swarm("roll back services")
        await self.faults.gate("roll back service")
        s = self._find("services", service_id, "service")
        if s.previous_image is None:
            raise Conflict(f"service {s.name} has no previous spec to roll back to")
        under_way = swarm.running_updates(s.id)
        if any(swarm.runner.running[i][0] == "rollback_service" for i in under_way):
            # A rollback of the rollback would flip back to the image being left: refused.
            raise Conflict(f"service {s.name} is being rolled back already")
        for task_id in under_way:
            # As ``docker service rollback`` during an update: the update stops where it is.
            swarm.runner.abort(task_id)
        return await self._start("rollback_service", s.name, s.id, dict(service_id=s.id, update_task_ids=under_way))

    async def create_secret(self, spec: SecretSpec) -> Task:
        self._swarm("create secrets")
        await self.faults.gate("create secret")
        check_secret_name(spec.name)
        _check_value("secret", spec.name, spec.data)
        if any(s.name == spec.name for s in self.world.store.secrets.values()):
            raise Conflict(f"a secret named {spec.name} already exists")
        # Only the name goes on: the value is not kept anywhere (the task, the state file).
        secret_id = self.world.ids.uuid()
        return await self._start("create_secret", spec.name, secret_id, dict(secret_id=secret_id, name=spec.name))

    async def remove_secret(self, secret_id: str) -> Task:
        self._swarm("remove secrets")
        await self.faults.gate("remove secret")
        secret = self._find("secrets", secret_id, "secret")
        users = sorted(s.name for s in self.world.store.services.values() if secret.id in s.secret_ids)
        if users:
            raise Conflict(f"secret {secret.name} is used by service(s) {', '.join(users)}: remove it from them first")
        return await self._start("remove_secret", secret.name, secret.id, dict(secret_id=secret.id))

    async def rotate_secret(self, secret_id: str, data: bytes) -> Task:
        swarm = self._swarm("rotate secrets")
        await self.faults.gate("rotate secret")
        secret = self._find("secrets", secret_id, "secret")
        _check_value("secret", secret.name, data)
        store = self.world.store
        new_name = next_secret_name(secret.name, (s.name for s in store.secrets.values()))
        check_secret_name(new_name)
        users = sorted((s for s in store.services.values() if secret.id in s.secret_ids), key=lambda s: s.name)
        for s in users:
            if swarm.running_updates(s.id):
                raise Conflict(f"service {s.name} is being updated: rotate the secret after it")
        new_id = self.world.ids.uuid()
        args = dict(secret_id=secret.id, new_id=new_id, new_name=new_name, service_ids=[s.id for s in users])
        return await self._start("rotate_secret", secret.name, secret.id, args)

    async def create_config(self, spec: ConfigSpec) -> Task:
        self._swarm("create configs")
        await self.faults.gate("create config")
        # A config's name follows a secret's rules in the swarm (same object store).
        check_secret_name(spec.name)
        _check_value("config", spec.name, spec.data)
        if any(c.name == spec.name for c in self.world.store.configs.values()):
            raise Conflict(f"a config named {spec.name} already exists")
        config_id = self.world.ids.uuid()
        return await self._start("create_config", spec.name, config_id, dict(config_id=config_id, name=spec.name))

    async def remove_config(self, config_id: str) -> Task:
        self._swarm("remove configs")
        await self.faults.gate("remove config")
        config = self._find("configs", config_id, "config")
        users = sorted(s.name for s in self.world.store.services.values() if config.id in s.config_ids)
        if users:
            raise Conflict(f"config {config.name} is used by service(s) {', '.join(users)}: remove it from them first")
        return await self._start("remove_config", config.name, config.id, dict(config_id=config.id))

    async def set_host_availability(self, host_id: str, availability: Literal["active", "pause", "drain"]) -> Task:
        self._swarm("drain or activate hosts")
        await self.faults.gate("set host availability")
        if availability not in ("active", "pause", "drain"):
            raise InvalidInput(f"availability {availability!r}: choose active, pause or drain")
        host = self._find("hosts", host_id, "host")
        if host.availability is None:
            raise Conflict(f"host {host.name} has not joined the swarm (it is {host.state.value})")
        kind = {"active": "activate_host", "pause": "pause_host", "drain": "drain_host"}[availability]
        return await self._start(kind, host.name, host.id, dict(host_id=host.id, availability=availability))


def _check_value(what: str, name: str, data: bytes) -> None:
    if not data:
        raise InvalidInput(f"{what} {name}: the value is empty")
    if len(data) > MAX_SECRET_BYTES:
        raise InvalidInput(f"{what} {name}: the value is {len(data):,} bytes; the swarm takes at most 500 KiB")


def _check_policy(p: UpdatePolicy) -> None:
    if p.parallelism < 0 or p.delay_s < 0 or p.monitor_s < 0 or not 0 <= p.max_failure_ratio <= 1:
        raise InvalidInput("an update policy's parallelism, delay and monitor are 0 or more, its failure ratio 0 to 1")
    if p.failure_action not in ("pause", "continue", "rollback"):
        raise InvalidInput(f"failure action {p.failure_action!r}: choose pause, continue or rollback")
    if p.order not in ("stop-first", "start-first"):
        raise InvalidInput(f"update order {p.order!r}: choose stop-first or start-first")


def _policy_args(p: UpdatePolicy) -> list[Any]:
    return [p.parallelism, p.delay_s, p.failure_action, p.order, p.monitor_s, p.max_failure_ratio]


__all__ = ["Swarm", "SwarmActions", "check_state"]
