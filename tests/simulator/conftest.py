from __future__ import annotations

import pytest

from backends.simulator import SimulatorBackend


@pytest.fixture
async def sim():
    backend = SimulatorBackend(seed=7, speed=0.0)
    await backend.connect()
    yield backend
    await backend.close()
