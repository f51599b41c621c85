"""Fleet tests run with their own config file (never the user's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli.conftest import Result, cli, run_command  # noqa: F401  (the CLI fixtures)


@pytest.fixture(autouse=True)
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config.toml"
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(path))
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return path


TWO_SIMULATORS = """# two simulated clusters
current_context = "east"

[contexts.east]
backend = "simulator"   # the first
seed = 1

[contexts.west]
backend = "simulator"
seed = 2
"""
