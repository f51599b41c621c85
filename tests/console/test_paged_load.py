"""A paged snapshot on screen: the first page's rows at once, the Containers pane saying how
many of how many while the rest comes, every key working meanwhile, and the count reaching
the whole world. The simulator's pages are held by the test (its pause between pages waits
on an event) so "while loading" is a state the test controls, not a race."""

from __future__ import annotations

import asyncio

from backends.contract import ChangeBatch, Change, Inventory, Loading
from backends.models import Event, Severity
from backends.simulator import SimulatorBackend
from backends.simulator import backend as simulator_backend
from console.screens.dashboard import DashboardScreen
from console.store import InventoryStore
from tests.console.conftest import SIZE, Console, make_app

SCALE = 5_000


async def test_the_first_page_shows_while_the_rest_loads_and_keys_work(monkeypatch):
    release = asyncio.Event()

    async def held() -> None:
        await release.wait()

    monkeypatch.setattr(simulator_backend, "_loop_at_rest", held)
    sim = SimulatorBackend(seed=7, scale=SCALE, speed=0.0, activity=False)
    app = make_app(sim)
    try:
        async with app.run_test(size=SIZE) as pilot:
            c = Console(app, pilot, sim)
            await c.until(lambda: isinstance(app.screen, DashboardScreen) and c.table("containers").row_count > 0, "the first rows")
            table = c.table("containers")
            pane = app.screen.pane("containers")
            await c.until(lambda: "loading…" in str(pane.border_title), "the loading title")
            shown = table.row_count
            assert 0 < shown < SCALE and app.store.loading is not None
            assert str(pane.border_title) == f"Containers ({shown:,} of {SCALE:,} loading…)"
            assert c.table("hosts").row_count == SCALE // 20  # every machine came in the first page

            # Keys while loading: the cursor moves, a filter narrows, escape clears it.
            table.focus()
            first = table.cursor_id
            await c.press("down", "down")
            assert table.cursor_id not in (None, first)
            await c.press("slash")
            await c.type("queue-1")
            await c.until(lambda: table.filter_text == "queue-1" and not table.busy, "the filter")
            names = c.names("containers")
            assert names and all(name.startswith("queue-1") for name in names) and len(names) < shown
            await c.press("enter", "escape")
            await c.until(lambda: table.filter_text == "", "the filter cleared")
            assert app.store.loading is not None  # all of it happened during the load

            release.set()
            await c.until(lambda: app.store.loading is None, "the load to end", timeout=30)
            await c.until(lambda: table.row_count == SCALE, "every container on screen", timeout=30)
            assert len(app.store.inventory.containers) == SCALE == len(sim.store.containers)
            await c.until(lambda: str(pane.border_title) == f"Containers ({SCALE:,})", "the plain title")
    finally:
        release.set()
        await sim.close()


def _event(n: int) -> Event:
    return Event(f"e{n}", float(n), Severity.WARNING, "cm-web-01", "powered off", None, "host.powered_off")


def test_the_store_follows_the_load_and_takes_its_events_as_old_news():
    store = InventoryStore(clock=lambda: 100.0)
    store.load(Inventory(seq=1, loading=Loading("containers", 10)))
    assert store.loading == Loading("containers", 10)
    store.drain()
    page = ChangeBatch(2, (Change("events", "upsert", "e1", _event(1)),), Loading("containers", 10))
    store.ingest(page)
    drained = store.drain()
    assert store.loading is not None and not drained.loaded
    assert drained.new_events == []  # part of the first picture, not something that happened
    store.ingest(ChangeBatch(3, (Change("events", "upsert", "e2", _event(2)),)))  # a change meanwhile
    assert store.loading is not None and [e.id for e in store.drain().new_events] == ["e2"]
    store.ingest(ChangeBatch(4, (), Loading("containers", 10, done=True)))
    drained = store.drain()
    assert store.loading is None and drained.loaded and bool(drained)
