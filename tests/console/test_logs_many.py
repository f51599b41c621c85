"""Logs of several containers at once (marks, an application, a host), interleaved by time with
a prefix per container; the filter narrows to matching lines; save writes the buffer and asks
before replacing a file. All on the simulator's virtual clock."""

from __future__ import annotations

import os
import re

from backends.blast import application_of
from backends.models import ContainerState
from console.screens.dashboard import DashboardScreen
from console.screens.logs import LogsScreen
from widgets.log_view import LogView

from .conftest import press_burst


def _prefix_of(line: str) -> str:
    return line.split(" |", 1)[0].strip()


async def _app_logs(console, app_name: str = "shop/api") -> tuple[LogsScreen, LogView, set[str]]:
    await console.press("tab")  # Hosts -> Containers
    table = console.table("containers")
    inv = console.app.store.inventory
    first = next(c for c in inv.containers.values() if application_of(c) == app_name and c.state is ContainerState.RUNNING)
    assert table.move_cursor(first.id)
    await console.press("L")
    await console.on(LogsScreen)
    names = {c.name for c in inv.containers.values() if application_of(c) == app_name}
    screen = console.screen
    return screen, screen.query_one(LogView), names


async def test_an_application_s_logs_are_interleaved_by_time_with_a_prefix_each(console):
    screen, log, names = await _app_logs(console)
    assert len(names) > 1 and set(screen.container_ids) == {c.id for c in console.app.store.inventory.containers.values() if c.name in names}
    await console.until(lambda: log.line_count > 0, "history lines")
    await console.sim.advance(120)
    await console.until(lambda: len({_prefix_of(line) for line in log.lines}) > 1, "lines of several containers")
    prefixes = {_prefix_of(line) for line in log.lines}
    assert prefixes <= names
    # Interleaved by time: the history is merged by each line's time. The simulator writes a
    # time in each line (ISO), so the order shows in the text.
    stamps = [m.group(0) for line in log.lines if (m := re.search(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", line))]
    if stamps:
        assert stamps == sorted(stamps)
    # The prefix is coloured (its own style), drawn through sgr_text with the line.
    assert any(styled is not None and styled.spans for styled in log._styled)
    assert "application shop/api" in str(screen.query_one("#logs-title").render())


async def test_marked_containers_and_a_host_s_containers(console):
    await console.press("tab")
    table = console.table("containers")
    ids = list(table.visible_ids)[:3]
    for cid in ids:
        assert table.move_cursor(cid)
        await console.press("space")
    await console.press("l")
    await console.on(LogsScreen)
    assert set(console.screen.container_ids) == set(ids)
    await console.press("escape")
    await console.on(DashboardScreen)
    await console.press("shift+tab")  # back to Hosts
    host_id = console.table("hosts").cursor_id
    await console.press("l")
    await console.on(LogsScreen)
    on_host = {c.id for c in console.app.store.inventory.containers.values() if c.host_id == host_id}
    assert set(console.screen.container_ids) == on_host


async def test_filter_narrows_to_matching_lines_and_back(console):
    screen, log, _ = await _app_logs(console)
    await console.sim.advance(600)
    await console.until(lambda: log.line_count > 20, "lines")
    await console.pilot.pause(0.2)
    word = log.lines[-1].split()[-1]
    await console.press("slash")
    await console.type(f"/{re.escape(word)}$/")
    await console.press("enter")
    assert log.search_term == f"/{re.escape(word)}$/" and log.match_count > 0
    await console.press("F")
    assert log.filtering
    shown = log.shown_lines()
    assert shown and all(line.endswith(word) for line in shown) and len(shown) == log.match_count
    assert "only" in str(screen.query_one("#logs-title").render())
    await console.press("F")
    assert not log.filtering and len(log.shown_lines()) == log.line_count
    # A bad regex is one line and changes nothing.
    await console.press("slash")
    await press_burst(console.pilot, ["backspace"] * 40)
    await console.type("/(oops/")
    await console.press("enter")
    assert any("not a regular expression" in n for n in console.notices())
    assert log.search_term == f"/{re.escape(word)}$/"


async def test_save_writes_the_lines_and_asks_before_replacing(console, tmp_path):
    screen, log, _ = await _app_logs(console)
    await console.sim.advance(60)
    await console.until(lambda: log.line_count > 5, "lines")
    await console.press("p")  # paused: what is saved is what is shown
    target = tmp_path / "api.log"
    await console.press("w")
    await console.type(str(target))
    await console.press("enter")
    await console.until(lambda: target.exists(), "the saved file")
    assert target.read_text().splitlines() == log.shown_lines()
    assert os.stat(target).st_mode & 0o077 == 0
    # Again: it exists, so the first enter only asks; the file is kept until the second.
    target.write_text("keep me\n")
    await console.press("w")
    await console.type(str(target))
    await console.press("enter")
    await console.notice("exists")
    await console.pilot.pause(0.2)
    assert target.read_text() == "keep me\n"
    await console.press("enter")
    await console.until(lambda: target.read_text() != "keep me\n", "replaced after the confirmation")
    assert "\x1b" not in target.read_text()


async def test_a_service_s_tasks_from_the_services_pane():
    from backends.simulator import SimulatorBackend

    from .conftest import SIZE, Console, make_app

    sim = SimulatorBackend(seed=7, speed=0.0, activity=False, swarm=True)
    app = make_app(sim)
    try:
        async with app.run_test(size=SIZE) as pilot:
            c = Console(app, pilot, sim)
            await c.until(lambda: app.store.loaded and c.table("services").row_count > 0, "the services")
            while c.screen.current != "services":
                await c.press("tab")
            service = c.table("services").cursor_row
            await c.press("l")
            await c.on(LogsScreen)
            tasks = {t.id for t in app.store.inventory.containers.values() if t.service == service.name}
            assert len(tasks) > 1 and set(c.screen.container_ids) == tasks
            assert service.name in str(c.screen.query_one("#logs-title").render())
    finally:
        await sim.close()
