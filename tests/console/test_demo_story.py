"""The demo's story, as the console shows it: a machine crashes, a node fails and its
machines come back on another node with their volumes, an upgrade runs."""

from __future__ import annotations

from backends.models import HostState
from backends.simulator import SimulatorBackend
from console.screens.dashboard import DashboardScreen

from .conftest import SIZE, Console, make_app


async def test_the_demo_story_shows_as_it_happens():
    sim = SimulatorBackend(seed=7, speed=0.0, faults="story", activity=True)
    app = make_app(sim)
    try:
        async with app.run_test(size=SIZE, notifications=True) as pilot:
            c = Console(app, pilot, sim)
            await c.until(lambda: isinstance(app.screen, DashboardScreen) and c.table("hosts").row_count > 0, "the dashboard")
            hosts = c.table("hosts")

            await sim.advance(30)
            await c.until(lambda: any(h.state is HostState.CRASHED for h in hosts.rows_by_id.values()), "a crashed host on screen")
            await c.notice("crashed")

            before = {v.id: v.host_id for v in app.store.inventory.volumes.values()}
            node_of = {h.id: h.node_id for h in hosts.rows_by_id.values()}
            await sim.advance(60)
            await c.notice("Node failed")
            down = {n.id for n in app.store.inventory.nodes.values() if not n.up}
            victims = [host_id for host_id, node_id in node_of.items() if node_id in down]
            assert down and victims
            await sim.advance(60)

            def back_elsewhere() -> bool:  # as the Hosts pane shows them
                shown = [hosts.rows_by_id[host_id] for host_id in victims]
                return all(h.node_id not in down and h.state is not HostState.CRASHED for h in shown)

            await c.until(back_elsewhere, "the failed node's machines on other nodes")
            # every volume is still attached to the machine it was on: they moved together
            assert {v.id: v.host_id for v in app.store.inventory.volumes.values() if v.id in before} == before

            await c.until(lambda: any(t.kind == "upgrade_hosts" for t in c.screen.query_one("#tasks").shown), "the upgrade in the Tasks strip")
    finally:
        await sim.close()
