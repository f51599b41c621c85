"""The domain: immutable values with stable ids, shared by every backend and the console.

Conventions:
- Every value is a frozen dataclass with ``slots``; change one with ``dataclasses.replace``.
- Units are in field names: ``memory_mib``, ``size_gib``, ``*_at`` are POSIX seconds (float, UTC).
- References between values are by id (``host_id``), never by object, so a change to one value
  never forces a copy of another.
- CPU% (``cpu_percent``) is *percent of one core*, as ``docker stats`` reports it: a container
  that keeps two cores busy shows 200.0. A host's ``cpu_percent`` is the same unit, so a 4-core
  host runs from 0 to 400.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields, asdict
from typing import Any


class HostState(str, enum.Enum):
    PROVISIONING = "provisioning"
    RUNNING = "running"
    STOPPED = "stopped"
    UPGRADING = "upgrading"
    RESTARTING = "restarting"  # e.g. after a node failure, coming back on another node
    CRASHED = "crashed"
    UNREACHABLE = "unreachable"  # the backend cannot reach the machine or its engine
    DELETING = "deleting"


class ContainerState(str, enum.Enum):
    # Docker's own states, so the Docker backend maps one to one.
    CREATED = "created"
    RUNNING = "running"
    PAUSED = "paused"
    RESTARTING = "restarting"
    EXITED = "exited"
    REMOVING = "removing"
    DEAD = "dead"


class VolumeState(str, enum.Enum):
    CREATING = "creating"
    AVAILABLE = "available"  # exists, attached to no host
    ATTACHED = "attached"
    DETACHING = "detaching"
    DELETING = "deleting"
    ERROR = "error"


class TaskStatus(str, enum.Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ABORTED = "ABORTED"

    @property
    def terminal(self) -> bool:
        return self in (TaskStatus.SUCCEEDED, TaskStatus.FAILED, TaskStatus.ABORTED)


class Severity(str, enum.Enum):
    INFO = "info"
    WARNING = "warning"
    ERROR = "error"


class _Value:
    """Serialisation shared by every model: plain JSON-able dicts and back."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        return _plain(asdict(self))  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        kwargs = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                continue
            kwargs[f.name] = _revive(f.type, data[f.name])
        return cls(**kwargs)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_ENUMS = {
    "HostState": HostState,
    "ContainerState": ContainerState,
    "VolumeState": VolumeState,
    "TaskStatus": TaskStatus,
    "Severity": Severity,
}


def _revive(type_name: Any, value: Any) -> Any:
    name = str(type_name)
    for enum_name, enum_type in _ENUMS.items():
        if name.startswith(enum_name):
            return enum_type(value) if value is not None else None
    if name.startswith("Quota"):
        return Quota(**value) if value is not None else None
    if name.startswith("tuple[Mount"):
        return tuple(Mount(**m) for m in value)
    if name.startswith("tuple[PortBinding"):
        return tuple(PortBinding(**p) for p in value)
    if name.startswith("tuple[tuple[str, str]"):
        return tuple((k, v) for k, v in value)
    if name.startswith("tuple"):
        return tuple(value)
    return value


@dataclass(frozen=True, slots=True)
class Node(_Value):
    """A physical node of the cluster; container machines are placed on nodes."""

    id: str
    name: str
    cluster: str
    cpu_cores: int
    memory_mib: int
    up: bool = True


@dataclass(frozen=True, slots=True)
class Image(_Value):
    """A disk image. A container-host image carries a Docker Engine version."""

    id: str
    name: str
    size_gib: float
    engine_version: str | None = None
    os: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class Network(_Value):
    id: str
    name: str
    cluster: str = ""
    vlan_id: int | None = None
    cidr: str | None = None


@dataclass(frozen=True, slots=True)
class Quota(_Value):
    """Limits (or use) of a project. ``None`` means unlimited."""

    vcpus: int | None = None
    memory_mib: int | None = None
    storage_gib: float | None = None
    vms: int | None = None


@dataclass(frozen=True, slots=True)
class Project(_Value):
    id: str
    name: str
    quota: Quota = field(default_factory=Quota)
    used: Quota = field(default_factory=lambda: Quota(0, 0, 0.0, 0))


@dataclass(frozen=True, slots=True)
class Host(_Value):
    """A container machine: a VM running Docker Engine (or, for the Docker backend, an engine)."""

    id: str
    name: str
    state: HostState
    ip: str | None = None
    cores: int = 0
    memory_mib: int = 0
    engine_version: str | None = None
    os: str | None = None
    node_id: str | None = None
    project_id: str | None = None
    image_id: str | None = None
    network_id: str | None = None
    cluster: str | None = None
    role: str = "container-machine"  # or "vm" for a Prism VM the console did not make
    cpu_percent: float = 0.0  # percent of one core; see the module docstring
    memory_used_mib: int = 0
    storage_gib: float = 0.0
    endpoint: str | None = None  # how to reach the engine: unix://, tcp://, ssh://
    reason: str | None = None  # why CRASHED / UNREACHABLE
    observed_at: float = 0.0  # when this data was last fresh from the backend
    created_at: float = 0.0
    # A swarm node (None elsewhere): what the scheduler may place on it (active, pause,
    # drain), and its manager status (leader, reachable, unreachable; None for a worker).
    availability: str | None = None
    manager_status: str | None = None
    # Network rates (KiB/s received and sent) where the backend measures them, else None.
    net_rx_kibps: float | None = None
    net_tx_kibps: float | None = None


@dataclass(frozen=True, slots=True)
class StatsSample(_Value):
    """A host's or container's figures at one moment of its history (``Backend.stats_history``);
    None where the backend does not measure that figure."""

    at: float
    cpu_percent: float | None = None  # percent of one core
    memory_mib: float | None = None
    net_rx_kibps: float | None = None
    net_tx_kibps: float | None = None


@dataclass(frozen=True, slots=True)
class Mount(_Value):
    """A volume (or host path) mounted into a container at ``path``."""

    source: str  # volume id, or a host path for bind mounts
    path: str
    kind: str = "volume"  # "volume" or "bind"
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class PortBinding(_Value):
    container_port: int
    protocol: str = "tcp"
    host_port: int | None = None
    host_ip: str | None = None


@dataclass(frozen=True, slots=True)
class Container(_Value):
    id: str
    name: str
    image: str
    host_id: str
    state: ContainerState
    status: str = ""  # Docker's human status, e.g. "Up 3 minutes", "Exited (0) 2 hours ago"
    command: str = ""
    cpu_percent: float = 0.0  # percent of one core; see the module docstring
    memory_mib: float = 0.0
    memory_limit_mib: float | None = None
    ports: tuple[PortBinding, ...] = ()
    mounts: tuple[Mount, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    restart_policy: str = "no"
    exit_code: int | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    # A swarm service's task (None elsewhere): its service's name, its slot (None for a
    # global service's task, which has a node instead), the state the orchestrator wants
    # (running, shutdown) and why it failed, as ``docker service ps`` shows them.
    service: str | None = None
    slot: int | None = None
    desired_state: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Volume(_Value):
    """A persistent volume: a volume group (Prism), a Docker volume, or the simulator's."""

    id: str
    name: str
    size_gib: float
    state: VolumeState
    host_id: str | None = None  # attached to at most one host at a time
    container_ids: tuple[str, ...] = ()  # containers that mount it
    driver: str = "local"
    storage_container: str | None = None
    mount_point: str | None = None
    created_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Task(_Value):
    """What every action returns. Progress is 0..100; ``message`` is the current step."""

    id: str
    kind: str  # create_host, delete_host, power_on_host, ..., upgrade_hosts, upgrade_host
    target: str  # what it acts on, for humans (a name)
    status: TaskStatus
    progress: int = 0
    message: str = ""
    target_id: str | None = None
    error: str | None = None  # the reason, set when FAILED or ABORTED
    parent_id: str | None = None
    child_ids: tuple[str, ...] = ()
    result_id: str | None = None  # e.g. the id of the host a create_host made
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None

    @property
    def done(self) -> bool:
        return self.status.terminal


@dataclass(frozen=True, slots=True)
class Event(_Value):
    id: str
    time: float
    severity: Severity
    target: str  # a name, for humans
    message: str
    target_id: str | None = None
    kind: str = ""  # e.g. host.crashed, node.failed, container.started


@dataclass(frozen=True, slots=True)
class UpdatePolicy(_Value):
    """How a swarm changes a service's tasks: ``parallelism`` at a time (0: all at once), with
    ``delay_s`` between waves; on a failed task it pauses, continues or rolls back."""

    parallelism: int = 1
    delay_s: float = 0.0
    failure_action: str = "pause"  # "pause", "continue" or "rollback"
    order: str = "stop-first"  # or "start-first"
    monitor_s: float = 5.0  # how long a new task is watched before it counts as updated
    max_failure_ratio: float = 0.0


@dataclass(frozen=True, slots=True)
class Service(_Value):
    """A swarm service: a desired number of tasks (replicated) or one per node (global)."""

    id: str
    name: str
    mode: str  # "replicated" or "global"
    image: str
    replicas_desired: int = 0
    replicas_running: int = 0
    update_state: str | None = None  # updating, paused, completed, rollback_*; None: never updated
    ports: tuple[str, ...] = ()  # "8080->80/tcp"
    secret_ids: tuple[str, ...] = ()
    created_at: float = 0.0
    updated_at: float = 0.0
    config_ids: tuple[str, ...] = ()
    update_policy: UpdatePolicy = field(default_factory=UpdatePolicy)
    rollback_policy: UpdatePolicy = field(default_factory=UpdatePolicy)
    update_message: str | None = None  # the swarm's word on the update under way or stopped
    previous_image: str | None = None  # what a rollback goes back to; None: nothing to roll back
    constraints: tuple[str, ...] = ()  # placement, e.g. "node.role==manager"
    env: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class Secret(_Value):
    """A swarm secret: its name and dates only. Its value never leaves the swarm's managers
    (the API does not return it) and is never held here."""

    id: str
    name: str
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class Config(_Value):
    """A swarm config: like a secret, but its value is not secret (the console still does not
    show it in lists: it may be large)."""

    id: str
    name: str
    created_at: float = 0.0
    updated_at: float = 0.0


@dataclass(frozen=True, slots=True)
class HostImage(_Value):
    """A container image stored on one host's engine (``docker image ls`` on that host).
    Keyed by ``"<host id>/<image id>"``: the same image on two hosts is two rows."""

    id: str
    host_id: str
    image_id: str  # "sha256:..."
    repo_tags: tuple[str, ...] = ()  # "registry/repository:tag"; () when dangling
    size_bytes: int = 0
    created_at: float = 0.0
    container_ids: tuple[str, ...] = ()  # containers (running or not) made from it

    @property
    def dangling(self) -> bool:
        return not self.repo_tags


# The kinds of the inventory, in the order the CLI and the console list them.
KINDS: dict[str, type[_Value]] = {
    "hosts": Host,
    "containers": Container,
    "volumes": Volume,
    "tasks": Task,
    "images": Image,
    "networks": Network,
    "projects": Project,
    "nodes": Node,
    "events": Event,
    "services": Service,
    "secrets": Secret,
    "configs": Config,
    "host_images": HostImage,
}
