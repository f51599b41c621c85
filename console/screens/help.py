"""`?`: every binding, generated from the Binding objects themselves (with the user's remaps)."""

from __future__ import annotations

from typing import Mapping

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from widgets.resource_table import ResourceTable
from widgets.terminal_text import visible

from .. import keymap


def all_bindings() -> list[Binding]:
    """Every binding a user can press on the dashboard, in groups."""
    table_bindings = [b for b in ResourceTable.BINDINGS if isinstance(b, Binding)]
    return list(keymap.APP_BINDINGS) + keymap.dashboard_bindings() + table_bindings


def known_binding_ids() -> set[str]:
    """Every binding id a [keymap] entry may name, on any screen. Imports the screens, so it
    is called after the first frame, not at start-up."""
    from widgets.log_view import LogView

    from . import confirm, details, forms, lists, logs, registries, upgrade

    classes = [HelpScreen, LogView, *_screens(confirm, details, forms, lists, logs, registries, upgrade)]
    bindings = all_bindings() + [b for cls in classes for b in cls.BINDINGS if isinstance(b, Binding)]
    return {b.id for b in bindings if b.id}


def _screens(*modules) -> list[type]:
    from textual.screen import Screen as _Screen

    return [obj for m in modules for obj in vars(m).values() if isinstance(obj, type) and issubclass(obj, _Screen)]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "close", "Close", id="help.close")]

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="form", id="help"):
            yield Static(Text("Keys  (remap any of them by id in the config file's [keymap] table)"), classes="form-title")
            yield Static(self._table(), id="help-table")

    def on_mount(self) -> None:
        self.add_class("form-screen")

    def action_close(self) -> None:
        self.app.close_screen(self)

    @property
    def rows(self) -> list[keymap.HelpRow]:
        from .dashboard import user_bindings

        # Then your own commands ([[commands]] in the config), with the pane each is on.
        bindings = [b for b in all_bindings() if self._offered(b)] + user_bindings(getattr(self.app, "user_commands", []))
        return keymap.help_rows(bindings, self.app.keymap_overrides, self.app.get_key_display)

    def _offered(self, binding: Binding) -> bool:
        """The swarm's actions (capabilities outside ALL_CAPABILITIES, which no other backend
        has) are listed only on a backend that has them; elsewhere their keys do nothing."""
        from backends.contract import SWARM_CAPABILITIES

        from .. import actions

        record = actions.by_id().get(binding.id or "")
        if record is None or record.needs is None:
            return True
        needs = list(record.needs.values()) if isinstance(record.needs, Mapping) else [record.needs]
        if not all(need in SWARM_CAPABILITIES for need in needs):
            return True
        return any(self.app.backend.supports(need) for need in needs)

    def _table(self) -> Table:
        rows = self.rows
        table = Table(box=None, expand=True, pad_edge=False)
        table.add_column("Group", style="bold", width=12)
        table.add_column("Keys", style="bold cyan", width=16)
        table.add_column("Does")
        table.add_column("Id", style="dim")
        previous = None
        for row in rows:
            # Text, not str: a Rich table reads a str cell as markup, and the keys come from the
            # user's config file ([keymap]); visible() for the same reason as any outside text.
            group = row.group if row.group != previous else ""
            table.add_row(*(Text(visible(cell)) for cell in (group, row.keys, row.description, row.binding_id)))
            previous = row.group
        return table

