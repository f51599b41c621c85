"""An ssh engine with an identity of its own (a client key and a known_hosts file, as each
machine the Prism backend makes has), with no ~/.ssh at all: the host key is checked against
that file alone, as strictly as against ~/.ssh/known_hosts."""

from __future__ import annotations

import dataclasses
import subprocess
from pathlib import Path

import pytest

from backends.docker import DockerBackend
from backends.docker.transport import SSHIdentity, parse_endpoint
from backends.errors import AuthenticationFailed
from tests.waiting import wait_until

pytestmark = pytest.mark.docker


@pytest.fixture(autouse=True)
def empty_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME with no ~/.ssh: only the identity can let the backend in."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def _endpoint(sshd, dockerd, known_hosts: Path):
    endpoint = parse_endpoint(sshd.ssh_url(dockerd.socket_path))
    return dataclasses.replace(endpoint, identity=SSHIdentity(str(sshd.client_key), str(known_hosts), 5.0))


async def _first_attempt(endpoint, *, accept_new: bool = False):
    backend = DockerBackend((), accept_new_host_keys=accept_new)
    engine = backend.add_engine(endpoint, name="machine-1")
    await wait_until(engine.first_attempt.is_set, timeout=20, what="the engine's first attempt")
    return backend, engine


async def test_the_identity_alone_reaches_the_engine(sshd, dockerd, image, name, empty_home):
    dockerd.cli("create", "--network", "none", "--name", name, image)
    backend, engine = await _first_attempt(_endpoint(sshd, dockerd, sshd.known_hosts))
    try:
        assert engine.reachable, engine.reason
        inv = await backend.snapshot()
        assert {(c.id, c.name) for c in inv.containers.values()} == {(p["ID"], p["Names"]) for p in dockerd.ps_json()}
        assert inv.hosts[engine.host_id].name == "machine-1"
    finally:
        await backend.close()
    assert not (empty_home / ".ssh").exists(), "the identity's connection touched ~/.ssh"


async def test_an_unknown_host_key_is_refused_then_accepted_into_the_identity_file(sshd, dockerd, tmp_path, empty_home):
    known = tmp_path / "machine" / "known_hosts"
    known.parent.mkdir()
    known.write_text("")
    backend, engine = await _first_attempt(_endpoint(sshd, dockerd, known))
    try:
        assert not engine.reachable
        assert isinstance(engine.last_error, AuthenticationFailed)
        assert "host key not trusted" in engine.reason and str(known) in engine.reason
    finally:
        await backend.close()
    assert known.read_text() == ""

    backend, engine = await _first_attempt(_endpoint(sshd, dockerd, known), accept_new=True)
    try:
        assert engine.reachable, engine.reason
    finally:
        await backend.close()
    host_key = sshd.host_key.with_suffix(".pub").read_text().split()[1]
    assert known.read_text().startswith(f"[127.0.0.1]:{sshd.port} ssh-ed25519 {host_key}")
    assert not (empty_home / ".ssh").exists()


async def test_a_changed_host_key_is_refused_even_when_new_keys_are_accepted(sshd, dockerd, tmp_path):
    other = tmp_path / "other_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True, capture_output=True)
    known = tmp_path / "known_hosts"
    known.write_text(f"[127.0.0.1]:{sshd.port} {' '.join(other.with_suffix('.pub').read_text().split()[:2])}\n")
    before = known.read_text()
    backend, engine = await _first_attempt(_endpoint(sshd, dockerd, known), accept_new=True)
    try:
        assert not engine.reachable
        assert isinstance(engine.last_error, AuthenticationFailed) and "host key not trusted" in engine.reason
    finally:
        await backend.close()
    assert known.read_text() == before
