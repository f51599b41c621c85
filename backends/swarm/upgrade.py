"""Upgrade machines on a swarm: drain → upgrade the engine over SSH → activate, wave by wave.

The waves come from the shared planner (``backends.waves.plan_waves``). What the swarm adds
is where the tasks go: draining a node moves its replicated tasks to the nodes that can take
them and stops its global ones until it is back. ``preview`` works that out from an
``Inventory`` alone (the console's upgrade screen and ``hosts upgrade --dry-run`` show it),
and refuses a plan in which some wave would leave a service with no running task. The run
(``SwarmUpgrades``) checks the same before each wave, against the swarm as it is then.

A node is reached over SSH by its own target (``--node-ssh NODE=USER@HOST[:PORT]``) or at
the address the swarm knows it by, as ``--node-ssh-user USER``; host keys are checked as
for every other SSH connection (``docker.transport.ssh_connect``).

The heavy imports (asyncssh, httpx) are made inside the functions that run an upgrade, so the
console can import the preview cheaply.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Iterable

from ..errors import BackendError, Conflict, InvalidInput, NotFound, TaskFailed, Unavailable
from ..models import ContainerState, Host, HostState, Service, Task, TaskStatus
from ..waves import PlannedHost, UpgradePlan, WaveControl, parse_version, plan_waves, run_waves

if TYPE_CHECKING:
    from ..contract import Inventory, UpgradeSpec
    from ..docker.transport import Endpoint
    from ..tasks import TaskHandle
    from .backend import SwarmBackend

COMMAND_TIMEOUT = 900.0  # the upgrade command's whole run on one node
OUTPUT_LIMIT = 64 * 1024  # of the command's output kept (its tail): enough for the last error
MOVE_TIMEOUT = 300.0  # a drained node's tasks running again elsewhere
ENGINE_BACK_TIMEOUT = 300.0  # the node ready again, reporting the target version
SERVICES_BACK_TIMEOUT = 300.0  # after activation: every service at its desired replicas
POLL = 0.5
SHOWN = 6  # task names listed per line of a preview; the rest are counted

# Jobs run to completion: a drained node stops nothing that must keep running.
_LONG_RUNNING = ("replicated", "global")


# -- the preview ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceImpact:
    """What one wave does to one service that has a running task on the wave's nodes."""

    service: str
    mode: str
    moving: tuple[str, ...]  # its tasks on the wave's nodes, "web.2 on node-a"
    kept: int  # its running tasks on nodes outside the wave
    room: int  # nodes outside the wave that can take a task (active, ready, constraints met)
    desired: int

    @property
    def refused(self) -> bool:
        # Nothing keeps running and, for a replicated service, nowhere to start one.
        return self.kept == 0 and (self.mode == "global" or self.room == 0)

    @property
    def during(self) -> int:
        """Tasks it runs while the wave is upgraded (once the swarm has moved what it can)."""
        if self.mode == "replicated" and self.room:
            return self.desired
        return self.kept

    def line(self) -> str:
        tasks = ", ".join(self.moving[:SHOWN]) + (f" and {len(self.moving) - SHOWN} more" if len(self.moving) > SHOWN else "")
        s = "s" if len(self.moving) == 1 else ""  # "web.2 moves", "web.1, web.3 move"
        if self.refused:
            return f"{self.service}: {tasks} would stop, and no other node runs or can run it: refused"
        if self.mode == "global":
            return f"{self.service}: {tasks} stop{s} until the node is back ({self.kept} keep running elsewhere)"
        if self.room:
            return f"{self.service}: {tasks} move{s} to the {self.room} other node(s) that can run it"
        return f"{self.service}: {tasks} stop{s}: no other node can run it ({self.kept}/{self.desired} keep running)"


@dataclass(frozen=True, slots=True)
class WavePreview:
    number: int
    hosts: tuple[str, ...]  # node names
    impacts: tuple[ServiceImpact, ...]

    @property
    def refused(self) -> tuple[str, ...]:
        return tuple(i.service for i in self.impacts if i.refused)


@dataclass(frozen=True, slots=True)
class DrainPreview:
    """The plan and, for each wave, the tasks that move or stop."""

    plan: UpgradePlan
    waves: tuple[WavePreview, ...]

    def refusal(self) -> str | None:
        """One line naming the services a wave would leave with no running task, or None."""
        parts = [f"wave {w.number} ({', '.join(w.hosts)}) would leave {', '.join(w.refused)} with no running task"
                 for w in self.waves if w.refused]
        if not parts:
            return None
        return "; ".join(parts) + ": upgrade its nodes in smaller waves, or let another node run the service(s) first"

    def lines(self) -> list[str]:
        out = [f"{self.plan.host_count} node(s) in {len(self.plan.waves)} wave(s) to Docker {self.plan.target_version};"
               " each wave: drain, upgrade over SSH, activate, wait for every service"]
        by_number = {w.number: w for w in self.waves}
        for wave in self.plan.waves:
            names = ", ".join(f"{h.name} ({h.from_version or '?'})" for h in wave.hosts)
            preview = by_number.get(wave.number)
            refused = preview.refused if preview else ()
            out.append(f"  wave {wave.number}: {names}" + (f"  REFUSED: {', '.join(refused)} would have no running task" if refused else ""))
            if preview is not None:
                out.extend(f"    {impact.line()}" for impact in preview.impacts)
                if not preview.impacts:
                    out.append("    no running task moves")
        out.extend(f"  skip {h.name}: {h.skip_reason}" for h in self.plan.skipped)
        return out

    def as_dict(self) -> dict[str, Any]:
        by_number = {w.number: w for w in self.waves}
        return {
            "target_version": self.plan.target_version,
            "refused": self.refusal(),
            "waves": [
                {
                    "number": wave.number,
                    "hosts": [{"id": h.host_id, "name": h.name, "from_version": h.from_version} for h in wave.hosts],
                    "refused": list(by_number[wave.number].refused),
                    "services": [
                        {"service": i.service, "mode": i.mode, "tasks": list(i.moving), "kept": i.kept, "room": i.room,
                         "desired": i.desired, "during": i.during, "refused": i.refused}
                        for i in by_number[wave.number].impacts
                    ],
                }
                for wave in self.plan.waves
            ],
            "skipped": [{"id": h.host_id, "name": h.name, "reason": h.skip_reason} for h in self.plan.skipped],
        }


def preview(inv: "Inventory", plan: UpgradePlan) -> DrainPreview:
    """What each wave of ``plan`` does to the services, from the inventory as it is."""
    return DrainPreview(plan, tuple(
        WavePreview(wave.number, tuple(h.name for h in wave.hosts), wave_impacts(inv, {h.host_id for h in wave.hosts}))
        for wave in plan.waves
    ))


def wave_impacts(inv: "Inventory", wave_ids: set[str]) -> tuple[ServiceImpact, ...]:
    """For every long-running service with a running task on the nodes ``wave_ids``: what
    draining them does to it."""
    running: dict[str, list[Any]] = {}
    for c in inv.containers.values():
        if c.service and c.state is ContainerState.RUNNING and c.host_id in inv.hosts:
            running.setdefault(c.service, []).append(c)
    impacts = []
    for s in sorted(inv.services.values(), key=lambda s: s.name):
        if s.mode not in _LONG_RUNNING:
            continue
        tasks = running.get(s.name, [])
        moving = [c for c in tasks if c.host_id in wave_ids]
        if not moving:
            continue
        # A task on a paused node outside the wave keeps running: a pause stops new tasks only.
        kept = sum(1 for c in tasks if c.host_id not in wave_ids)
        room = sum(1 for h in inv.hosts.values() if h.id not in wave_ids and _can_take(h, s))
        names = tuple(sorted(f"{_task_label(c)} on {inv.hosts[c.host_id].name}" for c in moving))
        impacts.append(ServiceImpact(s.name, s.mode, names, kept, room, s.replicas_desired))
    return tuple(impacts)


def _task_label(c: Any) -> str:
    return f"{c.service}.{c.slot}" if c.slot else str(c.service)


def _can_take(host: Host, service: Service) -> bool:
    """Whether the swarm may start one of ``service``'s tasks on ``host`` now."""
    if host.state is not HostState.RUNNING or (host.availability or "active") != "active":
        return False
    return all(_meets(host, c) for c in service.constraints)


def _meets(host: Host, constraint: str) -> bool:
    """A placement constraint the console can decide from what it knows of a node (id,
    hostname, role, OS); any other (labels, ...) is taken as met: the swarm decides it, and
    the wait after the drain catches a service that found no room after all."""
    for op in ("==", "!="):
        key, found, value = constraint.partition(op)
        if found:
            break
    else:
        return True
    key, value = key.strip(), value.strip()
    known = {
        "node.id": host.id,
        "node.hostname": host.name.split("/", 1)[0],
        "node.role": host.role,
        "node.platform.os": host.os,
    }
    if key not in known or known[key] is None:
        return True
    same = str(known[key]).lower() == value.lower() if key != "node.id" else known[key] == value
    return same if op == "==" else not same


# -- reaching a node over SSH --------------------------------------------------------------------


def parse_node_ssh(entries: Iterable[str]) -> dict[str, str]:
    """``["NODE=USER@HOST[:PORT]", ...]`` as {node: target}; one line per bad entry."""
    out: dict[str, str] = {}
    for entry in entries:
        node, found, target = entry.partition("=")
        if not found or not node.strip() or not target.strip():
            raise InvalidInput(f"node_ssh {entry!r}: expected NODE=USER@HOST[:PORT] (NODE: a node id or name)")
        out[node.strip()] = target.strip()
    return out


def node_target(host: Host, targets: dict[str, str], user: str | None) -> str:
    """The SSH target of a node: its own entry (by id, short id, name or hostname), else its
    swarm address as ``user``. InvalidInput says how to give one."""
    hostname = host.name.split("/", 1)[0]
    for key in (host.id, host.name, hostname):
        if key in targets:
            return targets[key]
    for key, target in targets.items():
        if len(key) >= 4 and host.id.startswith(key):
            return target
    if user:
        if not host.ip or host.ip in ("0.0.0.0", "::"):
            raise InvalidInput(f"node {host.name}: the swarm knows no address for it; give --node-ssh {host.id[:12]}=USER@HOST")
        address = f"[{host.ip}]" if ":" in host.ip else host.ip
        return f"{user}@{address}"
    raise InvalidInput(
        f"node {host.name}: no SSH target; give --node-ssh {host.id[:12]}=USER@HOST[:PORT] or --node-ssh-user USER"
    )


async def run_command(endpoint: "Endpoint", command: str, *, accept_new: bool) -> str:
    """Run ``command`` on the node over SSH, bounded in time and in the output kept (its last
    ``OUTPUT_LIMIT`` characters): the tail of its output, or BackendError with its last line."""
    import asyncssh

    from ..docker.transport import ssh_connect

    where = endpoint.host or "?"

    async def run() -> tuple[int | None, str, str]:
        conn = await ssh_connect(where, endpoint.port, endpoint.user, accept_new=accept_new, identity=endpoint.identity)
        try:
            process = await conn.create_process(command, encoding="utf-8", errors="replace")
            process.stdin.write_eof()  # the command reads nothing from us

            async def tail(stream: Any) -> str:
                kept = ""
                while chunk := await stream.read(8192):
                    kept = (kept + chunk)[-OUTPUT_LIMIT:]
                return kept

            out, err = await asyncio.gather(tail(process.stdout), tail(process.stderr))
            await process.wait_closed()
            return process.exit_status, out, err
        finally:
            conn.close()

    try:
        status, out, err = await asyncio.wait_for(run(), COMMAND_TIMEOUT)
    except asyncio.TimeoutError:
        raise Unavailable(f"{where}: the upgrade command did not finish in {COMMAND_TIMEOUT:.0f}s") from None
    except (OSError, asyncssh.Error) as error:
        raise Unavailable(f"{where}: {error}") from None
    if status != 0:
        lines = (err or out).strip().splitlines()
        raise BackendError(f"{where}: the upgrade command failed (exit {status}): {lines[-1] if lines else 'no output'}")
    return out


def fill(command: str, version: str, node_id: str) -> str:
    """The command with ``{version}`` and ``{node}`` (the node id) put in, each quoted."""
    return command.replace("{version}", shlex.quote(version)).replace("{node}", shlex.quote(node_id))


# -- the run -------------------------------------------------------------------------------------


class SwarmUpgrades:
    """The swarm backend's rolling upgrades, and their pause / resume / abort by task id."""

    def __init__(
        self, backend: "SwarmBackend", command: str | None, node_ssh: dict[str, str], ssh_user: str | None,
        *, accept_new_host_keys: bool = False,
    ) -> None:
        self._backend = backend
        self.command = command
        self._targets = node_ssh
        self._user = ssh_user
        self._accept_new = accept_new_host_keys
        self._controls: dict[str, WaveControl] = {}

    # -- helpers over the backend's engine and inventory

    @property
    def _engine(self):
        return self._backend.engine

    async def _fresh(self) -> "Inventory":
        await self._engine.inventory.refresh_swarm()
        return self._backend._inventory()

    async def _fresh_or_last(self) -> "Inventory":
        # A manager being upgraded does not answer for a while: wait on what was seen last,
        # and have its supervisor try again now rather than after its backoff.
        try:
            return await self._fresh()
        except BackendError:
            if not self._engine.reachable:
                self._engine.retry_now()
            return self._backend._inventory()

    async def versions(self, configured: Iterable[str]) -> list[str]:
        """The versions configured, and those the nodes run (an older node can be brought up
        to the newest in the swarm), newest first."""
        seen = set(configured) | {h.engine_version for h in self._backend._inventory().hosts.values() if h.engine_version}
        good = []
        for v in seen:
            try:
                good.append((parse_version(v), v))
            except InvalidInput:
                continue
        return [v for _, v in sorted(good, reverse=True)]

    # -- start

    async def start(self, spec: "UpgradeSpec") -> Task:
        if not self.command:
            raise InvalidInput("no upgrade command is configured (swarm.upgrade_command)")
        self._backend._reachable()
        inv = await self._fresh()
        hosts = [self._backend._host(ref) for ref in spec.host_ids]
        hosts = list({h.id: h for h in hosts}.values())
        # The very plan the preview showed: the planner keeps apart the nodes that carry one
        # service's tasks, as it does for every backend.
        plan = plan_waves(hosts, spec.target_version, spec.batch_size, inventory=inv)
        if not plan.waves:
            raise InvalidInput(f"nothing to do: every node named is already at {spec.target_version}")
        from ..docker.machines import ssh_endpoint

        endpoints = {}
        for wave in plan.waves:
            for planned in wave.hosts:
                endpoints[planned.host_id] = ssh_endpoint(node_target(inv.hosts[planned.host_id], self._targets, self._user))
        refusal = preview(inv, plan).refusal()
        if refusal:
            raise Conflict(refusal)
        command = self.command
        control = WaveControl()
        tasks = self._backend._tasks

        async def work(parent: "TaskHandle") -> None:
            total = plan.host_count
            done = 0

            def on_wave(wave: Any) -> None:
                parent.progress(parent.task.progress, f"wave {wave.number}/{len(plan.waves)}: {', '.join(h.name for h in wave.hosts)}")

            async def upgrade_one(planned: PlannedHost) -> None:
                nonlocal done
                host = inv.hosts[planned.host_id]
                child = tasks.start(
                    "upgrade_host", planned.name,
                    lambda h: self._upgrade_node(h, host, endpoints[host.id], fill(command, spec.target_version, host.id), spec.target_version),
                    target_id=host.id, parent_id=parent.id,
                )
                final = await tasks.wait(child.id)
                done += 1
                parent.progress(done * 100 // total, f"{done}/{total} node(s) done")
                if final.status is not TaskStatus.SUCCEEDED:
                    raise RuntimeError(final.error or final.status.value)

            async def checked(planned: PlannedHost) -> None:
                # The swarm may have changed since the preview: each wave is checked again
                # against it before anything of it is drained.
                wave = next(w for w in plan.waves if planned in w.hosts)
                if wave.number not in checked_waves:
                    checked_waves[wave.number] = _refused_now(await self._fresh_or_last(), wave.number, wave.hosts)
                if checked_waves[wave.number]:
                    raise Conflict(checked_waves[wave.number] or "")
                await upgrade_one(planned)

            checked_waves: dict[int, str | None] = {}
            outcome = await run_waves(plan, checked, control=control, continue_on_failure=spec.continue_on_failure, on_wave=on_wave)
            names = {h.host_id: h.name for w in plan.waves for h in w.hosts}
            if outcome.aborted:
                from ..tasks import Aborted

                raise Aborted(f"aborted after {len(outcome.succeeded)} node(s); {len(outcome.not_started)} not started")
            if not outcome.ok:
                failed = "; ".join(f"{names.get(h, h)}: {_strip(why)}" for h, why in outcome.failed)
                left = f"{len(outcome.not_started)} node(s) not started" if outcome.not_started else ""
                raise TaskFailed("; ".join(p for p in (failed, left) if p))

        task = tasks.start("upgrade_hosts", f"{plan.host_count} node(s) to {spec.target_version}", work)
        self._controls[task.id] = control
        return task

    async def _upgrade_node(self, handle: "TaskHandle", host: Host, endpoint: "Endpoint", command: str, version: str) -> str:
        name = host.name
        handle.progress(5, f"draining {name}")
        await self._set_availability(host.id, "drain")
        await self._wait_moved(handle, host)
        handle.progress(30, f"upgrading {name}")
        try:
            await run_command(endpoint, command, accept_new=self._accept_new)
        except BackendError as err:
            # The engine may be half-installed: no task is sent back to it until someone looks.
            raise TaskFailed(f"{err}; {name} is left drained (host activate {host.id[:12]} when it is fixed)") from None
        handle.progress(55, f"waiting for {name} to report Docker {version}")
        ready, now, at_target = await self._wait_engine(host.id, version)
        if not ready:
            raise TaskFailed(f"{name} did not come back after the upgrade command ({now}); it is left drained")
        handle.progress(70, f"activating {name}")
        await self._set_availability(host.id, "active")
        await self._wait_services(handle, 75)
        if not at_target:
            # Activated all the same: the engine answers and the services are back; what is
            # wrong is the version, and the user must hear it.
            raise TaskFailed(f"the upgrade command ran, but the engine reports Docker {now}, not {version}")
        return host.id

    async def _set_availability(self, node_id: str, availability: str) -> None:
        # Read, change, send with the version read: the swarm refuses an update from a stale
        # one. Retried while the manager does not answer (it may be the node being upgraded).
        deadline = time.monotonic() + ENGINE_BACK_TIMEOUT
        api = self._engine.api
        while True:
            try:
                raw = await api.get(f"/nodes/{node_id}")
                spec = dict(raw.get("Spec") or {})
                spec["Availability"] = availability
                await api.post(f"/nodes/{node_id}/update", spec, version=(raw.get("Version") or {}).get("Index"))
                break
            except (Unavailable, Conflict) as err:
                if time.monotonic() > deadline:
                    raise TaskFailed(f"could not set node {node_id[:12]} {availability}: {err}") from None
                await asyncio.sleep(POLL)
        self._engine.inventory.settle()

    async def _wait_moved(self, handle: "TaskHandle", host: Host) -> None:
        """Until nothing runs on the drained node and every service that has room elsewhere is
        back at its desired replicas there."""
        deadline = time.monotonic() + MOVE_TIMEOUT
        while True:
            inv = await self._fresh_or_last()
            left = [c for c in inv.containers.values() if c.service and c.host_id == host.id and c.state is ContainerState.RUNNING]
            short = _short(inv, expect_room=True)
            if not left and not short:
                return
            what = f"{len(left)} task(s) still on {host.name}" if left else _waiting(short)
            handle.progress(15, what)
            if time.monotonic() > deadline:
                raise TaskFailed(f"after draining {host.name} for {MOVE_TIMEOUT:g}s: {what}")
            await asyncio.sleep(POLL)

    async def _wait_engine(self, node_id: str, version: str) -> tuple[bool, str, bool]:
        """Until the node is ready at ``version``, or the timeout: (ready, the version it
        reports or why it is not ready, whether that is ``version``)."""
        deadline = time.monotonic() + ENGINE_BACK_TIMEOUT
        want = parse_version(version)
        while True:
            inv = await self._fresh_or_last()
            host = inv.hosts.get(node_id)
            if host is None:
                raise TaskFailed(f"node {node_id[:12]} left the swarm during its upgrade")
            now = host.engine_version or "?"
            ready = host.state is HostState.RUNNING
            try:
                at_target = host.engine_version is not None and parse_version(host.engine_version) == want
            except InvalidInput:
                at_target = False
            if (ready and at_target) or time.monotonic() > deadline:
                return ready, now if ready else (host.reason or host.state.value), at_target
            await asyncio.sleep(POLL)

    async def _wait_services(self, handle: "TaskHandle", start: int) -> None:
        deadline = time.monotonic() + SERVICES_BACK_TIMEOUT
        while True:
            inv = await self._fresh_or_last()
            short = _short(inv, expect_room=False)
            if not short:
                return
            handle.progress(start, _waiting(short))
            if time.monotonic() > deadline:
                names = ", ".join(f"{s.name} ({s.replicas_running}/{s.replicas_desired})" for s in short)
                raise TaskFailed(f"not back at their desired replicas after {SERVICES_BACK_TIMEOUT:g}s: {names}")
            await asyncio.sleep(POLL)

    # -- pause / resume / abort

    def owns(self, task_id: str) -> bool:
        return task_id in self._controls

    def _control(self, task_id: str) -> tuple[Task, WaveControl]:
        task = self._backend._tasks.get(task_id)
        if task is None:
            raise NotFound(f"task {task_id} not found")
        control = self._controls.get(task_id)
        if control is None:
            raise InvalidInput(f"{task.kind} {task.target}: only a rolling upgrade can be paused, resumed or aborted")
        if task.done:
            raise Conflict(f"{task.kind} {task.target} has already ended ({task.status.value})")
        return task, control

    def pause(self, task_id: str) -> Task:
        task, control = self._control(task_id)
        control.pause()
        return self._backend._tasks.update(task.id, status=TaskStatus.PAUSED, message="paused: the current wave finishes first")

    def resume(self, task_id: str) -> Task:
        task, control = self._control(task_id)
        control.resume()
        return self._backend._tasks.update(task.id, status=TaskStatus.RUNNING, message="resumed")

    def abort(self, task_id: str) -> Task:
        task, control = self._control(task_id)
        control.abort()
        return self._backend._tasks.update(task.id, message="aborting after the current wave")


def _refused_now(inv: "Inventory", number: int, hosts: tuple[PlannedHost, ...]) -> str | None:
    impacts = wave_impacts(inv, {h.host_id for h in hosts})
    refused = [i.service for i in impacts if i.refused]
    if not refused:
        return None
    return f"wave {number} not started: it would now leave {', '.join(refused)} with no running task"


def _short(inv: "Inventory", *, expect_room: bool) -> list[Service]:
    """Long-running services below their desired replicas. With ``expect_room``, only those
    that have a node able to take a task (a service that has none waits for the activation)."""
    out = []
    for s in sorted(inv.services.values(), key=lambda s: s.name):
        if s.mode not in _LONG_RUNNING or s.replicas_running >= s.replicas_desired:
            continue
        if expect_room and not any(_can_take(h, s) for h in inv.hosts.values()):
            continue
        out.append(s)
    return out


def _waiting(short: list[Service]) -> str:
    return "waiting for " + ", ".join(f"{s.name} ({s.replicas_running}/{s.replicas_desired})" for s in short[:SHOWN])


def _strip(text: str) -> str:
    # A child's error is already "Error: ..." / "Task failed: ...": its title once is enough.
    head, sep, rest = text.partition(": ")
    return rest if sep and head in ("Error", "Task failed", "Conflict", "Unavailable", "Invalid input") else text


__all__ = ["DrainPreview", "ServiceImpact", "SwarmUpgrades", "WavePreview", "node_target", "parse_node_ssh", "preview"]
