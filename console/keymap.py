"""Every key binding of the console, each with an id, a description and a group.

The screens take their ``BINDINGS`` from here; the help screen is generated from the very
same ``Binding`` objects; a user remaps any of them in the config file
(``[keymap]``: binding id = "keys"), which the app applies with ``App.set_keymap``.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

NAVIGATE = "Navigate"
VIEW = "View"
HOSTS = "Hosts"
CONTAINERS = "Containers"
VOLUMES = "Volumes"
APP = "Console"


# The help screen's group of each binding id. (Not Binding.group: the footer would fold a
# group's keys into one entry and hide what each does.)
GROUP_OF: dict[str, str] = {}


def _b(
    id: str, key: str, action: str, description: str, group: str, show: bool = True, more: str = "", priority: bool = False
) -> Binding:
    """``description`` is the footer's word; ``more`` (the tooltip) the help's longer line.

    ``priority`` for the plain-character keys: the app runs them before it routes the next
    key, so letters typed fast after `/` land in the prompt, not on the pane's bindings.
    While the user types in a field, ``check_action`` turns them off and the field gets them."""
    GROUP_OF[id] = group
    return Binding(key, action, description, show=show, id=id, tooltip=more, priority=priority)


APP_BINDINGS = [
    _b("app.quit", "q", "quit", "Quit", APP),
    _b("app.help", "question_mark", "help", "Help", APP),
    _b("app.command", "colon", "command_line", "Command", APP, priority=True),
    _b("app.palette", "ctrl+p", "command_palette", "Palette", APP, show=False),
]

# The dashboard's own keys: moving and looking, nothing that touches the backend. The actions
# (create, stop, delete, logs...) come from ``console.actions``, one record each.
VIEW_BINDINGS = [
    # Priority like the letter keys: in a fast burst ("tab /") the pane must change first.
    _b("pane.next", "tab", "next_pane", "Next pane", NAVIGATE, show=False, priority=True),
    _b("pane.previous", "shift+tab", "previous_pane", "Previous pane", NAVIGATE, show=False, priority=True),
    _b("pane.filter", "slash", "filter", "Filter", VIEW, more="Filter the pane live: text, or /regex/, across the columns shown", priority=True),
    _b("pane.clear", "escape", "clear", "Clear filter", VIEW, show=False, more="Clear the filter, then the marks, the narrowing, the zoom"),
    _b("pane.sort", "o", "sort", "Sort", VIEW, more="Sort by the next column (or click a column title)", priority=True),
    _b("pane.zoom", "z", "zoom", "Zoom", VIEW, more="Zoom the pane to the full screen, and back", priority=True),
    _b("pane.columns", "C", "columns", "Columns", VIEW, show=False, priority=True,
       more="Show or hide the pane's columns (remembered in the config)"),
]
# View keys still live while the user types in the filter prompt (they are not text).
WHILE_TYPING = {"clear", "next_pane", "previous_pane"}


def dashboard_bindings() -> list[Binding]:
    """The view keys, then a binding for every action that has keys (``console.actions``)."""
    from . import actions

    for action in actions.ACTIONS:
        GROUP_OF[action.id] = action.group
    return VIEW_BINDINGS + actions.bindings()


@dataclass(frozen=True, slots=True)
class HelpRow:
    group: str
    keys: str
    description: str
    binding_id: str


def help_rows(bindings: list[Binding], keymap: dict[str, str], display) -> list[HelpRow]:
    """One row per binding, with the keys as remapped by the user's keymap."""
    rows = []
    for binding in bindings:
        keys = keymap.get(binding.id or "", binding.key)
        shown = ", ".join(display(Binding(k.strip(), binding.action)) for k in keys.split(","))
        group = GROUP_OF.get(binding.id or "", "Table")
        rows.append(HelpRow(group, shown, binding.tooltip or binding.description or binding.action, binding.id or binding.action))
    return rows
