"""The Columns dialog: which columns a pane shows. Closed with the set of columns to hide
(enter) or with nothing (escape); the dashboard applies it and the preferences remember it."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import SelectionList, Static
from textual.widgets.selection_list import Selection

from widgets.resource_table import ResourceTable

from ..presenters.base import ALWAYS_SHOWN

DIALOG_WIDTH = 56


class ColumnsScreen(ModalScreen["frozenset[str] | None"]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="columns.cancel"),
        # Before the list's own enter (a toggle there, as space is): enter closes the dialog.
        Binding("enter", "apply", "Apply", id="columns.apply", priority=True),
    ]

    def __init__(self, title: str, table: ResourceTable) -> None:
        super().__init__(classes="form-screen")
        self.title_text = title
        self.columns = list(table.columns)
        self.hidden = table.hidden_columns

    def compose(self) -> ComposeResult:
        with Vertical(classes="form", id="columns"):
            yield Static(f"Columns of {self.title_text}", classes="form-title", markup=False)
            # NAME (and a fleet's CONTEXT) are listed but cannot be unticked: a row must say
            # what and where it is.
            yield SelectionList[str](*(
                Selection(Text(column.title), column.key, column.key not in self.hidden, disabled=column.key in ALWAYS_SHOWN)
                for column in self.columns
            ))
            yield Static("space: show or hide · enter: apply · escape: cancel", classes="hint")

    def on_mount(self) -> None:
        self.query_one("#columns").styles.width = DIALOG_WIDTH  # a short list: not a form's width
        self.query_one(SelectionList).focus()

    def chosen_hidden(self) -> frozenset[str]:
        shown = set(self.query_one(SelectionList).selected)
        return frozenset(c.key for c in self.columns if c.key not in shown and c.key not in ALWAYS_SHOWN)

    def action_apply(self) -> None:
        self.app.close_screen(self, self.chosen_hidden())

    def action_cancel(self) -> None:
        self.app.close_screen(self, None)
