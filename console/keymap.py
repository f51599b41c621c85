"""Every key binding of the console, each with an id, a description and a group.

The screens take their ``BINDINGS`` from here; the help screen is generated from the very
same ``Binding`` objects; a user remaps any of them in the config file
(``[keymap]``: binding id = "keys"), which the app applies with ``App.set_keymap``.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding

from backends.contract import Capability

NAVIGATE = "Navigate"
VIEW = "View"
HOSTS = "Hosts"
CONTAINERS = "Containers"
VOLUMES = "Volumes"
ACTIONS = "Any pane"
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

DASHBOARD_BINDINGS = [
    # Priority like the letter keys: in a fast burst ("tab /") the pane must change first.
    _b("pane.next", "tab", "next_pane", "Next pane", NAVIGATE, show=False, priority=True),
    _b("pane.previous", "shift+tab", "previous_pane", "Previous pane", NAVIGATE, show=False, priority=True),
    _b("pane.filter", "slash", "filter", "Filter", VIEW, more="Filter the pane live: text, or /regex/, across all columns", priority=True),
    _b("pane.clear", "escape", "clear", "Clear filter", VIEW, show=False, more="Clear the filter, then the marks, the narrowing, the zoom"),
    _b("pane.sort", "o", "sort", "Sort", VIEW, more="Sort by the next column (or click a column title)", priority=True),
    _b("pane.zoom", "z", "zoom", "Zoom", VIEW, more="Zoom the pane to the full screen, and back", priority=True),
    _b("item.delete", "ctrl+d", "delete", "Delete", ACTIONS, more="Delete the marked items (or the one under the cursor), after a confirmation"),
    _b("item.shell", "s", "shell", "Shell", ACTIONS, more="A shell on the host or in the container", priority=True),
    _b("host.narrow", "n", "narrow", "Narrow", HOSTS, more="Narrow Containers and Volumes to this host (again: back to all)", priority=True),
    _b("host.create", "c", "create_host", "Create", HOSTS, more="Create a container host", priority=True),
    _b("host.upgrade", "u", "upgrade", "Upgrade", HOSTS, more="Upgrade Docker Engine on the marked hosts (or all), in waves", priority=True),
    _b("volume.attach", "a", "attach_volume", "Attach", VOLUMES, more="Attach a new or existing volume to a host, optionally into a container", priority=True),
    _b("container.run", "r", "run_container", "Run", CONTAINERS, more="Run a new container", priority=True),
    _b("container.start", "t", "start_container", "Start", CONTAINERS, priority=True),
    _b("container.stop", "x", "stop_container", "Stop", CONTAINERS, priority=True),
    _b("container.restart", "R", "restart_container", "Restart", CONTAINERS, priority=True),
    _b("container.logs", "l", "logs", "Logs", CONTAINERS, more="Stream the container's logs (follow, pause, search)", priority=True),
]

# What each action needs from the backend; the console hides an action whose capability
# the backend lacks (and every mutating one in read-only mode).
NEEDS: dict[str, Capability] = {
    "create_host": Capability.HOSTS_CREATE,
    "upgrade": Capability.HOSTS_UPGRADE,
    "attach_volume": Capability.VOLUMES_ATTACH,
    "run_container": Capability.CONTAINERS_RUN,
    "start_container": Capability.CONTAINERS_LIFECYCLE,
    "stop_container": Capability.CONTAINERS_LIFECYCLE,
    "restart_container": Capability.CONTAINERS_LIFECYCLE,
    "logs": Capability.CONTAINERS_LOGS,
}
MUTATING = {
    "create_host",
    "upgrade",
    "attach_volume",
    "run_container",
    "start_container",
    "stop_container",
    "restart_container",
    "delete",
    "shell",
}
DELETE_NEEDS = {
    "hosts": Capability.HOSTS_DELETE,
    "containers": Capability.CONTAINERS_REMOVE,
    "volumes": Capability.VOLUMES_DELETE,
}
SHELL_NEEDS = {"hosts": Capability.HOSTS_SHELL, "containers": Capability.CONTAINERS_SHELL}
# Actions still live while the user types in the filter prompt (their keys are not text).
WHILE_TYPING = {"clear", "next_pane", "previous_pane", "delete"}
# Actions that act on one pane's items only; elsewhere they do not apply (and leave the footer).
PANE_OF = {
    "narrow": "hosts",
    "start_container": "containers",
    "stop_container": "containers",
    "restart_container": "containers",
    "logs": "containers",
}


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
