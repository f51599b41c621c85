"""The console on the simulator in swarm mode (``--demo --sim-swarm``), on the virtual clock:
the Services pane follows a node failure live (a replica short, then whole again on other
nodes), and D on the Hosts pane drains a node whose tasks then run elsewhere."""

from __future__ import annotations

import pytest

from backends.models import ContainerState
from backends.simulator import SimulatorBackend
from console.screens.dashboard import DashboardScreen

from .conftest import SIZE, Console, make_app


@pytest.fixture
async def swarm_console():
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False, swarm=True)
    app = make_app(sim)
    try:
        async with app.run_test(size=SIZE) as pilot:
            c = Console(app, pilot, sim)
            await c.until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), "the dashboard")
            await c.until(lambda: c.table("services").row_count == 6, "the services on screen")
            yield c
    finally:
        await sim.close()


def replicas(c: Console, name: str) -> str:
    table = c.table("services")
    column = next(col for col in table.columns if col.key == "replicas")
    row = next(table.rows_by_id[i] for i in table.visible_ids if table.rows_by_id[i].name == name)
    return column.plain(row)


async def test_a_node_failure_shows_live_in_the_services_pane(swarm_console: Console):
    c = swarm_console
    assert c.screen.kinds == ("hosts", "containers", "volumes", "services", "secrets")
    assert replicas(c, "web") == "4/4"
    inv = c.sim.store.snapshot()
    web_task = next(t for t in inv.containers.values() if t.service == "web" and t.slot == 3)
    node = inv.hosts[web_task.host_id].node_id
    c.sim.fail_node(node)
    await c.sim.advance(1.5)  # rescheduled, not started yet: a replica short
    await c.until(lambda: replicas(c, "web") == "3/4", "web a replica short")
    await c.sim.advance(10)
    await c.until(lambda: replicas(c, "web") == "4/4", "web whole again")
    moved = [t for t in c.app.store.inventory.containers.values()
             if t.service == "web" and t.slot == 3 and t.desired_state == "running"]
    assert len(moved) == 1 and moved[0].host_id != web_task.host_id and moved[0].state is ContainerState.RUNNING


async def test_drain_from_the_hosts_pane_moves_the_tasks(swarm_console: Console):
    c = swarm_console
    target = "cm-edge-01"
    host_id = c.find("hosts", target).id
    await c.press("slash")
    await c.type(target)
    await c.press("enter")
    await c.until(lambda: c.table("hosts").cursor_row is not None and c.table("hosts").cursor_row.name == target,
                  f"{target} under the cursor")
    await c.press("D")
    if not isinstance(c.app.screen, DashboardScreen):  # a confirmation naming the tasks it moves
        await c.press("y")
    await c.until(lambda: c.find("hosts", target).availability == "drain", "the node drained")
    await c.sim.advance(10)

    def moved() -> bool:
        tasks = [t for t in c.app.store.inventory.containers.values() if t.service]
        return not [t for t in tasks if t.host_id == host_id and t.state is ContainerState.RUNNING] and all(
            s.replicas_running == s.replicas_desired for s in c.app.store.inventory.services.values())

    await c.until(moved, "the tasks running on other nodes")
    await c.until(lambda: c.table("hosts").rows_by_id[host_id].availability == "drain", "the Hosts pane to show it")
