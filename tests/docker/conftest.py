"""One real dockerd (and one sshd) for the whole docker test session; a backend per test."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import pytest

from backends.docker import DockerBackend
from tests.daemons import TEST_IMAGE, dockerd, sshd  # noqa: F401  (session fixtures)

pytestmark = pytest.mark.docker
_names = itertools.count(1)


@pytest.fixture
def name(request: pytest.FixtureRequest) -> str:
    """A container / volume name unique in the session (the engine is shared)."""
    return f"t{next(_names)}-{request.node.name[5:25].strip('_').replace('_', '-')}"


@pytest.fixture
def ssh_home(sshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME whose ~/.ssh/config names the test key and known_hosts, as a user's would."""
    ssh_dir = tmp_path / "home" / ".ssh"
    ssh_dir.mkdir(parents=True, mode=0o700)
    (ssh_dir / "config").write_text(
        f"Host 127.0.0.1\n  IdentityFile {sshd.client_key}\n  UserKnownHostsFile {sshd.known_hosts}\n"
    )
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path / "home"


@pytest.fixture
async def backend(dockerd):
    b = DockerBackend([dockerd.url])
    await b.connect()
    try:
        yield b
    finally:
        await b.close()


@pytest.fixture
def image() -> str:
    return TEST_IMAGE


def cli_env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "NTNX_CONSOLE_CONFIG": str(tmp_path / "config.toml")}
