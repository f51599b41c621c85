"""`:tasks` and `:events`: every task (with pause, resume and abort) and the recent events."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Input

from backends.contract import Capability
from widgets.key_bar import KeyBar
from widgets.prompt_input import PromptInput
from widgets.resource_table import ResourceTable

from ..presenters import events, tasks
from ..store import Drained
from .status import StatusHeader
from .live import Live


class ListScreen(Live, Screen):
    KIND = ""
    BINDINGS = [Binding("escape", "back", "Back", id="list.back"), Binding("slash", "filter", "Filter", id="list.filter")]

    def compose(self) -> ComposeResult:
        yield StatusHeader(id="status")
        yield ResourceTable(self.columns(), id=self.KIND, empty_text=f"No {self.KIND}")
        yield PromptInput(placeholder="filter: text or /regex/", id="prompt")  # typing lays nothing out
        yield KeyBar()

    def columns(self):
        raise NotImplementedError

    def on_mount(self) -> None:
        table = self.query_one(ResourceTable)
        table.set_rows(self.app.store.inventory.of(self.KIND).values())
        table.sort_by(self.SORT, reverse=True)
        table.focus()
        self.query_one("#prompt").display = False

    def apply_changes(self, drained: Drained) -> None:
        if drained.resynced:
            self.query_one(ResourceTable).set_rows(self.app.store.inventory.of(self.KIND).values())
        elif drained.touched(self.KIND):
            self.query_one(ResourceTable).apply(
                list(drained.upserts.get(self.KIND, {}).values()), drained.deletes.get(self.KIND, ())
            )
        self.refresh_status()

    def refresh_status(self) -> None:
        self.query_one(StatusHeader).refresh_status()

    def action_back(self) -> None:
        prompt = self.query_one("#prompt", Input)
        if prompt.display:
            self.query_one(ResourceTable).set_filter("")
            self._close_prompt()
            return
        self.app.close_screen(self)

    def action_filter(self) -> None:
        prompt = self.query_one("#prompt", Input)
        prompt.value = self.query_one(ResourceTable).filter_text
        prompt.display = True
        prompt.focus()

    def _close_prompt(self) -> None:
        self.query_one("#prompt").display = False
        self.query_one(ResourceTable).focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one(ResourceTable).set_filter(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self._close_prompt()


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
