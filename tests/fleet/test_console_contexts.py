""":ctx NAME and :ctx -NAME in a running console (issue 14): a second context turns the
dashboard into a fleet's (CONTEXT column, both in the header), dropping it turns it back, and
the contexts open are remembered in the config."""

from __future__ import annotations

import tomllib

from backends.fleet import FleetBackend
from backends.settings import Settings
from backends.simulator import SimulatorBackend
from console.app import NtnxConsoleApp
from console.config import load_config
from console.screens.dashboard import DashboardScreen
from tests.waiting import wait_until
from widgets.resource_table import ResourceTable

SIZE = (160, 48)
CONFIG = """# kept as written
current_context = "east"

[contexts.east]
backend = "simulator"
seed = 7
speed = 0.0
activity = false

[contexts.west]
backend = "simulator"
seed = 2
speed = 0.0
activity = false
"""


async def test_ctx_opens_and_closes_a_context_and_remembers(config_file):
    config_file.write_text(CONFIG)
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    app = NtnxConsoleApp(Settings(backend="simulator", context="east"), load_config(config_file), backend=sim, owns_backend=True)
    app.ANIMATION_LEVEL = "none"
    async with app.run_test(size=SIZE) as pilot:

        def hosts() -> ResourceTable:
            return app.screen.query_one("#hosts", ResourceTable)

        def header() -> str:
            return str(app.screen.query_one("#status").render())

        def notices() -> list[str]:
            return [n.message for n in app._notifications]

        async def command(text: str) -> None:
            await pilot.press("colon", *[{" ": "space"}.get(ch, ch) for ch in text], "enter")
            await pilot.pause()

        await wait_until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), what="the dashboard")
        assert hosts().columns[0].key == "name"  # one context: no CONTEXT column

        await command("ctx west")
        await wait_until(lambda: isinstance(app.backend, FleetBackend), what="a fleet")
        await wait_until(
            lambda: isinstance(app.screen, DashboardScreen) and hosts().columns[0].key == "context"
            and {i.partition("/")[0] for i in hosts().rows_by_id} == {"east", "west"},
            what="both contexts' hosts with a CONTEXT column",
        )
        await wait_until(lambda: "east" in header() and "west" in header() and header().count("connected") == 2, what="header")
        data = tomllib.loads(config_file.read_text())
        assert data["fleet"] == ["east", "west"] and "# kept as written" in config_file.read_text()

        await command("ctx nowhere")
        await wait_until(lambda: any(":ctx nowhere: no such context" in n for n in notices()), what="the refusal")

        await command("ctx -west")
        await wait_until(
            lambda: isinstance(app.screen, DashboardScreen) and hosts().columns[0].key == "name"
            and hosts().row_count > 0 and all(i.startswith("east/") for i in hosts().rows_by_id),
            what="west's rows gone, no CONTEXT column",
        )
        data = tomllib.loads(config_file.read_text())
        assert data["current_context"] == "east" and "fleet" not in data


async def test_the_console_opened_on_two_contexts_of_the_config(config_file):
    from console.cli import build_parser, resolve_settings
    from console.fleet_commands import fleet_settings, make_app, normalize

    config_file.write_text(CONFIG)
    config = load_config(config_file)
    args = build_parser().parse_args(["--context", "east,west", "--read-only"])  # as `ntnx-console` gets it
    assert normalize(args) == ["east", "west"]
    settings = fleet_settings(["east", "west"], args, lambda one: resolve_settings(one, config, headless=False), [])
    app = make_app(settings, config)
    app.ANIMATION_LEVEL = "none"
    async with app.run_test(size=SIZE):
        await wait_until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), what="the dashboard")
        containers = app.screen.query_one("#containers", ResourceTable)
        await wait_until(lambda: {i.partition("/")[0] for i in containers.rows_by_id} == {"east", "west"}, what="both")
        header = str(app.screen.query_one("#status").render())
        assert "east" in header and "west" in header and header.count(" RO ") == 2  # --read-only reached each
        assert app.backend.read_only
