"""A simulated context and a real Docker context side by side (issue 14): in the CLI and in
one dashboard, an action on a row going to its context, and the engine killed while the
simulated context stays live. A private dockerd: these tests kill it."""

from __future__ import annotations

import json

import pytest

from backends.contract import ConnectionState
from backends.docker import DockerBackend
from backends.fleet import FleetBackend
from backends.models import ContainerState
from backends.settings import Settings
from backends.simulator import SimulatorBackend
from console.app import NtnxConsoleApp
from console.screens.dashboard import DashboardScreen
from tests.daemons import cleanup_dockerd, start_dockerd
from tests.waiting import wait_until
from widgets.resource_table import ResourceTable

pytestmark = pytest.mark.docker
SIZE = (160, 48)


@pytest.fixture(scope="module")
def fleet_dockerd():
    daemon = start_dockerd()
    try:
        yield daemon
    finally:
        cleanup_dockerd(daemon)


def _config(path, daemon) -> None:
    path.write_text(
        '[contexts.sim-east]\nbackend = "simulator"\nseed = 7\n\n'
        f'[contexts.local-docker]\nbackend = "docker"\nhosts = ["{daemon.url}"]\n'
    )


def _running(daemon, name: str) -> bool:
    return daemon.cli("inspect", "-f", "{{.State.Running}}", name).strip() == "true"


def test_the_cli_lists_both_contexts_and_stops_a_container_in_the_docker_one(cli, config_file, fleet_dockerd):
    daemon = fleet_dockerd
    if daemon.proc is None:
        daemon.start()
    _config(config_file, daemon)
    daemon.cli("run", "-d", "--network", "none", "--name", "fleet-cli", daemon.image)
    r = cli("--context", "sim-east,local-docker", "hosts", "list", "--json")
    assert r.code == 0, r.err
    rows = json.loads(r.out)
    assert {row["context"] for row in rows} == {"sim-east", "local-docker"}
    # The engine cannot be powered on: refused in one line naming its context.
    engine = next(row for row in rows if row["context"] == "local-docker")
    refused = cli("--context", "sim-east,local-docker", "host", "power-on", engine["id"])
    assert refused.code == 4 and refused.err.splitlines()[-1].startswith("Permission denied: context local-docker: ")
    containers = json.loads(cli("--context", "sim-east,local-docker", "containers", "list", "--json").out)
    (mine,) = [c for c in containers if c["name"] == "fleet-cli"]
    assert mine["context"] == "local-docker" and mine["id"].startswith("local-docker/")
    assert _running(daemon, "fleet-cli")
    stop = cli("--context", "sim-east,local-docker", "container", "stop", "fleet-cli", "--wait")  # unique: no CONTEXT/
    assert stop.code == 0, stop.err
    assert not _running(daemon, "fleet-cli")  # the engine itself says so
    # CONTEXT/NAME looks in that context only: db-1 is the simulator's, not the engine's.
    elsewhere = cli("--context", "sim-east,local-docker", "container", "start", "local-docker/db-1")
    assert elsewhere.code == 1 and elsewhere.err.splitlines()[-1] == "Not found: container 'local-docker/db-1' not found"


async def test_one_dashboard_for_both_and_the_simulated_context_lives_on_when_the_engine_dies(fleet_dockerd):
    daemon = fleet_dockerd
    if daemon.proc is None:
        daemon.start()
    cid = daemon.cli("create", "--network", "none", "--name", "fleet-tui", daemon.image).strip()
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    fleet = FleetBackend({"sim-east": sim, "local-docker": DockerBackend([daemon.url])})
    app = NtnxConsoleApp(Settings(), None, backend=fleet, owns_backend=True)
    app.ANIMATION_LEVEL = "none"
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), what="the dashboard")
        hosts = app.screen.query_one("#hosts", ResourceTable)
        containers = app.screen.query_one("#containers", ResourceTable)
        fid = f"local-docker/{cid}"
        await wait_until(lambda: fid in containers.rows_by_id, what="the engine's container on screen", timeout=20)
        assert [c.key for c in hosts.columns][0] == "context" and containers.columns[0].title == "CONTEXT"
        contexts = {i.partition("/")[0] for i in hosts.rows_by_id}
        assert contexts == {"sim-east", "local-docker"}
        header = lambda: str(app.screen.query_one("#status").render())  # noqa: E731
        await wait_until(lambda: "sim-east" in header() and "local-docker" in header(), what="both in the header")
        assert header().count("connected") == 2

        # The filter sees a row's context: only the engine's rows are left.
        await pilot.press("tab")
        await pilot.press("slash", *"local-docker")
        await wait_until(
            lambda: fid in containers.visible_ids and all(i.startswith("local-docker/") for i in containers.visible_ids),
            what="the filter across contexts",
        )
        assert containers.row_count > len(containers.visible_ids)  # the simulated ones filtered out
        await pilot.press("enter")

        # An action on the row goes to that row's context: the engine starts it.
        assert containers.move_cursor(fid)
        await pilot.press("t")
        await wait_until(lambda: _running(daemon, "fleet-tui"), what="started on the engine", timeout=20)
        await wait_until(lambda: app.store.inventory.containers[fid].state is ContainerState.RUNNING, what="shown running")

        daemon.kill()
        await wait_until(lambda: "UNREACHABLE" in header(), what="the engine's context unreachable", timeout=30)
        states = {s.name: s for s in fleet.context_states()}
        assert states["local-docker"].state is ConnectionState.UNREACHABLE
        assert states["sim-east"].state is ConnectionState.CONNECTED
        line = header().splitlines()[0]
        assert line.index("local-docker") < line.index("UNREACHABLE") and "sim-east" in line
        assert app.store.state is ConnectionState.DEGRADED
        assert fid in app.store.inventory.containers  # its last data is kept

        # The simulated context is live: a change there reaches the dashboard.
        inv = await sim.snapshot()
        victim = next(c for c in inv.containers.values() if c.state is ContainerState.RUNNING)
        await fleet.stop_container(f"sim-east/{victim.id}")
        await sim.advance(120)
        await wait_until(
            lambda: app.store.inventory.containers[f"sim-east/{victim.id}"].state is ContainerState.EXITED,
            what="the simulated context's change on screen",
        )
        await wait_until(lambda: "data " in header() and " old" in header(), what="the engine's data age in the header")
