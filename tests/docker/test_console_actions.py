"""The real console (Textual, headless) on the real engine: run, remove and attach a volume
with the keys and forms a user has; the docker CLI checks the outcome."""

from __future__ import annotations

import json

import pytest
from textual.widgets import Button, Input, Select, Static

from backends.docker import DockerBackend
from backends.models import ContainerState
from backends.settings import Settings
from console.app import NtnxConsoleApp
from console.screens.confirm import ConfirmDelete
from console.screens.dashboard import DashboardScreen
from console.screens.forms import AttachVolumeForm, RunContainerForm
from tests.console.conftest import type_text
from tests.waiting import wait_until
from widgets.resource_table import ResourceTable

pytestmark = pytest.mark.docker
SIZE = (160, 48)


class Console:
    """The app under a Pilot, with the few things these tests look at."""

    def __init__(self, app: NtnxConsoleApp, pilot) -> None:
        self.app = app
        self.pilot = pilot

    def table(self, kind: str) -> ResourceTable:
        return self.app.screen.query_one(f"#{kind}", ResourceTable)

    def named(self, name: str):
        return next((c for c in self.app.store.inventory.containers.values() if c.name == name), None)

    def error(self, field_id: str) -> str:
        return str(self.app.screen.query_one(f"#{field_id}-error", Static).render())

    def notices(self) -> list[str]:
        return [n.message for n in self.app._notifications]

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()

    async def type(self, text: str) -> None:
        await type_text(self.pilot, text)

    async def on(self, screen_type) -> None:
        await wait_until(lambda: isinstance(self.app.screen, screen_type), what=f"the {screen_type.__name__}")
        await self.pilot.pause()

    async def cursor_on(self, cid: str) -> None:
        """Containers pane, cursor on ``cid`` once the console shows it."""
        await wait_until(lambda: cid in self.table("containers").rows_by_id, what="the container on screen")
        if self.app.screen.current != "containers":
            await self.press("tab")
        assert self.table("containers").move_cursor(cid)


@pytest.fixture
async def console(dockerd):
    backend = DockerBackend([dockerd.url])
    app = NtnxConsoleApp(Settings(backend="docker"), None, backend=backend)
    app.ANIMATION_LEVEL = "none"
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), what="the dashboard")
            await wait_until(lambda: app.screen.query_one("#hosts", ResourceTable).cursor_id is not None, what="a host")
            yield Console(app, pilot)
    finally:
        await backend.close()


def inspect(dockerd, ref: str) -> dict:
    return json.loads(dockerd.cli("inspect", ref))[0]


def exists(dockerd, ref: str) -> bool:
    return dockerd.cli("ps", "-aq", "--filter", f"name=^{ref}$").strip() != ""


async def test_run_a_container_from_the_form_with_a_volume(console, dockerd, image, name):
    dockerd.cli("volume", "create", f"{name}-v")
    await wait_until(lambda: any(v.name == f"{name}-v" for v in console.app.store.inventory.volumes.values()), what="volume")
    await console.press("r")
    await console.on(RunContainerForm)
    form = console.app.screen
    assert form.choice("host") is not None  # the host under the cursor
    await console.type("Busybox")
    assert "not an image reference" in console.error("image")
    assert form.query_one("#submit", Button).disabled
    await console.press(*["backspace"] * 7)
    await console.type(image)
    await console.press("tab")
    await console.type(name)
    form.query_one("#volumes", Input).value = f"{name}-v:/data"
    await console.pilot.pause()
    assert console.error("image") == "" and console.error("volumes") == ""
    await console.press("ctrl+s")
    await console.on(DashboardScreen)

    await wait_until(lambda: console.named(name) is not None, what="the new container in the console", timeout=20)
    await wait_until(lambda: console.named(name).state is ContainerState.RUNNING, what="running", timeout=20)
    await wait_until(lambda: console.named(name).id in console.table("containers").rows_by_id, what="its row")
    await wait_until(lambda: any(f"run container {name}: done" in n for n in console.notices()), what="the done notice")
    seen = inspect(dockerd, name)
    assert seen["State"]["Running"] and seen["Config"]["Image"] == image
    assert seen["HostConfig"]["NetworkMode"] == "none"  # the engine has no bridge: the backend's choice
    assert [(m["Name"], m["Destination"]) for m in seen["Mounts"]] == [(f"{name}-v", "/data")]
    dockerd.cli("rm", "-f", name)
    dockerd.cli("volume", "rm", f"{name}-v")


async def test_remove_one_stopped_container_then_two_marked_one_running(console, dockerd, image, name):
    ids = {n: dockerd.cli("create", "--network", "none", "--name", n, image).strip() for n in (f"{name}-a", f"{name}-b")}
    ids[f"{name}-c"] = dockerd.cli("run", "-d", "--network", "none", "--name", f"{name}-c", image).strip()
    await wait_until(lambda: console.named(f"{name}-c") is not None and console.named(f"{name}-c").state is ContainerState.RUNNING, what="c running")
    await console.cursor_on(ids[f"{name}-a"])
    await console.press("ctrl+d")
    await console.on(ConfirmDelete)
    assert str(console.app.screen.query_one("#question", Static).render()) == f"Remove 1 container: {name}-a?"
    assert not console.app.screen.query("#warning")  # a stopped one: nothing else happens
    await console.press("y")
    await console.on(DashboardScreen)
    await wait_until(lambda: not exists(dockerd, f"{name}-a"), what="removed from the engine", timeout=20)
    await wait_until(lambda: ids[f"{name}-a"] not in console.table("containers").rows_by_id, what="its row gone")

    for n in (f"{name}-c", f"{name}-b"):
        await console.cursor_on(ids[n])
        await console.press("space")
    assert console.table("containers").marked == {ids[f"{name}-b"], ids[f"{name}-c"]}
    await console.press("ctrl+d")
    await console.on(ConfirmDelete)
    assert str(console.app.screen.query_one("#question", Static).render()) == f"Remove 2 containers: {name}-b, {name}-c?"
    warning = str(console.app.screen.query_one("#warning", Static).render())
    assert warning == f"1 running ({name}-c): stopped and removed at once."
    await console.press("y")
    await console.on(DashboardScreen)
    await wait_until(
        lambda: not exists(dockerd, f"{name}-b") and not exists(dockerd, f"{name}-c"), what="both removed", timeout=20
    )
    table = console.table("containers")
    await wait_until(lambda: not ({ids[f"{name}-b"], ids[f"{name}-c"]} & set(table.rows_by_id)), what="both rows gone")
    assert not table.marked


async def test_attach_a_new_volume_into_a_running_container(console, dockerd, image, name):
    cid = dockerd.cli(
        "run", "-d", "--network", "none", "--name", name, "-e", "COLOR=blue", "--label", "team=infra",
        "--restart", "unless-stopped", image,
    ).strip()
    host_id = console.app.screen.query_one("#hosts", ResourceTable).cursor_id

    # From the Hosts pane no container is chosen: Docker cannot attach to a host alone.
    await console.press("a")
    await console.on(AttachVolumeForm)
    form = console.app.screen
    assert str(form.query_one(".form-title", Static).render()) == "Mount a volume into a container"
    assert "only into a container" in str(form.query_one("#explain", Static).render())
    assert not form.query_one("#size").display  # Docker volumes have no size of their own
    await console.type(f"{name}-vol")
    assert "choose the container" in console.error("container") and form.query_one("#submit", Button).disabled
    await console.press("ctrl+s")  # refused: nothing is sent
    assert isinstance(console.app.screen, AttachVolumeForm)
    assert not any(t.kind in ("create_volume", "attach_volume") for t in console.app.store.inventory.tasks.values())
    await console.press("escape")
    await console.on(DashboardScreen)

    # From the container's row: host and container are filled in; the path is checked as typed.
    await console.cursor_on(cid)
    await console.press("a")
    await console.on(AttachVolumeForm)
    form = console.app.screen
    assert form.choice("host") == host_id and form.choice("container") == cid
    await console.type(f"{name}-vol")
    form.query_one("#path").value = "data"
    await console.pilot.pause()
    assert "absolute" in console.error("path") and form.query_one("#submit", Button).disabled
    form.query_one("#path").value = "/srv/data"
    await console.pilot.pause()
    assert console.error("path") == "" and console.error("container") == ""
    await console.press("ctrl+s")
    await console.on(DashboardScreen)

    def attached():
        inv = console.app.store.inventory
        volume = next((v for v in inv.volumes.values() if v.name == f"{name}-vol"), None)
        now = console.named(name)
        return volume is not None and now is not None and now.id != cid and volume.container_ids == (now.id,)

    await wait_until(attached, what="the container re-created, using the new volume", timeout=30)
    now = console.named(name)
    await wait_until(lambda: now.id in console.table("containers").rows_by_id and cid not in console.table("containers").rows_by_id, what="rows")
    volume_row = next(v for v in console.table("volumes").rows_by_id.values() if v.name == f"{name}-vol")
    assert volume_row.container_ids == (now.id,)
    assert any(m.path == "/srv/data" for m in now.mounts)
    seen = inspect(dockerd, name)
    assert seen["Id"] == now.id and seen["State"]["Running"]
    assert "COLOR=blue" in seen["Config"]["Env"] and seen["Config"]["Labels"] == {"team": "infra"}
    assert seen["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped" and seen["HostConfig"]["NetworkMode"] == "none"
    assert [(m["Name"], m["Destination"]) for m in seen["Mounts"]] == [(f"{name}-vol", "/srv/data")]
    dockerd.cli("rm", "-f", name)
    dockerd.cli("volume", "rm", f"{name}-vol")


async def test_attach_an_existing_volume_into_a_stopped_container(console, dockerd, image, name):
    dockerd.cli("volume", "create", f"{name}-shared")
    cid = dockerd.cli("create", "--network", "none", "--name", name, "--label", "tier=db", image).strip()
    await console.cursor_on(cid)
    await wait_until(lambda: any(v.name == f"{name}-shared" for v in console.app.store.inventory.volumes.values()), what="volume")
    await console.press("a")
    await console.on(AttachVolumeForm)
    form = console.app.screen
    form.query_one("#mode", Select).value = "existing"
    await console.pilot.pause()
    assert not form.query_one("#volname").display and form.query_one("#volume").display
    assert "choose one of the host's volumes" in console.error("volume")
    volume = next(v for v in console.app.store.inventory.volumes.values() if v.name == f"{name}-shared")
    form.query_one("#volume", Select).value = volume.id
    await console.pilot.pause()
    assert console.error("volume") == "" and not form.query_one("#submit", Button).disabled
    await console.press("ctrl+s")
    await console.on(DashboardScreen)

    def mounted():
        now = console.named(name)
        return now is not None and now.id != cid and console.app.store.inventory.volumes[volume.id].container_ids == (now.id,)

    await wait_until(mounted, what="re-created with the volume", timeout=30)
    await wait_until(lambda: any(f"attach volume {name}-shared -> {name}:/data: done" in n for n in console.notices()), what="the done notice")
    seen = inspect(dockerd, name)
    assert seen["State"]["Status"] == "created"  # not started by the attach
    assert seen["Config"]["Labels"] == {"tier": "db"}
    assert [(m["Name"], m["Destination"]) for m in seen["Mounts"]] == [(f"{name}-shared", "/data")]
    dockerd.cli("rm", "-f", name)
    dockerd.cli("volume", "rm", f"{name}-shared")
