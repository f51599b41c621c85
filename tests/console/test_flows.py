"""Every action flow, driven by keys as a user would, against the simulator."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Static

from backends.contract import VolumeSpec
from backends.models import ContainerState, HostState, TaskStatus, VolumeState
from console.screens.confirm import ConfirmDelete
from console.screens.dashboard import DashboardScreen
from console.screens.forms import AttachVolumeForm, CreateHostForm, RunContainerForm
from console.screens.logs import LogsScreen
from console.app import STATS_INTERVAL
from console.screens.upgrade import UpgradeScreen
from widgets.log_view import LogView


def error_of(console, field_id: str) -> str:
    return str(console.screen.query_one(f"#{field_id}-error", Static).render())


async def test_dashboard_fills_the_three_panes_from_the_backend(console):
    inventory = await console.sim.snapshot()
    assert console.table("hosts").row_count == len(inventory.hosts) > 0
    assert console.table("containers").row_count == len(inventory.containers) > 0
    assert console.table("volumes").row_count == len(inventory.volumes) > 0
    header = str(console.screen.query_one("#status").render())
    assert "SIMULATOR" in header and "connected" in header and "cluster cores" in header and "project" in header


async def test_create_host_rejects_a_bad_name_then_creates_web_01(console):
    await console.press("c")
    await console.on(CreateHostForm)
    await console.type("Web_01!")
    error = error_of(console, "name")
    assert "not a DNS label" in error and "'!'" in error and "'_'" in error and "'W'" in error
    assert console.screen.query_one("#submit", Button).disabled
    await console.press("enter")  # refused: nothing is sent, the form stays
    assert isinstance(console.screen, CreateHostForm)
    assert not any(t.kind == "create_host" for t in console.app.store.inventory.tasks.values())
    await console.press(*["backspace"] * 7)
    await console.type("web-77")
    assert error_of(console, "name") == "" and not console.screen.query_one("#submit", Button).disabled
    assert "quota left in" in str(console.screen.query_one("#quota", Static).render())
    await console.press("enter")
    await console.on(DashboardScreen)
    await console.until(lambda: any(t.kind == "create_host" for t in console.app.store.inventory.tasks.values()), "the task")
    await console.until(lambda: any(t.target == "web-77" for t in console.screen.query_one("#tasks").shown), "the task in the strip")
    await console.finish()
    await console.until(lambda: "web-77" in console.names("hosts"), "web-77 in Hosts")
    await console.notice("create host web-77: done")
    assert console.find("hosts", "web-77").state is HostState.RUNNING


async def test_create_host_explains_the_quota_left(console):
    await console.press("c")
    await console.on(CreateHostForm)
    await console.type("big-01")
    cores = console.screen.query_one("#cores")
    cores.value = "999"
    await console.pilot.pause()
    assert "more than" in error_of(console, "cores") and "quota left" in error_of(console, "cores")
    await console.press("escape")
    await console.on(DashboardScreen)


async def test_attach_a_new_volume_to_the_host_under_the_cursor(console):
    host_id = console.table("hosts").cursor_id
    await console.press("a")
    await console.on(AttachVolumeForm)
    assert console.screen.choice("host") == host_id
    await console.type("data-77")
    console.screen.query_one("#size").value = "5"
    await console.pilot.pause()
    assert not console.screen.query_one("#submit", Button).disabled
    await console.press("ctrl+s")
    await console.on(DashboardScreen)
    await console.finish()
    await console.until(lambda: "data-77" in console.names("volumes"), "data-77 in Volumes")
    volume = console.find("volumes", "data-77")
    assert volume.host_id == host_id and volume.state is VolumeState.ATTACHED
    await console.notice("data-77")


async def test_run_a_container_on_the_host_under_the_cursor(console):
    host_id = console.table("hosts").cursor_id
    await console.press("r")
    await console.on(RunContainerForm)
    await console.type("NGINX")
    assert "not an image reference" in error_of(console, "image")
    await console.press(*["backspace"] * 5)
    await console.type("nginx:1.27")
    await console.press("tab")
    await console.type("web-test")
    await console.press("ctrl+s")
    await console.on(DashboardScreen)
    await console.finish()
    await console.until(lambda: console.find("containers", "web-test") is not None, "web-test")
    assert console.find("containers", "web-test").host_id == host_id
    await console.notice("web-test")


async def _container_cursor_on(console, state: ContainerState):
    await console.press("tab")  # Hosts -> Containers
    table = console.table("containers")
    target = next(table.rows_by_id[i] for i in table.visible_ids if table.rows_by_id[i].state is state)
    assert table.move_cursor(target.id)
    return target


async def test_start_stop_restart_a_container(console):
    target = await _container_cursor_on(console, ContainerState.EXITED)

    def now():
        return console.app.store.inventory.containers[target.id]

    await console.press("t")
    await console.finish()
    await console.until(lambda: now().state is ContainerState.RUNNING, "started")
    await console.notice(f"start container {target.name}: done")
    await console.press("x")
    await console.finish()
    await console.until(lambda: now().state is ContainerState.EXITED, "stopped")
    await console.notice(f"stop container {target.name}: done")
    await console.press("R")
    await console.finish()
    await console.until(lambda: now().state is ContainerState.RUNNING, "restarted")
    await console.notice(f"restart container {target.name}: done")


async def test_delete_names_how_many_and_which_and_cancel_keeps_them(console):
    await console.press("tab")
    table = console.table("containers")
    first, second = (table.rows_by_id[i] for i in table.visible_ids[:2])
    await console.press("space", "j", "space")
    assert table.marked == {first.id, second.id}
    await console.press("ctrl+d")
    await console.on(ConfirmDelete)
    names = sorted([first.name, second.name])
    assert str(console.screen.query_one("#question", Static).render()) == f"Remove 2 containers: {names[0]}, {names[1]}?"
    await console.press("escape")
    await console.on(DashboardScreen)
    assert table.marked == {first.id, second.id}
    await console.press("ctrl+d")
    await console.on(ConfirmDelete)
    await console.press("y")
    await console.on(DashboardScreen)
    await console.finish()
    await console.until(lambda: first.name not in console.names("containers") and second.name not in console.names("containers"), "both removed")
    await console.notice(f"remove container {first.name}: done")


async def _upgrade_three(console, before_start=None) -> UpgradeScreen:
    await console.press("slash")
    await console.type("/24\\.0|25\\.0/")
    await console.press("enter")
    await console.until(lambda: console.table("hosts").visible_count >= 3, "older hosts")
    await console.press("space", "j", "space", "j", "space")
    assert len(console.table("hosts").marked) == 3
    await console.press("u")
    await console.on(UpgradeScreen)
    screen = console.screen
    await console.until(lambda: screen.plan is not None, "a plan")
    screen.query_one("#batch").value = "1"
    await console.pilot.pause()
    assert [len(w.hosts) for w in screen.plan.waves] == [1, 1, 1]
    preview = str(screen.query_one("#plan", Static).render())
    assert "3 hosts in 3 waves" in preview and "wave 3:" in preview
    if before_start is not None:
        await before_start(screen)
    await console.press("ctrl+s")
    await console.until(lambda: screen.task_id is not None, "the upgrade started")
    return screen


async def test_upgrade_previews_waves_then_runs_with_pause_and_resume(console):
    screen = await _upgrade_three(console)
    await console.press("p")
    await console.until(lambda: console.app.store.inventory.tasks[screen.task_id].status is TaskStatus.PAUSED, "paused")
    await console.until(lambda: "PAUSED" in str(screen.query_one("#progress-title", Static).render()), "PAUSED shown")
    await console.press("r")
    await console.until(lambda: console.app.store.inventory.tasks[screen.task_id].status is TaskStatus.RUNNING, "resumed")
    await console.sim.advance(3600)
    await console.until(lambda: console.app.store.inventory.tasks[screen.task_id].status is TaskStatus.SUCCEEDED, "upgraded")
    rows = screen.progress_rows()
    assert [(r[0], r[4].plain, r[5]) for r in rows] == [("1", "SUCCEEDED", 100), ("2", "SUCCEEDED", 100), ("3", "SUCCEEDED", 100)]
    assert {r[3] for r in rows} == {screen.plan.target_version}
    await console.notice("upgrade hosts")
    await console.press("escape")
    await console.on(DashboardScreen)


async def test_upgrade_progress_follows_the_child_tasks_and_shows_a_host_left_out(console):
    stopped = {}

    async def stop_the_last(screen) -> None:
        last = screen.plan.waves[-1].hosts[0]
        stopped["name"] = last.name
        await console.sim.power_off_host(last.host_id)
        await console.sim.advance(600)
        await console.until(lambda: console.app.store.inventory.hosts[last.host_id].state.value == "stopped", "stopped")

    screen = await _upgrade_three(console, stop_the_last)
    await console.until(lambda: any(r[4].plain == "left out" for r in screen.progress_rows()), "a host left out")
    rows = {r[1]: r for r in screen.progress_rows()}
    assert rows[stopped["name"]][6] == "left out: not running"
    await console.sim.advance(3600)
    await console.until(lambda: console.app.store.inventory.tasks[screen.task_id].done, "ended")
    task = console.app.store.inventory.tasks[screen.task_id]
    rows = screen.progress_rows()
    children = [console.app.store.inventory.tasks[c] for c in task.child_ids]
    assert sorted(r[1] for r in rows if r[4].plain == "SUCCEEDED") == sorted(c.target for c in children) and len(children) == 2
    assert [r[4].plain for r in rows if r[1] == stopped["name"]] == ["left out"]


async def test_upgrade_abort_stops_before_the_next_wave(console):
    screen = await _upgrade_three(console)
    await console.press("x")
    await console.sim.advance(3600)
    await console.until(lambda: console.app.store.inventory.tasks[screen.task_id].done, "ended")
    task = console.app.store.inventory.tasks[screen.task_id]
    assert task.status is TaskStatus.ABORTED
    await console.notice("aborted")


async def test_logs_stream_pause_and_search(console):
    await _container_cursor_on(console, ContainerState.RUNNING)
    await console.press("l")
    await console.on(LogsScreen)
    log = console.screen.query_one(LogView)
    await console.until(lambda: log.line_count > 0, "log lines")
    await console.press("p")
    before = log.line_count
    await console.sim.advance(60)
    await console.pilot.pause(0.3)
    assert log.line_count == before  # paused: nothing moves on screen
    await console.press("p")
    await console.until(lambda: log.line_count > before, "lines after resume")
    await console.press("slash")
    word = log.lines[-1].split()[-1]
    await console.type(word)
    await console.press("enter")
    assert log.match_count > 0
    await console.press("escape")
    await console.on(DashboardScreen)


async def test_attach_a_new_volume_into_a_container_checks_the_mount_path(console):
    await console.press("tab")  # Containers: the form starts on the container's host
    container = console.table("containers").cursor_row
    await console.press("a")
    await console.on(AttachVolumeForm)
    form = console.screen
    assert form.choice("host") == container.host_id
    assert form.choice("container") == container.id
    await console.type("data-88")
    form.query_one("#path").value = "data"
    await console.pilot.pause()
    assert "absolute" in error_of(console, "path") and form.query_one("#submit", Button).disabled
    form.query_one("#path").value = "/srv/data"
    await console.pilot.pause()
    await console.press("ctrl+s")
    await console.on(DashboardScreen)
    await console.finish()

    def mounted():
        volume = console.find("volumes", "data-88")
        now = console.app.store.inventory.containers.get(container.id)
        return volume is not None and now is not None and any(m.source == volume.id and m.path == "/srv/data" for m in now.mounts)

    await console.until(mounted, "data-88 mounted at /srv/data")


async def test_attach_an_existing_volume(console):
    free = sorted((v for v in console.app.store.inventory.volumes.values() if v.state is VolumeState.AVAILABLE), key=lambda v: v.name)
    if not free:  # make one: the demo world attaches every volume
        await console.sim.create_volume(VolumeSpec(name="spare-1", size_gib=5))
        await console.finish()
        await console.until(lambda: console.find("volumes", "spare-1") is not None, "spare-1")
        free = [console.find("volumes", "spare-1")]
    volume = free[0]
    host_id = console.table("hosts").cursor_id
    await console.press("a")
    await console.on(AttachVolumeForm)
    form = console.screen
    form.query_one("#mode").value = "existing"
    await console.pilot.pause()
    assert not form.query_one("#volname").display and form.query_one("#volume").display
    form.query_one("#volume").value = volume.id
    await console.pilot.pause()
    await console.press("ctrl+s")
    await console.on(DashboardScreen)
    await console.finish()
    await console.until(lambda: console.app.store.inventory.volumes[volume.id].host_id == host_id, "attached")
    await console.notice(volume.name)


async def test_command_mode(console):
    from console.screens.lists import EventsScreen

    await console.press("colon")
    await console.type("containers")
    await console.press("enter")
    assert console.screen.current == "containers" and console.app.focused is console.table("containers")
    await console.press("colon")
    await console.type("events")
    await console.press("enter")
    await console.on(EventsScreen)
    await console.press("escape")
    await console.on(DashboardScreen)
    await console.press("colon")
    await console.type("nope")
    await console.press("enter")
    await console.notice("unknown command :nope")
    # A swarm's panes are commands only where the backend has them.
    await console.press("colon")
    await console.type("services")
    await console.press("enter")
    await console.notice(
        "unknown command :services (try :hosts :containers :volumes :projects :nodes :networks :images :tasks :events "
        ":registries :quit)"
    )
    await console.press("colon")
    await console.type("quit")
    await console.press("enter")
    await console.until(lambda: not console.app.is_running, "the console to quit")


@pytest.fixture
def quick_stats_timer(monkeypatch):
    """The app's own stats timer at a tenth of its period (read as the app mounts): the test is
    about which rows are asked for, not about waiting out 3 s twice."""
    import console.app

    monkeypatch.setattr(console.app, "STATS_INTERVAL", STATS_INTERVAL / 10)


@pytest.mark.usefixtures("quick_stats_timer")  # before the console fixture starts the app
async def test_fresh_container_figures_are_asked_for_the_rows_in_view_only(console, monkeypatch):
    asked: list[list[str]] = []
    monkeypatch.setattr(console.sim, "request_stats", lambda ids: asked.append(list(ids)))
    table = console.table("containers")
    await console.until(lambda: asked, "an ask for figures", timeout=STATS_INTERVAL * 3)
    in_view = table.ids_in_view
    assert asked[-1] == in_view and 0 < len(in_view) < table.row_count
    out_of_view = set(table.visible_ids) - set(in_view)
    assert out_of_view and not out_of_view & {i for ids in asked for i in ids}
    await console.press("enter")  # the host under the cursor
    await console.until(lambda: type(console.screen).__name__ == "HostDetails", "host details")
    host_id = console.screen.item_id
    count = len(asked)
    await console.until(lambda: len(asked) > count, "an ask from the host's details", timeout=STATS_INTERVAL * 3)
    assert asked[-1] and {console.app.store.inventory.containers[i].host_id for i in asked[-1]} == {host_id}


async def test_the_key_bar_shows_the_keys_that_apply_and_a_click_presses_one(console):
    from widgets.key_bar import KeyBar

    bar = console.screen.query_one(KeyBar)
    shown = str(bar.render())
    assert "Upgrade" in shown and "Help" in shown and "Palette" in shown and "Logs" not in shown
    await console.press("tab")  # the Containers pane: its own keys too (as many as fit)
    await console.until(lambda: "Stop" in str(bar.render()), "the containers' keys")
    assert "Palette" in str(bar.render()) and " ? " in str(bar.render())  # the app's keys stay
    start = str(bar.render()).index(" ? ")
    await console.pilot.click(KeyBar, offset=(start + 1, 0))
    await console.until(lambda: type(console.screen).__name__ == "HelpScreen", "help opened by a click")


async def test_stopping_every_running_replica_asks_first_and_names_the_outage(console):
    await console.press("tab")
    table = console.table("containers")
    await console.press("slash")
    await console.type("/^db-/")
    await console.press("enter")
    await console.until(lambda: 0 < table.visible_count < 20, "only the db replicas")
    running = [table.rows_by_id[i] for i in table.visible_ids if table.rows_by_id[i].state.value == "running"]
    assert len(running) > 1
    for _ in table.visible_ids:
        row = table.cursor_row
        if row is not None and row.state.value == "running":
            await console.press("space")  # marks, the cursor stays
        await console.press("j")
    assert table.marked == {c.id for c in running}
    await console.press("x")
    await console.on(ConfirmDelete)
    impact = str(console.screen.query_one("#impact", Static).render()).splitlines()
    assert impact[0] == f"OUTAGE: shop/db loses every running replica ({len(running)} → 0)"
    await console.press("escape")
    await console.on(DashboardScreen)
    assert all(table.rows_by_id[c.id].state.value == "running" for c in running)  # nothing was stopped


async def test_stopping_one_replica_of_many_asks_nothing(console):
    await console.press("tab")
    table = console.table("containers")
    first = next(table.rows_by_id[i] for i in table.visible_ids if table.rows_by_id[i].name == "db-1")
    assert first.state.value == "running"
    while table.cursor_row is not None and table.cursor_row.id != first.id:
        await console.press("j")
    await console.press("x")
    assert not isinstance(console.screen, ConfirmDelete)
    await console.finish()
    await console.until(lambda: table.rows_by_id[first.id].state.value != "running", "db-1 stopped without a question")
