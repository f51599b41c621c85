"""Generation of a believable Nutanix cluster for a seed and a scale.

``scale=None`` is the small demo cluster (4 nodes, 12 machines, ~60 containers); ``scale=N``
makes N containers on ~N/20 machines, with volumes and nodes in proportion. Everything comes
from the world's one ``random.Random(seed)``; machine addresses are in 127.0.0.0/8.
"""

from __future__ import annotations

import functools
import gc
import ipaddress
import random
import uuid
from dataclasses import dataclass, replace
from typing import Generator, Iterator

from ..models import (
    Container,
    ContainerState,
    Event,
    Host,
    HostState,
    Image,
    Mount,
    Network,
    Node,
    PortBinding,
    Project,
    Quota,
    Severity,
    Volume,
    VolumeState,
)
from ..waves import parse_version
from .store import Store

CLUSTER = "ntnx-sim-01"
ENGINE_VERSIONS = ("24.0.7", "25.0.5", "26.1.4")
# Machines get addresses from here; the whole range is loopback, so nothing leaves this machine.
HOST_NET = ipaddress.ip_network("127.16.0.0/12")
NODE_CORES, NODE_MEMORY_MIB = 48, 768 * 1024
VCPU_OVERCOMMIT = 4  # vCPUs a node may hand out per physical core, as AHV allows
HOST_DISK_GIB = 40.0
CONTAINERS_PER_HOST = 20


@dataclass(frozen=True, slots=True)
class AppKind:
    name: str
    image: str
    command: str
    port: int | None
    cpu: float  # typical percent of one core
    memory_mib: float
    volume_path: str | None = None  # where its persistent volume is mounted


APPS = (
    AppKind("web", "nginx:1.25.4", "nginx -g 'daemon off;'", 80, 4.0, 48),
    AppKind("api", "registry.example.local/shop/api:3.14.2", "node server.js", 8080, 22.0, 310),
    AppKind("worker", "registry.example.local/shop/worker:3.14.2", "python -m worker", None, 35.0, 420),
    AppKind("db", "postgres:16.2", "postgres", 5432, 18.0, 900, "/var/lib/postgresql/data"),
    AppKind("cache", "redis:7.2.4", "redis-server --appendonly yes", 6379, 6.0, 260, "/data"),
    AppKind("queue", "rabbitmq:3.13-management", "rabbitmq-server", 5672, 9.0, 380, "/var/lib/rabbitmq"),
    AppKind("metrics", "prom/prometheus:v2.51.0", "/bin/prometheus --config.file=/etc/prometheus/prometheus.yml", 9090, 12.0, 520, "/prometheus"),
    AppKind("grafana", "grafana/grafana:10.4.1", "/run.sh", 3000, 3.0, 140, "/var/lib/grafana"),
    AppKind("proxy", "traefik:v2.11", "traefik", 443, 5.0, 90),
    AppKind("search", "elasticsearch:8.13.0", "/usr/share/elasticsearch/bin/elasticsearch", 9200, 40.0, 2048, "/usr/share/elasticsearch/data"),
)
APPS_BY_IMAGE = {a.image: a for a in APPS}
HOST_ROLES = ("web", "app", "data", "edge", "ci", "batch")


# The variant and version bits of a version 4 UUID, as uuid.UUID(version=4) sets them.
_UUID4_CLEAR = ~((0xC000 << 48) | (0xF000 << 64))
_UUID4_SET = (0x8000 << 48) | (4 << 76)


class Ids:
    """Stable, seed-determined ids: UUIDs for cluster objects, 64 hex digits for containers."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def uuid(self) -> str:
        # What str(uuid.UUID(int=n, version=4)) gives, without building the UUID object
        # (a world at 100,000 containers makes tens of thousands of these).
        n = self.rng.getrandbits(128) & _UUID4_CLEAR | _UUID4_SET
        h = f"{n:032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def container(self) -> str:
        return f"{self.rng.getrandbits(256):064x}"


def engine_versions(world: "World") -> list[str]:
    """The Docker Engine versions the container-host images carry, newest first: what an
    upgrade may target (the backend's ``upgrade_versions`` and the demo story's upgrade)."""
    versions = {i.engine_version for i in world.store.images.values() if i.engine_version}
    return sorted(versions, key=parse_version, reverse=True)


def host_ip(index: int) -> str:
    return str(HOST_NET.network_address + 2 + index)


def human_status(state: ContainerState, now: float, since: float | None, exit_code: int | None) -> str:
    age = _ago(now - (since or now))
    if state is ContainerState.RUNNING:
        return f"Up {age}"
    if state is ContainerState.EXITED:
        return f"Exited ({exit_code or 0}) {age} ago"
    if state is ContainerState.RESTARTING:
        return f"Restarting ({exit_code or 0}) {age} ago"
    return state.value.capitalize()


def _ago(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 60:
        return "Less than a minute" if s >= 1 else "Less than a second"
    if s >= 86400:
        return _ago_text(s // 86400, "day")
    if s >= 3600:
        return _ago_text(s // 3600, "hour")
    return _ago_text(s // 60, "minute")


@functools.lru_cache(maxsize=4096)
def _ago_text(n: int, unit: str) -> str:
    return f"{n} {unit}s" if n > 1 else f"About a{'n' if unit == 'hour' else ''} {unit}"


class World:
    """The generated cluster and the counters that keep new names and addresses unique."""

    def __init__(self, store: Store, seed: int) -> None:
        self.store = store
        self.seed = seed
        self.rng = random.Random(seed)
        self.ids = Ids(self.rng)
        self.next_ip = 0
        # A run container's environment (container id -> KEY=VALUE lines): the Container model
        # has no field for it (the table never shows it); inspect reads it from here.
        self.container_env: dict[str, tuple[str, ...]] = {}

    # -- building ---------------------------------------------------------------------------

    def build(self, scale: int | None) -> None:
        """The whole world at once."""
        for _ in self.build_in_pages(scale):
            pass

    def build_in_pages(self, scale: int | None, first: int | None = None, page: int = 0) -> Iterator[int]:
        """Build the world in the order it is seen: the images, networks, nodes, projects and
        every machine, then the containers (the order a table shows them in unsorted) and
        their volumes ``first`` then ``page`` at a time, then what sums them up (the
        machines' figures, the spare volumes, the projects' use, the history). Yields the
        containers made so far after each step, so a caller can hand each page over and let
        the event loop run between; with no ``first``, one step. The draws from the seed's
        generator are the same however it is paged: a seed makes the same world."""
        steps = self._build_steps(scale, first, page)
        while True:
            # Hundreds of thousands of long-lived objects: the cyclic collector would walk the
            # growing heap again and again and find nothing to free. It waits until the step
            # ends, and then leaves them out of its passes (they hold no cycles; replaced ones
            # are freed by their reference counts as ever).
            collecting = gc.isenabled()
            gc.disable()
            try:
                made = next(steps, None)
            finally:
                if collecting:
                    gc.freeze()
                    gc.enable()
            if made is None:
                return
            yield made

    def container_count(self, scale: int | None) -> int:
        return 60 if scale is None else max(1, scale)

    def _build_steps(self, scale: int | None, first: int | None, page: int) -> Iterator[int]:
        containers = self.container_count(scale)
        host_count = 12 if scale is None else max(1, -(-containers // CONTAINERS_PER_HOST))
        node_count = 4 if scale is None else max(4, -(-host_count // 24))
        now = self.store.clock.now
        self._images()
        self._networks()
        nodes = self._nodes(node_count)
        projects = self._projects(scale, host_count)
        hosts = self._hosts(host_count, nodes, projects, now)
        maker = self._containers_and_volumes(containers, hosts, now)
        made = maker.send(None)
        limit = containers if first is None else first
        while True:
            made = maker.send(min(containers, limit))
            if made >= containers:
                break
            yield made
            limit = made + max(1, page)
        self._history(hosts, nodes, now)
        self.recount_projects()
        yield made

    def _images(self) -> None:
        for version in ENGINE_VERSIONS:
            self.store.upsert(
                Image(
                    self.ids.uuid(),
                    f"ubuntu-22.04-docker-{version}",
                    size_gib=4.5,
                    engine_version=version,
                    os="Ubuntu 22.04.4 LTS",
                    description=f"Container host: Ubuntu 22.04 with Docker Engine {version}",
                )
            )
        self.store.upsert(
            Image(self.ids.uuid(), "ubuntu-22.04-cloudimg", 2.2, None, "Ubuntu 22.04.4 LTS", "Plain cloud image, no engine")
        )

    def _networks(self) -> None:
        for vlan, name in ((0, "vlan0-mgmt"), (110, "vlan110-apps"), (120, "vlan120-data")):
            self.store.upsert(Network(self.ids.uuid(), name, CLUSTER, vlan, str(HOST_NET)))

    def _nodes(self, count: int) -> list[Node]:
        return [
            self.store.upsert(Node(self.ids.uuid(), f"ntnx-sim-n{i + 1:02d}", CLUSTER, NODE_CORES, NODE_MEMORY_MIB))
            for i in range(count)
        ]

    def _projects(self, scale: int | None, host_count: int) -> list[Project]:
        big = max(1, host_count)
        specs = [
            ("production", Quota(vcpus=big * 8, memory_mib=big * 32768, storage_gib=big * 200.0, vms=big * 2)),
            ("staging", Quota(vcpus=big * 4, memory_mib=big * 16384, storage_gib=big * 100.0, vms=big)),
            # Nearly full on purpose: the demo shows a quota refusal with it.
            ("sandbox", Quota(vcpus=16, memory_mib=32768, storage_gib=200.0, vms=3)),
        ]
        return [self.store.upsert(Project(self.ids.uuid(), name, quota)) for name, quota in specs]

    def _hosts(self, count: int, nodes: list[Node], projects: list[Project], now: float) -> list[Host]:
        images = [i for i in self.store.images.values() if i.engine_version]
        network = next(n for n in self.store.networks.values() if n.vlan_id == 110)
        rng = self.rng
        hosts = []
        per_role: dict[str, int] = {}
        for i in range(count):
            role = HOST_ROLES[i % len(HOST_ROLES)]
            per_role[role] = per_role.get(role, 0) + 1
            width = 2 if count < 100 * len(HOST_ROLES) else len(str(count // len(HOST_ROLES) + 1))
            # Most machines run the newest engine; a share lags behind, so upgrades have work.
            image = images[2] if rng.random() < 0.5 else images[rng.randrange(2)]
            # The sandbox gets exactly two machines (its quota allows three).
            project = projects[2] if i in (3, 7) else projects[1 if i % 3 == 2 else 0]
            cores = 2 if project is projects[2] else rng.choice((2, 4, 4, 8))
            memory = 4096 if project is projects[2] else cores * rng.choice((2048, 4096))
            ip = self.take_ip()
            host = Host(
                id=self.ids.uuid(),
                name=f"cm-{role}-{per_role[role]:0{width}d}",
                state=HostState.STOPPED if count > 4 and i == count - 2 else HostState.RUNNING,
                ip=ip,
                cores=cores,
                memory_mib=memory,
                engine_version=image.engine_version,
                os=image.os,
                node_id=nodes[i % len(nodes)].id,
                project_id=project.id,
                image_id=image.id,
                network_id=network.id,
                cluster=CLUSTER,
                storage_gib=HOST_DISK_GIB,
                created_at=now - rng.uniform(3, 200) * 86400,
                observed_at=now,
                endpoint=f"tcp://{ip}:2376",
            )
            hosts.append(self.store.upsert(host))
        return hosts

    def _containers_and_volumes(self, count: int, hosts: list[Host], now: float) -> Generator[int, int, None]:
        """A generator: sent a number, it makes the containers up to it and yields how many
        are made; the last one (``count``) also sums the machines up and adds spare volumes."""
        # The hot loop of a large world. It draws from the seed's generator exactly as the
        # plain calls would (randrange(n) and choice(seq) are seq[_randbelow(n)], uniform(a, b)
        # is a + (b - a) * random()), so a seed makes the same world, only sooner.
        rng = self.rng
        host_count = len(hosts)
        host_running = [h.state is HostState.RUNNING for h in hosts]
        host_cpu = [0.0] * host_count
        host_mem = [0.0] * host_count
        per_app = [0] * len(APPS)
        app_fixed = [
            (a.image, a.command, a.memory_mib * 4, (("com.docker.compose.project", "shop"), ("app", a.name))) for a in APPS
        ]
        ports: dict[tuple[int, int], tuple[PortBinding, ...]] = {}  # (app, host) -> the app's port there
        volumes = self.store.tables["volumes"]
        containers = self.store.tables["containers"]
        made = 0
        while made < count:
            upto = yield made
            start, made = made, max(made, min(count, upto))
            self._make_containers(
                start, made, hosts, now, host_running, host_cpu, host_mem, per_app, app_fixed, ports, volumes, containers
            )
        # A few spare volumes, attached to nothing, for the demo to attach.
        for i in range(max(2, count // 30)):
            vol = Volume(
                self.ids.uuid(), f"scratch-{i + 1}", float(rng.choice((5, 10, 20))), VolumeState.AVAILABLE,
                driver="nutanix", storage_container="default-container", created_at=now - rng.uniform(1, 30) * 86400,
            )
            volumes[vol.id] = vol
        for h, host in enumerate(hosts):
            self.store.upsert(replace(host, cpu_percent=round(host_cpu[h], 2), memory_used_mib=int(host_mem[h]) + 380))
        # Bulk inserts above skip the journal: nobody subscribes before the first snapshot, and
        # a paged build hands its pages over itself (the backend's _pages).
        yield made

    def _make_containers(
        self, start: int, end: int, hosts: list[Host], now: float, host_running: list[bool], host_cpu: list[float],
        host_mem: list[float], per_app: list[int], app_fixed: list, ports: dict, volumes: dict, containers: dict,
    ) -> None:
        rng = self.rng
        random, below, getrandbits, new_uuid = rng.random, rng._randbelow, rng.getrandbits, self.ids.uuid
        host_count = len(hosts)
        app_count = len(APPS)
        started_span, cpu_span, mem_span, finished_span = 40 * 86400 - 600, 1.7 - 0.3, 1.3 - 0.6, 86400 - 60
        volume_sizes, exit_codes = (10, 20, 50, 100), (0, 0, 1, 137)
        running_state, exited_state = ContainerState.RUNNING, ContainerState.EXITED
        for i in range(start, end):
            h = i % host_count
            host = hosts[h]
            a = below(app_count)
            app = APPS[a]
            per_app[a] += 1
            name = f"{app.name}-{per_app[a]}"
            running = host_running[h] and random() < 0.93
            started = now - (600 + started_span * random())
            cid = f"{getrandbits(256):064x}"
            mounts: tuple[Mount, ...] = ()
            if app.volume_path and random() < 0.6:
                vol = Volume(  # by position too, in the model's field order
                    new_uuid(), f"{name}-data", float(volume_sizes[below(4)]), VolumeState.ATTACHED, host.id,
                    (cid,), "nutanix", "default-container", f"/mnt/volumes/{name}-data", started - 3600,
                )
                volumes[vol.id] = vol
                mounts = (Mount(vol.id, app.volume_path),)
            if running:
                cpu = round(app.cpu * (0.3 + cpu_span * random()), 2)
                mem = round(app.memory_mib * (0.6 + mem_span * random()), 1)
                state, exit_code, finished = running_state, None, None
                status = human_status(state, now, started, None)
                host_cpu[h] += cpu
                host_mem[h] += mem
            else:
                cpu = mem = 0.0
                state, exit_code = exited_state, exit_codes[below(4)]
                finished = started + (60 + finished_span * random())
                status = human_status(state, now, finished, exit_code)
            port = ports.get((a, h))
            if port is None:
                port = ports[(a, h)] = (PortBinding(app.port, "tcp", app.port, host.ip),) if app.port else ()
            # By position, in the model's field order (keywords cost a tenth of the build at
            # 100,000); tests/simulator/test_world_identity.py fails if that order changes.
            image, command, memory_limit, app_labels = app_fixed[a]
            containers[cid] = Container(
                cid, name, image, host.id, state, status, command, cpu, mem, memory_limit,
                port, mounts, app_labels, "unless-stopped", exit_code, started - 60, started, finished,
            )

    def _history(self, hosts: list[Host], nodes: list[Node], now: float) -> None:
        lines = [
            (Severity.INFO, nodes[0].name, "Cluster health check passed", "cluster.health", nodes[0].id),
            (Severity.INFO, hosts[0].name, "Docker Engine started", "host.engine_started", hosts[0].id),
            (Severity.INFO, CLUSTER, "Snapshot schedule 'hourly' completed", "cluster.snapshot", None),
        ]
        for host in self.store.hosts.values():
            if host.state is HostState.STOPPED:
                lines.insert(2, (Severity.WARNING, host.name, "Container machine powered off by admin", "host.powered_off", host.id))
        for i, (sev, target, message, kind, target_id) in enumerate(lines):
            self.event(sev, target, message, kind, target_id, at=now - (len(lines) - i) * 1800)

    # -- helpers used by the rules, tasks and faults ---------------------------------------

    def take_ip(self) -> str:
        ip = host_ip(self.next_ip)
        self.next_ip += 1
        return ip

    def event(
        self, severity: Severity, target: str, message: str, kind: str, target_id: str | None = None, *, at: float | None = None
    ) -> Event:
        event = Event(self.ids.uuid(), self.store.clock.now if at is None else at, severity, target, message, target_id, kind)
        self.store.upsert(event)
        events = self.store.tables["events"]
        if len(events) > MAX_EVENTS:
            oldest = min(events.values(), key=lambda e: e.time)
            self.store.delete("events", oldest.id)
        return event

    def recount_projects(self) -> None:
        """Recompute every project's use from the machines that belong to it."""
        used: dict[str, list[float]] = {p: [0, 0, 0.0, 0] for p in self.store.projects}
        for host in self.store.hosts.values():
            if host.project_id in used:
                u = used[host.project_id]
                u[0] += host.cores
                u[1] += host.memory_mib
                u[2] += host.storage_gib
                u[3] += 1
        for pid, (vcpus, mem, storage, vms) in used.items():
            project = self.store.projects[pid]
            quota_used = Quota(int(vcpus), int(mem), float(storage), int(vms))
            if project.used != quota_used:
                self.store.upsert(replace(project, used=quota_used))

    def node_loads(self) -> dict[str, tuple[int, int]]:
        """(vCPUs, memory MiB) the machines on each node use, powered off ones excluded."""
        loads: dict[str, tuple[int, int]] = {}
        for host in self.store.hosts.values():
            if host.node_id and host.state not in (HostState.STOPPED, HostState.CRASHED):
                vcpus, mem = loads.get(host.node_id, (0, 0))
                loads[host.node_id] = (vcpus + host.cores, mem + host.memory_mib)
        return loads

    def place(self, cores: int, memory_mib: int) -> Node | None:
        """The up node with the most free memory that can take the machine, if any."""
        loads = self.node_loads()
        best, best_free = None, -1
        for node in self.store.nodes.values():
            if not node.up:
                continue
            vcpus, mem = loads.get(node.id, (0, 0))
            free = node.memory_mib - mem
            if free >= memory_mib and node.cpu_cores * VCPU_OVERCOMMIT - vcpus >= cores and free > best_free:
                best, best_free = node, free
        return best


MAX_EVENTS = 500
