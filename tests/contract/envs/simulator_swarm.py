"""The simulator as a swarm (``--sim-swarm``) in the contract suite: the same cluster as
``simulator``, its machines a swarm's nodes with services, secrets and configs, and the swarm's
actions on top. Speed 0: time moves only when a test says so."""

from __future__ import annotations

import contextlib
from typing import AsyncIterator

from . import ContractEnv
from .simulator import open_simulator


@contextlib.asynccontextmanager
async def open_env(*, read_only: bool = False) -> AsyncIterator[ContractEnv]:
    async with open_simulator(read_only=read_only, swarm=True) as env:
        yield env
