"""Write SVG screenshots of the console's main screens from the demo (the simulator with its
scripted story), on the simulator's virtual clock so every run draws the same pictures.

    .venv/bin/python screenshots/make.py          # writes screenshots/*.svg
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")

from backends.settings import Settings  # noqa: E402
from backends.simulator import SimulatorBackend  # noqa: E402
from console.app import NtnxConsoleApp  # noqa: E402
from console.screens.dashboard import DashboardScreen  # noqa: E402
from tests.waiting import wait_until  # noqa: E402
from textual.widgets import Input  # noqa: E402

SIZE = (160, 48)


async def main() -> int:
    sim = SimulatorBackend(seed=7, speed=0.0, faults="story", activity=True)
    app = NtnxConsoleApp(Settings(), None, backend=sim)
    app.ANIMATION_LEVEL = "none"
    written: list[str] = []

    async with app.run_test(size=SIZE, notifications=True) as pilot:

        async def settle() -> None:
            await pilot.pause()
            for field in app.screen.query(Input):
                field.cursor_blink = False
            await pilot.pause(0.4)  # one drain of the store

        async def shoot(name: str) -> None:
            await settle()
            app.save_screenshot(filename=f"{name}.svg", path=str(HERE))
            written.append(f"{name}.svg")

        async def keys(*pressed: str) -> None:
            await pilot.press(*pressed)
            await pilot.pause()

        await wait_until(lambda: isinstance(app.screen, DashboardScreen) and app.store.loaded, what="the dashboard")
        await shoot("dashboard")

        await sim.advance(30)  # the story: a machine crashes
        await shoot("story-1-machine-crashed")
        await sim.advance(60)  # a node fails; its machines come back elsewhere with their volumes
        await shoot("story-2-node-failed")
        await sim.advance(75)  # an upgrade runs in waves
        await shoot("story-3-upgrade-running")

        def plotted() -> bool:  # the details' plots hold the backend's past (fetched when they open)
            from console.history import SLOTS

            return app.store.history.window(app.screen.item_id, app.store.clock()).samples() == SLOTS

        await keys("enter")
        await wait_until(plotted, what="the host's plots")
        await shoot("host-details")
        await keys("escape", "tab", "enter")
        await wait_until(lambda: app.screen.query_one("#log").line_count > 0 and plotted(), what="the log tail and the plots")
        await shoot("container-details")
        await keys("escape", "shift+tab", "enter")
        await shoot("volume-details")
        await keys("escape", "tab", "l")
        await wait_until(lambda: app.screen.query_one("#log").line_count > 0, what="the logs")
        await shoot("logs")
        await keys("escape", "c", *"Web_01!")
        await shoot("form-create-host")
        await keys("escape", "a", *"data-9")
        await shoot("form-attach-volume")
        await keys("escape", "space", "j", "space", "j", "space", "u")
        await shoot("form-upgrade-preview")
        await keys("escape", "question_mark")
        await shoot("help")
        await keys("escape", "colon", *"tasks", "enter")
        await shoot("tasks")
    await sim.close()
    await swarm_shots(written)
    print("wrote", ", ".join(written), "in", HERE)
    return 0


async def swarm_shots(written: list[str]) -> None:
    """The demo as a swarm (``--demo --sim-swarm``): the Services pane after the story's node
    failure, its machines' tasks rescheduled on other nodes, and the web service's tasks."""
    sim = SimulatorBackend(seed=7, speed=0.0, faults="story", activity=True, swarm=True)
    app = NtnxConsoleApp(Settings(), None, backend=sim)
    app.ANIMATION_LEVEL = "none"
    async with app.run_test(size=SIZE, notifications=True) as pilot:

        async def shoot(name: str) -> None:
            await pilot.pause()
            await pilot.pause(0.4)  # one drain of the store
            app.save_screenshot(filename=f"{name}.svg", path=str(HERE))
            written.append(f"{name}.svg")

        await wait_until(lambda: isinstance(app.screen, DashboardScreen) and app.store.loaded, what="the dashboard")
        await pilot.press("colon", *"services", "enter")
        await sim.advance(70)  # the node fails at 60 s: its machines' tasks start elsewhere
        await shoot("swarm-services")
        await pilot.press("enter")  # the web service: a task moved off the failed node
        await wait_until(lambda: type(app.screen).__name__ == "ServiceDetails", what="the service's details")
        await shoot("swarm-service-details")
    await sim.close()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
