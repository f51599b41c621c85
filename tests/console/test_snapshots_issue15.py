"""Snapshots of the screens issue 15 adds: the logs of an application's containers (coloured
prefixes, narrowed by the filter) and the output of one of your own commands. Fixed seed, the
simulator's virtual clock: the same pictures on every run.

Update after an intended change: pytest tests/console/test_snapshots_issue15.py --snapshot-update
"""

from __future__ import annotations

import os
from types import SimpleNamespace

from backends.settings import Settings
from backends.simulator.about import SimulatorSettings
from console.app import NtnxConsoleApp
from console.command_config import UserCommand

from .conftest import SIZE
from .test_snapshots import settle

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


def _app(config=None) -> NtnxConsoleApp:
    settings = Settings(simulator=SimulatorSettings(seed=7, speed=0.0, activity=False))
    app = NtnxConsoleApp(settings, config)
    app.ANIMATION_LEVEL = "none"
    return app


def test_logs_of_an_application_filtered(snap_compare):
    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in ["tab", "slash", "a", "p", "i", "-", "2", "enter", "L"]:
            await pilot.press(key)
            await pilot.pause()
        await settle(pilot, lambda app: type(app.screen).__name__ == "LogsScreen"
                     and app.screen.query_one("#log").line_count > 100, "the logs")
        for key in ["slash", "e", "r", "r", "o", "r", "enter", "F", "end"]:  # end: the newest matches
            await pilot.press(key)
            await pilot.pause()
        await settle(pilot, lambda app: app.screen.query_one("#log").filtering, "the filter")
        pilot.app.clear_notifications()  # a toast's timeout is wall time: not in the picture
        await pilot.pause()

    assert snap_compare(_app(), terminal_size=SIZE, run_before=run_before)


def test_your_command_s_output(snap_compare):
    command = UserCommand("greet", "H", "host", ("echo", "hello", "{name}", "on {context}"))
    config = SimpleNamespace(commands=[command], keymap={}, path=None, registries={})

    async def run_before(pilot) -> None:
        await settle(pilot)
        await pilot.press("H")
        await settle(pilot, lambda app: type(app.screen).__name__ == "CommandOutputScreen" and app.screen.finished, "the output")

    assert snap_compare(_app(config), terminal_size=SIZE, run_before=run_before)
