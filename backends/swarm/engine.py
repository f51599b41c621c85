"""The manager's engine: the Docker backend's ``Engine`` (transport, supervision, backoff,
the engine's own containers and volumes from ``/events``) plus the swarm's lists.

The manager's ``/events`` tell when a service, node, secret or config changed, but not when
a task did (a task starting on a worker, or failing there, is no event). So an event starts
a short spell of re-reading the lists once a second while the swarm converges, and a light
poll of the lists every few seconds catches what no event announced; a full resync (the
engine's too) runs every ``RESYNC_INTERVAL`` as the Docker backend's does.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, Callable

from ..docker.api import DockerAPI
from ..docker.engine import EVENT_TYPES, RESYNC_INTERVAL, Engine
from ..docker.inventory import EngineInventory
from ..docker.transport import Endpoint
from ..errors import BackendError, ProtocolError, Unavailable
from ..models import Severity

POLL_INTERVAL = 5.0  # the swarm's lists when nothing happened: tasks change without events
SETTLE_INTERVAL = 1.0  # after an event, while the swarm converges
SETTLE_FOR = 20.0  # how long a change keeps the lists being re-read each second
SWARM_EVENT_TYPES = ("service", "node", "secret", "config")


class SwarmInventory(EngineInventory):
    """The engine's containers and volumes (its ``host_id`` becomes the manager's node id, so
    they sit on that node), and the swarm's nodes, services, tasks and secrets as the API
    gives them."""

    def __init__(self, api: DockerAPI, host_id: str, on_change: Callable[[], None]) -> None:
        super().__init__(api, host_id, on_change)
        self.node_id: str | None = None
        self.nodes: dict[str, dict[str, Any]] = {}
        self.services: dict[str, dict[str, Any]] = {}
        self.tasks: dict[str, dict[str, Any]] = {}
        self.secrets: dict[str, dict[str, Any]] = {}
        self.configs: dict[str, dict[str, Any]] = {}
        self._settle_until = 0.0
        self._settler: asyncio.Task[None] | None = None

    async def full_resync(self) -> None:
        info = await self.api.get("/info")
        swarm = info.get("Swarm") or {}
        where = self.api.where
        if swarm.get("LocalNodeState") != "active":
            raise Unavailable(f"{where}: this engine is not in a swarm ({swarm.get('LocalNodeState') or 'inactive'})")
        if not swarm.get("ControlAvailable"):
            raise Unavailable(f"{where}: this engine is a swarm worker; give a manager's address")
        # The engine's own containers and volumes belong to its node.
        self.node_id = self.host_id = str(swarm.get("NodeID") or self.host_id)
        await self.refresh_swarm()
        await super().full_resync()

    async def _list(self, path: str, **params: Any) -> list[dict[str, Any]]:
        body = await self.api.get(path, **params)
        if not isinstance(body, list) or not all(isinstance(i, dict) and isinstance(i.get("ID"), str) for i in body):
            raise ProtocolError(f"{self.api.where}: GET {path} answered something other than a list of objects with IDs")
        return body

    async def refresh_swarm(self) -> None:
        """The swarm's lists, read one after the other (the swarm has no consistent snapshot of
        them; the next read heals a task that refers to a service read a moment earlier)."""
        nodes = await self._list("/nodes")
        services = await self._list("/services", status=True)
        tasks = await self._list("/tasks")
        secrets = await self._list("/secrets")
        configs = await self._list("/configs")
        self.nodes = {n["ID"]: n for n in nodes}
        self.services = {s["ID"]: s for s in services}
        self.tasks = {t["ID"]: t for t in tasks}
        self.secrets = {s["ID"]: s for s in secrets}
        self.configs = {c["ID"]: c for c in configs}
        self._on_change()

    def settle(self) -> None:
        """Re-read the lists every second for a while: after an event, or an action."""
        self._settle_until = time.monotonic() + SETTLE_FOR
        if self._settler is None or self._settler.done():
            self._settler = asyncio.create_task(self._settle())

    async def _settle(self) -> None:
        await asyncio.sleep(0.1)  # let a burst of events gather
        try:
            while True:
                await self.refresh_swarm()
                if time.monotonic() >= self._settle_until:
                    return
                await asyncio.sleep(SETTLE_INTERVAL)
        except BackendError:
            pass  # the manager went away: its supervisor resyncs everything when it is back

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("Type")
        if kind not in SWARM_EVENT_TYPES:
            super().on_event(event)
            return
        action = event.get("Action") or ""
        actor = event.get("Actor") or {}
        attributes = actor.get("Attributes") or {}
        name = attributes.get("name") or (actor.get("ID") or "")[:12]
        changes = ", ".join(
            f"{key[:-4]} {attributes[key[:-4] + '.old']} -> {value}"
            for key, value in sorted(attributes.items())
            if key.endswith(".new") and key[:-4] + ".old" in attributes
        )
        when = (event.get("timeNano") or 0) / 1e9 or None
        self.add_event(Severity.INFO, name, f"{kind} {name}: {action}" + (f" ({changes})" if changes else ""),
                       kind=f"{kind}.{action}", target_id=actor.get("ID"), when=when)
        self.settle()

    def cancel_background(self) -> None:
        if self._settler is not None and not self._settler.done():
            self._settler.cancel()
        super().cancel_background()


class SwarmEngine(Engine):
    def __init__(self, endpoint: Endpoint, *, on_change: Callable[[], None], accept_new_host_keys: bool = False) -> None:
        super().__init__(endpoint, on_change=on_change, accept_new_host_keys=accept_new_host_keys)
        self.inventory: SwarmInventory = SwarmInventory(self.api, self.host_id, on_change)

    async def _follow(self, since: float) -> None:
        # The Docker engine's loop, with the swarm's lists polled in between full resyncs.
        reader = asyncio.create_task(self._read_events(since))
        last_full = time.monotonic()
        try:
            while True:
                done, _ = await asyncio.wait({reader}, timeout=POLL_INTERVAL)
                if done:
                    reader.result()
                    raise Unavailable(f"{self.endpoint.url}: the event stream ended")
                if time.monotonic() - last_full >= RESYNC_INTERVAL:
                    self.info = await self.api.get("/info")
                    await self.inventory.full_resync()
                    last_full = time.monotonic()
                else:
                    await self.inventory.refresh_swarm()
                self.observed_at = time.time()
                self._on_change()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read_events(self, since: float) -> None:
        filters = {"type": [*EVENT_TYPES, *SWARM_EVENT_TYPES]}
        async with self.api.stream("/events", since=int(since), filters=filters) as response:
            async for line in response.aiter_lines():
                if line.strip():
                    try:
                        self.inventory.on_event(json.loads(line))
                    except ValueError:
                        continue
