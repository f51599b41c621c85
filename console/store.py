"""The console's copy of the inventory, fed by the backend's change stream.

The store holds no widgets. A worker feeds it every update as it arrives (``ingest``); the
app drains the accumulated changes on a timer (``drain``), at most a few times a second,
and applies them to the panes inside one ``batch_update``. Many batches about the same
item between two drains collapse into one change, so a busy backend costs one redraw per
drain, not one per batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from backends.contract import (
    KIND_NAMES,
    ChangeBatch,
    ConnectionChanged,
    ConnectionState,
    Inventory,
    Loading,
    Update,
)
from backends.models import Event, HostState, Project, Task

from .history import DEFAULT_MINUTES, History

DRAIN_INTERVAL = 0.25  # seconds: at most four UI updates a second
_OFF = (HostState.STOPPED, HostState.CRASHED)
RECENT_EVENTS = 500  # events kept; older ones are dropped so memory stays bounded


@dataclass(slots=True)
class Drained:
    """What changed since the previous drain: per kind, upserted items and deleted ids."""

    upserts: dict[str, dict[str, Any]] = field(default_factory=dict)
    deletes: dict[str, set[str]] = field(default_factory=dict)
    finished_tasks: list[Task] = field(default_factory=list)  # tasks that reached an end state
    new_events: list[Event] = field(default_factory=list)
    connection_changed: bool = False
    resynced: bool = False  # the whole inventory was replaced: redraw everything
    loaded: bool = False  # a paged snapshot's last page came: the first picture is whole

    def __bool__(self) -> bool:
        return bool(self.upserts or self.deletes or self.connection_changed or self.resynced or self.loaded)

    def touched(self, kind: str) -> bool:
        return self.resynced or kind in self.upserts or kind in self.deletes


@dataclass(frozen=True, slots=True)
class Capacity:
    cores_used: int
    cores_total: int
    memory_used_mib: int
    memory_total_mib: int


def _use(host: Any) -> tuple[float, float]:
    """What a host counts for in the cluster's use: nothing once it is being deleted."""
    if host is None or host.state is HostState.DELETING:
        return 0.0, 0.0
    return host.cpu_percent, float(host.memory_used_mib)


class InventoryStore:
    def __init__(self, clock: Callable[[], float] = time.time, history_minutes: float = DEFAULT_MINUTES) -> None:
        self.clock = clock
        self.inventory = Inventory()
        self.state = ConnectionState.UNREACHABLE
        self.reason = "connecting"
        self.fresh_at: float | None = None  # when the data was last known good (clock time)
        self.loaded = False
        # While a paged snapshot's pages still come (backends/contract.py Loading): how far.
        self.loading: Loading | None = None
        # CPU, memory and network over the window: every host, and the containers whose
        # details were opened (console/history.py); "" is the cluster's CPU and memory in use,
        # kept as running sums so a host's change costs no walk over the others.
        self.history = History(history_minutes)
        self._cluster_cpu = 0.0
        self._cluster_memory = 0.0
        self._pending = Drained()

    # -- feeding ----------------------------------------------------------------------------

    def load(self, inventory: Inventory) -> None:
        """Replace everything with a fresh snapshot (at start, and after a reconnection)."""
        previous_tasks = self.inventory.tasks
        self.inventory = inventory
        self._trim_events()
        for task in inventory.tasks.values():
            old = previous_tasks.get(task.id)
            if old is not None and task.done and not old.done:
                self._pending.finished_tasks.append(task)
        self.loaded = True
        self.loading = inventory.loading
        self._pending.resynced = True
        self._mark_fresh(ConnectionState.CONNECTED, "")
        self._sample_all(inventory)

    def ingest(self, update: Update) -> None:
        if isinstance(update, ConnectionChanged):
            self._set_state(update.state, update.reason)
            return
        if not isinstance(update, ChangeBatch) or update.seq <= self.inventory.seq:
            return
        pending = self._pending
        tables = {kind: self.inventory.of(kind) for kind in KIND_NAMES}
        page = update.loading is not None  # the first picture's rest: its events are not news
        for change in update.changes:
            table = tables[change.kind]
            if change.op == "delete":
                gone = table.pop(change.id, None)
                if change.kind in ("hosts", "containers"):
                    self._forget(change.kind, gone)
                pending.upserts.get(change.kind, {}).pop(change.id, None)
                pending.deletes.setdefault(change.kind, set()).add(change.id)
                continue
            old = table.get(change.id)
            table[change.id] = change.item
            pending.deletes.get(change.kind, set()).discard(change.id)
            pending.upserts.setdefault(change.kind, {})[change.id] = change.item
            if change.kind == "tasks" and change.item.done and (old is None or not old.done):
                pending.finished_tasks.append(change.item)
            elif change.kind == "events" and old is None and not page:
                pending.new_events.append(change.item)
            elif change.kind == "hosts":
                self._sample_host(change.item, old)
            elif change.kind == "containers" and self.history.watched(change.id):
                self._sample_container(change.item)
        self.inventory.seq = update.seq
        if page and self.loading is not None:
            self.loading = None if update.loading.done else update.loading
            self.inventory.loading = self.loading
            pending.loaded = self.loading is None
        self._trim_events()
        if self.state is ConnectionState.UNREACHABLE:
            self._set_state(ConnectionState.CONNECTED, "")
        else:
            self.fresh_at = self.clock()

    def unreachable(self, reason: str) -> None:
        self._set_state(ConnectionState.UNREACHABLE, reason)

    def drain(self) -> Drained:
        drained, self._pending = self._pending, Drained()
        return drained

    # -- reading ----------------------------------------------------------------------------

    @property
    def stale(self) -> bool:
        return self.state is ConnectionState.UNREACHABLE

    def age(self) -> float | None:
        """Seconds since the data was last known good; None before the first load."""
        if self.fresh_at is None:
            return None
        return max(0.0, self.clock() - self.fresh_at)

    def capacity(self) -> Capacity:
        """Cluster capacity in use: machines' cores and memory against the nodes that are up."""
        nodes = [n for n in self.inventory.nodes.values() if n.up]
        hosts = [h for h in self.inventory.hosts.values() if h.state is not HostState.DELETING]
        return Capacity(
            cores_used=sum(h.cores for h in hosts),
            cores_total=sum(n.cpu_cores for n in nodes),
            memory_used_mib=sum(h.memory_mib for h in hosts),
            memory_total_mib=sum(n.memory_mib for n in nodes),
        )

    def project(self, ref: str | None) -> Project | None:
        """The project named or id'd ``ref``; without one, the first by name."""
        projects = sorted(self.inventory.projects.values(), key=lambda p: p.name)
        for project in projects:
            if ref in (project.id, project.name):
                return project
        return projects[0] if projects else None

    def node_name(self, node_id: str | None) -> str:
        node = self.inventory.nodes.get(node_id or "")
        return node.name if node else (node_id or "-")

    def containers_on(self, host_id: str) -> list:
        return [c for c in self.inventory.containers.values() if c.host_id == host_id]

    def volumes_on(self, host_id: str) -> list:
        return [v for v in self.inventory.volumes.values() if v.host_id == host_id]

    def events_about(self, target_ids: set[str], limit: int = 20) -> list[Event]:
        events = [e for e in self.inventory.events.values() if e.target_id in target_ids]
        return sorted(events, key=lambda e: (e.time, e.target, e.message), reverse=True)[:limit]

    def host_name(self, host_id: str | None) -> str:
        host = self.inventory.hosts.get(host_id or "")
        return host.name if host else (host_id or "-")

    # -- internals --------------------------------------------------------------------------

    def _set_state(self, state: ConnectionState, reason: str) -> None:
        if state is self.state and reason == self.reason:
            return
        was_unreachable = self.state is ConnectionState.UNREACHABLE
        self.state, self.reason = state, reason
        self._pending.connection_changed = True
        # Connected, the data was current up to now (quiet is not stale); the age counts from
        # the moment the backend was lost.
        if was_unreachable != (state is ConnectionState.UNREACHABLE) or self.fresh_at is None:
            if self.loaded:
                self.fresh_at = self.clock()

    def _mark_fresh(self, state: ConnectionState, reason: str) -> None:
        self._set_state(state, reason)
        self.fresh_at = self.clock()

    def _sample_all(self, inventory: Inventory) -> None:
        """After a snapshot: every host's figures, the cluster's sums made afresh, and the
        history of what is gone dropped."""
        history = self.history
        for gone in [i for i in history.ids() if i and i not in inventory.hosts and i not in inventory.containers]:
            history.forget(gone)
        self._cluster_cpu = self._cluster_memory = 0.0
        for host in inventory.hosts.values():
            self._sample_host(host, None, cluster=False)
        self._record_cluster()
        for cid in [i for i in inventory.containers if history.watched(i)]:
            self._sample_container(inventory.containers[cid])

    def _sample_host(self, host: Any, old: Any, *, cluster: bool = True) -> None:
        cpu, memory = _use(host)
        old_cpu, old_memory = _use(old)
        self._cluster_cpu += cpu - old_cpu
        self._cluster_memory += memory - old_memory
        if host.state is HostState.RUNNING:
            rx, tx = host.net_rx_kibps, host.net_tx_kibps
        else:  # a machine that is off moves nothing; one out of reach: not known
            rx = tx = 0.0 if host.state in _OFF else None
        if host.state is HostState.RUNNING and host.memory_used_mib <= 0:
            # A running machine uses memory: none means the backend does not measure it
            # (Prism lists VMs without figures). Not known, not zero: the plot keeps the
            # backend's past instead of a drop to nothing.
            figures: tuple[float | None, ...] = (None, None, rx, tx)
        else:
            figures = (host.cpu_percent, float(host.memory_used_mib), rx, tx)
        self.history.record(host.id, self.clock(), figures)
        if cluster:
            self._record_cluster()

    def _record_cluster(self) -> None:
        # No memory in use anywhere: the backend gives no figures (Prism), nothing to plot.
        known = self._cluster_memory > 0
        cpu, memory = (max(0.0, self._cluster_cpu), self._cluster_memory) if known else (None, None)
        self.history.record("", self.clock(), (cpu, memory, None, None))

    def _forget(self, kind: str, gone: Any) -> None:
        if gone is None:
            return
        if kind == "hosts":
            cpu, memory = _use(gone)
            self._cluster_cpu -= cpu
            self._cluster_memory -= memory
            self._record_cluster()
        self.history.forget(gone.id)

    def _sample_container(self, c) -> None:
        self.history.record(c.id, self.clock(), (c.cpu_percent, c.memory_mib, None, None))

    def watch_container(self, container_id: str) -> None:
        """Keep this container's history from now on (its details are open)."""
        self.history.watch(container_id)
        c = self.inventory.containers.get(container_id)
        if c is not None:
            self._sample_container(c)

    def _trim_events(self) -> None:
        events = self.inventory.events
        if len(events) > RECENT_EVENTS:
            for event in sorted(events.values(), key=lambda e: e.time)[: len(events) - RECENT_EVENTS]:
                del events[event.id]

