"""The confirmation before anything is deleted: it names how many and which."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from widgets.terminal_text import visible

SHOWN_NAMES = 12  # names listed in full; the rest are counted


def question(kind: str, names: list[str], verb: str | None = None) -> str:
    noun = kind if len(names) != 1 else kind[:-1]
    verb = verb or ("Remove" if kind in ("containers", "services", "secrets", "configs") else "Delete")
    listed = ", ".join(visible(name) for name in names[:SHOWN_NAMES])  # names are data
    if len(names) > SHOWN_NAMES:
        listed += f" and {len(names) - SHOWN_NAMES} more"
    return f"{verb} {len(names)} {noun}: {listed}?"


class ConfirmDelete(ModalScreen[bool]):
    BINDINGS = [
        Binding("escape,n", "cancel", "Cancel", id="confirm.cancel"),
        Binding("y", "confirm", "Delete", id="confirm.yes"),
    ]

    def __init__(
        self, kind: str, names: list[str], warning: str = "", *, impact: list[str] | None = None,
        verb: str | None = None, undoable: bool = False,
    ) -> None:
        super().__init__(classes="form-screen")
        self.kind = kind
        self.names = names
        self.warning = warning  # what else happens, said before it does
        self.impact = impact or []  # what goes down with it (backends.blast), worst first
        self.verb = verb  # "Power off", "Drain"…; None: delete or remove
        self.undoable = undoable

    def compose(self) -> ComposeResult:
        with Vertical(classes="form", id="confirm"):
            # markup=False: a name like "[red]x" is shown as it is, not read as markup.
            yield Static(question(self.kind, self.names, self.verb), classes="form-title", id="question", markup=False)
            if self.warning:
                yield Static(visible(self.warning), classes="error", id="warning", markup=False)
            if self.impact:
                shown = self.impact[:SHOWN_NAMES] + ([f"and {len(self.impact) - SHOWN_NAMES} more lines"] if len(self.impact) > SHOWN_NAMES else [])
                yield Static("\n".join(visible(line) for line in shown), id="impact", markup=False,
                             classes="error" if self.impact[0].startswith("OUTAGE") else "")
            if not self.undoable:
                yield Static("This cannot be undone.", classes="hint")
            with Horizontal(classes="buttons"):
                yield Button("Cancel", id="cancel")
                yield Button(self.verb or question(self.kind, ["x"]).split()[0], id="delete", variant="error")

    def on_mount(self) -> None:
        self.query_one("#cancel", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.app.close_screen(self, event.button.id == "delete")

    def action_cancel(self) -> None:
        self.app.close_screen(self, False)

    def action_confirm(self) -> None:
        self.app.close_screen(self, True)
