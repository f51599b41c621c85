"""Snapshots (pytest-textual-snapshot) of the dashboard, each details screen, each form and
the help: fixed seed, fixed size, no animation or blinking; every time shown comes from the
simulator's virtual clock, so the pictures are the same on every run.

Update after an intended change: pytest tests/console/test_snapshots.py --snapshot-update
"""

from __future__ import annotations

import os

import pytest
from textual.widgets import Input

from backends.settings import Settings
from backends.simulator.about import SimulatorSettings
from console.app import NtnxConsoleApp
from console.screens.dashboard import DashboardScreen
from tests.waiting import wait_until

from .conftest import SIZE

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


def demo_app(*, swarm: bool = False) -> NtnxConsoleApp:
    settings = Settings(simulator=SimulatorSettings(seed=7, speed=0.0, activity=False, swarm=swarm))
    app = NtnxConsoleApp(settings, None)
    app.ANIMATION_LEVEL = "none"
    return app


async def settle(pilot, condition=lambda app: True, what: str = "the screen") -> None:
    app = pilot.app
    await wait_until(
        lambda: isinstance(app.screen_stack[1] if len(app.screen_stack) > 1 else None, DashboardScreen)
        and app.screen_stack[1].query_one("#hosts").row_count > 0
        and "connected" in str(app.screen_stack[1].query_one("#status").render()),
        what="the dashboard",
    )
    await wait_until(lambda: condition(app), what=what)
    await pilot.pause()
    for field in app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause(0.3)  # one drain of the store, so every pane shows the same data


def shoot(snap_compare, keys=(), condition=lambda app: True, what="the screen", *, swarm: bool = False):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in keys:
            await pilot.press(key)
            await pilot.pause()
        await settle(pilot, condition, what)

    return snap_compare(demo_app(swarm=swarm), terminal_size=SIZE, run_before=run_before)


def on(name: str):
    return lambda app: type(app.screen).__name__ == name


def test_dashboard(snap_compare):
    assert shoot(snap_compare)


def test_dashboard_filtered_and_marked(snap_compare):
    assert shoot(snap_compare, ["slash", "w", "e", "b", "enter", "space", "tab"])


def plotted(app) -> bool:
    """The details' plots hold the simulator's whole past window (fetched when they open)."""
    from console.history import SLOTS

    store = app.store
    return store.history.window(app.screen.item_id, store.clock()).samples() == SLOTS


def test_host_details(snap_compare):
    # With its CPU, memory and network plots full of the simulator's past.
    assert shoot(snap_compare, ["enter"], lambda app: on("HostDetails")(app) and plotted(app), "the host's plots")


def test_container_details(snap_compare):
    def ready(app):
        return on("ContainerDetails")(app) and app.screen.query_one("#log").line_count > 0 and str(
            app.screen.query_one("#inspect").render()
        ) != "…" and plotted(app)

    assert shoot(snap_compare, ["tab", "enter"], ready, "inspect and logs")


def test_volume_details(snap_compare):
    assert shoot(snap_compare, ["shift+tab", "enter"], on("VolumeDetails"))


def test_create_host_form_rejecting_a_name(snap_compare):
    assert shoot(snap_compare, ["c", *"Web_01!"], on("CreateHostForm"))


def test_attach_volume_form(snap_compare):
    assert shoot(snap_compare, ["a", *"data-9"], on("AttachVolumeForm"))


def test_run_container_form(snap_compare):
    assert shoot(snap_compare, ["r", *"nginx:1.27"], on("RunContainerForm"))


def test_upgrade_form_preview(snap_compare):
    assert shoot(snap_compare, ["space", "j", "space", "j", "space", "u"], lambda app: on("UpgradeScreen")(app) and app.screen.plan is not None)


def test_confirm_delete(snap_compare):
    assert shoot(snap_compare, ["space", "j", "space", "ctrl+d"], on("ConfirmDelete"))


def test_help(snap_compare):
    assert shoot(snap_compare, ["question_mark"], on("HelpScreen"))


@pytest.mark.parametrize("command", ["tasks", "events"])
def test_lists(snap_compare, command):
    assert shoot(snap_compare, ["colon", *command, "enter"], on(f"{command.title()}Screen"))


# The simulator as a swarm (--sim-swarm): the Services and Secrets panes, a service's details.


def _on_services(app) -> bool:
    screen = app.screen
    return isinstance(screen, DashboardScreen) and screen.current == "services" and screen.table("services").row_count > 0


def test_swarm_services_pane(snap_compare):
    assert shoot(snap_compare, ["colon", *"services", "enter"], _on_services, "the Services pane", swarm=True)


def test_swarm_service_details(snap_compare):
    def ready(app):
        return on("ServiceDetails")(app) and app.screen.query_one("#containers").row_count > 0

    assert shoot(snap_compare, ["colon", *"services", "enter", "j", "enter"], ready, "the service's tasks", swarm=True)
