"""The backend contract: what the console and the CLI may ask of any backend.

A backend gives
- *inventory*: ``snapshot()`` once, then ``updates()``: an async stream of ``ChangeBatch``
  (each with a strictly increasing ``seq``) and ``ConnectionChanged`` notices. A backend
  that can only poll builds its stream with ``backends.poller.SnapshotPoller``.
- *actions*: each returns a ``Task`` at once; the task's progress arrives as changes of
  kind ``tasks`` (and through ``wait_task``). A backend raises a typed error from
  ``backends.errors`` when it refuses an action before starting it.
- *capabilities*: the set of ``Capability`` it supports, so the UI hides what it cannot do.

Read-only mode is enforced here, in the base class, for every backend: each method named in
``MUTATING_ACTIONS`` raises ``PermissionDenied`` when ``read_only`` is set, before the
backend's own code runs.
"""

from __future__ import annotations

import abc
import asyncio
import enum
import functools
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Iterable, Literal

from .errors import NotFound, PermissionDenied, TaskFailed
from .models import (
    Config,
    Container,
    Event,
    Host,
    HostImage,
    Image,
    Network,
    Node,
    Project,
    Secret,
    Service,
    StatsSample,
    Task,
    TaskStatus,
    UpdatePolicy,
    Volume,
)


class Capability(str, enum.Enum):
    HOSTS_CREATE = "hosts.create"
    HOSTS_DELETE = "hosts.delete"
    HOSTS_POWER = "hosts.power"
    HOSTS_UPGRADE = "hosts.upgrade"
    HOSTS_SHELL = "hosts.shell"
    VOLUMES_CREATE = "volumes.create"
    VOLUMES_ATTACH = "volumes.attach"  # into a container (and so onto its host)
    # Volumes exist apart from hosts and attach to a host with no container (volume groups,
    # the simulator); Docker volumes live on their engine and mount only into containers.
    VOLUMES_HOST_ATTACH = "volumes.host_attach"
    VOLUMES_DELETE = "volumes.delete"
    CONTAINERS_RUN = "containers.run"
    CONTAINERS_LIFECYCLE = "containers.lifecycle"  # start / stop / restart
    CONTAINERS_REMOVE = "containers.remove"
    CONTAINERS_LOGS = "containers.logs"
    CONTAINERS_SHELL = "containers.shell"
    CONTAINERS_INSPECT = "containers.inspect"
    TASKS_CONTROL = "tasks.control"  # pause / resume / abort
    PROJECTS = "projects"  # the backend has projects with quotas
    NODES = "nodes"  # the backend knows the physical nodes
    NETWORKS = "networks"  # the backend knows the cluster's networks (subnets) hosts are placed on
    STATS = "stats"  # live CPU / memory figures
    # A swarm: services and secrets, and a node's availability (drain / activate).
    SERVICES = "services"  # the backend has services (and so a Services pane)
    SERVICES_CREATE = "services.create"
    SERVICES_SCALE = "services.scale"
    SERVICES_REMOVE = "services.remove"
    SECRETS = "secrets"  # the backend has secrets
    SECRETS_CREATE = "secrets.create"
    SECRETS_REMOVE = "secrets.remove"
    HOSTS_AVAILABILITY = "hosts.availability"  # drain / activate a node
    SERVICES_UPDATE = "services.update"  # rolling image update, rollback, resume
    SECRETS_ROTATE = "secrets.rotate"
    CONFIGS = "configs"
    CONFIGS_CREATE = "configs.create"
    CONFIGS_REMOVE = "configs.remove"
    # Container images on the hosts' engines (not a Prism disk image: that is ``images``).
    HOST_IMAGES = "host_images"
    HOST_IMAGES_PULL = "host_images.pull"
    HOST_IMAGES_REMOVE = "host_images.remove"  # remove one, prune dangling and unused
    # The past of a host's (or container's) CPU, memory and network, as the backend keeps it
    # (Prism's VM stats, the simulator's clock): a plot is full when it opens.
    STATS_HISTORY = "stats.history"


SWARM_CAPABILITIES = frozenset(
    {
        Capability.SERVICES,
        Capability.SERVICES_CREATE,
        Capability.SERVICES_SCALE,
        Capability.SERVICES_REMOVE,
        Capability.SECRETS,
        Capability.SECRETS_CREATE,
        Capability.SECRETS_REMOVE,
        Capability.HOSTS_AVAILABILITY,
        Capability.SERVICES_UPDATE,
        Capability.SECRETS_ROTATE,
        Capability.CONFIGS,
        Capability.CONFIGS_CREATE,
        Capability.CONFIGS_REMOVE,
    }
)
HOST_IMAGE_CAPABILITIES = frozenset(
    {Capability.HOST_IMAGES, Capability.HOST_IMAGES_PULL, Capability.HOST_IMAGES_REMOVE}
)
# Everything but a swarm's: what the simulator claims (it is not a swarm yet, issue 12; its
# hosts' images are backends/simulator/images.py).
ALL_CAPABILITIES = frozenset(Capability) - SWARM_CAPABILITIES


# ---------------------------------------------------------------------------------------------
# Requests


@dataclass(frozen=True, slots=True)
class HostSpec:
    name: str
    image: str  # image id or name
    cores: int
    memory_mib: int
    network: str  # network id or name
    project: str | None = None  # project id or name
    ssh_target: str | None = None  # Docker backend: user@host[:port] of the machine to provision
    engine_check: bool = True
    # Prism: the registries of the machine's project, written into its engine's configuration
    # at create time (cloud-init), so that it pulls from them with no credentials sent later.
    registries: tuple[RegistryAuth, ...] = ()


@dataclass(frozen=True, slots=True)
class VolumeSpec:
    name: str
    size_gib: float
    driver: str | None = None
    driver_options: tuple[tuple[str, str], ...] = ()
    storage_container: str | None = None
    host: str | None = None  # create and attach in one go (id or name)


@dataclass(frozen=True, slots=True)
class MountSpec:
    volume: str  # volume id or name
    path: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class RegistryAuth:
    """Credentials for one registry, sent with a pull (the engine's ``X-Registry-Auth``;
    on a swarm, with the service so that every node can pull). Resolved by the console from
    the configured registries; never logged, never on a command line."""

    server: str  # host[:port], as it starts an image reference
    username: str
    password: str = field(repr=False, default="")
    # The registry's own CA (PEM), for a machine's certs.d when the registry is written into a
    # new machine's engine configuration (HostSpec.registries); empty: the system CAs.
    ca_pem: str = field(repr=False, default="")


@dataclass(frozen=True, slots=True)
class ContainerSpec:
    image: str
    host: str  # host id or name
    name: str | None = None
    command: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    ports: tuple[tuple[int, int | None], ...] = ()  # (container port, host port)
    mounts: tuple[MountSpec, ...] = ()
    restart_policy: str = "no"
    labels: tuple[tuple[str, str], ...] = ()
    registry_auth: RegistryAuth | None = None


@dataclass(frozen=True, slots=True)
class PullSpec:
    host: str  # host id or name
    image: str  # a reference: [registry/]repository[:tag|@digest]
    registry_auth: RegistryAuth | None = None


@dataclass(frozen=True, slots=True)
class UpgradeSpec:
    host_ids: tuple[str, ...]
    target_version: str
    batch_size: int = 1
    continue_on_failure: bool = False  # go on to the next wave after a failed one


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    name: str
    image: str
    replicas: int | None = 1  # None: a global service (one task per node)
    env: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()  # secret ids or names, each mounted at /run/secrets/NAME
    command: tuple[str, ...] = ()
    configs: tuple[str, ...] = ()  # config ids or names, each mounted at /NAME
    constraints: tuple[str, ...] = ()  # placement, e.g. "node.role==worker"
    update: UpdatePolicy = field(default_factory=UpdatePolicy)
    rollback: UpdatePolicy = field(default_factory=UpdatePolicy)
    registry_auth: RegistryAuth | None = None


@dataclass(frozen=True, slots=True)
class ServiceUpdateSpec:
    """A rolling update of a service's image, in the waves its update policy makes."""

    service: str  # service id or name
    image: str
    registry_auth: RegistryAuth | None = None


@dataclass(frozen=True, slots=True)
class ScaleSpec:
    service: str  # service id or name
    replicas: int


@dataclass(frozen=True, slots=True)
class SecretSpec:
    name: str
    # The value: never in a repr (a log line, a traceback, a task), never on a command line.
    data: bytes = field(repr=False, default=b"")


@dataclass(frozen=True, slots=True)
class ConfigSpec:
    name: str
    data: bytes = field(repr=False, default=b"")


# ---------------------------------------------------------------------------------------------
# Inventory and the change stream


@dataclass(frozen=True, slots=True)
class Loading:
    """The first picture is not whole yet: more of it comes as pages (see ``paged_snapshot``).

    ``kind`` is the table the pages mostly fill, whose count says how far the load is, and
    ``total`` how many of it there will be where the backend knows (Prism's total_matches,
    the simulator's scale). ``done`` marks the page that completes the load."""

    kind: str = "containers"
    total: int | None = None
    done: bool = False


@dataclass(slots=True)
class Inventory:
    """A consistent view of everything, as of change ``seq``. Dicts are keyed by id."""

    seq: int = 0
    hosts: dict[str, Host] = field(default_factory=dict)
    containers: dict[str, Container] = field(default_factory=dict)
    volumes: dict[str, Volume] = field(default_factory=dict)
    tasks: dict[str, Task] = field(default_factory=dict)
    images: dict[str, Image] = field(default_factory=dict)
    networks: dict[str, Network] = field(default_factory=dict)
    projects: dict[str, Project] = field(default_factory=dict)
    nodes: dict[str, Node] = field(default_factory=dict)
    events: dict[str, Event] = field(default_factory=dict)
    services: dict[str, Service] = field(default_factory=dict)
    secrets: dict[str, Secret] = field(default_factory=dict)
    configs: dict[str, Config] = field(default_factory=dict)
    host_images: dict[str, HostImage] = field(default_factory=dict)
    # Set on the first page of a paged snapshot: the rest follows in the change stream.
    loading: Loading | None = None

    def of(self, kind: str) -> dict[str, Any]:
        return getattr(self, kind)

    def apply(self, batch: "ChangeBatch") -> None:
        """Apply a batch in place. Batches at or below the current ``seq`` are ignored."""
        if batch.seq <= self.seq:
            return
        for change in batch.changes:
            table = getattr(self, change.kind)
            if change.op == "delete":
                table.pop(change.id, None)
            else:
                table[change.id] = change.item
        self.seq = batch.seq

    def copy(self) -> "Inventory":
        return Inventory(
            seq=self.seq,
            **{k: dict(getattr(self, k)) for k in KIND_NAMES},
        )


KIND_NAMES = (
    "hosts", "containers", "volumes", "tasks", "images", "networks", "projects", "nodes", "events", "services", "secrets",
    "configs", "host_images",
)


@dataclass(frozen=True, slots=True)
class Change:
    kind: str  # one of KIND_NAMES
    op: Literal["upsert", "delete"]
    id: str
    item: Any = None  # the new value for "upsert"; None for "delete"


@dataclass(frozen=True, slots=True)
class ChangeBatch:
    seq: int  # strictly increasing within one backend instance
    changes: tuple[Change, ...]
    # A page of a paged snapshot (its upserts are the first picture's rest, not news), and
    # how far the load is; ``loading.done`` on the page that completes it. None: a change.
    loading: Loading | None = None


class ConnectionState(str, enum.Enum):
    CONNECTED = "connected"
    DEGRADED = "degraded"  # some hosts / engines unreachable, the rest fine
    UNREACHABLE = "unreachable"


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    state: ConnectionState
    reason: str = ""
    since: float = field(default_factory=time.time)


Update = ChangeBatch | ConnectionChanged


@dataclass(frozen=True, slots=True)
class LogLine:
    text: str
    time: float | None = None
    stream: str = "stdout"  # or "stderr"


@dataclass(frozen=True, slots=True)
class ShellCommand:
    """How to hand the user's terminal to a shell: run ``argv`` in the foreground.

    The console suspends itself, runs it, and resumes after (Docker: ``docker exec -it``,
    ssh for a host; the simulator gives a small local shell that says where it is).
    """

    argv: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    description: str = ""


# ---------------------------------------------------------------------------------------------
# The base class


MUTATING_ACTIONS = frozenset(
    {
        "create_host",
        "delete_host",
        "power_on_host",
        "power_off_host",
        "reboot_host",
        "create_volume",
        "attach_volume",
        "detach_volume",
        "delete_volume",
        "run_container",
        "start_container",
        "stop_container",
        "restart_container",
        "remove_container",
        "upgrade_hosts",
        "pause_task",
        "resume_task",
        "abort_task",
        "shell",
        "create_service",
        "scale_service",
        "remove_service",
        "create_secret",
        "remove_secret",
        "set_host_availability",
        "update_service",
        "rollback_service",
        "rotate_secret",
        "create_config",
        "remove_config",
        "pull_image",
        "remove_image",
        "prune_images",
    }
)


def _guard(name: str, method: Callable[..., Awaitable[Any]]):
    @functools.wraps(method)
    async def guarded(self: "Backend", *args: Any, **kwargs: Any) -> Any:
        if self.read_only:
            raise PermissionDenied(f"read-only mode: {name.replace('_', ' ')} is refused")
        return await method(self, *args, **kwargs)

    guarded.__mutating__ = True  # type: ignore[attr-defined]
    return guarded


class Backend(abc.ABC):
    """Base of every backend. Subclasses implement the abstract methods and the actions
    their ``capabilities`` name; the others raise ``PermissionDenied`` ("not supported")."""

    #: "simulator", "docker" or "prism"
    kind: str = "abstract"
    capabilities: frozenset[Capability] = frozenset()

    def __init__(self, *, read_only: bool = False, label: str = "") -> None:
        self.read_only = read_only
        self.label = label or self.kind

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Wrap every mutating action a subclass defines, so no backend can forget read-only.
        for name in MUTATING_ACTIONS:
            method = cls.__dict__.get(name)
            if method is not None and not getattr(method, "__mutating__", False):
                setattr(cls, name, _guard(name, method))

    @classmethod
    def from_settings(cls, settings: Any) -> "Backend":
        """The backend ``settings`` (a ``backends.settings.Settings``) ask for, not yet
        connected; ``settings.chosen`` is this backend's own section."""
        raise NotImplementedError(f"{cls.__name__} cannot be made from settings")

    @property
    def simulated(self) -> bool:
        return False

    def supports(self, capability: Capability) -> bool:
        return capability in self.capabilities

    def kind_for(self, item_ids: Iterable[str]) -> str:
        """The kind of backend that acts on these items: this one's own; with several
        contexts open (backends/fleet.py), the kind of the one context they are in."""
        return self.kind

    # -- lifecycle ------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open connections and check credentials. Raises Unavailable / AuthenticationFailed."""

    async def close(self) -> None:
        """Release everything; the backend may not be used afterwards."""

    async def __aenter__(self) -> "Backend":
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- inventory ------------------------------------------------------------------------

    @abc.abstractmethod
    async def snapshot(self) -> Inventory:
        """Everything, as of now. The returned Inventory is the caller's to keep and mutate."""

    async def paged_snapshot(self) -> Inventory:
        """The first picture for a viewer that follows ``updates()`` (subscribed before this
        call): as soon as the backend has a screenful. When that is not everything, the
        Inventory's ``loading`` says so and the rest arrives in the stream as batches whose
        ``loading`` is set, the last with ``loading.done``; changes may come between them.
        ``snapshot()`` stays whole, for every caller that reads once (the CLI, get_task).
        By default, the whole snapshot: one page, complete."""
        return await self.snapshot()

    @abc.abstractmethod
    def updates(self) -> AsyncIterator[Update]:
        """Changes after the latest snapshot, batched, and connection notices. Each call is an
        independent subscription; it ends when the backend is closed."""

    async def get_task(self, task_id: str) -> Task:
        inv = await self.snapshot()
        try:
            return inv.tasks[task_id]
        except KeyError:
            raise NotFound(f"task {task_id} not found") from None

    async def handed_over(self, task_id: str) -> Task:
        """Returns once the action behind ``task_id`` no longer needs this process, with the
        task as it stands. By default at once: the backend's server runs it (Prism's tasks,
        the simulator's). A backend that runs actions in this process (Docker) waits for the
        end, so a command that exits after it has not cut its action short."""
        return await self.get_task(task_id)

    async def wait_task(
        self,
        task_id: str,
        on_progress: Callable[[Task], None] | None = None,
        *,
        poll_interval: float = 0.5,
    ) -> Task:
        """Follow a task until it ends; returns the final Task (never raises for FAILED)."""
        task = await self.get_task(task_id)
        while not task.done:
            if on_progress:
                on_progress(task)
            await asyncio.sleep(poll_interval)
            task = await self.get_task(task_id)
        if on_progress:
            on_progress(task)
        return task

    async def run_task(self, started: Awaitable[Task], on_progress: Callable[[Task], None] | None = None) -> Task:
        """Start an action and wait for it; raise TaskFailed unless it SUCCEEDED."""
        task = await started
        final = await self.wait_task(task.id, on_progress)
        if final.status is not TaskStatus.SUCCEEDED:
            raise TaskFailed(f"{final.kind} {final.target}: {final.status.value}: {final.error or final.message}")
        return final

    # -- actions (defaults refuse) -------------------------------------------------------

    def _unsupported(self, what: str) -> PermissionDenied:
        return PermissionDenied(f"the {self.kind} backend cannot {what}")

    async def create_host(self, spec: HostSpec) -> Task:
        raise self._unsupported("create hosts")

    async def delete_host(self, host_id: str) -> Task:
        raise self._unsupported("delete hosts")

    async def power_on_host(self, host_id: str) -> Task:
        raise self._unsupported("power hosts on")

    async def power_off_host(self, host_id: str) -> Task:
        raise self._unsupported("power hosts off")

    async def reboot_host(self, host_id: str) -> Task:
        """Down and up again (HOSTS_POWER): its containers stop, and those with a restart
        policy start again when it is back, as after a power-on."""
        raise self._unsupported("reboot hosts")

    async def create_volume(self, spec: VolumeSpec) -> Task:
        raise self._unsupported("create volumes")

    async def attach_volume(
        self, volume_id: str, host_id: str, *, container_id: str | None = None, mount_path: str | None = None
    ) -> Task:
        raise self._unsupported("attach volumes")

    async def detach_volume(self, volume_id: str) -> Task:
        raise self._unsupported("detach volumes")

    async def delete_volume(self, volume_id: str) -> Task:
        raise self._unsupported("delete volumes")

    async def run_container(self, spec: ContainerSpec) -> Task:
        raise self._unsupported("run containers")

    async def start_container(self, container_id: str) -> Task:
        raise self._unsupported("start containers")

    async def stop_container(self, container_id: str) -> Task:
        raise self._unsupported("stop containers")

    async def restart_container(self, container_id: str) -> Task:
        raise self._unsupported("restart containers")

    async def remove_container(self, container_id: str, *, force: bool = False) -> Task:
        raise self._unsupported("remove containers")

    async def upgrade_hosts(self, spec: UpgradeSpec) -> Task:
        raise self._unsupported("upgrade hosts")

    async def pause_task(self, task_id: str) -> Task:
        raise self._unsupported("pause tasks")

    async def resume_task(self, task_id: str) -> Task:
        raise self._unsupported("resume tasks")

    async def abort_task(self, task_id: str) -> Task:
        raise self._unsupported("abort tasks")

    async def shell(self, target_kind: Literal["host", "container"], target_id: str) -> ShellCommand:
        raise self._unsupported("open a shell")

    async def create_service(self, spec: ServiceSpec) -> Task:
        raise self._unsupported("create services")

    async def scale_service(self, spec: ScaleSpec) -> Task:
        raise self._unsupported("scale services")

    async def remove_service(self, service_id: str) -> Task:
        raise self._unsupported("remove services")

    async def create_secret(self, spec: SecretSpec) -> Task:
        raise self._unsupported("create secrets")

    async def remove_secret(self, secret_id: str) -> Task:
        raise self._unsupported("remove secrets")

    async def set_host_availability(self, host_id: str, availability: Literal["active", "pause", "drain"]) -> Task:
        raise self._unsupported("drain or activate hosts")

    async def update_service(self, spec: ServiceUpdateSpec) -> Task:
        """A rolling update; the task follows it to the end (done, paused by the swarm, or
        rolled back). ``pause_task``/``resume_task`` on it pause and resume the update where
        the backend can."""
        raise self._unsupported("update services")

    async def rollback_service(self, service_id: str) -> Task:
        raise self._unsupported("roll back services")

    async def rotate_secret(self, secret_id: str, data: bytes) -> Task:
        """A new secret with ``data``, every service that used the old one moved to it (same
        file name inside the containers), then the old one removed."""
        raise self._unsupported("rotate secrets")

    async def create_config(self, spec: ConfigSpec) -> Task:
        raise self._unsupported("create configs")

    async def remove_config(self, config_id: str) -> Task:
        raise self._unsupported("remove configs")

    async def pull_image(self, spec: PullSpec) -> Task:
        """Pull onto one host; the task's progress comes from the engine's progress stream."""
        raise self._unsupported("pull images")

    async def remove_image(self, image_id: str, *, force: bool = False) -> Task:
        """``image_id`` is a ``HostImage`` id. Refused (Conflict, naming the containers)
        while a container uses it, unless ``force``."""
        raise self._unsupported("remove images")

    async def prune_images(self, host_id: str, *, unused: bool = False) -> Task:
        """Remove the host's dangling images (and, with ``unused``, every image no container
        uses); the finished task's message says how much space was reclaimed."""
        raise self._unsupported("prune images")

    # -- reads ----------------------------------------------------------------------------

    def logs(
        self,
        container_id: str,
        *,
        follow: bool = False,
        tail: int | None = None,
        since: float | None = None,
    ) -> AsyncIterator[LogLine]:
        raise self._unsupported("read logs")

    async def inspect_container(self, container_id: str) -> dict[str, Any]:
        raise self._unsupported("inspect containers")

    async def upgrade_versions(self) -> list[str]:
        """Engine versions hosts may be upgraded to, newest first."""
        return []

    async def stats_history(
        self, kind: Literal["hosts", "containers"], item_id: str, since: float, step: float
    ) -> list[StatsSample]:
        """CPU, memory and network of a host or container from ``since`` (seconds) to now,
        oldest first, about one sample per ``step`` seconds or as the backend keeps them
        (STATS_HISTORY)."""
        raise self._unsupported("give a history of figures")

    def request_stats(self, container_ids: Iterable[str]) -> None:
        """Ask for fresh CPU / memory figures of these containers (the rows in view); they
        arrive later as container changes. Backends whose figures arrive anyway ignore it."""


def resolve(items: Iterable[Any], ref: str, what: str) -> Any:
    """Find a value by id, else by unique name; NotFound / InvalidInput otherwise."""
    from .errors import InvalidInput

    by_name = []
    # Several contexts open at once (backends/fleet.py): ids are "CONTEXT/ID", and
    # "CONTEXT/NAME" names an item of one context.
    context, sep, rest = ref.partition("/")
    in_context = []
    for item in items:
        if item.id == ref:
            return item
        name = getattr(item, "name", None)
        if name == ref:
            by_name.append(item)
        elif sep and name == rest and item.id.startswith(context + sep):
            in_context.append(item)
    if len(by_name) == 1:
        return by_name[0]
    if len(by_name) > 1:
        from .validation import CONTEXT_NAME

        prefixes = {i.id.partition("/")[0] for i in by_name}
        contexts = sorted(prefixes)
        # Only a fleet's ids all start with a context's name ("unix:///..." is an engine's URL).
        if len(contexts) > 1 and all("/" in i.id for i in by_name) and all(CONTEXT_NAME.match(p) for p in prefixes):
            raise InvalidInput(f"{what} {ref!r} is in several contexts ({', '.join(contexts)}): use CONTEXT/{ref}")
        raise InvalidInput(f"{what} name {ref!r} is ambiguous: use its id")
    if len(in_context) == 1:
        return in_context[0]
    raise NotFound(f"{what} {ref!r} not found")
