"""Adding an action is one record in ``console.actions``: it gets a key on the dashboard, a
line in the help screen, an entry in the command palette, read-only hiding, and a CLI
subcommand. Nothing else is edited."""

from __future__ import annotations

import pytest

from backends.contract import Capability
from backends.models import HostState
from backends.simulator import SimulatorBackend
from console import actions
from console.cli import main
from console.screens.dashboard import DashboardScreen
from console.screens.help import HelpScreen
from tests.console.conftest import SIZE, Console, make_app

TOY = actions.Action(
    "host.toy_off", "Toy off", "Power the host off (a toy action for the registry test)", actions.HOSTS, keys="b",
    panes=("hosts",), needs=Capability.HOSTS_POWER, run=lambda b, h: b.power_off_host(h.id),
    cli={"hosts": ("host", "toy-off")},
)


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setattr(actions, "ACTIONS", [*actions.ACTIONS, TOY])  # the one record


def live_ids(app) -> set[str]:
    return {binding.id for (_, binding, enabled, _) in app.screen.active_bindings.values() if enabled}


async def test_the_toy_action_has_a_key_a_help_line_and_a_palette_entry(toy):
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    app = make_app(sim)
    try:
        async with app.run_test(size=SIZE) as pilot:
            c = Console(app, pilot, sim)
            await c.until(lambda: isinstance(app.screen, DashboardScreen) and c.table("hosts").row_count > 0, "the dashboard")
            assert "host.toy_off" in live_ids(app)
            host = c.table("hosts").cursor_row
            assert host.state is HostState.RUNNING
            await c.press("b")
            await c.until(lambda: any(t.kind == "power_off_host" and t.target_id == host.id for t in app.store.inventory.tasks.values()), "the task")
            await c.finish()
            await c.until(lambda: c.find("hosts", host.name).state is HostState.STOPPED, "the host stopped")
            # Not on another pane.
            await c.press("tab")
            assert "host.toy_off" not in live_ids(app)
            await c.press("shift+tab", "question_mark")
            await c.on(HelpScreen)
            rows = {row.binding_id: row for row in app.screen.rows}
            assert rows["host.toy_off"].keys == "b" and "toy action" in rows["host.toy_off"].description
            await c.press("escape")
            await c.on(DashboardScreen)
            from console.commands import ConsoleCommands

            provider = ConsoleCommands(app.screen, None)
            titles = [title for title, _, _ in provider._commands()]
            assert "Toy off (hosts)" in titles
    finally:
        await sim.close()


async def test_the_toy_action_is_hidden_and_refused_when_read_only(toy):
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False, read_only=True)
    app = make_app(sim)
    try:
        async with app.run_test(size=SIZE) as pilot:
            c = Console(app, pilot, sim)
            await c.until(lambda: isinstance(app.screen, DashboardScreen) and c.table("hosts").row_count > 0, "the dashboard")
            assert "host.toy_off" not in live_ids(app)
            await c.press("b")
            assert not any(t.kind == "power_off_host" for t in app.store.inventory.tasks.values())
    finally:
        await sim.close()


def test_the_toy_action_is_a_cli_subcommand(toy, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    assert main(["--demo", "host", "toy-off", "cm-web-01", "--wait", "--json"]) == 0
    out = capsys.readouterr().out
    assert '"kind": "power_off_host"' in out and '"status": "SUCCEEDED"' in out
    assert main(["--demo", "--read-only", "host", "toy-off", "cm-web-01"]) == 4
