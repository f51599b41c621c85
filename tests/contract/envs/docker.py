"""The Docker backend in the contract suite, against a real dockerd started for the session.

The daemon starts on first use and stops when the test process exits; each env opens a new
backend on it, with a running container for the read tests.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
from typing import AsyncIterator

from backends.docker import DockerBackend
from tests.daemons import DockerDaemon, cleanup_dockerd, start_dockerd

from . import ContractEnv

_daemon: DockerDaemon | None = None


def _shared_daemon() -> DockerDaemon:
    global _daemon
    if _daemon is None:
        _daemon = start_dockerd()
        atexit.register(cleanup_dockerd, _daemon)
        _daemon.cli("run", "-d", "--network", "none", "--name", "ct-running", _daemon.image)
    return _daemon


async def _wait_a_little(seconds: float) -> None:
    # Real time: the engine's own events need a moment; bounded so no test waits long.
    await asyncio.sleep(min(seconds, 1.0))


@contextlib.asynccontextmanager
async def open_env(*, read_only: bool = False) -> AsyncIterator[ContractEnv]:
    daemon = _shared_daemon()
    backend = DockerBackend([daemon.url], read_only=read_only)
    await backend.connect()
    try:
        host_id = next(iter((await backend.snapshot()).hosts))
        yield ContractEnv(
            backend=backend,
            advance=_wait_a_little,
            host_id=host_id,
            container_image=daemon.image,
            task_timeout=60.0,
        )
    finally:
        await backend.close()
