"""One Docker Engine = one Host: its facts, its inventory, and a supervisor that keeps both
current, marks the host unreachable when the engine stops answering (keeping the last data,
with its age in ``observed_at``), reconnects with backoff capped at 30 s and resyncs when back.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from typing import Any, Callable

from ..errors import BackendError, Unavailable
from ..models import Host, HostState, Severity
from .api import DockerAPI
from .inventory import EngineInventory
from .transport import Endpoint, Transport

RESYNC_INTERVAL = 30.0
# What the inventory follows on ``/events`` (the swarm's manager adds the swarm's own types).
EVENT_TYPES = ("container", "volume", "image")
FIRST_BACKOFF = 0.5
MAX_BACKOFF = 30.0


def host_id_for(url: str) -> str:
    # Stable across runs and known before the engine answers (an unreachable host has an id too).
    return "dk-" + hashlib.sha1(url.encode()).hexdigest()[:10]


class Engine:
    def __init__(
        self,
        endpoint: Endpoint,
        *,
        on_change: Callable[[], None],
        accept_new_host_keys: bool = False,
    ) -> None:
        self.endpoint = endpoint
        self.host_id = host_id_for(endpoint.url)
        self.transport = Transport(endpoint, accept_new_host_keys=accept_new_host_keys)
        self.api = DockerAPI(self.transport)
        self.inventory = EngineInventory(self.api, self.host_id, on_change)
        self._on_change = on_change
        self.info: dict[str, Any] = {}
        self.reachable = False
        self.reason: str | None = "connecting"
        self.last_error: BackendError | None = None
        self.observed_at = 0.0
        self.display_name: str | None = None  # the name given at create host, if any
        self.state_override: HostState | None = None  # PROVISIONING / UPGRADING while a task runs
        self.first_attempt = asyncio.Event()
        self.connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._retry_now = asyncio.Event()
        self.backoff = FIRST_BACKOFF

    # -- the Host value -------------------------------------------------------------------

    @property
    def name(self) -> str:
        return self.display_name or self.info.get("Name") or self.endpoint.display

    @property
    def engine_version(self) -> str | None:
        return self.api.server_version.get("Version") or self.info.get("ServerVersion")

    def host(self) -> Host:
        cpu = mem = 0.0
        for c in self.inventory.container_values():
            cpu += c.cpu_percent
            mem += c.memory_mib
        state = self.state_override or (HostState.RUNNING if self.reachable else HostState.UNREACHABLE)
        return Host(
            id=self.host_id,
            name=self.name,
            state=state,
            ip=self.endpoint.host,
            cores=int(self.info.get("NCPU") or 0),
            memory_mib=int((self.info.get("MemTotal") or 0) // 2**20),
            engine_version=self.engine_version,
            os=self.info.get("OperatingSystem"),
            cpu_percent=round(cpu, 2),
            memory_used_mib=int(mem),
            endpoint=self.endpoint.url,
            reason=None if self.reachable else self.reason,
            observed_at=self.observed_at,
        )

    # -- supervision ----------------------------------------------------------------------

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"engine {self.endpoint.url}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        self.inventory.cancel_background()
        await self.transport.close()

    def retry_now(self) -> None:
        """Skip the rest of the backoff (after an upgrade restarted the engine, say)."""
        self._retry_now.set()

    async def _supervise(self) -> None:
        self.backoff = FIRST_BACKOFF
        while True:
            try:
                since = await self._connect_once()
                self.backoff = FIRST_BACKOFF
                await self._follow(since)
            except asyncio.CancelledError:
                raise
            except BackendError as err:
                self.last_error = err
                self._set_unreachable(err.one_line())
            except Exception as err:  # a bug or an odd peer must not end supervision
                self._set_unreachable(f"{type(err).__name__}: {err}")
            self.first_attempt.set()
            await self.transport.close()
            self._retry_now.clear()
            try:
                await asyncio.wait_for(self._retry_now.wait(), timeout=self.backoff)
            except asyncio.TimeoutError:
                pass
            self.backoff = min(MAX_BACKOFF, self.backoff * 2)

    async def _connect_once(self) -> float:
        await self.transport.open()
        await self.api.negotiate()
        self.info = await self.api.get("/info")
        since = time.time()
        await self.inventory.full_resync()
        self.observed_at = time.time()
        if not self.reachable and self.first_attempt.is_set():
            self.inventory.add_event(Severity.INFO, self.name, f"engine {self.name} is back", kind="host.reachable",
                                     target_id=self.host_id)
        self.reachable, self.reason = True, None
        self.connected.set()
        self.first_attempt.set()
        self._on_change()
        return since

    async def _follow(self, since: float) -> None:
        reader = asyncio.create_task(self._read_events(since))
        try:
            while True:
                done, _ = await asyncio.wait({reader}, timeout=RESYNC_INTERVAL)
                if done:
                    reader.result()
                    raise Unavailable(f"{self.endpoint.url}: the event stream ended")
                self.info = await self.api.get("/info")
                await self.inventory.full_resync()
                self.observed_at = time.time()
                self._on_change()
        finally:
            reader.cancel()
            await asyncio.gather(reader, return_exceptions=True)

    async def _read_events(self, since: float) -> None:
        filters = {"type": list(EVENT_TYPES)}
        async with self.api.stream("/events", since=int(since), filters=filters) as response:
            async for line in response.aiter_lines():
                if line.strip():
                    try:
                        self.inventory.on_event(json.loads(line))
                    except ValueError:
                        continue

    def _set_unreachable(self, reason: str) -> None:
        changed = self.reachable or self.reason != reason
        if self.reachable:
            # The event stream kept the data current until this moment: its age starts now.
            self.observed_at = time.time()
            self.inventory.add_event(Severity.ERROR, self.name, f"engine {self.name} stopped answering: {reason}",
                                     kind="host.unreachable", target_id=self.host_id)
        self.reachable, self.reason = False, reason
        self.connected.clear()
        if changed:
            self._on_change()
