"""The console's Services and Secrets panes on a real two-node swarm, under Pilot, checked
against the docker CLI on the same swarm; and on the simulator, no such panes at all.

The app runs on the real clock here (a real swarm has no virtual one): every wait is a
condition with a deadline (tests.waiting), long enough for the swarm to converge on this
machine's two private dockerds."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from backends.simulator import SimulatorBackend
from backends.swarm import SwarmBackend
from console.screens.confirm import ConfirmDelete
from console.screens.dashboard import DashboardScreen
from console.screens.details import ServiceDetails
from console.screens.services import ScaleServiceForm
from tests.console.conftest import SIZE, Console, make_app
from tests.swarm.cluster import Swarm
from tests.waiting import wait_until

CONVERGE = 90.0  # seconds the swarm may take to start, move or stop tasks here
ROOT = Path(__file__).resolve().parents[2]
SECRET_VALUE = b"tui-" + os.urandom(8).hex().encode()  # tui-secret's value: never to be seen on screen


def docker_replicas(swarm: Swarm) -> dict[str, str]:
    """``docker service ls``: name -> "running/desired" (a global service's too)."""
    return {s["Name"]: s["Replicas"].split(" ")[0] for s in swarm.json_lines("service", "ls")}


@pytest.fixture(scope="module")
def made(swarm: Swarm) -> Swarm:
    """What a user would have made with the docker CLI: a secret, a replicated service that
    uses it, a global service."""
    swarm.cli("secret", "create", "tui-secret", "-", input=SECRET_VALUE)
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "tui-web", "--replicas", "2",
              "--secret", "tui-secret", swarm.manager.image)
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "tui-agent", "--mode", "global",
              swarm.manager.image)
    return swarm


@pytest.fixture
async def console(made: Swarm):
    backend = SwarmBackend(made.manager.url)
    app = make_app(backend)  # type: ignore[arg-type]  # any Backend; the harness's sim is unused here
    try:
        async with app.run_test(size=SIZE) as pilot:
            harness = Console(app, pilot, backend)  # type: ignore[arg-type]
            await harness.until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), "the dashboard", 30)
            await harness.until(lambda: harness.table("services").row_count > 0, "services on screen", 30)
            yield harness
    finally:
        await backend.close()


def text_of(renderable) -> str:
    """A Rich renderable (the facts' table) as the plain text it draws."""
    from rich.console import Console as RichConsole

    with open(os.devnull, "w") as nowhere:
        out = RichConsole(width=200, record=True, file=nowhere)
        out.print(renderable)
    return out.export_text()


def pane_replicas(c: Console) -> dict[str, str]:
    """The Services pane as drawn: name -> its REPLICAS cell (what the column renders)."""
    table = c.table("services")
    column = next(col for col in table.columns if col.key == "replicas")
    return {table.rows_by_id[i].name: column.plain(table.rows_by_id[i]) for i in table.visible_ids}


async def converged(c: Console, swarm: Swarm) -> bool:
    docker = docker_replicas(swarm)
    return pane_replicas(c) == docker and all(r.split("/")[0] == r.split("/")[1] != "0" for r in docker.values())


async def go_to(c: Console, kind: str, name: str) -> None:
    """As a user: tab to the pane, filter it down to the one row, close the prompt."""
    for _ in range(len(c.screen.kinds)):
        if c.screen.current == kind:
            break
        await c.press("tab")
    assert c.screen.current == kind
    await c.press("slash")
    await c.type(name)
    await c.press("enter")
    await c.until(lambda: c.table(kind).cursor_row is not None and c.table(kind).cursor_row.name == name, f"{name} under the cursor")


async def test_services_and_secrets_panes_list_what_the_docker_cli_lists(console: Console, made: Swarm):
    c = console
    assert c.screen.kinds == ("hosts", "containers", "volumes", "services", "secrets")
    await wait_until(lambda: converged(c, made), timeout=CONVERGE, what="the pane to show docker service ls's replicas")
    table = c.table("services")
    docker = {s["Name"]: s for s in made.json_lines("service", "ls")}
    for row in table.rows_by_id.values():
        assert row.id.startswith(docker[row.name]["ID"]) and row.mode == docker[row.name]["Mode"]
        assert row.image == docker[row.name]["Image"]
    assert table.rows_by_id[next(i for i, r in table.rows_by_id.items() if r.name == "tui-agent")].mode == "global"

    secrets = c.table("secrets")
    docker_secrets = {s["Name"]: s["ID"] for s in made.json_lines("secret", "ls")}
    await c.until(lambda: {r.name: r.id for r in secrets.rows_by_id.values()} == docker_secrets, "docker secret ls's secrets", 30)
    used = next(r for r in secrets.rows_by_id.values() if r.name == "tui-secret")
    assert used.services == ("tui-web",)
    assert "Services (" in str(c.screen.pane("services").border_title)

    # Reached with tab and shift+tab like the others, in a fixed order.
    seen = []
    for _ in range(5):
        await c.press("tab")
        seen.append(c.screen.current)
    assert seen == ["containers", "volumes", "services", "secrets", "hosts"]
    await c.press("shift+tab")
    assert c.screen.current == "secrets"
    # And by command mode.
    await c.press("colon")
    await c.pilot.press(*"services", "enter")
    await c.until(lambda: c.screen.current == "services", ":services")

    # Filtered and sorted like the others.
    await go_to(c, "services", "tui-agent")
    assert [table.rows_by_id[i].name for i in table.visible_ids] == ["tui-agent"]
    await c.press("escape")
    await c.until(lambda: table.visible_count == table.row_count, "the filter cleared")
    await c.press("o")
    assert table.sort_column == "name"
    names = [table.rows_by_id[i].name for i in table.visible_ids]
    assert names == sorted(names)


async def test_a_scale_done_from_the_cli_shows_live_in_the_pane(console: Console, made: Swarm):
    c = console
    await wait_until(lambda: converged(c, made), timeout=CONVERGE, what="the services to converge")
    # ntnx-console's own CLI, in another process (as a colleague's terminal would be).
    env = {**os.environ, "NTNX_CONSOLE_CONFIG": "/nonexistent/none.toml"}
    done = subprocess.run(
        [sys.executable, "-m", "console", "--backend", "swarm", "--docker-host", made.manager.url,
         "service", "scale", "tui-web", "3"], cwd=ROOT, env=env, capture_output=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr.decode()
    # Desired first (an event), then running as the third task starts (a re-read): both
    # reach the pane with no key pressed.
    await c.until(lambda: pane_replicas(c).get("tui-web") == "3/3", "tui-web 3/3 in the pane", CONVERGE)
    assert docker_replicas(made)["tui-web"] == "3/3"


async def test_enter_on_a_service_shows_its_tasks_across_nodes_and_never_a_secrets_value(console: Console, made: Swarm):
    c = console
    await wait_until(lambda: converged(c, made), timeout=CONVERGE, what="the services to converge")
    await go_to(c, "services", "tui-web")
    await c.press("enter")
    await c.on(ServiceDetails)
    tasks = c.table("containers")

    def docker_tasks() -> dict[str, tuple[str, str]]:
        rows = made.json_lines("service", "ps", "--no-trunc", "tui-web")
        return {t["ID"]: (t["Node"], t["DesiredState"].lower()) for t in rows}

    def shown_tasks() -> dict[str, tuple[str, str]]:
        host_name = c.app.store.host_name
        return {i: (host_name(t.host_id).split("/")[0], t.desired_state) for i, t in tasks.rows_by_id.items()}

    await c.until(lambda: shown_tasks() == docker_tasks(), "the details to list docker service ps's tasks", CONVERGE)
    shown = list(tasks.rows_by_id.values())
    assert {t.service for t in shown} == {"tui-web"}
    running = [t for t in shown if t.desired_state == "running"]
    assert sorted(t.slot for t in running) == list(range(1, len(running) + 1))
    headers = [col.title for col in tasks.columns]
    assert headers[:4] == ["NODE", "SLOT", "STATE", "DESIRED"] and "ERROR" in headers
    # The secret by name, its value nowhere on the screen.
    facts = text_of(c.screen.query_one("#facts").content)
    assert "tui-secret" in facts
    assert SECRET_VALUE.decode() not in c.app.export_screenshot()
    await c.press("escape")
    await c.on(DashboardScreen)


async def test_swarm_actions_run_from_their_panes(console: Console, made: Swarm):
    c = console
    await wait_until(lambda: converged(c, made), timeout=CONVERGE, what="the services to converge")
    # Scale from the Services pane: S, a number, ctrl+s.
    await go_to(c, "services", "tui-web")
    await c.press("S")
    await c.on(ScaleServiceForm)
    await c.press("ctrl+a", "ctrl+k")  # clear the field (it starts at the desired count)
    await c.type("1")
    await c.press("ctrl+s")
    await c.on(DashboardScreen)
    await c.until(lambda: docker_replicas(made)["tui-web"] == "1/1", "docker to show tui-web 1/1", CONVERGE)
    await c.until(lambda: pane_replicas(c).get("tui-web") == "1/1", "the pane to show tui-web 1/1", CONVERGE)

    # ctrl+d on the Secrets pane is the secret's removal, with a counted confirmation that
    # says the swarm will refuse it (tui-web uses it); the swarm keeps it.
    await c.press("escape")
    await go_to(c, "secrets", "tui-secret")
    await c.press("ctrl+d")
    await c.on(ConfirmDelete)
    dialog = c.app.screen
    assert "1 secret: tui-secret" in str(dialog.query_one("#question").render())
    assert "tui-web" in str(dialog.query_one("#warning").render())
    await c.press("y")
    await c.notice("used by service(s) tui-web")
    assert "tui-secret" in {s["Name"] for s in made.json_lines("secret", "ls")}

    # ctrl+d on the Services pane removes a service (after the confirmation).
    made.cli("service", "create", "--detach", "--no-resolve-image", "--name", "tui-gone", "--replicas", "1", made.manager.image)
    await c.until(lambda: "tui-gone" in pane_replicas(c), "tui-gone in the pane", 30)
    await c.press("escape")
    await go_to(c, "services", "tui-gone")
    await c.press("ctrl+d")
    await c.on(ConfirmDelete)
    assert "1 service: tui-gone" in str(c.app.screen.query_one("#question").render())
    await c.press("y")
    await c.until(lambda: "tui-gone" not in docker_replicas(made), "docker service ls without tui-gone", CONVERGE)
    await c.until(lambda: "tui-gone" not in pane_replicas(c), "the pane without tui-gone", 30)

    # D drains the node under the Hosts pane's cursor, A activates it again.
    await c.press("escape")
    hosts = c.table("hosts")
    worker_name = c.app.store.host_name(made.worker_id)
    await go_to(c, "hosts", worker_name)

    def availability() -> str:
        return made.cli("node", "inspect", made.worker_id, "--format", "{{.Spec.Availability}}").strip()

    await c.press("D")
    # Draining moves tasks: the confirmation says which, first (the blast radius).
    await c.on(ConfirmDelete)
    # tui-agent is global: its task on the drained node stops, one replica fewer.
    assert "tui-agent: 2 → 1 running replicas" in str(c.app.screen.query_one("#impact").render())
    await c.press("y")
    await c.until(lambda: availability() == "drain", "the worker drained", 30)
    await c.until(lambda: hosts.rows_by_id[made.worker_id].availability == "drain", "the pane to show it drained", 30)
    await c.press("A")
    await c.until(lambda: availability() == "active", "the worker active again", 30)
    await c.until(lambda: hosts.rows_by_id[made.worker_id].availability == "active", "the pane to show it active", 30)


async def test_the_simulator_has_no_services_or_secrets_pane():
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    app = make_app(sim)
    try:
        async with app.run_test(size=SIZE) as pilot:
            c = Console(app, pilot, sim)
            await c.until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), "the dashboard")
            screen = c.screen
            assert screen.kinds == ("hosts", "containers", "volumes")
            assert not screen.query("#swarm") and not screen.query("#pane-services") and not screen.query("#pane-secrets")
            seen = []
            for _ in range(3):
                await c.press("tab")
                seen.append(screen.current)
            assert seen == ["containers", "volumes", "hosts"]
            # The swarm's keys do nothing here.
            for key in ("D", "A", "S"):
                await c.press(key)
                assert app.screen is screen and not app._my_tasks
    finally:
        await sim.close()
