"""An engine event that arrives while the previous events' refresh is under way is not left
waiting for the next resync (found in the suite: a `docker create` right after a `docker
volume create` showed only 30 s later)."""

from __future__ import annotations

import asyncio

from backends.docker.inventory import EngineInventory
from tests.waiting import wait_until


async def test_an_event_during_a_refresh_is_refreshed_too():
    inventory = EngineInventory(api=None, host_id="h1", on_change=lambda: None)  # type: ignore[arg-type]
    volumes_busy = asyncio.Event()
    release = asyncio.Event()
    refreshed: list[set[str]] = []

    async def refresh_volumes() -> None:
        volumes_busy.set()
        await release.wait()  # the engine is slow to list volumes

    async def refresh_containers(ids) -> None:
        refreshed.append(set(ids))

    inventory.refresh_volumes = refresh_volumes  # type: ignore[method-assign]
    inventory.refresh_containers = refresh_containers  # type: ignore[method-assign]
    inventory.on_event({"Type": "volume", "Action": "create", "Actor": {"ID": "data"}})
    await asyncio.wait_for(volumes_busy.wait(), 5)
    # The container is created while the volumes are being listed.
    inventory.on_event({"Type": "container", "Action": "create", "Actor": {"ID": "c1", "Attributes": {"name": "web"}}})
    release.set()
    await wait_until(lambda: {"c1"} in refreshed, timeout=5, what="the container refreshed without another event")
    inventory.cancel_background()
