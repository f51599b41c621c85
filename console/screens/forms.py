"""Actions as forms: modal screens that validate as you type and say what is wrong before
anything is sent. Create host, attach volume, run container."""

from __future__ import annotations

from typing import Any

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.suggester import Suggester
from textual.widgets import Button, Input, Label, Select, Static

from backends import validation
from backends.contract import Capability, ContainerSpec, HostSpec, VolumeSpec
from backends.models import HostState, Project, VolumeState
from backends.validation import mount_path_problem, size_problem, whole_number_problem
from backends.waves import parse_version

from ..actions import AttachRequest, FormContext, RunRequest
from ..presenters.base import context_of, several_contexts, shown



# -- checks (pure: each returns the reason, or None when the value is fine) -------------------
# The rules themselves live in backends.validation, shared with the CLI and the backends;
# the forms add only what needs the inventory (a name already taken, the quota left).


def host_name_problem(name: str, taken: set[str]) -> str | None:
    if (problem := validation.host_name_problem(name)):
        return problem
    if name in taken:
        return f"a host named {name} already exists"
    return None


def quota_left(project: Project | None) -> dict[str, float | None]:
    """What a project may still use; None means unlimited."""
    if project is None:
        return {"vcpus": None, "memory_gib": None, "vms": None, "storage_gib": None}
    q, u = project.quota, project.used

    def left(limit, used):
        return None if limit is None else max(0, limit - (used or 0))

    memory = left(q.memory_mib, u.memory_mib)
    return {
        "vcpus": left(q.vcpus, u.vcpus),
        "memory_gib": None if memory is None else memory / 1024,
        "vms": left(q.vms, u.vms),
        "storage_gib": left(q.storage_gib, u.storage_gib),
    }


def quota_text(project: Project | None) -> str:
    if project is None:
        return "no project: only the cluster's capacity limits this machine"
    left = quota_left(project)

    def show(value, unit=""):
        return "unlimited" if value is None else f"{value:g}{unit}"

    return (
        f"quota left in {project.name}: {show(left['vcpus'])} vCPU, "
        f"{show(left['memory_gib'], ' GiB')} memory, {show(left['vms'])} VMs"
    )


# -- the form machinery -----------------------------------------------------------------------


class FormScreen(ModalScreen[Any]):
    """A modal form. Subclasses give ``fields()``, ``problems()`` and ``spec()``; the form
    ends with ``dismiss(spec)`` (None when cancelled) and the caller runs the action."""

    HEADING = ""
    SUBMIT = "Create"
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="form.cancel"),
        Binding("ctrl+s", "submit", "Submit", id="form.submit"),
        # Priority: keys typed right after tab (fast, or batched by a slow ssh link) go to
        # the next field, not to the one tab leaves.
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True, id="form.next"),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True, id="form.previous"),
    ]

    def __init__(self, context: FormContext | None = None) -> None:
        super().__init__(classes="form-screen")
        self.context = context or FormContext()

    @property
    def inventory(self):
        return self.app.store.inventory

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form", id="form"):
            yield Static(self.heading(), classes="form-title")
            yield from self.fields()
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self.SUBMIT, id="submit", variant="primary")

    def heading(self) -> str:
        return self.HEADING

    def fields(self) -> ComposeResult:
        raise NotImplementedError

    def problems(self) -> dict[str, str]:
        """Field id -> what is wrong with it, for every field that is wrong now."""
        raise NotImplementedError

    def spec(self) -> Any:
        """What the action runs on (the form is valid)."""
        raise NotImplementedError

    @staticmethod
    def field(label: str, widget: Widget, hint: str = "") -> list[Widget]:
        widgets: list[Widget] = [Label(label, classes="field"), widget]
        if hint:
            widgets.append(Static(hint, classes="hint", id=f"{widget.id}-hint"))
        widgets.append(Static("", classes="error", id=f"{widget.id}-error"))
        return widgets

    def value(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Input).value.strip()

    def choice(self, field_id: str) -> Any:
        value = self.query_one(f"#{field_id}", Select).value
        return None if value is Select.NULL else value

    def named(self, item: Any) -> str:
        """An item as a choice names it: with several contexts open, ``CONTEXT/NAME`` (two
        contexts may each have a ``cm-app-01``)."""
        return f"{context_of(item.id)}/{item.name}" if several_contexts(self.app.backend) else item.name

    def on_mount(self) -> None:
        self.revalidate()
        self.first_field().focus()

    def first_field(self) -> Widget:
        return self.query("Input, Select").first()

    def revalidate(self) -> dict[str, str]:
        problems = self.problems()
        for error in self.query(".error"):
            field_id = (error.id or "").removesuffix("-error")
            error.update(shown(f"✗ {problems[field_id]}") if field_id in problems else "")  # names in it are data
        self.query_one("#submit", Button).disabled = bool(problems)
        return problems

    def on_input_changed(self, event: Input.Changed) -> None:
        self.revalidate()

    def on_select_changed(self, event: Select.Changed) -> None:
        self.revalidate()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            self.app.close_screen(self)
        elif event.button.id == "submit":
            self.action_submit()

    def action_cancel(self) -> None:
        self.app.close_screen(self)

    def action_submit(self) -> None:
        problems = self.revalidate()
        if problems:
            self.notify(f"not sent: {next(iter(problems.values()))}", severity="warning", timeout=4)
            return
        self.app.close_screen(self, self.spec())

    def running_hosts(self):
        hosts = [h for h in self.inventory.hosts.values() if h.state is HostState.RUNNING]
        return sorted(hosts, key=lambda h: h.name)


# -- create host ------------------------------------------------------------------------------


class CreateHostForm(FormScreen):
    HEADING = "Create a container host"

    def fields(self) -> ComposeResult:
        inv = self.inventory
        images = sorted(
            (i for i in inv.images.values() if i.engine_version),
            key=lambda i: parse_version(i.engine_version or "0"),
            reverse=True,
        )
        networks = sorted(inv.networks.values(), key=lambda n: n.name)
        projects = sorted(inv.projects.values(), key=lambda p: p.name)
        current = self.app.store.project(self.app.project_ref)
        yield from self.field("Name", Input(placeholder="web-01", id="name", compact=True), "a DNS label: a-z, 0-9 and '-'")
        yield from self.field(
            "Image",
            Select(
                [(shown(f"{self.named(i)}  (Docker {i.engine_version})"), i.id) for i in images],
                value=images[0].id if images else Select.NULL,
                id="image",
                compact=True,
            ),
        )
        yield from self.field("Cores", Input("2", id="cores", compact=True))
        yield from self.field("Memory (GiB)", Input("4", id="memory", compact=True))
        yield from self.field(
            "Network",
            Select([(shown(self.named(n)), n.id) for n in networks], value=networks[0].id if networks else Select.NULL, id="network", compact=True),
        )
        if projects:
            yield from self.field(
                "Project",
                Select([(shown(self.named(p)), p.id) for p in projects], value=(current or projects[0]).id, id="project", compact=True),
            )
            yield Static(shown(quota_text(current or projects[0])), id="quota", classes="hint")

    def project(self) -> Project | None:
        if not self.query("#project"):
            return None
        return self.inventory.projects.get(self.choice("project"))

    def problems(self) -> dict[str, str]:
        project = self.project()
        left = quota_left(project)
        where = f"the quota left in {project.name}" if project else "the limit"
        problems: dict[str, str] = {}
        taken = {h.name for h in self.inventory.hosts.values()}
        if (p := host_name_problem(self.value("name"), taken)):
            problems["name"] = p
        if self.choice("image") is None:
            problems["image"] = "choose an image"
        vcpus = left["vcpus"]
        if (p := whole_number_problem(self.value("cores"), "cores", 1, None if vcpus is None else int(vcpus), where)):
            problems["cores"] = p
        if (p := size_problem(self.value("memory"), "memory", left["memory_gib"], where)):
            problems["memory"] = p
        if self.choice("network") is None:
            problems["network"] = "choose a network"
        if project is not None and left["vms"] is not None and left["vms"] < 1:
            problems["project"] = f"{project.name} may not have another VM (quota {project.quota.vms} reached)"
        return problems

    def revalidate(self) -> dict[str, str]:
        if self.query("#quota"):
            self.query_one("#quota", Static).update(shown(quota_text(self.project())))
        return super().revalidate()

    def spec(self) -> HostSpec:
        project = self.project()
        return HostSpec(
            name=self.value("name"),
            image=self.choice("image"),
            cores=int(self.value("cores")),
            memory_mib=int(float(self.value("memory")) * 1024),
            network=self.choice("network"),
            project=project.id if project else None,
        )


# -- attach volume ----------------------------------------------------------------------------


class AttachVolumeForm(FormScreen):
    """A new or existing volume onto a host, optionally into one of its containers.

    A backend without ``VOLUMES_HOST_ATTACH`` (Docker) mounts a volume only into a
    container, by re-creating it: there the container and the mount path are required, the
    volumes offered are the chosen host's own, and the form says so."""

    SUBMIT = "Attach"

    def __init__(self, context: FormContext | None = None) -> None:
        super().__init__(context)
        self.host_id = self.context.host_id
        self.volume_id = self.context.cursor("volumes")
        self.container_id = self.context.cursor("containers")

    @property
    def host_attach(self) -> bool:
        return self.app.backend.supports(Capability.VOLUMES_HOST_ATTACH)

    def heading(self) -> str:
        return "Attach a volume to a host" if self.host_attach else "Mount a volume into a container"

    def fields(self) -> ComposeResult:
        hosts = self.running_hosts()
        host_ids = {h.id for h in hosts}
        host_id = self.host_id if self.host_id in host_ids else None
        existing = self._volumes_for(host_id)
        start_existing = self.volume_id is not None and any(v.id == self.volume_id for v in existing)
        if not self.host_attach:
            yield Static(
                f"{self.app.backend.kind.capitalize()} mounts a volume only into a container: the container is "
                "re-created with its configuration intact plus the mount (refused if that would lose data).",
                id="explain",
                classes="hint",
            )
        yield from self.field(
            "Volume",
            Select(
                [("a new volume", "new"), ("an existing volume", "existing")],
                value="existing" if start_existing else "new",
                allow_blank=False,
                id="mode",
                compact=True,
            ),
        )
        yield from self.field("New volume name", Input(placeholder="data-01", id="volname", compact=True))
        yield from self.field("Size (GiB)", Input("10", id="size", compact=True))
        yield from self.field(
            "Existing volume",
            Select(
                self._volume_options(existing),
                value=self.volume_id if start_existing else Select.NULL,
                id="volume",
                compact=True,
            ),
        )
        yield from self.field(
            "Host",
            Select([(shown(self.named(h)), h.id) for h in hosts], value=host_id or Select.NULL, id="host", compact=True),
        )
        if self.host_attach:
            yield from self.field(
                "Container (optional)",
                Select([], id="container", compact=True, prompt="none: attach to the host only"),
                "mount it into one of the host's containers",
            )
        else:
            yield from self.field("Container", Select([], id="container", compact=True, prompt="choose a container"))
        yield from self.field("Mount path", Input("/data", id="path", compact=True))

    def _volumes_for(self, host_id: str | None):
        """Host-attach backends: the volumes attached nowhere. Otherwise: the host's own
        volumes (a Docker volume lives on its engine and may be mounted by several)."""
        volumes = self.inventory.volumes.values()
        if self.host_attach:
            chosen = [v for v in volumes if v.state is VolumeState.AVAILABLE]
        else:
            chosen = [v for v in volumes if host_id is not None and v.host_id == host_id]
        return sorted(chosen, key=lambda v: v.name)

    def _volume_options(self, volumes) -> list[tuple[Text, str]]:
        if not self.host_attach:  # no sizes: say who uses it instead
            return [(shown(f"{self.named(v)}  ({len(v.container_ids)} container(s))"), v.id) for v in volumes]
        return [(shown(f"{self.named(v)}  ({v.size_gib:g} GiB)"), v.id) for v in volumes]

    def on_mount(self) -> None:
        self._fill_containers()
        self._show_mode()
        super().on_mount()

    def first_field(self) -> Widget:
        return self.query_one("#volname" if self.choice("mode") == "new" else "#host")

    def _fill_containers(self) -> None:
        host_id = self.choice("host")
        containers = sorted(self.app.store.containers_on(host_id) if host_id else [], key=lambda c: c.name)
        select = self.query_one("#container", Select)
        select.set_options([(shown(self.named(c)), c.id) for c in containers])
        if any(c.id == self.container_id for c in containers):
            select.value = self.container_id

    def _fill_volumes(self) -> None:
        if self.host_attach:  # the free volumes do not depend on the host
            return
        select = self.query_one("#volume", Select)
        chosen = self.choice("volume")
        volumes = self._volumes_for(self.choice("host"))
        select.set_options(self._volume_options(volumes))
        if any(v.id == chosen for v in volumes):
            select.value = chosen

    def _show_mode(self) -> None:
        new = self.choice("mode") == "new"
        # Docker's volumes have no size of their own (their driver decides).
        sized = new and self.host_attach
        for field_id, shown in (("volname", new), ("size", sized), ("volume", not new)):
            widget = self.query_one(f"#{field_id}")
            index = list(widget.parent.children).index(widget)
            for sibling in list(widget.parent.children)[index - 1 : index + 2]:
                sibling.display = shown

    def on_select_changed(self, event: Select.Changed) -> None:
        if event.select.id == "host":
            self._fill_containers()
            self._fill_volumes()
        if event.select.id == "mode":
            self._show_mode()
        self.revalidate()

    def problems(self) -> dict[str, str]:
        problems: dict[str, str] = {}
        host_id = self.choice("host")
        if self.choice("mode") == "new":
            name = self.value("volname")
            taken = {v.name for v in self.inventory.volumes.values() if self.host_attach or v.host_id == host_id}
            if (p := validation.volume_name_problem(name)):
                problems["volname"] = p
            elif name in taken:
                problems["volname"] = f"a volume named {name} already exists"
            if self.host_attach and (p := validation.volume_size_problem(self.value("size"))):
                problems["size"] = p
        elif self.choice("volume") is None:
            problems["volume"] = "choose a volume that is not attached anywhere" if self.host_attach else "choose one of the host's volumes"
        if host_id is None:
            problems["host"] = "choose a running host"
        container_id = self.choice("container")
        if container_id is None and not self.host_attach:
            problems["container"] = "choose the container to mount it into (it is re-created with the mount)"
        if (container_id is not None or not self.host_attach) and (p := mount_path_problem(self.value("path"))):
            problems["path"] = p
        return problems

    def spec(self) -> AttachRequest:
        host_id = self.choice("host")
        container_id = self.choice("container")
        path = self.value("path") if container_id else None
        if self.choice("mode") == "existing":
            return AttachRequest(host_id, volume_id=self.choice("volume"), container_id=container_id, mount_path=path)
        size = float(self.value("size")) if self.host_attach else 0.0
        # Attached to the host as it is made when it goes into no container; otherwise a
        # host-attach backend attaches it afterwards, the others make it where it is used.
        on_host = container_id is None or not self.host_attach
        volume = VolumeSpec(name=self.value("volname"), size_gib=size, host=host_id if on_host else None)
        return AttachRequest(host_id, new_volume=volume, container_id=container_id, mount_path=path)


# -- run container ----------------------------------------------------------------------------


class ImageSuggester(Suggester):
    """Completes an image reference as it is typed (right arrow or End takes it): the chosen
    host's images first, then the other hosts', then the configured registries' names as
    prefixes (``registry.example.com:5000/``). Read from the form on each keystroke, so a
    change of host changes what is offered."""

    def __init__(self, form: "RunContainerForm") -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.form = form

    async def get_suggestion(self, value: str) -> str | None:
        if not value:
            return None
        return next((c for c in self.form.image_candidates() if c.startswith(value) and c != value), None)


class RunContainerForm(FormScreen):
    """What ``docker run`` takes: image, name, command, ports, environment, volumes (existing,
    or new ones made on the host first), restart policy and labels, each checked as typed by
    the rules the CLI uses (console.run_options, backends.validation)."""

    HEADING = "Run a container"
    SUBMIT = "Run"

    def __init__(self, context: FormContext | None = None) -> None:
        super().__init__(context)
        self.host_id = self.context.host_id

    def fields(self) -> ComposeResult:
        hosts = self.running_hosts()
        host_ids = {h.id for h in hosts}
        yield from self.field(
            "Image", Input(placeholder="nginx:1.27", id="image", compact=True, suggester=ImageSuggester(self)),
            "completes from the host's images and the configured registries (→ takes it)",
        )
        yield from self.field("Name (optional)", Input(placeholder="web", id="name", compact=True))
        yield from self.field(
            "Host",
            Select([(shown(self.named(h)), h.id) for h in hosts], value=self.host_id if self.host_id in host_ids else Select.NULL, id="host", compact=True),
        )
        yield from self.field(
            "Command (optional)", Input(placeholder="nginx -g 'daemon off;'", id="command", compact=True),
            "words as a shell splits them (quotes keep blanks), never run by a shell",
        )
        yield from self.field("Ports", Input(placeholder="80:80 8443:443/tcp", id="ports", compact=True), escape("[HOST:]CONTAINER[/tcp], several"))
        yield from self.field("Environment", Input(placeholder="KEY=VALUE MODE='two words'", id="env", compact=True))
        yield from self.field(
            "Volumes", Input(placeholder="data:/data  new-data:10:/srv:ro", id="volumes", compact=True),
            escape("VOLUME:/path[:ro] mounts one the host has; NAME:SIZE_GIB:/path makes a new one first"),
        )
        yield from self.field(
            "Restart policy",
            Select([(p, p) for p in validation.RESTART_POLICIES], value="no", allow_blank=False, id="restart", compact=True),
        )
        yield from self.field("Labels", Input(placeholder="app=web team=infra", id="labels", compact=True))

    def image_candidates(self) -> list[str]:
        host_id = self.choice("host")
        mine: list[str] = []
        others: list[str] = []
        for image in getattr(self.inventory, "host_images", {}).values():
            (mine if image.host_id == host_id else others).extend(image.repo_tags)
        prefixes = []
        config = getattr(self.app, "config", None)
        if config is not None and getattr(config, "registries", None):
            from ..registry_auth import server_of

            prefixes = sorted(f"{server_of(entry)}/" for entry in config.registries.values())
        return list(dict.fromkeys([*sorted(mine), *sorted(others), *prefixes]))

    def on_select_changed(self, event: Select.Changed) -> None:
        self.revalidate()

    def _parsed(self, field_id: str):
        """The field's values and the run request's parts made from them; InvalidInput names
        what is wrong."""
        from ..run_options import items, volume_mounts, words

        text = self.value(field_id)
        if field_id == "command":
            return words(text, "command")
        if field_id == "ports":
            return [validation.parse_port_mapping(p) for p in items(text)]
        if field_id == "env":
            return [validation.parse_env(e) for e in words(text, "environment")]
        if field_id == "labels":
            return [validation.parse_label(label) for label in words(text, "labels")]
        if field_id == "volumes":
            host = self.choice("host") or ""
            must_exist = self.app.backend.supports(Capability.VOLUMES_HOST_ATTACH)
            return volume_mounts(items(text), host, self.inventory, self.choice("host"), must_exist)
        raise KeyError(field_id)

    def problems(self) -> dict[str, str]:
        from backends.errors import InvalidInput

        problems: dict[str, str] = {}
        image = self.value("image")
        if (p := validation.image_ref_problem(image)):
            problems["image"] = p
        name = self.value("name")
        taken = {c.name for c in self.inventory.containers.values() if c.host_id == self.choice("host")}
        if name and (p := validation.container_name_problem(name)):
            problems["name"] = p
        elif name in taken:
            problems["name"] = f"a container named {name} already runs on that host"
        if self.choice("host") is None:
            problems["host"] = "choose a running host"
        for field_id in ("command", "ports", "env", "volumes", "labels"):
            try:
                self._parsed(field_id)
            except InvalidInput as err:
                problems[field_id] = str(err)
        return problems

    def spec(self) -> RunRequest:
        mounts, new = self._parsed("volumes")
        return RunRequest(
            ContainerSpec(
                image=self.value("image"),
                host=self.choice("host"),
                name=self.value("name") or None,
                command=tuple(self._parsed("command")),
                env=tuple(self._parsed("env")),
                ports=tuple(self._parsed("ports")),
                mounts=tuple(mounts),
                restart_policy=self.choice("restart"),
                labels=tuple(self._parsed("labels")),
            ),
            tuple(new),
        )
