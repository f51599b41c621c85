"""The Prism backend in the contract suite: the real httpx client against ``sim serve``'s app
on a real uvicorn over HTTPS on 127.0.0.1, a fresh simulated world for each test. The
simulator runs at speed 0: time moves when the backend polls a task, or when a test says so
(``advance`` runs the simulator's clock on the server's own loop)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator

from backends.models import HostState
from backends.prism import PrismBackend
from backends.prism.client import Credentials
from backends.prism.about import PrismSettings
from backends.waves import parse_version
from tests.prism.servers import PASSWORD, serve, sim_app

from . import ContractEnv


@contextlib.asynccontextmanager
async def open_env(*, read_only: bool = False) -> AsyncIterator[ContractEnv]:
    app = sim_app(seed=11)
    with serve(app) as server:
        facade = app.app.state.facade
        settings = PrismSettings(endpoint=server.endpoint, user="admin", ca_bundle=str(server.cert.cert))
        backend = PrismBackend(settings, credentials=Credentials("admin", PASSWORD), read_only=read_only, poll_interval=1.0)

        async def advance(seconds: float) -> None:
            await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(facade.sim.advance(seconds), facade.loop))

        try:
            inv = await backend.snapshot()
            running = sorted((h for h in inv.hosts.values() if h.state is HostState.RUNNING), key=lambda h: h.name)
            newest = (await backend.upgrade_versions())[0]
            behind = tuple(h.id for h in running if parse_version(h.engine_version or "0") < parse_version(newest))
            yield ContractEnv(
                backend=backend,
                advance=advance,
                image=next(i.name for i in inv.images.values() if i.engine_version == newest),
                network=next(n.name for n in inv.networks.values()),
                host_id=running[0].id,
                other_host_id=running[1].id,
                full_project=next(p.name for p in inv.projects.values() if p.name == "sandbox"),
                upgrade_target=newest,
                upgrade_host_ids=behind,
                task_timeout=60.0,
            )
        finally:
            await backend.close()
