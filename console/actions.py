"""Every action a user can take, described once.

A record says what the action is called, its default keys, which panes it applies on, which
capability it needs, whether it changes anything (hidden and refused in read-only mode),
whether it destroys something (a counted confirmation first), and how it runs against the
backend. From these records come the dashboard's bindings and footer, the help screen, the
command palette, what is enabled now (``allowed``), and the CLI's action subcommands.

Adding an action is one record here (plus, if it needs one, a form: a ``ModalScreen`` that
ends with ``dismiss(spec)``; the caller runs ``run(backend, spec)``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Awaitable, Callable, Mapping

from backends.contract import Capability
from backends.models import TaskStatus

if TYPE_CHECKING:
    from textual.binding import Binding

    from backends.contract import Backend, VolumeSpec
    from backends.models import Task

Run = Callable[..., Awaitable["Task"]]  # run(backend, item_or_spec, **cli_switches)

# The help screen's groups.
HOSTS = "Hosts"
CONTAINERS = "Containers"
VOLUMES = "Volumes"
SERVICES = "Services"
SECRETS = "Secrets"
IMAGES = "Images"
ANY_PANE = "Any pane"


@dataclass(frozen=True)
class Action:
    id: str  # the binding id a user remaps in [keymap], e.g. "container.stop"
    title: str  # the footer's word
    help: str  # the help screen's and the palette's line
    group: str  # the help screen's group
    keys: str | None = None  # default keys; None: offered in the CLI only
    panes: tuple[str, ...] = ()  # the dashboard panes it applies on; () = any
    needs: Capability | Mapping[str, Capability] | None = None  # per pane when a mapping
    mutating: bool = True  # changes something: hidden and refused when read-only
    destructive: bool = False  # asks a confirmation naming how many and which
    # How it runs: for each chosen item (per pane when a mapping), or on a form's spec.
    run: Run | Mapping[str, Run] | None = None
    form: str | None = None  # "module:Class" of the form whose dismissed spec ``run`` takes
    ui: str | None = None  # the dashboard's method for what is not a backend call (logs, shell)
    cli: Mapping[str, tuple[str, str]] = field(default_factory=dict)  # pane -> (noun, verb)
    # pane -> extra CLI switches (flag, help), passed to ``run`` as keywords
    cli_switches: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    verb: str = ""  # what the notifications say ("stop web-1"); the id's last word by default
    show: bool = True  # in the footer
    priority: bool = True  # a letter key: runs before the next key is routed (fast typing)
    while_typing: bool = False  # its keys are not text: live while the filter prompt is open
    # What it takes down, worked out by backends.blast before it runs (per pane when a
    # mapping): the confirmation lists it worst first, and the CLI gains --dry-run for it.
    impact: str | Mapping[str, str] | None = None
    # How long `--wait` follows its task before giving up (the task goes on in the backend):
    # long enough for the slowest honest run, short enough that a stuck task ends the command.
    wait_timeout: float = 900.0

    def binding(self) -> "Binding":
        from textual.binding import Binding

        return Binding(
            self.keys or "", f"act({self.id!r})", self.title, show=self.show, id=self.id, tooltip=self.help,
            priority=self.priority,
        )

    def need(self, pane: str | None) -> Capability | None | bool:
        """The capability it needs on ``pane``; False when it does not apply there at all."""
        if self.panes and pane not in self.panes:
            return False
        if isinstance(self.needs, Mapping):
            return self.needs.get(pane or "", False)
        return self.needs

    def impact_on(self, pane: str | None) -> str | None:
        """The ``backends.blast`` action this is on ``pane`` ("delete", "drain"…), if any."""
        if isinstance(self.impact, Mapping):
            return self.impact.get(pane or "")
        return self.impact

    def runner(self, pane: str | None) -> Run | None:
        if isinstance(self.run, Mapping):
            return self.run.get(pane or "")
        return self.run

    def says(self) -> str:
        return self.verb or self.id.rpartition(".")[2].replace("_", " ")


def allowed(action: Action, backend: "Backend", pane: str | None) -> bool:
    """Whether ``action`` applies now: on this pane, with this backend, in this mode."""
    need = action.need(pane)
    if need is False:
        return False
    if action.mutating and backend.read_only:
        return False
    return need is None or backend.supports(need)


# -- what forms start from and end with ------------------------------------------------------------


@dataclass(frozen=True)
class FormContext:
    """Where the user was when a form opened: it picks its defaults from this."""

    pane: str = "hosts"
    host_id: str | None = None  # the host in focus (the cursor's, or the narrowed one)
    cursor_ids: dict[str, str | None] = field(default_factory=dict)  # pane -> the id under its cursor
    marked_ids: dict[str, tuple[str, ...]] = field(default_factory=dict)  # pane -> its marked ids

    def cursor(self, pane: str) -> str | None:
        return self.cursor_ids.get(pane) if self.pane == pane else None


@dataclass(frozen=True)
class AttachRequest:
    """What attaching asks for: an existing volume, or a new one made first; a host, and
    optionally a container and the path it sees the volume at."""

    host_id: str
    volume_id: str | None = None
    new_volume: "VolumeSpec | None" = None
    container_id: str | None = None
    mount_path: str | None = None

    @property
    def name(self) -> str:
        return self.new_volume.name if self.new_volume else (self.volume_id or "")


@dataclass(frozen=True)
class UpdateRequest:
    """A service's rolling update, with the service's name for the notifications."""

    name: str
    spec: Any  # backends.contract.ServiceUpdateSpec


@dataclass(frozen=True)
class RotateRequest:
    """A secret's rotation: which secret, and its new value (never in a repr, a log or a
    notification: the notifications name the secret)."""

    name: str
    secret_id: str
    data: bytes = field(repr=False, default=b"")


# -- how the actions run --------------------------------------------------------------------------


async def _attach(backend: "Backend", request: Any) -> "Task":
    """An existing volume onto a host (and into a container), or a new one made first."""
    if request.volume_id is not None:
        return await backend.attach_volume(
            request.volume_id, request.host_id, container_id=request.container_id, mount_path=request.mount_path
        )
    if request.container_id is None:  # a new volume, attached to the host as it is made
        return await backend.create_volume(request.new_volume)
    created = await backend.wait_task((await backend.create_volume(request.new_volume)).id)
    if created.status is not TaskStatus.SUCCEEDED or not created.result_id:
        return created
    return await backend.attach_volume(
        created.result_id, request.host_id, container_id=request.container_id, mount_path=request.mount_path
    )


@dataclass(frozen=True)
class RunRequest:
    """A container to run, and the new volumes (``-v NAME:SIZE:/path``) to make on its host
    first: the run contract mounts only volumes that exist (Docker would make a local volume of
    no size, the simulator and Prism refuse an unknown one), so each is created and waited for,
    then mounted by the id its task returns."""

    spec: Any  # backends.contract.ContainerSpec; its mounts name the new volumes by name
    new_volumes: "tuple[VolumeSpec, ...]" = ()

    @property
    def name(self) -> str:
        return self.spec.name or self.spec.image


async def _create_host(backend: "Backend", spec: Any) -> "Task":
    """Create, with the registries of the machine's project written into its engine (issue 13)."""
    from console.registry_auth import with_project_registries

    return await backend.create_host(await with_project_registries(backend, spec))


async def _run_container(backend: "Backend", spec: Any) -> "Task":
    """Run, with the configured registry's credentials for a pull it needs (issue 13)."""
    import dataclasses

    from console.registry_auth import with_registry_auth

    if isinstance(spec, RunRequest):
        made: dict[str, str] = {}
        for volume in spec.new_volumes:
            created = await backend.wait_task((await backend.create_volume(volume)).id)
            if created.status is not TaskStatus.SUCCEEDED or not created.result_id:
                return created  # the failed creation is what the user sees, in its own words
            made[volume.name] = created.result_id
        mounts = tuple(dataclasses.replace(m, volume=made.get(m.volume, m.volume)) for m in spec.spec.mounts)
        spec = dataclasses.replace(spec.spec, mounts=mounts)
    return await backend.run_container(await with_registry_auth(backend, spec))


async def _pull_image(backend: "Backend", spec: Any) -> "Task":
    from console.registry_auth import with_registry_auth

    return await backend.pull_image(await with_registry_auth(backend, spec))


async def _update_service(backend: "Backend", request: Any) -> "Task":
    """A rolling update, with the configured registry's credentials for the new image (sent
    with the service so that every node can pull it)."""
    from console.registry_auth import with_registry_auth

    return await backend.update_service(await with_registry_auth(backend, request.spec))


# In the order of the footer and the help screen.
ACTIONS: list[Action] = [
    # -- any pane
    Action(
        "item.delete", "Delete", "Delete the marked items (or the one under the cursor), after a confirmation", ANY_PANE,
        keys="ctrl+d", panes=("hosts", "containers", "volumes"),
        needs={"hosts": Capability.HOSTS_DELETE, "containers": Capability.CONTAINERS_REMOVE, "volumes": Capability.VOLUMES_DELETE},
        destructive=True,
        run={
            "hosts": lambda b, h: b.delete_host(h.id),
            # The confirmation says which are running: they are stopped and removed at once.
            "containers": lambda b, c, force=True: b.remove_container(c.id, force=force),
            "volumes": lambda b, v: b.delete_volume(v.id),
        },
        cli={"hosts": ("host", "delete"), "containers": ("container", "remove"), "volumes": ("volume", "delete")},
        cli_switches={"containers": (("--force", "remove it even when running"),)},
        priority=False,
        while_typing=True,
        verb="delete",
        impact={"hosts": "delete", "containers": "remove", "volumes": "delete"},
    ),
    Action(
        "item.shell", "Shell", "A shell on the host or in the container", ANY_PANE, keys="s", panes=("hosts", "containers"),
        needs={"hosts": Capability.HOSTS_SHELL, "containers": Capability.CONTAINERS_SHELL}, ui="open_shell",
    ),
    Action(
        "host.narrow", "Narrow", "Narrow Containers and Volumes to this host (again: back to all)", HOSTS, keys="n",
        panes=("hosts",), mutating=False, ui="narrow",
    ),
    # -- hosts
    Action(
        "host.create", "Create", "Create a container host", HOSTS, keys="c", needs=Capability.HOSTS_CREATE,
        form="console.screens.forms:CreateHostForm", run=_create_host, cli={"hosts": ("host", "create")},
        verb="create host", wait_timeout=1800.0,
    ),
    Action(
        "host.upgrade", "Upgrade", "Upgrade Docker Engine on the marked hosts (or all), in waves", HOSTS, keys="u",
        needs=Capability.HOSTS_UPGRADE, ui="open_upgrade", run=lambda b, spec: b.upgrade_hosts(spec),
        cli={"hosts": ("hosts", "upgrade")}, wait_timeout=4 * 3600.0,
    ),
    # -- volumes
    Action(
        "volume.attach", "Attach", "Attach a new or existing volume to a host, optionally into a container", VOLUMES,
        keys="a", needs=Capability.VOLUMES_ATTACH, form="console.screens.forms:AttachVolumeForm", run=_attach,
        cli={"volumes": ("volume", "attach")},
    ),
    Action(
        "volume.create", "Create volume", "Create a volume", VOLUMES, needs=Capability.VOLUMES_CREATE,
        run=lambda b, spec: b.create_volume(spec), cli={"volumes": ("volume", "create")}, verb="create volume",
    ),
    # -- containers
    Action(
        "container.run", "Run", "Run a new container", CONTAINERS, keys="r", needs=Capability.CONTAINERS_RUN,
        form="console.screens.forms:RunContainerForm", run=_run_container,
        cli={"containers": ("container", "run")}, verb="run",
    ),
    Action(
        "container.start", "Start", "Start", CONTAINERS, keys="t",
        panes=("containers",), needs=Capability.CONTAINERS_LIFECYCLE, run=lambda b, c: b.start_container(c.id),
        cli={"containers": ("container", "start")},
    ),
    Action(
        "container.stop", "Stop", "Stop", CONTAINERS, keys="x",
        panes=("containers",), needs=Capability.CONTAINERS_LIFECYCLE, run=lambda b, c: b.stop_container(c.id),
        cli={"containers": ("container", "stop")}, impact="stop",
    ),
    Action(
        "container.restart", "Restart", "Restart", CONTAINERS,
        keys="R", panes=("containers",), needs=Capability.CONTAINERS_LIFECYCLE, run=lambda b, c: b.restart_container(c.id),
        cli={"containers": ("container", "restart")},
    ),
    Action(
        "container.logs", "Logs",
        "Stream the logs of the marked containers (or the one under the cursor), interleaved by time: follow, pause, "
        "search, filter, save", CONTAINERS, keys="l",
        panes=("containers",), needs=Capability.CONTAINERS_LOGS, mutating=False, ui="open_logs",
    ),
    Action(
        "container.app_logs", "App logs",
        "Follow the logs of every container of the application under the cursor (its app label, compose service or "
        "swarm service), interleaved by time", CONTAINERS, keys="L",
        panes=("containers",), needs=Capability.CONTAINERS_LOGS, mutating=False, ui="open_app_logs", show=False,
    ),
    # The same key on Hosts and Services: every container of the chosen hosts, every task of
    # the chosen services (not in the footer there: the pane's own actions come first).
    Action(
        "host.logs", "Logs", "Follow the logs of every container on the marked hosts (or the one under the cursor)",
        HOSTS, keys="l", panes=("hosts",), needs=Capability.CONTAINERS_LOGS, mutating=False, ui="open_logs", show=False,
    ),
    Action(
        "service.logs", "Logs", "Follow the logs of every task of the marked services (or the one under the cursor)",
        SERVICES, keys="l", panes=("services",), needs=Capability.CONTAINERS_LOGS, mutating=False, ui="open_logs",
        show=False,
    ),
    # -- host power and volume detach. Here, after every pane's own keys: a key's place in the
    # footer is where its first record is, and these keys are the Containers' and the swarm's too.
    # t, x and R as start, stop and restart on Containers (free on Hosts). Not in the footer:
    # it is full on Hosts; help and the palette list them. Power off and reboot ask first
    # when they stop containers (their impact), power on never.
    Action(
        "host.power_on", "Power on", "Power the host on (containers with a restart policy start again)", HOSTS,
        keys="t", panes=("hosts",), needs=Capability.HOSTS_POWER, run=lambda b, h: b.power_on_host(h.id),
        cli={"hosts": ("host", "power-on")}, verb="power on", show=False,
    ),
    Action(
        "host.power_off", "Power off", "Power the host off, after a confirmation when it runs containers", HOSTS,
        keys="x", panes=("hosts",), needs=Capability.HOSTS_POWER, run=lambda b, h: b.power_off_host(h.id),
        cli={"hosts": ("host", "power-off")}, verb="power off", impact="power off", show=False,
    ),
    Action(
        "host.reboot", "Reboot", "Reboot the host (Prism: a power cycle), after a confirmation when it runs containers",
        HOSTS, keys="R", panes=("hosts",), needs=Capability.HOSTS_POWER, run=lambda b, h: b.reboot_host(h.id),
        cli={"hosts": ("host", "reboot")}, verb="reboot", impact="reboot", show=False,
    ),
    Action(
        # D as on Hosts it drains (free on Volumes); d stays nothing, a typo of ctrl+d.
        "volume.detach", "Detach", "Detach the volume from its host, after a confirmation naming who mounts it",
        VOLUMES, keys="D", panes=("volumes",), needs=Capability.VOLUMES_ATTACH, run=lambda b, v: b.detach_volume(v.id),
        cli={"volumes": ("volume", "detach")}, impact="detach", show=False,
    ),
    # -- a swarm's nodes, services and secrets (hidden where the backend has no swarm). Keys
    # free on their panes: capitals for the nodes and scale (s is a shell, a attaches, d is
    # nothing yet but a typo of ctrl+d), and ctrl+d removes on Services and Secrets as it
    # deletes on the other panes (one key per pane: the record that applies there runs).
    Action(
        "host.drain", "Drain", "Drain the node: its tasks move to the other nodes", HOSTS, keys="D", panes=("hosts",),
        needs=Capability.HOSTS_AVAILABILITY, run=lambda b, h: b.set_host_availability(h.id, "drain"),
        cli={"hosts": ("host", "drain")}, wait_timeout=300.0, impact="drain",
    ),
    Action(
        "host.activate", "Activate", "Make the node available to the scheduler again", HOSTS, keys="A", panes=("hosts",),
        needs=Capability.HOSTS_AVAILABILITY, run=lambda b, h: b.set_host_availability(h.id, "active"),
        cli={"hosts": ("host", "activate")}, wait_timeout=300.0,
    ),
    Action(
        "service.create", "Create service", "Create a swarm service (replicated or global, with secrets)", SERVICES,
        needs=Capability.SERVICES_CREATE, run=lambda b, spec: b.create_service(spec),
        cli={"services": ("service", "create")}, verb="create service", wait_timeout=300.0,
    ),
    Action(
        "service.scale", "Scale", "Scale a replicated service to N tasks", SERVICES, keys="S", panes=("services",),
        needs=Capability.SERVICES_SCALE, form="console.screens.services:ScaleServiceForm",
        run=lambda b, spec: b.scale_service(spec), cli={"services": ("service", "scale")}, wait_timeout=300.0,
    ),
    Action(
        "service.remove", "Remove", "Remove the service and its tasks, after a confirmation", SERVICES,
        keys="ctrl+d", panes=("services",), needs=Capability.SERVICES_REMOVE, destructive=True,
        run=lambda b, s: b.remove_service(s.id), cli={"services": ("service", "remove")},
        priority=False, while_typing=True, impact="remove",
    ),
    Action(
        "secret.create", "Create secret", "Create a secret from a file or standard input (never an argument)", SECRETS,
        needs=Capability.SECRETS_CREATE, run=lambda b, spec: b.create_secret(spec),
        cli={"secrets": ("secret", "create")}, verb="create secret",
    ),
    Action(
        "secret.remove", "Remove", "Remove the secret (refused while a service uses it)", SECRETS, keys="ctrl+d",
        panes=("secrets",), needs=Capability.SECRETS_REMOVE, destructive=True, run=lambda b, s: b.remove_secret(s.id),
        cli={"secrets": ("secret", "remove")}, priority=False, while_typing=True,
    ),
    # Rolling updates, rollback, rotation and configs (a swarm's). U and R are free on these
    # panes (u upgrades hosts from any pane; R restarts only on Containers).
    Action(
        "service.update", "Update", "Update the service's image in rolling waves (the form shows the waves first)",
        SERVICES, keys="U", panes=("services",), needs=Capability.SERVICES_UPDATE,
        form="console.screens.services:UpdateServiceForm", run=_update_service,
        cli={"services": ("service", "update")}, verb="update", wait_timeout=900.0,
    ),
    Action(
        "service.rollback", "Rollback", "Roll the service back to its previous spec (after a confirmation)", SERVICES,
        keys="R", panes=("services",), needs=Capability.SERVICES_UPDATE,
        form="console.screens.services:RollbackServiceForm", run=lambda b, s: b.rollback_service(s.id),
        cli={"services": ("service", "rollback")}, verb="roll back", wait_timeout=900.0,
    ),
    Action(
        "secret.rotate", "Rotate", "Rotate the secret: a new one, its services moved to it, the old one removed", SECRETS,
        keys="R", panes=("secrets",), needs=Capability.SECRETS_ROTATE, form="console.screens.services:RotateSecretForm",
        run=lambda b, r: b.rotate_secret(r.secret_id, r.data), cli={"secrets": ("secret", "rotate")}, verb="rotate",
        wait_timeout=900.0,
    ),
    Action(
        "config.create", "Create config", "Create a config from a file or standard input", SECRETS,
        needs=Capability.CONFIGS_CREATE, run=lambda b, spec: b.create_config(spec),
        cli={"configs": ("config", "create")}, verb="create config",
    ),
    Action(
        # The CLI's only: the console has no Configs pane yet (`configs list` shows them).
        "config.remove", "Remove config", "Remove the config (refused while a service uses it)", SECRETS,
        panes=("configs",), needs=Capability.CONFIGS_REMOVE, destructive=True, run=lambda b, c: b.remove_config(c.id),
        cli={"configs": ("config", "remove")},
    ),
    # -- container images on a host (the Images screen: I on Hosts, or :images)
    Action(
        "host.images", "Images", "The container images on the host: pull, remove, prune", HOSTS, keys="I",
        panes=("hosts",), needs=Capability.HOST_IMAGES, mutating=False, ui="open_images",
    ),
    Action(
        "host_image.pull", "Pull", "Pull an image onto the host, with its registry's credentials", IMAGES, keys="p",
        panes=("host_images",), needs=Capability.HOST_IMAGES_PULL, run=_pull_image,
        cli={"host_images": ("image", "pull")}, verb="pull", wait_timeout=3600.0,
    ),
    Action(
        "host_image.remove", "Remove", "Remove the image (refused while a container uses it, unless forced)", IMAGES,
        keys="ctrl+d", panes=("host_images",), needs=Capability.HOST_IMAGES_REMOVE, destructive=True,
        run=lambda b, r, force=False: b.remove_image(r.id, force=force or getattr(r, "force", False)),
        cli={"host_images": ("image", "remove")}, priority=False, while_typing=True, wait_timeout=600.0,
    ),
    Action(
        "host_image.prune", "Prune", "Remove the host's dangling images (or every unused one); says the space reclaimed",
        IMAGES, keys="P", panes=("host_images",), needs=Capability.HOST_IMAGES_REMOVE, destructive=True,
        run=lambda b, r: b.prune_images(r.host, unused=r.unused), cli={"host_images": ("images", "prune")},
        wait_timeout=600.0,
    ),
]


def by_id() -> dict[str, Action]:
    return {a.id: a for a in ACTIONS}


def get(action_id: str) -> Action:
    return by_id()[action_id]


def bindings() -> list["Binding"]:
    """The dashboard's bindings of every action that has keys."""
    return [a.binding() for a in ACTIONS if a.keys]
