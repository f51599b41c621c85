"""The real console against the simulator on a virtual clock (speed 0): time moves only by
``sim.advance``; tests wait on conditions with a deadline, never on a bare sleep."""

from __future__ import annotations

import asyncio
import unicodedata
from dataclasses import dataclass

import pytest
from textual import events
from textual.keys import REPLACED_KEYS, _character_to_key, _get_unicode_name_from_key

from backends.settings import Settings
from backends.simulator import SimulatorBackend
from console.app import NtnxConsoleApp
from console.screens.dashboard import DashboardScreen
from tests.waiting import wait_until
from widgets.resource_table import ResourceTable

SIZE = (160, 48)


def make_app(sim: SimulatorBackend, **settings) -> NtnxConsoleApp:
    app = NtnxConsoleApp(Settings(**settings), None, backend=sim)
    app.ANIMATION_LEVEL = "none"
    return app


def key_event(key: str) -> events.Key:
    """The event a terminal's key makes, as Pilot's own ``press`` builds it."""
    try:
        char: str | None = unicodedata.lookup(_get_unicode_name_from_key(REPLACED_KEYS.get(key, key)))
    except KeyError:
        char = key if len(key) == 1 else None
    return events.Key(key, char)


async def type_burst(app, keys: list[str]) -> None:
    """Keys as fast as a paste or a slow ssh link delivers them: each is queued on the driver
    with only a yield in between (Pilot's ``press`` waits ~40 ms for idle after every key,
    which would both slow the tests and hide the races between keys and screen changes)."""
    for key in keys:
        event = key_event(key)
        event.set_sender(app)
        app._driver.send_message(event)
        await asyncio.sleep(0)


async def type_text(pilot, text: str) -> None:
    """Each character as the key a terminal sends, as fast as a quick typist or a paste
    delivers them; then the app is let settle. (Pilot's ``press`` waits for idle after every
    key: ~90 ms a key here, most of a form test's time.)"""
    await press_burst(pilot, [_character_to_key(ch) if not ch.isalnum() else ch for ch in text])


async def press_burst(pilot, keys: list[str]) -> None:
    """Keys queued one after another (``type_burst``), then the app let settle."""
    await type_burst(pilot.app, keys)
    await pilot.pause()
    await pilot.pause()


@dataclass
class Console:
    app: NtnxConsoleApp
    pilot: object
    sim: SimulatorBackend

    @property
    def screen(self):
        return self.app.screen

    def table(self, kind: str) -> ResourceTable:
        return self.app.screen.query_one(f"#{kind}", ResourceTable)

    def names(self, kind: str) -> list[str]:
        table = self.table(kind)
        return [table.rows_by_id[i].name for i in table.visible_ids]

    def find(self, kind: str, name: str):
        return next((i for i in self.app.store.inventory.of(kind).values() if i.name == name), None)

    def header(self) -> str:
        return str(self.app.screen.query_one("#status").render())

    def notices(self) -> list[str]:
        return [n.message for n in self.app._notifications]

    async def until(self, condition, what: str, timeout: float = 10.0) -> None:
        await wait_until(condition, timeout=timeout, what=what)

    async def notice(self, text: str) -> None:
        await self.until(lambda: any(text in n for n in self.notices()), f"a notification with {text!r}")

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()

    async def type(self, text: str) -> None:
        await type_text(self.pilot, text)

    async def finish(self, seconds: float = 900.0) -> None:
        """Let simulated time pass so started tasks run to their end."""
        await self.pilot.pause()
        await self.sim.advance(seconds)

    async def on(self, screen_type) -> None:
        await self.until(lambda: isinstance(self.app.screen, screen_type), f"the {screen_type.__name__}")
        await self.pilot.pause()


@pytest.fixture
async def sim():
    backend = SimulatorBackend(seed=7, speed=0.0, activity=False)
    yield backend
    await backend.close()


@pytest.fixture
async def console(sim):
    app = make_app(sim)
    async with app.run_test(size=SIZE) as pilot:
        harness = Console(app, pilot, sim)
        await harness.until(lambda: app.store.loaded and isinstance(app.screen, DashboardScreen), "the dashboard")
        await harness.until(lambda: harness.table("hosts").row_count > 0, "hosts on screen")
        await harness.until(lambda: "connected" in harness.header(), "the header")
        yield harness
