"""The Registries screen (`:registries`, and the palette) on the simulator: its two registries
listed without any config, registries → repositories → tags and back with Escape, the filter,
the private registry asking for its password in a masked field and saying "unauthorized" when
it is wrong, and a snapshot of the tags level.

The simulator's registries are served in-process through the real registry client, so what
is shown here went through the same challenges, paging and digest checks as a real one."""

from __future__ import annotations

import os

import pytest
from textual.widgets import Input

from backends.registries import credentials
from backends.registries.models import RegistryEntry
from backends.settings import Settings
from backends.simulator import SimulatorBackend
from backends.simulator.about import SimulatorSettings
from console.app import NtnxConsoleApp
from console.config import Config
from console.screens.registries import PasswordPrompt, RegistriesScreen, RepositoriesScreen, TagsScreen
from tests.waiting import wait_until

from .conftest import SIZE

os.environ.setdefault("TEXTUAL_ANIMATIONS", "none")


@pytest.fixture(autouse=True)
def no_password_sources(monkeypatch):
    """No password from the environment or a keyring on the test machine: the modal asks."""
    monkeypatch.delenv(credentials.ENV_PASSWORD, raising=False)
    monkeypatch.setattr(credentials, "_from_keyring", lambda entry: None)


def rows(console, table_id: str) -> list[str]:
    table = console.table(table_id)
    return [table.rows_by_id[i].id for i in table.visible_ids]


def line(console) -> str:
    return str(console.app.screen.query_one("#line").render())


async def open_registries(console) -> None:
    await console.press("colon")
    await console.type("registries")
    await console.press("enter")
    await console.on(RegistriesScreen)
    await console.until(lambda: console.table("registries").row_count == 2, "the two registries")


async def test_the_simulators_registries_are_listed_and_probed(console):
    await open_registries(console)
    assert rows(console, "registries") == ["example", "private"]
    table = console.table("registries")
    await console.until(
        lambda: all(table.rows_by_id[i].reachable for i in ("example", "private")), "both probed as reachable"
    )
    private = table.rows_by_id["private"]
    assert private.url == "https://private.example.local" and private.user == "demo" and private.builtin


async def test_registries_to_repositories_to_tags_and_back(console):
    await open_registries(console)
    await console.press("enter")  # example: the cursor starts on the first row
    await console.on(RepositoriesScreen)
    await console.until(lambda: console.table("repositories").row_count > 0, "the repositories")
    assert "shop/api" in rows(console, "repositories") and "shop/worker" in rows(console, "repositories")

    # The filter narrows the level, Escape clears it before it leaves.
    await console.press("slash")
    await console.type("worker")
    await console.press("enter")
    assert rows(console, "repositories") == ["shop/worker"]
    await console.press("slash", "escape")
    await console.until(lambda: len(rows(console, "repositories")) > 1, "the filter cleared")
    await console.press("slash")
    await console.type("shop/api")
    await console.press("enter")
    assert rows(console, "repositories") == ["shop/api"]

    await console.press("enter")
    await console.on(TagsScreen)
    await console.until(lambda: console.table("tags").row_count == 4, "the tags of shop/api")
    tags = console.table("tags")
    assert sorted(tags.rows_by_id) == ["3.13.0", "3.14.1", "3.14.2", "latest"]
    row = tags.rows_by_id["3.14.2"]
    assert row.digest == tags.rows_by_id["latest"].digest and row.platforms == ("linux/amd64",)
    assert row.size_bytes and row.size_bytes > 70_000_000

    await console.press("escape")
    await console.on(RepositoriesScreen)
    await console.press("escape")
    await console.on(RegistriesScreen)
    await console.press("escape")
    await console.until(lambda: type(console.app.screen).__name__ == "DashboardScreen", "the dashboard")


async def test_the_private_registry_asks_for_the_password_and_says_unauthorized_when_wrong(console):
    await open_registries(console)
    await console.press("j", "enter")  # private
    await console.on(PasswordPrompt)
    field = console.app.screen.query_one("#password", Input)
    assert field.password  # masked
    await console.type("not-the-password")
    await console.press("enter")
    await console.on(RepositoriesScreen)
    await console.until(lambda: line(console).startswith("unauthorized:"), "the refusal")
    assert "refused the password of demo" in line(console)
    assert "not-the-password" not in line(console)
    assert not any("not-the-password" in n for n in console.notices())
    assert console.table("repositories").row_count == 0

    # r asks again; the right one lists the repositories.
    await console.press("r")
    await console.on(PasswordPrompt)
    await console.type("demo-password")
    await console.press("enter")
    await console.on(RepositoriesScreen)
    await console.until(lambda: console.table("repositories").row_count == 3, "the private repositories")
    assert rows(console, "repositories") == ["internal/audit-agent", "payments/gateway", "payments/ledger"]
    assert not line(console)

    # Known for the session: the next level does not ask.
    await console.press("G", "enter")
    await console.on(TagsScreen)
    await console.until(lambda: console.table("tags").row_count == 3, "the tags of payments/ledger")


async def test_a_cancelled_prompt_is_one_line_and_nothing_is_listed(console):
    await open_registries(console)
    await console.press("j", "enter")
    await console.on(PasswordPrompt)
    await console.press("escape")
    await console.on(RepositoriesScreen)
    await console.until(lambda: line(console).startswith("unauthorized:"), "the refusal")
    assert "none was given" in line(console)


async def test_the_environments_password_answers_without_a_prompt(console, monkeypatch):
    monkeypatch.setenv(credentials.ENV_PASSWORD, "demo-password")
    await open_registries(console)
    await console.press("j", "enter")
    await console.on(RepositoriesScreen)
    await console.until(lambda: console.table("repositories").row_count == 3, "the private repositories")


async def test_a_configured_registry_that_does_not_answer_is_one_line(sim):
    entry = RegistryEntry(name="lab", url="https://127.0.0.1:9")  # nothing listens on port 9
    config = Config(path=None, registries={"lab": entry})  # type: ignore[arg-type]
    app = NtnxConsoleApp(Settings(), config, backend=sim)
    app.ANIMATION_LEVEL = "none"
    async with app.run_test(size=SIZE) as pilot:
        await wait_until(lambda: app.store.loaded, what="the inventory")
        app.run_command("registries")
        await wait_until(lambda: isinstance(app.screen, RegistriesScreen) and app.screen.query("#registries"), what="the registries")
        table = app.screen.query_one("#registries")
        await wait_until(lambda: table.row_count == 3, what="three registries")
        assert sorted(table.rows_by_id) == ["example", "lab", "private"]
        await wait_until(lambda: table.rows_by_id["lab"].reachable is False, what="the probe of lab", timeout=15)
        problem = table.rows_by_id["lab"].problem
        assert problem.startswith("unreachable:") and "\n" not in problem
        await pilot.press("j", "enter")  # example, lab, private
        await wait_until(lambda: isinstance(app.screen, RepositoriesScreen) and app.screen.query("#line"), what="its repositories")
        await wait_until(lambda: "unreachable:" in str(app.screen.query_one("#line").render()), what="the failure", timeout=15)


async def test_the_palette_offers_registries(console):
    await console.press("ctrl+p")
    await console.type("registries")
    await console.until(
        lambda: any(":registries" in str(o.prompt) for o in console.app.screen.query("OptionList").first().options),
        "the :registries entry",
    )
    await console.press("enter")
    await console.on(RegistriesScreen)


def test_the_tags_level(snap_compare, monkeypatch):
    monkeypatch.delenv(credentials.ENV_PASSWORD, raising=False)
    settings = Settings(simulator=SimulatorSettings(seed=7, speed=0.0, activity=False))
    app = NtnxConsoleApp(settings, None)
    app.ANIMATION_LEVEL = "none"

    async def run_before(pilot) -> None:
        await wait_until(lambda: app.store.loaded and len(app.screen_stack) > 1, what="the dashboard")
        await pilot.press("colon", *"registries", "enter")
        await wait_until(lambda: isinstance(app.screen, RegistriesScreen) and app.screen.query("#registries"), what="the registries")
        await wait_until(lambda: app.screen.query_one("#registries").row_count == 2, what="its rows")
        await pilot.press("enter")
        await wait_until(lambda: isinstance(app.screen, RepositoriesScreen) and app.screen.query("#repositories"), what="the repositories")
        await wait_until(lambda: app.screen.query_one("#repositories").row_count > 0, what="its rows")
        await pilot.press("slash", *"shop/api", "enter", "enter")
        await wait_until(lambda: isinstance(app.screen, TagsScreen) and app.screen.query("#tags"), what="the tags")
        await wait_until(lambda: app.screen.query_one("#tags").row_count == 4, what="its rows")
        await pilot.pause()

    assert snap_compare(app, terminal_size=SIZE, run_before=run_before)
