"""Actions the backend cannot do are hidden (footer) and refused (keys); read-only is loud."""

from __future__ import annotations

from backends.contract import ALL_CAPABILITIES, Capability
from backends.simulator import SimulatorBackend
from console.screens.dashboard import DashboardScreen

from .conftest import SIZE, Console, make_app


def footer_actions(app) -> set[str]:
    """The binding ids whose keys are live now."""
    return {binding.id for (_, binding, enabled, _) in app.screen.active_bindings.values() if enabled}




async def test_missing_capabilities_hide_their_keys():
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    sim.capabilities = ALL_CAPABILITIES - {Capability.HOSTS_CREATE, Capability.HOSTS_UPGRADE, Capability.CONTAINERS_LOGS}
    app = make_app(sim)
    try:
        async with app.run_test(size=SIZE) as pilot:
            c = Console(app, pilot, sim)
            await c.until(lambda: isinstance(app.screen, DashboardScreen) and c.table("hosts").row_count > 0, "the dashboard")
            shown = footer_actions(app)
            assert "host.create" not in shown and "host.upgrade" not in shown and "volume.attach" in shown
            await c.press("c", "u")
            assert isinstance(app.screen, DashboardScreen)
            await c.press("tab")
            assert "container.logs" not in footer_actions(app) and "container.start" in footer_actions(app)
    finally:
        await sim.close()


async def test_read_only_is_loud_and_hides_every_change():
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False, read_only=True)
    app = make_app(sim)
    try:
        async with app.run_test(size=SIZE) as pilot:
            c = Console(app, pilot, sim)
            await c.until(lambda: isinstance(app.screen, DashboardScreen) and "connected" in c.header(), "the dashboard")
            assert "READ-ONLY" in c.header()
            shown = footer_actions(app)
            assert not shown & {"host.create", "host.upgrade", "volume.attach", "container.run", "item.delete", "item.shell"}
            assert {"pane.filter", "pane.zoom", "pane.sort"} <= shown
            await c.press("c", "ctrl+d")
            assert isinstance(app.screen, DashboardScreen)
    finally:
        await sim.close()
