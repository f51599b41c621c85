"""Each binding the help lists does something a user can see; remaps from the config work."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from textual.binding import Binding
from textual.command import CommandPalette

from backends.settings import Settings
from console.app import NtnxConsoleApp
from console.screens.confirm import ConfirmDelete
from console.screens.dashboard import DashboardScreen
from console.screens.details import ContainerDetails, HostDetails
from console.screens.forms import AttachVolumeForm, CreateHostForm, RunContainerForm
from console.screens.help import HelpScreen, all_bindings
from console.screens.host_images import HostImagesScreen, PruneChoice, PullImageForm
from console.screens.lists import TasksScreen
from console.screens.logs import LogsScreen
from console.screens.upgrade import UpgradeScreen

from .conftest import SIZE, Console


def key_of(binding_id: str) -> str:
    binding = next(b for b in all_bindings() if b.id == binding_id)
    return binding.key.split(",")[0]


async def _quit(c):
    await c.press("q")
    await c.until(lambda: c.app.return_code is not None or not c.app.is_running, "the app to exit")


async def _help(c):
    await c.press("question_mark")
    await c.on(HelpScreen)
    rows = {r.binding_id: r for r in c.screen.rows}
    assert rows["host.create"].description == "Create a container host" and rows["host.create"].keys == "c"
    # Every binding, but the swarm's actions: the simulator is no swarm, and the help lists
    # only the actions a backend can do of those no other backend has.
    assert set(rows) == {b.id for b in all_bindings()} - set(ABSENT_HERE)


async def _command(c):
    await c.press("colon")
    await c.type("tasks")
    await c.press("enter")
    await c.on(TasksScreen)


async def _palette(c):
    await c.press("ctrl+p")
    await c.on(CommandPalette)
    await c.type("host cm-web-02")
    await c.until(lambda: "cm-web-02" in str(c.screen.query_one("CommandList").get_option_at_index(0).prompt), "the host in the palette")
    await c.press("enter")
    await c.on(HostDetails)
    assert c.screen.item.name == "cm-web-02"


async def _next(c):
    await c.press("tab")
    assert c.screen.current == "containers"


async def _previous(c):
    await c.press("shift+tab")
    assert c.screen.current == "volumes"


async def _filter(c):
    await c.press("slash")
    await c.type("web")
    table = c.table("hosts")
    assert 0 < table.visible_count < table.row_count and all("web" in n for n in c.names("hosts"))


async def _clear(c):
    await _filter(c)
    await c.press("escape")
    assert c.table("hosts").visible_count == c.table("hosts").row_count


async def _sort(c):
    await c.press("o")
    assert c.table("hosts").sort_column == "name"
    assert c.names("hosts") == sorted(c.names("hosts"))


async def _zoom(c):
    await c.press("z")
    assert not c.screen.query_one("#pane-containers").display and c.screen.query_one("#pane-hosts").display
    await c.press("z")
    assert c.screen.query_one("#pane-containers").display


async def _columns(c):
    from console.screens.columns import ColumnsScreen

    await c.press("C")
    await c.on(ColumnsScreen)
    await c.press("space", "escape")  # a change cancelled: nothing hidden
    await c.on(DashboardScreen)
    assert c.table("hosts").hidden_columns == frozenset()


async def _delete(c):
    await c.press("ctrl+d")
    await c.on(ConfirmDelete)


async def _shell(c):
    await c.press("s")
    await c.notice("shell")  # headless: the console says what it would run


async def _narrow(c):
    host_id = c.table("hosts").cursor_id
    await c.press("n")
    rows = c.table("containers").rows_by_id.values()
    assert rows and all(r.host_id == host_id for r in rows)
    assert " on " in c.screen.query_one("#pane-containers").border_title
    await c.press("n")
    assert c.table("containers").row_count == len(c.app.store.inventory.containers)


async def _create(c):
    await c.press("c")
    await c.on(CreateHostForm)


async def _upgrade(c):
    await c.press("u")
    await c.on(UpgradeScreen)


async def _attach(c):
    await c.press("a")
    await c.on(AttachVolumeForm)


async def _run(c):
    await c.press("r")
    await c.on(RunContainerForm)


async def _logs(c):
    await c.press("tab", "l")
    await c.on(LogsScreen)


async def _down(c):
    first = c.table("hosts").cursor_id
    await c.press("j")
    assert c.table("hosts").cursor_id == c.table("hosts").visible_ids[1] != first


async def _up(c):
    await c.press("j", "j", "k")
    assert c.table("hosts").cursor_id == c.table("hosts").visible_ids[1]


async def _page_down(c):
    await c.press("pagedown")
    assert c.table("hosts").visible_ids.index(c.table("hosts").cursor_id) > 1


async def _page_up(c):
    await c.press("pagedown", "pageup")
    assert c.table("hosts").cursor_id == c.table("hosts").visible_ids[0]


async def _top(c):
    await c.press("j", "j", "g")
    assert c.table("hosts").cursor_id == c.table("hosts").visible_ids[0]


async def _bottom(c):
    await c.press("G")
    assert c.table("hosts").cursor_id == c.table("hosts").visible_ids[-1]


async def _mark(c):
    await c.press("space")
    assert c.table("hosts").marked == {c.table("hosts").cursor_id}
    assert "1 marked" in c.screen.query_one("#pane-hosts").border_subtitle


async def _select(c):
    await c.press("enter")
    await c.on(HostDetails)


# The swarm's actions: on the simulator (no swarm) their keys do nothing and show nowhere.
# What they do on a swarm, from their panes: tests/swarm/test_swarm_console.py.
SWARM_ONLY = {
    "host.drain": "D", "host.activate": "A", "service.scale": "S", "service.remove": "ctrl+d", "secret.remove": "ctrl+d",
    "service.update": "U", "service.rollback": "R", "secret.rotate": "R",
}
ABSENT_HERE = SWARM_ONLY


# Images on hosts (issue 13): I on Hosts opens the host's Images screen, where p pulls (a
# form), ctrl+d removes and P prunes (dangling only or also unused, then a confirmation; each asks
# first; with nothing to act on, says so). On a
# real engine with a real registry: tests/registries/test_engine_pull.py.
async def _images(c):
    host_id = c.table("hosts").cursor_id
    await c.press("I")
    await c.on(HostImagesScreen)
    assert c.screen.host_id == host_id


def _on_images(key: str, expected):
    async def check(c):
        await _images(c)
        await c.press(key)
        if isinstance(expected, str):
            await c.until(lambda: isinstance(c.app.screen, ConfirmDelete) or any(expected in n for n in c.notices()),
                          f"a confirmation, or {expected!r}")
        else:
            await c.on(expected)

    return check


async def _logs_of(c, keys, several):
    # l on Hosts: every container of the host; L on Containers: the application's replicas.
    await c.press(*(keys or ("l",)))
    await c.on(LogsScreen)
    assert several(c.screen.container_ids)


def _absent(binding_id: str):
    async def check(c):
        assert binding_id not in {b.binding.id for b in c.screen.active_bindings.values()}

    return check


def _nothing_here(binding_id: str):
    async def check(c):
        dashboard = c.screen
        assert binding_id not in {b.binding.id for b in dashboard.active_bindings.values()}
        # A key another action has here is that action's (ctrl+d deletes a host, R reboots it).
        if ABSENT_HERE[binding_id] not in dashboard.active_bindings:
            await c.press(ABSENT_HERE[binding_id])
            assert c.app.screen is dashboard and not c.app._my_tasks

    return check


def _asks(keys: tuple[str, ...], question: str):
    """Keys that ask first (the first host runs containers, the first volume is mounted)."""

    async def check(c):
        from textual.widgets import Static

        await c.press(*keys)
        await c.on(ConfirmDelete)
        assert str(c.screen.query_one("#question", Static).render()).startswith(question)
        await c.press("escape")
        await c.on(DashboardScreen)

    return check


async def _power_on(c):
    await c.press("t")  # the first host runs: the backend's refusal is the one line
    await c.notice("already running")


CHECKS = {
    "app.quit": _quit,
    "app.help": _help,
    "app.command": _command,
    "app.palette": _palette,
    "pane.next": _next,
    "pane.previous": _previous,
    "pane.filter": _filter,
    "pane.clear": _clear,
    "pane.sort": _sort,
    "pane.zoom": _zoom,
    "pane.columns": _columns,
    "item.delete": _delete,
    "item.shell": _shell,
    "host.narrow": _narrow,
    "host.create": _create,
    "host.upgrade": _upgrade,
    "volume.attach": _attach,
    "container.run": _run,
    "container.start": ("t", "start container"),
    "container.stop": ("x", "stop container"),
    "container.restart": ("R", "restart container"),
    "container.logs": _logs,
    "cursor_down": _down,
    "cursor_up": _up,
    "page_down": _page_down,
    "page_up": _page_up,
    "cursor_top": _top,
    "cursor_bottom": _bottom,
    "mark": _mark,
    "select": _select,
    **{binding_id: _nothing_here(binding_id) for binding_id in ABSENT_HERE},
    "host.images": _images,
    "host_image.pull": _on_images("p", PullImageForm),
    "host_image.remove": _on_images("ctrl+d", "no image chosen"),
    "host_image.prune": _on_images("P", PruneChoice),  # dangling only or also unused: it asks
    "host.power_on": _power_on,
    "host.power_off": _asks(("x",), "Power off 1 host"),
    "host.reboot": _asks(("R",), "Reboot 1 host"),
    "volume.detach": _asks(("tab", "tab", "D"), "Detach 1 volume"),
    "host.logs": lambda c: _logs_of(c, (), lambda ids: len(ids) > 1),
    "container.app_logs": lambda c: _logs_of(c, ("tab", "L"), lambda ids: len(ids) > 1),
    "service.logs": _absent("service.logs"),  # no Services pane without a swarm ("l" on Hosts is host.logs)
}


def test_every_binding_in_the_help_has_a_check():
    assert {b.id for b in all_bindings()} == set(CHECKS)


@pytest.mark.parametrize("binding_id", sorted(CHECKS))
async def test_binding_does_something(console, binding_id):
    check = CHECKS[binding_id]
    if isinstance(check, tuple):
        key, text = check
        await console.press("tab")  # the Containers pane
        await console.press(key)
        await console.notice(text)
        return
    await check(console)


async def test_keys_remapped_in_the_config_take_effect_and_show_in_the_help(sim):
    config = SimpleNamespace(keymap={"host.create": "ctrl+n"})
    app = NtnxConsoleApp(Settings(), config, backend=sim)
    async with app.run_test(size=SIZE) as pilot:
        c = Console(app, pilot, sim)
        await c.until(lambda: isinstance(app.screen, DashboardScreen) and c.table("hosts").row_count > 0, "the dashboard")
        await c.press("c")
        assert isinstance(app.screen, DashboardScreen)
        await c.press("ctrl+n")
        await c.on(CreateHostForm)
        await c.press("escape", "question_mark")
        await c.on(HelpScreen)
        rows = {r.binding_id: r for r in app.screen.rows}
        assert rows["host.create"].keys == app.get_key_display(Binding("ctrl+n", ""))


async def test_details_keys(console):
    await console.press("tab", "enter")
    await console.on(ContainerDetails)
    await console.press("l")
    await console.on(LogsScreen)
    await console.press("escape")
    await console.on(ContainerDetails)
    await console.press("escape")
    await console.on(DashboardScreen)


async def test_an_unknown_binding_id_in_the_config_is_named_not_ignored(sim):
    config = SimpleNamespace(keymap={"host.create": "ctrl+n", "host.craete": "C"})
    app = NtnxConsoleApp(Settings(), config, backend=sim)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        c = Console(app, pilot, sim)
        await c.until(
            lambda: any("host.craete" in str(n.message) for n in app._notifications), "a warning naming the bad id"
        )
        assert not any("host.create," in str(n.message) for n in app._notifications)
