"""Fault injection: machine crashes, node failures, API errors and latency, partitions,
and the scripted demo story.

Faults draw from their own ``random.Random`` (derived from the seed), so how often the console
calls the API never changes how the world itself evolves.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, replace
from typing import Any, Awaitable, Callable

from ..contract import ConnectionChanged, ConnectionState, UpgradeSpec
from ..errors import BackendError, InvalidInput, Unavailable
from ..models import ContainerState, HostState, Severity
from .processes import attach_now, start_containers_of
from .world import World, engine_versions, human_status

# How the story starts its upgrade: the backend's own, without the API gate or the read-only
# check (the cluster's doing, not a user's). Passed in, so faults need not know the backend.
StartUpgrade = Callable[[UpgradeSpec], Awaitable[Any]]

HA_RESTART_SECONDS = (25.0, 70.0)  # how long AHV takes to restart a machine after a failure
NODE_REPAIR_SECONDS = 900.0
LATENCY_SECONDS = (0.2, 1.5)  # wall seconds added to a slow call


@dataclass(frozen=True, slots=True)
class FaultPlan:
    crash: bool = False
    node: bool = False
    api_errors: float = 0.0  # share of calls that fail with Unavailable
    latency: float = 0.0  # share of calls that are slow
    partition: bool = False
    story: bool = False


def parse_faults(text: str | None) -> FaultPlan:
    """'crash,node,api-errors=0.05,latency=0.1,partition', 'all' or 'story'."""
    plan = FaultPlan()
    for part in filter(None, (p.strip() for p in (text or "").split(","))):
        name, _, value = part.partition("=")
        if name == "all":
            plan = replace(plan, crash=True, node=True, api_errors=plan.api_errors or 0.02,
                           latency=plan.latency or 0.05, partition=True)
        elif name in ("crash", "node", "partition", "story"):
            if value:
                raise InvalidInput(f"fault {name!r} takes no value")
            plan = replace(plan, **{name: True})
        elif name in ("api-errors", "latency"):
            try:
                share = float(value) if value else 0.05
            except ValueError:
                raise InvalidInput(f"fault {name} needs a share between 0 and 1, not {value!r}") from None
            if not 0 <= share <= 1:
                raise InvalidInput(f"fault {name} needs a share between 0 and 1, not {value!r}")
            plan = replace(plan, **{name.replace("-", "_"): share})
        else:
            raise InvalidInput(
                f"unknown fault {name!r}: use crash, node, api-errors=F, latency=F, partition, all or story"
            )
    return plan


class Faults:
    def __init__(self, world: World, plan: FaultPlan, *, seed: int, start_upgrade: StartUpgrade | None = None) -> None:
        self.plan = plan
        self.world = world
        self.store = world.store
        self.clock = world.store.clock
        self.rng = random.Random(f"faults:{seed}")
        self.start_upgrade = start_upgrade
        self.partitioned = False

    # -- the API gate -------------------------------------------------------------------------

    async def gate(self, what: str) -> None:
        """Every call passes here: a partition refuses it; api-errors / latency hit a share."""
        if self.partitioned:
            raise Unavailable(f"simulator unreachable (network partition): cannot {what}")
        if self.plan.latency and self.rng.random() < self.plan.latency:
            await asyncio.sleep(self.rng.uniform(*LATENCY_SECONDS))
        if self.plan.api_errors and self.rng.random() < self.plan.api_errors:
            raise Unavailable(f"Prism API answered 503 Service Unavailable to {what} (simulated API error); retry")

    # -- faults -------------------------------------------------------------------------------

    def set_partition(self, partitioned: bool) -> None:
        if partitioned == self.partitioned:
            return
        self.partitioned = partitioned
        broadcast = self.store.broadcast
        if partitioned:
            self.store.flush()
            self.store.held = []
            broadcast.publish(ConnectionChanged(ConnectionState.UNREACHABLE, "network partition (simulated)", self.clock.now))
        else:
            held, self.store.held = self.store.held or [], None
            broadcast.publish(ConnectionChanged(ConnectionState.CONNECTED, "partition healed", self.clock.now))
            for batch in held:
                broadcast.publish(batch)

    def crash_host(self, host_id: str) -> None:
        """The guest crashes; AHV's HA restarts it on the same node a little later."""
        host = self.store.hosts[host_id]
        if host.state in (HostState.STOPPED, HostState.CRASHED, HostState.DELETING):
            return
        reason = "guest kernel panic (simulated crash)"
        self.store.upsert(replace(host, state=HostState.CRASHED, reason=reason, cpu_percent=0.0, memory_used_mib=0))
        self._containers_down(host_id, ContainerState.EXITED, 137)
        self.world.event(Severity.ERROR, host.name, f"Container machine crashed: {reason}", "host.crashed", host_id)
        self.clock.call_later(self.rng.uniform(*HA_RESTART_SECONDS), lambda: self._restart(host_id, host.node_id))

    def fail_node(self, node_id: str) -> None:
        """The node goes down; its machines restart on other nodes and their volumes follow."""
        node = self.store.nodes[node_id]
        if not node.up:
            return
        self.store.upsert(replace(node, up=False))
        self.world.event(Severity.ERROR, node.name, "Node failed: hypervisor not responding", "node.failed", node_id)
        victims = [h for h in self.store.hosts.values() if h.node_id == node_id and h.state is not HostState.STOPPED]
        for host in victims:
            self.store.upsert(replace(host, state=HostState.RESTARTING, reason=f"node {node.name} failed: HA restart",
                                      cpu_percent=0.0, memory_used_mib=0))
            self._containers_down(host.id, ContainerState.RESTARTING, 137)
            self.clock.call_later(self.rng.uniform(*HA_RESTART_SECONDS), lambda h=host.id: self._restart(h, None))
        self.clock.call_later(NODE_REPAIR_SECONDS, lambda: self._repair_node(node_id))

    def _containers_down(self, host_id: str, state: ContainerState, exit_code: int) -> None:
        now = self.clock.now
        for c in [c for c in self.store.containers.values() if c.host_id == host_id]:
            if c.state in (ContainerState.RUNNING, ContainerState.RESTARTING):
                self.store.upsert(replace(c, state=state, exit_code=exit_code, finished_at=now, cpu_percent=0.0,
                                          memory_mib=0.0, status=human_status(state, now, now, exit_code)))

    def _restart(self, host_id: str, node_id: str | None) -> None:
        host = self.store.hosts.get(host_id)
        if host is None or host.state not in (HostState.CRASHED, HostState.RESTARTING):
            return
        node = self.store.nodes.get(node_id or "")
        if node is None or not node.up:
            node = self.world.place(host.cores, host.memory_mib)
        if node is None:
            self._evacuate(host_id)
            return
        moved = node.id != host.node_id
        self.store.upsert(replace(host, state=HostState.RUNNING, node_id=node.id, reason=None,
                                  observed_at=self.clock.now))
        start_containers_of(self.world, host_id, only_restarting_policy=True)
        where = f" on {node.name}" if moved else ""
        self.world.event(Severity.INFO, host.name, f"Container machine restarted by HA{where}", "host.restarted", host_id)

    def _evacuate(self, host_id: str) -> None:
        """No node can take the machine: its containers move to another machine, volumes with them."""
        host = self.store.hosts[host_id]
        reason = "HA restart failed: no node has capacity"
        self.store.upsert(replace(host, state=HostState.CRASHED, reason=reason))
        others = [h for h in self.store.hosts.values() if h.state is HostState.RUNNING and h.id != host_id]
        if not others:
            self.world.event(Severity.ERROR, host.name, reason, "host.crashed", host_id)
            return
        target = min(others, key=lambda h: (h.memory_used_mib / max(1, h.memory_mib), h.name))
        for c in [c for c in self.store.containers.values() if c.host_id == host_id]:
            self.store.upsert(replace(c, host_id=target.id))
            for m in c.mounts:
                vol = self.store.volumes.get(m.source)
                if vol is not None:
                    self.store.upsert(replace(vol, host_id=None))
                    attach_now(self.world, vol.id, target.id, c.id, m.path)
        start_containers_of(self.world, target.id, only_restarting_policy=True)
        self.world.event(Severity.ERROR, host.name, f"{reason}; containers moved to {target.name} with their volumes",
                         "host.evacuated", host_id)

    def _repair_node(self, node_id: str) -> None:
        node = self.store.nodes.get(node_id)
        if node is not None and not node.up:
            self.store.upsert(replace(node, up=True))
            self.world.event(Severity.INFO, node.name, "Node back in service", "node.recovered", node_id)

    def resume_recoveries(self) -> None:
        """After a load: machines waiting for an HA restart get it, failed nodes get repaired."""
        for host in self.store.hosts.values():
            if host.state is HostState.RESTARTING or (host.state is HostState.CRASHED and "capacity" not in (host.reason or "")):
                self.clock.call_later(self.rng.uniform(*HA_RESTART_SECONDS), lambda h=host.id: self._restart(h, None))
        for node in self.store.nodes.values():
            if not node.up:
                self.clock.call_later(NODE_REPAIR_SECONDS, lambda n=node.id: self._repair_node(n))

    # -- scheduling ---------------------------------------------------------------------------

    def schedule(self) -> None:
        plan = self.plan
        if plan.crash:
            self._every((240, 600), self._random_crash)
        if plan.node:
            self._every((600, 1500), self._random_node_failure)
        if plan.partition:
            self._every((300, 900), self._random_partition)
        if plan.story:
            self._story()

    def _every(self, span: tuple[float, float], action) -> None:
        def fire() -> None:
            action()
            self.clock.call_later(self.rng.uniform(*span), fire)

        self.clock.call_later(self.rng.uniform(*span), fire)

    def _running_hosts(self):
        return sorted((h for h in self.store.hosts.values() if h.state is HostState.RUNNING), key=lambda h: h.name)

    def _random_crash(self) -> None:
        hosts = self._running_hosts()
        if hosts:
            self.crash_host(self.rng.choice(hosts).id)

    def _random_node_failure(self) -> None:
        up = sorted((n for n in self.store.nodes.values() if n.up), key=lambda n: n.name)
        if len(up) > 1:  # never the last node standing
            self.fail_node(self.rng.choice(up).id)

    def _random_partition(self) -> None:
        self.set_partition(True)
        self.clock.call_later(self.rng.uniform(15, 45), lambda: self.set_partition(False))

    def _story(self) -> None:
        """The demo's script: a crash, a node failure with HA restarts elsewhere, an upgrade."""
        def crash() -> None:
            hosts = self._running_hosts()
            if hosts:
                self.crash_host(hosts[0].id)

        def node_failure() -> None:
            nodes = sorted((n for n in self.store.nodes.values() if n.up), key=lambda n: n.name)
            if len(nodes) > 1:
                self.fail_node(nodes[-1].id)

        def upgrade() -> None:
            asyncio.get_running_loop().create_task(self._story_upgrade())

        self.clock.call_later(20, crash)
        self.clock.call_later(60, node_failure)
        self.clock.call_later(150, upgrade)

    async def _story_upgrade(self) -> None:
        if self.start_upgrade is None:
            return
        versions = engine_versions(self.world)
        if not versions:
            return
        lagging = [h for h in self._running_hosts() if h.engine_version != versions[0]][:4]
        if not lagging:
            return
        spec = UpgradeSpec(tuple(h.id for h in lagging), versions[0], batch_size=2)
        try:
            await self.start_upgrade(spec)
        except BackendError as err:
            self.world.event(Severity.WARNING, "story", f"scripted upgrade skipped: {err}", "story.skipped")
