"""Details of one host, container or volume (and a swarm's service or secret); they follow
the live inventory."""

from __future__ import annotations

import json

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from backends.contract import Capability
from backends.errors import one_line
from widgets.key_bar import KeyBar
from widgets.log_view import LogView
from widgets.resource_table import ResourceTable
from widgets.terminal_text import visible, visible_text

from ..messages import InspectLoaded, LogTail
from ..presenters import containers, events, secrets, services, volumes
from ..presenters.base import date_time_text, gib, shown, state
from ..store import Drained
from .status import StatusHeader
from .live import Live
from .plots import UsagePlots

DETAIL_LOG_TAIL = 50  # log lines shown on a container's details screen


def facts(rows: list[tuple[str, object]]) -> Table:
    """Label and value rows. Every value is data from the backend, shown through visible(): a
    newline in it cannot forge another row. A list is a value of several lines."""
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    for label, value in rows:
        if isinstance(value, Text):
            shown = visible_text(value)
        elif isinstance(value, list) and value:
            shown = Text("\n").join(Text(visible(str(line))) for line in value)
        else:
            shown = Text(visible(str(value if value not in (None, "", []) else "-")))
        table.add_row(label, shown)
    return table


class DetailsScreen(Live, Screen):
    KIND = ""
    WATCHES = ("hosts", "containers", "volumes", "events", "nodes")  # the kinds it is redrawn on
    BINDINGS = [Binding("escape", "back", "Back", id="details.back")]

    def __init__(self, item_id: str) -> None:
        super().__init__(classes="details")
        self.item_id = item_id

    @property
    def item(self):
        return self.app.store.inventory.of(self.KIND).get(self.item_id)

    def on_mount(self) -> None:
        self.redraw()

    def apply_changes(self, drained: Drained) -> None:
        if any(drained.touched(kind) for kind in self.WATCHES):
            self.redraw()
        self.query_one(StatusHeader).refresh_status()

    def refresh_status(self) -> None:
        self.query_one(StatusHeader).refresh_status()

    def redraw(self) -> None:
        raise NotImplementedError

    def action_back(self) -> None:
        self.app.close_screen(self)

    def on_resource_table_selected(self, message: ResourceTable.Selected) -> None:
        kind = message.table.id
        if kind in ("containers", "volumes", "services"):
            self.app.open_details(kind, message.row_id)

    def gone(self) -> bool:
        if self.item is None:
            self.query_one("#facts", Static).update(Text(visible(f"{self.KIND[:-1]} {self.item_id} is gone"), style="bold red"))
            return True
        return False


class HostDetails(DetailsScreen):
    KIND = "hosts"
    BINDINGS = DetailsScreen.BINDINGS + [Binding("s", "shell", "Shell", id="details.shell")]

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        with Horizontal(classes="facts", id="host-facts"):
            yield Static(id="facts")
            yield UsagePlots("hosts", self.item_id, id="plots")
        with Horizontal():
            # Every row is on this host: no HOST column.
            with Vertical(classes="section", id="host-containers"):
                yield ResourceTable(containers.columns(None), id="containers", empty_text="No containers")
            with Vertical(classes="section", id="host-volumes"):
                yield ResourceTable(volumes.columns(None), id="volumes", empty_text="No volumes")
        with Vertical(classes="section", id="host-events"):
            yield ResourceTable(events.columns(), id="events", empty_text="No recent events")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#host-containers").border_title = "Containers"
        self.query_one("#host-volumes").border_title = "Volumes"
        self.query_one("#host-events").border_title = "Recent events"
        super().on_mount()
        self.query_one("#containers").focus()

    def redraw(self) -> None:
        if self.gone():
            return
        store, host = self.app.store, self.item
        inv = store.inventory
        node = inv.nodes.get(host.node_id or "")
        project = inv.projects.get(host.project_id or "")
        image = inv.images.get(host.image_id or "")
        network = inv.networks.get(host.network_id or "")
        self.query_one("#facts", Static).update(
            facts(
                [
                    ("Host", shown(host.name, "bold")),  # shown, not Text(): Text drops a bell unseen
                    ("State", state(host.state)),
                    ("Why", host.reason),
                    ("IP", host.ip),
                    ("Size", f"{host.cores} cores, {gib(host.memory_mib)} memory, {host.storage_gib:g} GiB disk"),
                    ("Docker Engine", host.engine_version),
                    ("OS", host.os),
                    ("Node", node.name if node else host.node_id),
                    ("Project", project.name if project else host.project_id),
                    ("Image", image.name if image else host.image_id),
                    ("Network", network.name if network else host.network_id),
                    ("Created", date_time_text(host.created_at)),
                ]
            )
        )
        self.query_one(UsagePlots).redraw()
        containers = store.containers_on(host.id)
        self.query_one("#containers", ResourceTable).set_rows(containers)
        self.query_one("#volumes", ResourceTable).set_rows(store.volumes_on(host.id))
        self.query_one("#events", ResourceTable).set_rows(store.events_about({host.id} | {c.id for c in containers}))

    def stats_wanted(self) -> list[str]:
        """This host's containers in view: their figures make the host's picture."""
        return self.query_one("#containers", ResourceTable).ids_in_view

    def action_shell(self) -> None:
        if self.app.backend.supports(Capability.HOSTS_SHELL):
            self.app.open_shell("host", self.item_id)


class ContainerDetails(DetailsScreen):
    KIND = "containers"
    BINDINGS = DetailsScreen.BINDINGS + [
        Binding("l", "logs", "Logs", id="details.logs"),
        Binding("s", "shell", "Shell", id="details.container_shell"),
    ]

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        with Horizontal():
            with VerticalScroll(classes="section", id="container-facts"):
                yield Static(id="facts")
            with VerticalScroll(classes="section", id="container-inspect"):
                yield Static("…", id="inspect")
        with Vertical(classes="section", id="container-plots"):
            yield UsagePlots("containers", self.item_id, id="plots")
        with Vertical(classes="section", id="container-logs"):
            yield LogView(id="log", max_lines=DETAIL_LOG_TAIL * 20)
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#container-facts").border_title = "Container"
        self.query_one("#container-inspect").border_title = "Inspect"
        self.query_one("#container-logs").border_title = "Logs (l: full screen)"
        self.query_one("#container-plots").border_title = "History"
        # Containers' history is kept only once asked for: 100,000 rings would cost 200 MiB.
        self.app.store.watch_container(self.item_id)
        super().on_mount()
        backend = self.app.backend
        if backend.supports(Capability.CONTAINERS_INSPECT):
            self.run_worker(self._inspect, exit_on_error=False)
        else:
            self.query_one("#inspect", Static).update("this backend cannot inspect containers")
        if backend.supports(Capability.CONTAINERS_LOGS):
            self.run_worker(self._tail, exit_on_error=False)

    async def _inspect(self) -> None:
        try:
            data = await self.app.backend.inspect_container(self.item_id)
            text = json.dumps(data, indent=2, sort_keys=True, default=str)
        except Exception as err:
            text = one_line(err)
        self.post_message(InspectLoaded(text))

    async def _tail(self) -> None:
        try:
            lines = []
            async for line in self.app.backend.logs(self.item_id, tail=DETAIL_LOG_TAIL):
                lines.append(line.text)
            self.post_message(LogTail(lines))
        except Exception as err:
            self.post_message(LogTail([one_line(err)]))

    def on_inspect_loaded(self, message: InspectLoaded) -> None:
        # JSON escapes controls already; an error message does not: shown, never obeyed.
        self.query_one("#inspect", Static).update(Text(visible(message.text, newlines=True)))

    def on_log_tail(self, message: LogTail) -> None:
        self.query_one(LogView).append(message.lines)

    def redraw(self) -> None:
        if self.gone():
            return
        store, c = self.app.store, self.item
        volumes = store.inventory.volumes
        ports = ", ".join(
            f"{p.host_ip or '0.0.0.0'}:{p.host_port}->{p.container_port}/{p.protocol}" if p.host_port else f"{p.container_port}/{p.protocol}"
            for p in c.ports
        )
        mounts = [
            f"{volumes[m.source].name if m.source in volumes else m.source} -> {m.path}{' (ro)' if m.read_only else ''}"
            for m in c.mounts
        ]
        self.query_one("#facts", Static).update(
            facts(
                [
                    ("Container", shown(c.name, "bold")),
                    ("State", state(c.state)),
                    ("Status", c.status),
                    ("Image", c.image),
                    ("Host", store.host_name(c.host_id)),
                    ("Command", c.command),
                    ("CPU", f"{c.cpu_percent:.1f}% of a core"),
                    ("Memory", f"{c.memory_mib:.0f} MiB" + (f" of {c.memory_limit_mib:.0f} MiB" if c.memory_limit_mib else "")),
                    ("Ports", ports),
                    ("Mounts", mounts),
                    ("Restart", c.restart_policy),
                    ("Exit code", c.exit_code),
                    ("Started", date_time_text(c.started_at)),
                ]
            )
        )
        self.query_one(UsagePlots).redraw()

    def stats_wanted(self) -> list[str]:
        return [self.item_id]

    def action_logs(self) -> None:
        if self.app.backend.supports(Capability.CONTAINERS_LOGS):
            self.app.open_logs(self.item_id)

    def action_shell(self) -> None:
        if self.app.backend.supports(Capability.CONTAINERS_SHELL):
            self.app.open_shell("container", self.item_id)


class VolumeDetails(DetailsScreen):
    KIND = "volumes"

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        with Vertical(classes="facts"):
            yield Static(id="facts")
        with Vertical(classes="section", id="volume-containers"):
            yield ResourceTable(containers.columns(self.app.store.host_name), id="containers", empty_text="No container uses it")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#volume-containers").border_title = "Used by"
        super().on_mount()
        self.query_one("#containers").focus()

    def redraw(self) -> None:
        if self.gone():
            return
        store, v = self.app.store, self.item
        self.query_one("#facts", Static).update(
            facts(
                [
                    ("Volume", shown(v.name, "bold")),
                    ("State", state(v.state)),
                    ("Size", f"{v.size_gib:g} GiB"),
                    ("Attached to", store.host_name(v.host_id) if v.host_id else "no host"),
                    ("Driver", v.driver),
                    ("Storage container", v.storage_container),
                    ("Mount point", v.mount_point),
                    ("Created", date_time_text(v.created_at)),
                ]
            )
        )
        containers = store.inventory.containers
        self.query_one("#containers", ResourceTable).set_rows(containers[i] for i in v.container_ids if i in containers)


def _task_order(store):
    """``docker service ps``'s order: by slot (a global service's tasks by node), the newest
    task of a slot first."""
    return lambda c: (c.slot if c.slot is not None else -1, store.host_name(c.host_id), -c.created_at)


class ServiceDetails(DetailsScreen):
    """A swarm service: its facts, its secrets (names only: a value is never shown, the swarm
    gives none) and its tasks across the nodes. Enter on a task opens it as a container."""

    KIND = "services"
    WATCHES = ("services", "secrets", "configs", "containers", "hosts")

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        with Vertical(classes="facts"):
            yield Static(id="facts")
        with Vertical(classes="section", id="service-tasks"):
            yield ResourceTable(services.task_columns(self.app.store.host_name), id="containers", empty_text="No tasks")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#service-tasks").border_title = "Tasks"
        super().on_mount()
        self.query_one("#containers").focus()

    def tasks(self) -> list:
        s = self.item
        store = self.app.store
        mine = [c for c in store.inventory.containers.values() if c.service == s.name]
        return sorted(mine, key=_task_order(store))

    def redraw(self) -> None:
        if self.gone():
            return
        s, inv = self.item, self.app.store.inventory
        replicas = f"{s.replicas_running} of {s.replicas_desired} running"
        self.query_one("#facts", Static).update(
            facts(
                [
                    ("Service", shown(s.name, "bold")),
                    ("ID", s.id),
                    ("Mode", s.mode + (" (one task per node)" if s.mode == "global" else "")),
                    ("Replicas", Text(replicas, style=services.replicas_style(f"{s.replicas_running}/{s.replicas_desired}"))),
                    ("Image", s.image),
                    ("Ports", ", ".join(s.ports)),
                    ("Update", services.update_text(s) if s.update_state else "never updated"),
                    ("Previous image", s.previous_image or "none: nothing to roll back to"),
                    ("Update config", services.policy_text(s.update_policy)),
                    ("Rollback config", services.policy_text(s.rollback_policy)),
                    ("Constraints", list(s.constraints) or "none"),
                    # Names only: the swarm never gives a secret's value back.
                    ("Secrets", [inv.secrets[i].name if i in inv.secrets else i for i in s.secret_ids]),
                    ("Configs", [inv.configs[i].name if i in inv.configs else i for i in s.config_ids]),
                    ("Created", date_time_text(s.created_at)),
                    ("Updated", date_time_text(s.updated_at)),
                ]
            )
        )
        tasks = self.tasks()
        self.query_one("#service-tasks").border_title = f"Tasks ({len(tasks)})"
        self.query_one("#containers", ResourceTable).set_rows(tasks)


class SecretDetails(DetailsScreen):
    """A swarm secret: its name, dates and the services that use it. Never its value."""

    KIND = "secrets"
    WATCHES = ("services", "secrets")

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        with Vertical(classes="facts"):
            yield Static(id="facts")
        with Vertical(classes="section", id="secret-services"):
            yield ResourceTable(services.columns(), id="services", empty_text="No service uses it")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#secret-services").border_title = "Used by"
        super().on_mount()
        self.query_one("#services").focus()

    def redraw(self) -> None:
        if self.gone():
            return
        secret, inv = self.item, self.app.store.inventory
        self.query_one("#facts", Static).update(
            facts(
                [
                    ("Secret", shown(secret.name, "bold")),
                    ("ID", secret.id),
                    ("Value", Text("never shown: the swarm gives it only to the services' tasks", style="dim")),
                    ("Created", date_time_text(secret.created_at)),
                    ("Updated", date_time_text(secret.updated_at)),
                ]
            )
        )
        users = set(secrets.users(inv).get(secret.id, ()))
        self.query_one("#services", ResourceTable).set_rows(s for s in inv.services.values() if s.name in users)


DETAILS = {
    "hosts": HostDetails,
    "containers": ContainerDetails,
    "volumes": VolumeDetails,
    "services": ServiceDetails,
    "secrets": SecretDetails,
}
