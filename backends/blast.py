"""What a change takes down with it, worked out before the change is made.

The console sees the whole chain host → container → volume (and, on a swarm, service), so
it can say, before a delete, a power-off, a drain, an upgrade or a removal, which
containers stop or move, which volumes are detached, which *applications* are left with no
running replica and what project quota is freed. ``Impact.lines()`` puts the worst first:
the confirmation shows those lines and ``--dry-run`` prints them (or ``as_dict()`` with
``--json``). Pure functions of an ``Inventory``: nothing here talks to a backend.

An application is what runs as several replicas of one thing: a swarm service; else the
containers that share an ``app`` label (with their compose project) or a compose service;
else the containers of one image repository (the tag aside: an upgrade in progress must not
split an application in two).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable

from .models import Container, ContainerState, HostState, Quota

if TYPE_CHECKING:
    from .contract import Inventory

SHOWN = 8  # names listed per line; the rest are counted


def application_of(c: Container) -> str:
    """The application a container is a replica of (see the module docstring)."""
    if c.service:
        return c.service
    labels = dict(c.labels)
    project = labels.get("com.docker.compose.project")
    name = labels.get("app") or labels.get("com.docker.compose.service")
    if name:
        return f"{project}/{name}" if project else name
    return repository(c.image)


def repository(image: str) -> str:
    """'registry:5000/shop/api:3.1' -> 'registry:5000/shop/api'; a digest is cut off too."""
    ref = image.split("@", 1)[0]
    head, sep, tail = ref.rpartition(":")
    return head if sep and "/" not in tail else ref


def running(inv: "Inventory") -> Iterable[Container]:
    return (c for c in inv.containers.values() if c.state == ContainerState.RUNNING)


def carriers(inv: "Inventory") -> dict[str, frozenset[str]]:
    """Application -> the ids of the hosts that run at least one of its replicas now."""
    found: dict[str, set[str]] = defaultdict(set)
    for c in running(inv):
        found[application_of(c)].add(c.host_id)
    return {app: frozenset(hosts) for app, hosts in found.items()}


@dataclass(frozen=True, slots=True)
class AppImpact:
    name: str
    running_before: int
    running_after: int

    @property
    def outage(self) -> bool:
        return self.running_before > 0 and self.running_after == 0


@dataclass(frozen=True, slots=True)
class Impact:
    action: str  # "delete", "power off", "reboot", "upgrade", "drain", "remove", "stop", "update"
    targets: tuple[str, ...]  # names of what the action is asked to act on
    # Names; for a delete or a removal these are removed, not just stopped (the JSON key
    # stays the same for every action so that scripts read one shape).
    containers_stopped: tuple[str, ...] = ()
    containers_moved: tuple[str, ...] = ()  # swarm tasks rescheduled on other nodes
    volumes_detached: tuple[str, ...] = ()
    volumes_deleted: tuple[str, ...] = ()
    applications: tuple[AppImpact, ...] = ()  # worst first
    quota_freed: tuple[tuple[str, Quota], ...] = ()  # (project name, amounts)
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def needs_confirmation(self) -> bool:
        """Whether it reaches beyond what was chosen: an outage, tasks moved, volumes lost,
        or containers stopped by acting on their host. A non-destructive action (power off,
        drain, stop) asks first only then."""
        return bool(
            self.outages or self.containers_moved or self.volumes_detached or self.volumes_deleted
            or (self.containers_stopped and self.action not in ("stop", "remove"))
        )

    @property
    def outages(self) -> tuple[AppImpact, ...]:
        return tuple(a for a in self.applications if a.outage)

    def lines(self) -> list[str]:
        """What happens, worst first, one line each; [] when nothing else is affected."""
        out = [
            f"OUTAGE: {a.name} loses every running replica ({a.running_before} → 0)" for a in self.outages
        ]
        out += [
            f"{a.name}: {a.running_before} → {a.running_after} running replicas"
            for a in self.applications if not a.outage
        ]
        if self.containers_stopped:
            verb = "removed" if self.action == "delete" else "stopped"
            out.append(f"{_count(self.containers_stopped, 'container')} {verb}: {_names(self.containers_stopped)}")
        if self.containers_moved:
            out.append(f"{_count(self.containers_moved, 'task')} moved to other nodes: {_names(self.containers_moved)}")
        if self.volumes_deleted:
            out.append(f"{_count(self.volumes_deleted, 'volume')} deleted with their data: {_names(self.volumes_deleted)}")
        if self.volumes_detached:
            out.append(f"{_count(self.volumes_detached, 'volume')} detached: {_names(self.volumes_detached)}")
        for project, q in self.quota_freed:
            out.append(f"project {project}: frees {q.vcpus} vCPUs, {q.memory_mib} MiB, {q.storage_gib:g} GiB")
        out += list(self.notes)
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action,
            "targets": list(self.targets),
            "outages": [a.name for a in self.outages],
            "applications": [
                {"name": a.name, "running_before": a.running_before, "running_after": a.running_after}
                for a in self.applications
            ],
            "containers_stopped": list(self.containers_stopped),
            "containers_moved": list(self.containers_moved),
            "volumes_detached": list(self.volumes_detached),
            "volumes_deleted": list(self.volumes_deleted),
            "quota_freed": [
                {"project": p, "vcpus": q.vcpus, "memory_mib": q.memory_mib, "storage_gib": q.storage_gib}
                for p, q in self.quota_freed
            ],
            "notes": list(self.notes),
        }


def _count(names: tuple[str, ...], noun: str) -> str:
    return f"{len(names)} {noun}{'' if len(names) == 1 else 's'}"


def _names(names: tuple[str, ...]) -> str:
    shown = ", ".join(sorted(names)[:SHOWN])
    return shown + (f" and {len(names) - SHOWN} more" if len(names) > SHOWN else "")


def _applications(inv: "Inventory", lost: Iterable[Container]) -> tuple[AppImpact, ...]:
    before: dict[str, int] = defaultdict(int)
    for c in running(inv):
        before[application_of(c)] += 1
    gone: dict[str, int] = defaultdict(int)
    for c in lost:
        if c.state == ContainerState.RUNNING:
            gone[application_of(c)] += 1
    found = [AppImpact(app, before[app], before[app] - n) for app, n in gone.items()]
    # Worst first: outages, then the largest share lost, then by name for a stable order.
    found.sort(key=lambda a: (not a.outage, -(a.running_before - a.running_after) / a.running_before, a.name))
    return tuple(found)


def hosts_down(inv: "Inventory", host_ids: Iterable[str], action: str) -> Impact:
    """Hosts deleted, powered off, rebooted, upgraded (down for their wave) or drained."""
    ids = [h for h in host_ids if h in inv.hosts]
    chosen = set(ids)
    on_them = [c for c in inv.containers.values() if c.host_id in chosen]
    moved: list[Container] = []
    stopped = on_them
    notes: list[str] = []
    if action == "drain":
        # A swarm reschedules a replicated service's tasks on the active nodes left; a global
        # service's task and a standalone container just stop there.
        others = [
            h for h in inv.hosts.values()
            if h.id not in chosen and (h.availability in (None, "active")) and h.state == HostState.RUNNING
        ]
        replicated = {s.name for s in inv.services.values() if s.mode == "replicated"}
        moved = [c for c in on_them if c.service in replicated and c.state == ContainerState.RUNNING] if others else []
        stopped = [c for c in on_them if c not in moved]
        if not others and on_them:
            notes.append("no other active node: nothing can be rescheduled")
    volumes_detached: list[str] = []
    volumes_deleted: list[str] = []
    if action == "delete":
        volumes_detached = [v.name for v in inv.volumes.values() if v.host_id in chosen]
    quota: list[tuple[str, Quota]] = []
    if action == "delete":
        freed: dict[str, list[int | float]] = defaultdict(lambda: [0, 0, 0.0, 0])
        for h in (inv.hosts[i] for i in ids):
            if h.project_id:
                f = freed[h.project_id]
                f[0] += h.cores
                f[1] += h.memory_mib
                f[2] += h.storage_gib
                f[3] += 1
        for pid, (cores, mem, storage, vms) in sorted(freed.items()):
            name = inv.projects[pid].name if pid in inv.projects else pid
            quota.append((name, Quota(int(cores), int(mem), round(float(storage), 1), int(vms))))
    if action in ("upgrade", "reboot") and on_them:
        notes.append("containers restart when their host is back (restart policies apply)")
    return Impact(
        action,
        tuple(inv.hosts[i].name for i in ids),
        containers_stopped=tuple(c.name for c in stopped if c.state == ContainerState.RUNNING or action == "delete"),
        containers_moved=tuple(c.name for c in moved),
        volumes_detached=tuple(volumes_detached),
        volumes_deleted=tuple(volumes_deleted),
        applications=_applications(inv, stopped),
        quota_freed=tuple(quota),
        notes=tuple(notes),
    )


def containers_down(inv: "Inventory", container_ids: Iterable[str], action: str) -> Impact:
    """Containers stopped or removed."""
    chosen = [inv.containers[i] for i in container_ids if i in inv.containers]
    notes: list[str] = []
    services = {c.service for c in chosen if c.service}
    if services:
        notes.append(f"the swarm starts new tasks for {', '.join(sorted(services))}")
    return Impact(
        action,
        tuple(c.name for c in chosen),
        containers_stopped=tuple(c.name for c in chosen if c.state == ContainerState.RUNNING or action == "remove"),
        applications=_applications(inv, [c for c in chosen if not c.service]),
        notes=tuple(notes),
    )


def volumes_down(inv: "Inventory", volume_ids: Iterable[str], action: str) -> Impact:
    """Volumes deleted or detached: the containers that mount them lose them."""
    chosen = [inv.volumes[i] for i in volume_ids if i in inv.volumes]
    users = {cid for v in chosen for cid in v.container_ids}
    users |= {c.id for c in inv.containers.values() for m in c.mounts if m.source in {v.id for v in chosen}}
    mounting = [inv.containers[i] for i in sorted(users) if i in inv.containers]
    notes = [f"{len(mounting)} containers mount them: {_names(tuple(c.name for c in mounting))}"] if mounting else []
    return Impact(
        action,
        tuple(v.name for v in chosen),
        volumes_detached=tuple(v.name for v in chosen if v.host_id),
        volumes_deleted=tuple(v.name for v in chosen) if action == "delete" else (),
        notes=tuple(notes),
    )


def service_update(inv: "Inventory", service_ids: Iterable[str], action: str = "update") -> Impact:
    """A rolling update (or removal) of services: an update whose waves take every running
    task at once (parallelism 0 or at least the replicas, stop-first) is an outage."""
    chosen = [inv.services[i] for i in service_ids if i in inv.services]
    apps: list[AppImpact] = []
    notes: list[str] = []
    for s in chosen:
        if action == "remove":
            apps.append(AppImpact(s.name, s.replicas_running, 0))
            continue
        p = s.update_policy
        at_once = s.replicas_running if p.parallelism == 0 else min(p.parallelism, s.replicas_running)
        if p.order == "start-first":
            notes.append(f"{s.name}: new tasks start before old ones stop: no replica is lost")
            continue
        apps.append(AppImpact(s.name, s.replicas_running, s.replicas_running - at_once))
    apps.sort(key=lambda a: (not a.outage, a.name))
    tasks = [c.name for c in inv.containers.values() if c.service in {s.name for s in chosen}]
    return Impact(
        action,
        tuple(s.name for s in chosen),
        containers_stopped=tuple(tasks) if action == "remove" else (),
        applications=tuple(apps),
        notes=tuple(notes),
    )


_BY_KIND = {"hosts": hosts_down, "containers": containers_down, "volumes": volumes_down, "services": service_update}


def impact(inv: "Inventory", kind: str, ids: Iterable[str], action: str) -> Impact:
    """What ``action`` on these items of ``kind`` takes down (the confirmation's lines)."""
    return _BY_KIND[kind](inv, ids, action)
