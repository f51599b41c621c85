"""The swarm tests share one real two-node swarm (tests/swarm/cluster.py) per test process."""

from __future__ import annotations

import pytest

from tests.swarm.cluster import Swarm, shared_swarm


@pytest.fixture(scope="session")
def swarm() -> Swarm:
    return shared_swarm()


@pytest.fixture(autouse=True)
def _no_config(tmp_path, monkeypatch):
    # Never the operator's config or data directory.
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
