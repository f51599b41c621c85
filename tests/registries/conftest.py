"""A real registry (Debian's docker-registry) for the session, filled once, and a config
file of the test's own (never the user's)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.registries.registry_daemon import Registry, cleanup, start_registry

# Enough repositories and tags that a page size of 2 takes several pages of each list.
REPOSITORIES = [f"app{i}" for i in range(5)] + ["team/web"]


@pytest.fixture(scope="session")
def registry():
    reg = start_registry()
    try:
        for i, repo in enumerate(REPOSITORIES):
            for t in range(1 + i % 3):
                reg.push_image(repo, f"v{t}")
        for t in ("1.0", "1.1", "1.2", "latest", "rc"):
            reg.push_image("team/web", t, arch="arm64", variant="v8")
        reg.push_index("multi", "latest", [("amd64", None), ("arm64", "v8")])  # its images are tagged too
        yield reg
    finally:
        cleanup(reg)


@pytest.fixture(autouse=True)
def config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cfg"
    directory.mkdir(mode=0o700)
    path = directory / "config.toml"
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(path))
    monkeypatch.delenv("NTNX_REGISTRY_PASSWORD", raising=False)
    return path


__all__ = ["Registry"]
