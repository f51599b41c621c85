"""The real console (Textual, headless) on a real engine: what a user does with the keys."""

from __future__ import annotations

import pytest

from backends.docker import DockerBackend
from backends.models import ContainerState, HostState
from backends.settings import Settings
from console.app import NtnxConsoleApp
from console.screens.confirm import ConfirmDelete
from console.screens.dashboard import DashboardScreen
from console.screens.logs import LogsScreen
from tests.daemons import cleanup_dockerd, start_dockerd
from tests.waiting import wait_until
from widgets.log_view import LogView
from widgets.resource_table import ResourceTable

pytestmark = pytest.mark.docker
SIZE = (160, 48)


@pytest.fixture(scope="module")
def console_dockerd():
    # Its own engine: the test kills it.
    daemon = start_dockerd()
    try:
        yield daemon
    finally:
        cleanup_dockerd(daemon)


async def test_start_stop_logs_and_an_engine_that_dies_and_comes_back(console_dockerd):
    daemon = console_dockerd
    cid = daemon.cli("create", "--network", "none", "--name", "web", daemon.image).strip()
    backend = DockerBackend([daemon.url])
    app = NtnxConsoleApp(Settings(backend="docker"), None, backend=backend)
    app.ANIMATION_LEVEL = "none"
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), what="the dashboard")
        table = app.screen.query_one("#containers", ResourceTable)
        await wait_until(lambda: cid in table.rows_by_id, what="the container on screen")

        def now():
            return app.store.inventory.containers[cid]

        await pilot.press("tab")
        assert table.move_cursor(cid)
        await pilot.press("t")
        await wait_until(lambda: now().state is ContainerState.RUNNING, what="started", timeout=20)
        await pilot.press("l")
        await wait_until(lambda: isinstance(app.screen, LogsScreen), what="the logs screen")
        log = app.screen.query_one(LogView)
        await wait_until(lambda: log.line_count > 0 and "ready" in log.lines[-1], what="the container's output")
        await pilot.press("escape")
        await wait_until(lambda: isinstance(app.screen, DashboardScreen), what="back on the dashboard")
        assert table.move_cursor(cid)
        await pilot.press("x")
        # "web" is the only replica of its application: stopping it is an outage, so the
        # console asks first and says so.
        await wait_until(lambda: isinstance(app.screen, ConfirmDelete), what="the outage confirmation")
        assert "OUTAGE" in str(app.screen.query_one("#impact").render())
        await pilot.press("y")
        await wait_until(lambda: now().state is ContainerState.EXITED, what="stopped", timeout=20)

        daemon.kill()
        host_id = now().host_id
        await wait_until(
            lambda: app.store.inventory.hosts[host_id].state is HostState.UNREACHABLE, what="unreachable", timeout=15
        )
        await pilot.pause()
        assert app.is_running and cid in app.store.inventory.containers  # no crash, last data kept
        daemon.start()
        daemon.cli("create", "--network", "none", "--name", "after", daemon.image)
        await wait_until(lambda: app.store.inventory.hosts[host_id].state is HostState.RUNNING, what="back", timeout=20)
        await wait_until(
            lambda: any(c.name == "after" for c in app.store.inventory.containers.values()), what="fresh data"
        )
    await backend.close()
