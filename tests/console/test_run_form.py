"""The Run form, every field filled from the keyboard: the container runs with those ports,
environment, volumes (an existing one and a new one), restart policy and labels; each bad
field says its one line and nothing is sent."""

from __future__ import annotations

import pytest
from textual.widgets import Button, Input, Select, Static

from backends.contract import VolumeSpec
from backends.models import ContainerState
from console.screens.dashboard import DashboardScreen
from console.screens.forms import RunContainerForm


def error_of(console, field_id: str) -> str:
    return str(console.screen.query_one(f"#{field_id}-error", Static).render())


async def _open(console) -> RunContainerForm:
    await console.press("r")
    await console.on(RunContainerForm)
    return console.screen


async def _fill(console, form, field_id: str, text: str) -> None:
    form.query_one(f"#{field_id}", Input).focus()
    await console.pilot.pause()
    await console.type(text)


async def test_every_field_filled_runs_the_container_with_them(console):
    host_id = console.table("hosts").cursor_id
    host = console.app.store.inventory.hosts[host_id]
    created = await console.sim.create_volume(VolumeSpec(name="keep", size_gib=3))
    await console.finish()
    await console.until(lambda: console.find("volumes", "keep") is not None, "the volume keep")
    assert (await console.sim.wait_task(created.id)).result_id

    form = await _open(console)
    await console.type("nginx:1.27")
    await console.press("tab")
    await console.type("web-all")
    await _fill(console, form, "command", "nginx -g 'daemon off;'")
    await _fill(console, form, "ports", "8080:80/tcp 443")
    await _fill(console, form, "env", "A=1 GREETING='two words'")
    await _fill(console, form, "volumes", "keep:/keep:ro fresh:5:/data")
    form.query_one("#restart", Select).focus()
    await console.pilot.pause()
    form.query_one("#restart", Select).value = "always"
    await _fill(console, form, "labels", "app=web team=infra")
    await console.pilot.pause()
    assert form.revalidate() == {}
    await console.press("ctrl+s")
    await console.on(DashboardScreen)
    for _ in range(3):  # the new volume is made first, then the container is run
        await console.finish()
        await console.pilot.pause()
    await console.until(lambda: console.find("containers", "web-all") is not None, "web-all")
    await console.finish()
    await console.until(lambda: console.find("containers", "web-all").state is ContainerState.RUNNING, "running")
    c = console.find("containers", "web-all")
    assert c.host_id == host_id and c.restart_policy == "always" and c.command == "nginx -g daemon off;"
    assert sorted((p.container_port, p.host_port) for p in c.ports) == [(80, 8080), (443, None)]
    assert dict(c.labels) == {"app": "web", "team": "infra"}
    volumes = console.app.store.inventory.volumes
    mounts = {volumes[m.source].name: (m.path, m.read_only) for m in c.mounts}
    assert mounts == {"keep": ("/keep", True), "fresh": ("/data", False)}
    assert console.find("volumes", "fresh").size_gib == 5 and console.find("volumes", "fresh").host_id == host.id
    doc = await console.sim.inspect_container(c.id)
    assert {"A=1", "GREETING=two words"} <= set(doc["Config"]["Env"])


@pytest.mark.parametrize(
    "field_id, text, says",
    [
        ("ports", "70000:80", "port '70000:80'"),
        ("ports", "53/udp", "only tcp"),
        ("env", "1BAD=x", "environment '1BAD=x'"),
        ("env", "A='unclosed", "environment: No closing quotation"),
        ("volumes", "data", "volume 'data'"),
        ("volumes", "data:0:/x", "size must be more than 0"),
        ("volumes", "data:/srv/../etc", "plain directory"),
        ("volumes", "no-such-volume:/data", "give a size to make it"),
        ("labels", "=x", "label '=x'"),
        ("command", "sh -c 'x", "command: No closing quotation"),
    ],
)
async def test_a_bad_field_says_its_one_line_and_does_not_submit(console, field_id, text, says):
    before = set(console.app.store.inventory.containers)
    form = await _open(console)
    await console.type("nginx:1.27")
    await _fill(console, form, field_id, text)
    error = error_of(console, field_id)
    assert says in error and len(error.splitlines()) == 1, error
    assert [f for f in ("image", "name", "host", "command", "ports", "env", "volumes", "labels") if error_of(console, f)] == [field_id]
    assert form.query_one("#submit", Button).disabled
    await console.press("ctrl+s")
    assert isinstance(console.screen, RunContainerForm)  # not sent: the form stays
    await console.finish()
    assert set(console.app.store.inventory.containers) == before


async def test_the_image_completes_from_the_host_images(console):
    form = await _open(console)
    candidates = form.image_candidates()
    if not candidates:
        pytest.skip("the simulated host has no images")
    first = candidates[0]
    await console.type(first[:2])
    await console.until(lambda: form.query_one("#image", Input)._suggestion != "", "a suggestion")
    suggestion = form.query_one("#image", Input)._suggestion
    assert suggestion.startswith(first[:2]) and suggestion in candidates
    await console.press("right")
    assert form.query_one("#image", Input).value == suggestion


async def test_the_image_completes_to_a_configured_registry_s_name(console):
    from types import SimpleNamespace

    from backends.registries.models import entry_from_table

    entry = entry_from_table("lab", {"url": "https://registry.example.com:5000"}, "test")
    console.app.config = SimpleNamespace(registries={"lab": entry}, keymap={})
    form = await _open(console)
    assert "registry.example.com:5000/" in form.image_candidates()
    await console.type("registry.example.c")  # the simulator's images come from registry.example.local
    image = form.query_one("#image", Input)
    await console.until(lambda: image._suggestion == "registry.example.com:5000/", "the registry's name")
    await console.press("right")
    await console.type("team/app:1.2")
    assert image.value == "registry.example.com:5000/team/app:1.2" and error_of(console, "image") == ""
