"""Issue 13 in the console: `p` on the Registries screen's tags pulls the tag onto a host (the
Images screen's pull, with the same credentials lookup), and the Images screen's prune asks
dangling only or also unused, then confirms naming which and how many.

On the simulator: its registries answer the pull (the public one for anyone, the private one
only with a configured password), and the pull runs on its virtual clock."""

from __future__ import annotations

import os

from textual.widgets import Select

from backends.models import HostState
from console.screens.confirm import ConfirmDelete
from console.screens.host_images import HostImagesScreen, PruneChoice
from console.screens.pull_tag import PullTagForm
from console.screens.registries import PasswordPrompt, RepositoriesScreen, TagsScreen

# No password from the environment or a keyring of the test machine (an autouse fixture).
from .test_registries_screen import no_password_sources, open_registries  # noqa: F401

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


def tags_on(console, host_id: str) -> set[str]:
    return {t for i in console.app.store.inventory.host_images.values() if i.host_id == host_id for t in i.repo_tags}


async def open_tags(console, registry_row: int, repository_filter: str | None) -> TagsScreen:
    await open_registries(console)
    await console.press(*(["j"] * registry_row), "enter")
    return await _to_tags(console, repository_filter)


async def _to_tags(console, repository_filter: str | None) -> TagsScreen:
    await console.on(RepositoriesScreen)
    await console.until(lambda: console.table("repositories").row_count > 0, "the repositories")
    if repository_filter:
        await console.press("slash")
        await console.type(repository_filter)
        await console.press("enter")
        await console.until(lambda: len(console.table("repositories").visible_ids) == 1, "one repository")
    await console.press("enter")
    await console.on(TagsScreen)
    await console.until(lambda: console.table("tags").row_count > 0, "the tags")
    return console.app.screen


async def test_p_on_a_tag_pulls_it_onto_the_host_in_focus(console):
    focused = console.table("hosts").cursor_id
    running = sorted((h for h in console.app.store.inventory.hosts.values() if h.state is HostState.RUNNING),
                     key=lambda h: h.name)
    expected_host = focused if any(h.id == focused for h in running) else running[0].id

    tags = await open_tags(console, 0, "base/node")
    tag = console.table("tags").cursor_row.id
    reference = f"registry.example.local/base/node:{tag}"
    assert reference not in tags_on(console, expected_host)

    await console.press("p")
    await console.on(PullTagForm)
    form = console.app.screen
    assert form.reference == reference
    assert form.query_one("#host", Select).value == expected_host
    await console.press("ctrl+s")
    await console.until(lambda: console.app.screen is tags, "back on the tags")
    await console.until(
        lambda: any(t.kind == "pull_image" for t in console.app.store.inventory.tasks.values()), "the pull's task"
    )
    await console.finish(120)
    await console.until(lambda: reference in tags_on(console, expected_host), f"{reference} on the host", timeout=15)


async def test_a_private_tag_without_configured_credentials_fails_with_the_registrys_reason(console):
    await open_registries(console)
    await console.press("j", "enter")  # private: the browser asks for the password...
    await console.on(PasswordPrompt)
    await console.type("demo-password")
    await console.press("enter")
    await _to_tags(console, None)
    # ...which browsing used, but a pull takes only the configured registries' credentials.
    await console.press("p")
    await console.on(PullTagForm)
    assert console.app.screen.reference.startswith("private.example.local/")
    await console.press("ctrl+s")
    await console.until(
        lambda: any(t.kind == "pull_image" for t in console.app.store.inventory.tasks.values()), "the pull's task"
    )
    await console.finish(60)
    await console.notice("unauthorized: authentication required")
    said = next(n for n in console.notices() if "unauthorized: authentication required" in n)
    assert "\n" not in said and "Traceback" not in said


async def test_prune_unused_removes_an_unused_image_and_keeps_one_in_use(console):
    inv = console.app.store.inventory
    hosts = {i.host_id for i in inv.host_images.values() if i.container_ids} & {
        i.host_id for i in inv.host_images.values() if not i.container_ids and not i.dangling}
    host_id = sorted(hosts)[0]
    on_host = [i for i in inv.host_images.values() if i.host_id == host_id]
    unused = [i for i in on_host if not i.container_ids]
    dangling = [i for i in unused if i.dangling]
    kept = next(i for i in on_host if i.container_ids)
    gone = next(i for i in unused if not i.dangling)

    console.app.open_images(host_id)
    await console.on(HostImagesScreen)
    await console.press("P")
    await console.on(PruneChoice)
    counts = str(console.app.screen.query_one("#prune-counts").render())
    assert f"dangling only: {len(dangling)} image(s)" in counts
    assert f"also unused (no container uses them): {len(unused)} image(s)" in counts

    await console.press("u")
    await console.on(ConfirmDelete)
    question = str(console.app.screen.query_one("#question").render())
    warning = str(console.app.screen.query_one("#warning").render())
    assert question.startswith(f"Prune {len(unused)} image")
    assert warning.startswith(f"{len(unused)} image(s) no container uses")
    await console.press("y")
    await console.until(lambda: console.app.screen.__class__ is HostImagesScreen, "back on the images")
    await console.finish(60)
    await console.until(lambda: gone.id not in console.app.store.inventory.host_images, "the unused image gone", timeout=15)
    assert kept.id in console.app.store.inventory.host_images


async def test_prune_dangling_only_is_cancelled_without_removing_anything(console):
    inv = console.app.store.inventory
    host_id = sorted({i.host_id for i in inv.host_images.values() if not i.container_ids})[0]
    before = {i.id for i in inv.host_images.values() if i.host_id == host_id}
    console.app.open_images(host_id)
    await console.on(HostImagesScreen)
    await console.press("P")
    await console.on(PruneChoice)
    await console.press("escape")
    await console.on(HostImagesScreen)
    await console.finish(60)
    assert {i.id for i in console.app.store.inventory.host_images.values() if i.host_id == host_id} == before
