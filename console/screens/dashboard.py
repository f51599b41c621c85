"""The dashboard: live Hosts, Containers and Volumes panes, the Tasks strip, the header and
a footer with the keys that apply now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Input

from backends.models import ContainerState
from widgets.key_bar import KeyBar
from widgets.resource_table import ResourceTable
from widgets.task_strip import TaskStrip

from .. import keymap
from ..render import container_columns, host_columns, volume_columns
from ..store import Drained
from .status import StatusHeader

KINDS = ("hosts", "containers", "volumes")
SHOWN_RUNNING = 5  # running containers named in the delete confirmation
TITLES = {"hosts": "Hosts", "containers": "Containers", "volumes": "Volumes"}


def running_warning(kind: str, items: list) -> str:
    """Containers are removed with force: the running ones are stopped first, say so."""
    if kind != "containers":
        return ""
    running = [c.name for c in items if c.state is ContainerState.RUNNING]
    if not running:
        return ""
    shown = ", ".join(running[:SHOWN_RUNNING]) + (f" and {len(running) - SHOWN_RUNNING} more" if len(running) > SHOWN_RUNNING else "")
    return f"{len(running)} running ({shown}): stopped and removed at once."


class Pane(Vertical):
    """A titled frame around one resource table."""

    def __init__(self, kind: str, table: ResourceTable) -> None:
        super().__init__(table, id=f"pane-{kind}", classes="pane")
        self.kind = kind
        self.table = table

    def retitle(self, narrowed_to: str | None) -> None:
        table = self.table
        count = f"{table.visible_count}" if table.visible_count == table.row_count else f"{table.visible_count}/{table.row_count}"
        title = f"{TITLES[self.kind]} ({count})"
        if narrowed_to and self.kind != "hosts":
            title += f" on {narrowed_to}"
        self.border_title = title
        notes = []
        if table.marked:
            notes.append(f"{len(table.marked)} marked")
        if table.filter_text:
            notes.append(f"filter {table.filter_text}")
        self.border_subtitle = "  ".join(notes)


class DashboardScreen(Screen):
    BINDINGS = keymap.DASHBOARD_BINDINGS

    def __init__(self) -> None:
        super().__init__()
        self.narrow_host: str | None = None
        self.zoomed: str | None = None
        self.current = "hosts"
        self.prompt_mode: str | None = None  # "filter" or "command" while the prompt is open

    def compose(self) -> ComposeResult:
        host_name = self.app.store.host_name
        yield StatusHeader(id="status")
        with Horizontal(id="top"):
            yield Pane("hosts", ResourceTable(host_columns(self.app.store.node_name), id="hosts", empty_text="No hosts"))
            yield Pane("volumes", ResourceTable(volume_columns(host_name), id="volumes", empty_text="No volumes"))
        yield Pane("containers", ResourceTable(container_columns(host_name), id="containers", empty_text="No containers"))
        yield TaskStrip(id="tasks", clock=self.app.store.clock)
        yield Input(id="prompt")
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#prompt").display = False
        self.table("hosts").focus()
        if self.app.store.loaded:
            self.reload()
        else:
            for kind in KINDS:
                self.table(kind).set_loading("Loading…")
        self.retitle()

    # -- data -------------------------------------------------------------------------------

    def table(self, kind: str) -> ResourceTable:
        return self.query_one(f"#{kind}", ResourceTable)

    def pane(self, kind: str) -> Pane:
        return self.query_one(f"#pane-{kind}", Pane)

    def _belongs(self, item) -> bool:
        return self.narrow_host is None or item.host_id == self.narrow_host

    def reload(self, kinds=KINDS) -> None:
        inventory = self.app.store.inventory
        for kind in kinds:
            items = inventory.of(kind).values()
            if kind != "hosts" and self.narrow_host is not None:
                items = [i for i in items if i.host_id == self.narrow_host]
            self.table(kind).set_rows(items)
        self.query_one(TaskStrip).update_tasks(t for t in inventory.tasks.values() if not t.done)

    def apply_changes(self, drained: Drained) -> None:
        if drained.resynced:
            self.reload()
        else:
            for kind in KINDS:
                if not drained.touched(kind):
                    continue
                upserts = drained.upserts.get(kind, {}).values()
                deletes = set(drained.deletes.get(kind, ()))
                if kind != "hosts":
                    kept = []
                    for item in upserts:
                        (kept.append(item) if self._belongs(item) else deletes.add(item.id))
                    upserts = kept
                self.table(kind).apply(list(upserts), deletes)
            if drained.touched("tasks"):
                self.query_one(TaskStrip).update_tasks(drained.upserts.get("tasks", {}).values())
        self.retitle()
        self.refresh_status()

    def refresh_status(self) -> None:
        self.query_one(StatusHeader).refresh_status()

    def stats_wanted(self) -> list[str]:
        """The containers whose CPU / memory the user sees now: the rows in view."""
        return self.table("containers").ids_in_view

    def retitle(self) -> None:
        narrowed = self.app.store.host_name(self.narrow_host) if self.narrow_host else None
        for kind in KINDS:
            self.pane(kind).retitle(narrowed)

    # -- focus, zoom, narrowing -------------------------------------------------------------

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, ResourceTable) and event.widget.id in KINDS:
            self._set_current(event.widget.id)

    def _set_current(self, kind: str) -> None:
        self.current = kind
        for other in KINDS:
            self.pane(other).set_class(other == kind, "current")
        self.refresh_bindings()

    def on_resource_table_marks_changed(self, message: ResourceTable.MarksChanged) -> None:
        self.retitle()

    def show_pane(self, kind: str) -> None:
        # Now, not when the focus event arrives: a key pressed right after must see it.
        self._set_current(kind)
        if self.zoomed is not None:
            self.zoomed = kind
            self._apply_zoom()
        self.set_focus(self.table(kind))

    def _cycle(self, step: int) -> None:
        index = (KINDS.index(self.current) + step) % len(KINDS)
        self.show_pane(KINDS[index])

    def action_next_pane(self) -> None:
        self._cycle(1)

    def action_previous_pane(self) -> None:
        self._cycle(-1)

    def action_zoom(self) -> None:
        self.zoomed = None if self.zoomed else self.current
        self._apply_zoom()

    def _apply_zoom(self) -> None:
        for kind in KINDS:
            self.pane(kind).display = self.zoomed in (None, kind)
        self.query_one("#top").display = self.zoomed in (None, "hosts", "volumes")
        self.set_class(self.zoomed is not None, "zoomed")

    def action_narrow(self) -> None:
        host_id = self.table("hosts").cursor_id
        self.narrow_host = None if self.narrow_host == host_id else host_id
        self.reload(("containers", "volumes"))
        self.retitle()

    def action_sort(self) -> None:
        self.table(self.current).cycle_sort()

    # -- the prompt: `/` filter and `:` commands ----------------------------------------------

    def action_filter(self) -> None:
        self._open_prompt("filter", self.table(self.current).filter_text, f"filter {TITLES[self.current]}: text or /regex/")

    def open_command_line(self) -> None:
        self._open_prompt("command", "", ":hosts :containers :volumes :tasks :events :quit")

    def _open_prompt(self, mode: str, value: str, placeholder: str) -> None:
        prompt = self.query_one("#prompt", Input)
        self.prompt_mode = mode
        prompt.placeholder = placeholder
        prompt.value = value
        prompt.border_title = "/" if mode == "filter" else ":"
        prompt.display = True
        self.set_focus(prompt)  # at once: letters typed right after `/` belong to the prompt

    def _close_prompt(self) -> None:
        prompt = self.query_one("#prompt", Input)
        prompt.display = False
        self.prompt_mode = None
        self.set_focus(self.table(self.current))

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "prompt" and self.prompt_mode == "filter":
            self.table(self.current).set_filter(event.value)
            self.retitle()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id != "prompt":
            return
        mode = self.prompt_mode
        self._close_prompt()
        if mode == "command":
            self.app.run_command(event.value)

    def action_clear(self) -> None:
        """escape: close the prompt, else clear the filter, the marks, the narrowing, the zoom."""
        table = self.table(self.current)
        if self.prompt_mode is not None:
            if self.prompt_mode == "filter":
                table.set_filter("")
            self._close_prompt()
        elif table.filter_text:
            table.set_filter("")
        elif table.marked:
            table.clear_marks()
        elif self.narrow_host is not None:
            self.narrow_host = None
            self.reload(("containers", "volumes"))
        elif self.zoomed is not None:
            self.action_zoom()
        self.retitle()

    # -- what applies now -------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if isinstance(self.focused, Input) and action not in keymap.WHILE_TYPING:
            return False
        backend = self.app.backend
        if action in keymap.MUTATING and backend.read_only:
            return False
        need = keymap.NEEDS.get(action)
        if need is not None and not backend.supports(need):
            return False
        pane = keymap.PANE_OF.get(action)
        if pane is not None and pane != self.current:
            return False
        if action == "delete":
            return backend.supports(keymap.DELETE_NEEDS[self.current])
        if action == "shell":
            need = keymap.SHELL_NEEDS.get(self.current)
            return need is not None and backend.supports(need)
        return True

    # -- actions on items -------------------------------------------------------------------

    def chosen(self, kind: str | None = None) -> list:
        """The marked items of a pane, else the one under its cursor."""
        kind = kind or self.current
        table = self.table(kind)
        items = table.rows_by_id
        ids = [i for i in table.marked if i in items] or ([table.cursor_id] if table.cursor_id else [])
        return sorted((items[i] for i in ids), key=lambda item: item.name)

    def focused_host_id(self) -> str | None:
        if self.current == "hosts":
            return self.table("hosts").cursor_id
        if self.narrow_host:
            return self.narrow_host
        row = self.table(self.current).cursor_row
        return getattr(row, "host_id", None)

    def on_resource_table_selected(self, message: ResourceTable.Selected) -> None:
        if message.table.id in KINDS:
            self.app.open_details(message.table.id, message.row_id)

    def action_create_host(self) -> None:
        from .forms import CreateHostForm

        self.app.push_screen(CreateHostForm())

    def action_attach_volume(self) -> None:
        from .forms import AttachVolumeForm

        volume = self.table("volumes").cursor_row if self.current == "volumes" else None
        container = self.table("containers").cursor_row if self.current == "containers" else None
        self.app.push_screen(
            AttachVolumeForm(
                host_id=self.focused_host_id(),
                volume_id=volume.id if volume else None,
                container_id=container.id if container else None,
            )
        )

    def action_run_container(self) -> None:
        from .forms import RunContainerForm

        self.app.push_screen(RunContainerForm(host_id=self.focused_host_id()))

    def action_upgrade(self) -> None:
        from .upgrade import UpgradeScreen

        table = self.table("hosts")
        marked = [i for i in table.marked if i in table.rows_by_id]
        self.app.push_screen(UpgradeScreen(marked))

    def action_delete(self) -> None:
        from .confirm import ConfirmDelete

        kind = self.current
        items = self.chosen(kind)
        if not items:
            self.notify(f"no {kind} chosen", severity="warning")
            return

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self.app.delete_items(kind, items)
                self.table(kind).clear_marks()

        self.app.push_screen(ConfirmDelete(kind, [i.name for i in items], running_warning(kind, items)), done)

    def _lifecycle(self, verb: str) -> None:
        backend = self.app.backend
        method = {"start": backend.start_container, "stop": backend.stop_container, "restart": backend.restart_container}[verb]
        for container in self.chosen("containers"):
            self.app.start_action(f"{verb} {container.name}", lambda c=container: method(c.id))

    def action_start_container(self) -> None:
        self._lifecycle("start")

    def action_stop_container(self) -> None:
        self._lifecycle("stop")

    def action_restart_container(self) -> None:
        self._lifecycle("restart")

    def action_logs(self) -> None:
        container = self.table("containers").cursor_row
        if container is not None:
            self.app.open_logs(container.id)

    def action_shell(self) -> None:
        row_id = self.table(self.current).cursor_id
        if row_id is not None:
            self.app.open_shell(self.current[:-1], row_id)
