"""The screens of one live table (``ListScreen``), and `:tasks` and `:events` on it: every task
(with pause, resume and abort) and the recent events."""

from __future__ import annotations

from typing import Any, Iterable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input, Static

from backends.contract import Capability
from widgets.key_bar import KeyBar
from widgets.prompt_input import PromptInput
from widgets.resource_table import ResourceTable

from ..presenters import events, tasks
from ..presenters.base import shown
from ..store import Drained
from .status import StatusHeader
from .live import Live


class ListScreen(Live, Screen):
    """A screen of one table that follows the inventory: filtered with /, closed with escape,
    optionally sorted with o (a subclass lists ``SORT_BINDING``) and headed by a title line.

    Its rows are the items of ``KIND`` (``rows()``), patched from each drained batch; a screen
    whose rows are worked out from other kinds too (a project's use from its hosts) names
    them in ``DEPENDS`` and its rows are worked out again when any of them changes.
    """

    KIND = ""
    SORT: str | None = None
    SORT_REVERSE = True
    DEPENDS: tuple[str, ...] = ()  # other kinds the rows are worked out from
    BINDINGS = [Binding("escape", "back", "Back", id="list.back"), Binding("slash", "filter", "Filter", id="list.filter")]
    SORT_BINDING = Binding("o", "sort", "Sort", id="list.sort", tooltip="Sort by the next column (or click a column title)")

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        if self.title_text() is not None:
            yield Static("", id="list-title")
        yield ResourceTable(self.columns(), id=self.KIND, empty_text=self.empty_text())
        yield PromptInput(placeholder="filter: text or /regex/", id="prompt")  # typing lays nothing out
        yield KeyBar()

    def columns(self):
        raise NotImplementedError

    def rows(self) -> Iterable[Any]:
        """What the table shows, from the store's inventory."""
        return self.app.store.inventory.of(self.KIND).values()

    def keep(self, row: Any) -> bool:
        """Whether a changed item of ``KIND`` belongs on this screen (all do by default)."""
        return True

    def title_text(self) -> str | None:
        """The line above the table (data: shown through ``shown``); None: no line."""
        return None

    def empty_text(self) -> str:
        return f"No {self.KIND}"

    def on_mount(self) -> None:
        title = self.title_text()
        if title is not None:
            self.query_one("#list-title", Static).update(shown(title))
        table = self.query_one(ResourceTable)
        table.set_rows(self.rows())
        if self.SORT is not None:
            table.sort_by(self.SORT, reverse=self.SORT_REVERSE)
        table.focus()
        self.query_one("#prompt").display = False

    def apply_changes(self, drained: Drained) -> None:
        table = self.query_one(ResourceTable)
        if self.DEPENDS and (drained.resynced or any(drained.touched(k) for k in (self.KIND, *self.DEPENDS))):
            # Worked out again whole; only the rows that differ are patched (and redrawn).
            rows = list(self.rows())
            shown_now = table.rows_by_id
            changed = [row for row in rows if shown_now.get(row.id) != row]
            gone = set(shown_now) - {row.id for row in rows}
            if changed or gone:
                table.apply(changed, gone)
        elif drained.resynced:
            table.set_rows(self.rows())
        elif drained.touched(self.KIND):
            # A delete of an item the screen does not show is no row of its table anyway.
            upserts = [row for row in drained.upserts.get(self.KIND, {}).values() if self.keep(row)]
            table.apply(upserts, drained.deletes.get(self.KIND, ()))
        self.refresh_status()

    def refresh_status(self) -> None:
        self.query_one(StatusHeader).refresh_status()

    command_mode = False  # the prompt takes a `:` command, not a filter

    def action_back(self) -> None:
        prompt = self.query_one("#prompt", Input)
        if prompt.display:
            if not self.command_mode:
                self.query_one(ResourceTable).set_filter("")
            self._close_prompt()
            return
        self.app.close_screen(self)

    def action_filter(self) -> None:
        self._open_prompt(False, self.query_one(ResourceTable).filter_text, "filter: text or /regex/")

    def open_command_line(self) -> None:
        """`:` here as on the dashboard: one view to the next without going back first."""
        self._open_prompt(True, "", ":hosts :projects :nodes :networks :tasks :events :quit")

    def _open_prompt(self, command: bool, value: str, placeholder: str) -> None:
        prompt = self.query_one("#prompt", Input)
        self.command_mode = command
        prompt.placeholder = placeholder
        prompt.value = value
        prompt.border_title = ":" if command else "/"
        prompt.display = True
        prompt.focus()

    def action_sort(self) -> None:
        self.query_one(ResourceTable).cycle_sort()

    def _close_prompt(self) -> None:
        self.query_one("#prompt").display = False
        self.query_one(ResourceTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if not self.command_mode:
            self.query_one(ResourceTable).set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._close_prompt()
        if self.command_mode and event.value.strip():
            self.app.run_command(event.value)


class TasksScreen(ListScreen):
    KIND = "tasks"
    SORT = "created_at"
    BINDINGS = ListScreen.BINDINGS + [
        Binding("p", "control('pause')", "Pause", id="tasks.pause"),
        Binding("r", "control('resume')", "Resume", id="tasks.resume"),
        Binding("x", "control('abort')", "Abort", id="tasks.abort"),
    ]

    def columns(self):
        return tasks.columns()

    def check_action(self, action: str, parameters) -> bool | None:
        if action == "control":
            return self.app.backend.supports(Capability.TASKS_CONTROL) and not self.app.backend.read_only
        return True

    def action_control(self, verb: str) -> None:
        task_id = self.query_one(ResourceTable).cursor_id
        if task_id is not None:
            self.app.control_task(task_id, verb)


class EventsScreen(ListScreen):
    KIND = "events"
    SORT = "time"

    def columns(self):
        return events.columns()
