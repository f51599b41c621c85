"""The dashboard: live Hosts, Containers and Volumes panes (and Services and Secrets where the
backend is a swarm), the Tasks strip, the header and a footer with the keys that apply now."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.binding import BindingsMap
from textual.screen import Screen
from textual.widgets import Input

from backends.contract import Capability
from backends.models import ContainerState
from widgets.key_bar import KeyBar
from widgets.prompt_input import PromptInput
from widgets.resource_table import ResourceTable
from widgets.task_strip import TaskStrip

from .. import actions, keymap
from ..presenters import containers, hosts, secrets, services, tasks, volumes
from ..presenters.base import several_contexts, shown, with_context
from ..store import Drained
from .status import StatusHeader
from .live import Live

KINDS = ("hosts", "containers", "volumes")
# A swarm's panes, after the others in the tab order, each shown when the backend has its
# capability (no other backend does: nothing changes there).
SWARM_KINDS = {"services": Capability.SERVICES, "secrets": Capability.SECRETS}
NARROWED = ("containers", "volumes")  # the panes `n` narrows to a host (services span nodes)
SHOWN_RUNNING = 5  # running containers named in the delete confirmation
TITLES = {"hosts": "Hosts", "containers": "Containers", "volumes": "Volumes", "services": "Services", "secrets": "Secrets"}


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
        count = f"{table.visible_count:,}" if table.visible_count == table.row_count else f"{table.visible_count:,}/{table.row_count:,}"
        loading = self.app.store.loading
        if loading is not None and loading.kind == self.kind:
            # A paged snapshot still coming in: how many so far, of how many where known.
            count = f"{table.row_count:,}" + (f" of {loading.total:,}" if loading.total is not None else "") + " loading…"
        title = f"{TITLES[self.kind]} ({count})"
        if narrowed_to and self.kind in NARROWED:
            title += f" on {narrowed_to}"
        # Text, not str: a str title is read as markup, and a host's name or the typed filter
        # ("[b]x") are to be shown as they are.
        self.border_title = shown(title)
        notes = []
        if table.marked:
            notes.append(f"{len(table.marked)} marked")
        if table.filter_text:
            notes.append(f"filter {table.filter_text}")
        self.border_subtitle = shown("  ".join(notes))


def user_bindings(commands: list) -> list:
    """A binding per command of the config's [[commands]] (checked against the built-in keys
    at start: console.user_commands.check_keys)."""
    from textual.binding import Binding

    bindings = []
    for index, command in enumerate(commands):
        keymap.GROUP_OF[command.binding_id] = "Your commands"
        bindings.append(Binding(command.key, f"user_command({index})", command.name, show=False, id=command.binding_id,
                                tooltip=command.describe()))
    return bindings


class DashboardScreen(Live, Screen):
    BINDINGS = keymap.VIEW_BINDINGS

    def __init__(self) -> None:
        super().__init__()
        # The view keys and every action's keys, made when the screen is: the actions are
        # records (console.actions), and a record added there is a key here.
        self._bindings = BindingsMap(keymap.dashboard_bindings() + user_bindings(self.user_commands))
        self.narrow_host: str | None = None
        self.zoomed: str | None = None
        self.current = "hosts"
        self.prompt_mode: str | None = None  # "filter" or "command" while the prompt is open
        self.kinds: tuple[str, ...] = KINDS  # the panes shown, in tab order (set in compose)

    def compose(self) -> ComposeResult:
        host_name = self.app.store.host_name
        backend = self.app.backend
        swarm = tuple(kind for kind, need in SWARM_KINDS.items() if backend.supports(need))
        self.kinds = KINDS + swarm
        # Several contexts open (backends/fleet.py): every pane says each row's context.
        several = several_contexts(backend)
        yield StatusHeader(id="status")
        with Horizontal(id="top"):
            yield Pane("hosts", ResourceTable(with_context(hosts.columns(self.app.store.node_name), several), id="hosts", empty_text="No hosts"))
            yield Pane("volumes", ResourceTable(with_context(volumes.columns(host_name), several), id="volumes", empty_text="No volumes"))
        if swarm:
            with Horizontal(id="swarm"):
                if "services" in swarm:
                    yield Pane("services", ResourceTable(with_context(services.columns(), several), id="services", empty_text="No services"))
                if "secrets" in swarm:
                    yield Pane("secrets", ResourceTable(with_context(secrets.columns(), several), id="secrets", empty_text="No secrets"))
        yield Pane("containers", ResourceTable(with_context(containers.columns(host_name), several), id="containers", empty_text="No containers"))
        yield TaskStrip(id="tasks", clock=self.app.store.clock)
        yield PromptInput(id="prompt")  # typing lays nothing out: see widgets/prompt_input.py
        yield KeyBar()

    def on_mount(self) -> None:
        self.query_one("#prompt").display = False
        self.table("hosts").focus()
        if self.app.store.loaded:
            self.reload()
        else:
            for kind in self.kinds:
                self.table(kind).set_loading("Loading…")
        self.retitle()

    # -- data -------------------------------------------------------------------------------

    def table(self, kind: str) -> ResourceTable:
        return self.query_one(f"#{kind}", ResourceTable)

    def pane(self, kind: str) -> Pane:
        return self.query_one(f"#pane-{kind}", Pane)

    def _belongs(self, item) -> bool:
        return self.narrow_host is None or item.host_id == self.narrow_host

    def _rows_of(self, kind: str):
        inventory = self.app.store.inventory
        if kind == "secrets":
            return secrets.pane_rows(inventory)  # each with the services that use it
        return inventory.of(kind).values()

    def reload(self, kinds=None) -> None:
        inventory = self.app.store.inventory
        for kind in self.kinds if kinds is None else kinds:
            items = self._rows_of(kind)
            if kind in NARROWED and self.narrow_host is not None:
                items = [i for i in items if i.host_id == self.narrow_host]
            self.table(kind).set_rows(items)
        self.query_one(TaskStrip).update_tasks(tasks.strip_entry(t) for t in inventory.tasks.values() if not t.done)

    def apply_changes(self, drained: Drained) -> None:
        if drained.resynced:
            self.reload()
        else:
            for kind in self.kinds:
                if kind == "secrets":
                    self._patch_secrets(drained)
                    continue
                if not drained.touched(kind):
                    continue
                upserts = drained.upserts.get(kind, {}).values()
                deletes = set(drained.deletes.get(kind, ()))
                if kind in NARROWED:
                    kept = []
                    for item in upserts:
                        (kept.append(item) if self._belongs(item) else deletes.add(item.id))
                    upserts = kept
                self.table(kind).apply(list(upserts), deletes)
            if drained.touched("tasks"):
                self.query_one(TaskStrip).update_tasks(tasks.strip_entry(t) for t in drained.upserts.get("tasks", {}).values())
        self.retitle()
        self.refresh_status()

    def _patch_secrets(self, drained: Drained) -> None:
        """A secret's row names the services that use it: it changes with them too. Only the
        rows that differ are patched (a handful of secrets: all are compared)."""
        if not (drained.touched("secrets") or drained.touched("services")):
            return
        table = self.table("secrets")
        shown_now = table.rows_by_id
        rows = secrets.pane_rows(self.app.store.inventory)
        changed = [row for row in rows if shown_now.get(row.id) != row]
        gone = set(shown_now) - {row.id for row in rows}
        if changed or gone:
            table.apply(changed, gone)

    def refresh_status(self) -> None:
        self.query_one(StatusHeader).refresh_status()

    def stats_wanted(self) -> list[str]:
        """The containers whose CPU / memory the user sees now: the rows in view."""
        return self.table("containers").ids_in_view

    def retitle(self) -> None:
        narrowed = self.app.store.host_name(self.narrow_host) if self.narrow_host else None
        for kind in self.kinds:
            self.pane(kind).retitle(narrowed)

    # -- focus, zoom, narrowing -------------------------------------------------------------

    def on_descendant_focus(self, event) -> None:
        if isinstance(event.widget, ResourceTable) and event.widget.id in self.kinds:
            self._set_current(event.widget.id)

    def _set_current(self, kind: str) -> None:
        self.current = kind
        for other in self.kinds:
            self.pane(other).set_class(other == kind, "current")
        self.refresh_bindings()

    def on_resource_table_marks_changed(self, message: ResourceTable.MarksChanged) -> None:
        self.retitle()

    def on_resource_table_order_changed(self, message: ResourceTable.OrderChanged) -> None:
        self.retitle()  # a filter made between frames is done: the panes' counts are final

    def show_pane(self, kind: str) -> None:
        # Now, not when the focus event arrives: a key pressed right after must see it.
        self._set_current(kind)
        if self.zoomed is not None:
            self.zoomed = kind
            self._apply_zoom()
        self.set_focus(self.table(kind))

    def _cycle(self, step: int) -> None:
        index = (self.kinds.index(self.current) + step) % len(self.kinds)
        self.show_pane(self.kinds[index])

    def action_next_pane(self) -> None:
        self._cycle(1)

    def action_previous_pane(self) -> None:
        self._cycle(-1)

    def action_zoom(self) -> None:
        self.zoomed = None if self.zoomed else self.current
        self._apply_zoom()

    def _apply_zoom(self) -> None:
        for kind in self.kinds:
            self.pane(kind).display = self.zoomed in (None, kind)
        self.query_one("#top").display = self.zoomed in (None, "hosts", "volumes")
        for row in self.query("#swarm"):
            row.display = self.zoomed in (None, "services", "secrets")
        self.set_class(self.zoomed is not None, "zoomed")

    def narrow(self) -> None:
        host_id = self.table("hosts").cursor_id
        self.narrow_host = None if self.narrow_host == host_id else host_id
        self.reload(NARROWED)
        self.retitle()

    def action_sort(self) -> None:
        self.table(self.current).cycle_sort()

    def action_columns(self) -> None:
        """The Columns dialog for the pane in focus; what it closes with is hidden at once
        (and remembered: console/preferences.py looks at the tables)."""
        from .columns import ColumnsScreen

        kind = self.current

        def done(hidden: frozenset[str] | None) -> None:
            if hidden is not None:
                self.table(kind).set_hidden_columns(hidden)

        self.app.open_screen(ColumnsScreen(TITLES[kind], self.table(kind)), done)

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
            self.reload(NARROWED)
        elif self.zoomed is not None:
            self.action_zoom()
        self.retitle()

    # -- what applies now -------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        typing = isinstance(self.focused, Input)
        if action == "user_command":  # your own commands ([[commands]]): on their pane only
            command = self.user_commands[int(parameters[0])] if parameters else None  # type: ignore[call-overload]
            return not typing and command is not None and command.pane == self.current
        if action == "act":
            record = actions.by_id().get(str(parameters[0])) if parameters else None
            if record is None or (typing and not record.while_typing):
                return False
            return actions.allowed(record, self.app.backend, self.current)
        return not typing or action in keymap.WHILE_TYPING

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
        if message.table.id in self.kinds:
            self.app.open_details(message.table.id, message.row_id)

    def context(self) -> actions.FormContext:
        """What a form starts from: the pane, the host in focus, the item under each cursor."""
        return actions.FormContext(
            pane=self.current,
            host_id=self.focused_host_id(),
            cursor_ids={kind: self.table(kind).cursor_id for kind in self.kinds},
            marked_ids={kind: tuple(self.table(kind).marked) for kind in self.kinds},
        )

    def action_act(self, action_id: str) -> None:
        """Carry out a registered action (``console.actions``) on what the user chose."""
        record = actions.get(action_id)
        if not actions.allowed(record, self.app.backend, self.current):
            return  # its key arrived after the pane or the mode changed
        if record.ui is not None:
            getattr(self, record.ui)()
        elif record.form is not None:
            self.app.open_form(record, self.context())
        else:
            self._on_items(record)

    def _on_items(self, record: actions.Action) -> None:
        kind = self.current
        items = self.chosen(kind)
        if not items:
            self.notify(f"no {kind} chosen", severity="warning")
            return
        lines: list[str] = []
        ask = record.destructive
        if (action := record.impact_on(kind)) is not None:
            from backends.blast import impact

            found = impact(self.app.store.inventory, kind, [i.id for i in items], action)
            lines = found.lines()
            ask = ask or found.needs_confirmation
        if not ask:
            self.app.run_on_items(record, kind, items)
            return
        from .confirm import ConfirmDelete

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self.app.run_on_items(record, kind, items)
                self.table(kind).clear_marks()

        warning = running_warning(kind, items) or self._swarm_warning(kind, items)
        verb = None if record.destructive else record.title
        self.app.open_screen(
            ConfirmDelete(kind, [i.name for i in items], warning, impact=lines, verb=verb, undoable=not record.destructive),
            done,
        )

    def _swarm_warning(self, kind: str, items: list) -> str:
        """What else a removal does, or why the swarm will refuse it, said before it is sent."""
        if kind == "services":
            count = sum(i.replicas_running for i in items)
            return f"{count} running task{'s' if count != 1 else ''} stopped and removed with {'it' if len(items) == 1 else 'them'}." if count else ""
        if kind == "secrets":
            used = [f"{i.name} (by {', '.join(i.services)})" for i in items if i.services]
            return f"in use, refused by the swarm: {'; '.join(used)}" if used else ""
        return ""

    def open_upgrade(self) -> None:
        from .upgrade import UpgradeScreen

        table = self.table("hosts")
        marked = [i for i in table.marked if i in table.rows_by_id]
        self.app.open_screen(UpgradeScreen(marked))

    def open_logs(self) -> None:
        """The logs of the chosen containers; on Hosts, of every container on the chosen hosts;
        on Services, of every task of the chosen services."""
        kind = self.current if self.current in ("hosts", "services") else "containers"
        chosen = self.chosen(kind)
        if not chosen:
            return
        containers = self.app.store.inventory.containers.values()
        if kind == "containers":
            ids = [c.id for c in chosen]
        elif kind == "hosts":
            hosts = {h.id for h in chosen}
            ids = [c.id for c in sorted(containers, key=lambda c: c.name) if c.host_id in hosts]
        else:
            services = {s.name for s in chosen}
            ids = [c.id for c in sorted(containers, key=lambda c: c.name) if c.service in services]
        if not ids:
            self.notify(f"no containers on {', '.join(i.name for i in chosen)}", severity="warning", markup=False)
            return
        if kind == "containers" and len(ids) == 1:
            self.app.open_logs(ids[0])
            return
        names = "" if kind == "containers" else ", ".join(i.name for i in chosen[:3]) + (" …" if len(chosen) > 3 else "") + " "
        self.app.open_logs(ids, f"{names}({len(ids)} containers)")

    @property
    def user_commands(self) -> list:
        return list(getattr(self.app, "user_commands", None) or [])

    def action_user_command(self, index: int) -> None:
        """One of your own commands on the item under the cursor of its pane."""
        from ..user_commands import values_for

        command = self.user_commands[index]
        item = self.table(command.pane).cursor_row if command.pane in self.kinds else None
        if item is None:
            self.notify(f"{command.name}: no {command.scope} under the cursor", severity="warning")
            return
        context = self.app.settings.context or getattr(self.app.backend, "label", "") or ""
        self.app.run_user_command(command, values_for(command.pane, item, self.app.store.inventory, context), item.name)

    def open_app_logs(self) -> None:
        """Every replica of the application under the cursor (backends.blast.application_of)."""
        from backends.blast import application_of

        container = self.table("containers").cursor_row
        if container is None:
            return
        app = application_of(container)
        ids = [c.id for c in sorted(self.app.store.inventory.containers.values(), key=lambda c: c.name)
               if application_of(c) == app]
        self.app.open_logs(ids, f"application {app} ({len(ids)} containers)")

    def open_images(self) -> None:
        # None (no row under the cursor yet): the app says to choose a host.
        self.app.open_images(self.table("hosts").cursor_id)

    def open_shell(self) -> None:
        row_id = self.table(self.current).cursor_id
        if row_id is not None:
            self.app.open_shell(self.current[:-1], row_id)
