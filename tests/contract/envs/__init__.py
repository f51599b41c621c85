"""Backends the contract suite runs against: one module per backend in this package.

To add a backend, drop ``envs/<name>.py`` here defining::

    @contextlib.asynccontextmanager
    async def open_env(*, read_only: bool = False) -> AsyncIterator[ContractEnv]: ...

It yields a ``ContractEnv`` around a connected backend and closes it afterwards; it calls
``pytest.skip`` when what it needs (a daemon, a server) is missing. Tests pick what they
can do from ``env.capabilities`` and the facts below, never from the backend's name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Awaitable, Callable

from backends.contract import Backend, Capability


@dataclass
class ContractEnv:
    backend: Backend
    # Let time pass: virtual for the simulator, a real bounded wait for the others.
    advance: Callable[[float], Awaitable[None]]
    # Facts the tests need; None when the backend has no such thing.
    image: str | None = None  # a container-host image for create_host
    network: str | None = None  # a network for create_host
    host_cores: int = 2
    host_memory_mib: int = 4096
    host_id: str | None = None  # a running host for run_container and attach_volume
    other_host_id: str | None = None  # a second running host (one-host-at-a-time checks)
    container_image: str | None = None  # an image run_container can start and that keeps running
    full_project: str | None = None  # a project whose quota one more create_host exceeds
    upgrade_target: str | None = None  # an engine version some hosts can be upgraded to
    upgrade_host_ids: tuple[str, ...] = ()  # running hosts below upgrade_target (two or more for control)
    task_timeout: float = 120.0  # wall seconds a task may take in this backend

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.backend.capabilities
