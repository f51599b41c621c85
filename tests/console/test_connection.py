"""The backend goes unreachable and comes back: the header says so with the data's age, the
console keeps working, errors are one line, and it recovers by itself."""

from __future__ import annotations

from backends.models import ContainerState
from console.screens.dashboard import DashboardScreen
from console.screens.details import HostDetails


async def test_partition_shows_unreachable_and_age_then_recovers(console):
    sim = console.sim
    sim.set_partition(True)
    await console.until(lambda: "UNREACHABLE" in console.header(), "UNREACHABLE in the header")
    await sim.advance(90)
    await console.until(lambda: "data 1m30s old" in console.header(), "the data's age in the header")

    # The console keeps working on the data it has: navigate, filter, open details.
    await console.press("j", "slash")
    await console.type("web")
    assert console.table("hosts").visible_count > 0
    await console.press("enter", "enter")
    await console.on(HostDetails)
    assert "UNREACHABLE" in console.header()
    await console.press("escape")
    await console.on(DashboardScreen)

    # An action fails with one clear line, not a traceback.
    await console.press("escape", "tab")
    table = console.table("containers")
    target = next(table.rows_by_id[i] for i in table.visible_ids if table.rows_by_id[i].state is ContainerState.RUNNING)
    table.move_cursor(target.id)
    await console.press("x")
    await console.notice("Unavailable:")
    assert all("\n" not in n and "Traceback" not in n for n in console.notices())

    sim.set_partition(False)
    await console.until(lambda: "connected" in console.header() and "UNREACHABLE" not in console.header(), "recovered")
    # and it follows changes again
    await console.press("x")
    await console.finish()
    await console.until(lambda: console.app.store.inventory.containers[target.id].state is ContainerState.EXITED, "stopped")
    await console.notice(f"stop container {target.name}: done")
