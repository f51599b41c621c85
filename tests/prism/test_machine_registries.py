"""A container machine made for a project gets that project's registries in its engine's
configuration, through cloud-init: the VM spec sent to Prism (``sim serve``'s app on a real
uvicorn) carries ``/root/.docker/config.json`` with the credentials and the registry's CA in
``/etc/docker/certs.d/HOST:PORT/ca.crt``; registries of other projects or contexts do not go;
the password is in no log record, task or repr."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path

import pytest

from backends.contract import HostSpec
from backends.registries.models import RegistryEntry
from console.registry_auth import with_project_registries
from console.registry_config import add_registry
from tests.daemons import make_tls_material
from tests.prism.servers import backend_for, serve, sim_app

PASSWORD = "pw-machine-registry-7f21"


@pytest.fixture
def server(tmp_path, monkeypatch):
    monkeypatch.setenv("NTNX_CONSOLE_MACHINES_DIR", str(tmp_path / "machines"))
    with serve(sim_app(seed=5)) as srv:
        yield srv


@pytest.fixture
async def backend(server):
    b = backend_for(server, poll_interval=0.2)
    yield b
    await b.close()


async def test_the_project_s_registries_ride_in_the_machine_s_cloud_init(backend, tmp_path: Path, monkeypatch, caplog):
    config = tmp_path / "cfg" / "config.toml"
    config.parent.mkdir(mode=0o700)
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(config))
    monkeypatch.setenv("NTNX_REGISTRY_PASSWORD", PASSWORD)
    make_tls_material(tmp_path / "tls")
    ca = tmp_path / "tls" / "server" / "ca.pem"
    add_registry(config, RegistryEntry("apps", "https://registry.example.local:5000", user="ci", project="sandbox", ca_bundle=str(ca)))
    add_registry(config, RegistryEntry("mirror", "https://mirror.example.local", project="sandbox"))  # anonymous: its CA would be all
    add_registry(config, RegistryEntry("others", "https://other.example.local", user="x", project="default"))
    add_registry(config, RegistryEntry("prod", "https://prod.example.local", user="y", project="sandbox", context="prod"))

    inv = await backend.snapshot()
    image = next(i for i in inv.images.values() if i.engine_version)
    network = next(iter(inv.networks.values()))
    spec = await with_project_registries(backend, HostSpec("reg-01", image.name, 1, 1024, network.name, project="sandbox",
                                                           engine_check=False))
    assert [r.server for r in spec.registries] == ["registry.example.local:5000", "mirror.example.local"]
    assert PASSWORD not in repr(spec)

    sent: list[dict] = []
    create = backend.client.v3_create

    async def recording(kind, body, metadata):
        sent.append(json.loads(json.dumps(body)))
        return await create(kind, body, metadata)

    backend.client.v3_create = recording  # type: ignore[method-assign]
    caplog.set_level(logging.DEBUG)
    task = await backend.create_host(spec)
    (body,) = sent
    text = base64.b64decode(body["resources"]["guest_customization"]["cloud_init"]["user_data"]).decode()
    assert text.startswith("#cloud-config\n")
    files = {f["path"]: f for f in json.loads(text.split("\n", 1)[1])["write_files"]}
    docker_config = json.loads(files["/root/.docker/config.json"]["content"])
    assert files["/root/.docker/config.json"]["permissions"] == "0600"
    assert docker_config == {"auths": {"registry.example.local:5000": {"auth": base64.b64encode(f"ci:{PASSWORD}".encode()).decode()}}}
    assert files["/etc/docker/certs.d/registry.example.local:5000/ca.crt"]["content"] == ca.read_text()
    assert not any("other.example.local" in p or "prod.example.local" in p for p in files)

    final = await backend.wait_task(task.id)
    for record in caplog.records:
        assert PASSWORD not in record.getMessage()
    assert PASSWORD not in repr(final) and PASSWORD not in json.dumps(final.message or "")


async def test_a_project_registry_without_a_password_stops_the_create_in_one_line(backend, tmp_path: Path, monkeypatch):
    from backends.errors import AuthenticationFailed

    config = tmp_path / "cfg" / "config.toml"
    config.parent.mkdir(mode=0o700)
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(config))
    monkeypatch.delenv("NTNX_REGISTRY_PASSWORD", raising=False)
    monkeypatch.setattr("backends.registries.credentials._from_keyring", lambda entry: None)
    add_registry(config, RegistryEntry("apps", "https://registry.example.local:5000", user="ci", project="sandbox"))
    inv = await backend.snapshot()
    image = next(i for i in inv.images.values() if i.engine_version)
    network = next(iter(inv.networks.values()))
    with pytest.raises(AuthenticationFailed, match="NTNX_REGISTRY_PASSWORD"):
        await with_project_registries(backend, HostSpec("reg-02", image.name, 1, 1024, network.name, project="sandbox"))


async def test_push_writes_the_same_files_over_ssh_with_the_secrets_on_stdin(tmp_path: Path):
    """``registry push-credentials``'s step on a machine: the files cloud-init would write,
    written over a real SSH session (a local sshd; under a test directory, not /root or /etc),
    the config 0600, the secrets never on the remote command line."""
    from backends.contract import RegistryAuth
    from backends.prism.guest import Guest
    from backends.prism.machine import registry_files
    from tests.daemons import start_sshd

    make_tls_material(tmp_path / "tls")
    ca = (tmp_path / "tls" / "server" / "ca.pem").read_text()
    files = registry_files([RegistryAuth("registry.example.local:5000", "ci", PASSWORD, ca_pem=ca)])
    sshd = start_sshd()
    try:
        guest = Guest("127.0.0.1", sshd.client_key, sshd.known_hosts, port=sshd.port, user=sshd.user)
        commands: list[str] = []
        run = guest.run

        async def recording(command, **kw):
            commands.append(command)
            return await run(command, **kw)

        guest.run = recording  # type: ignore[method-assign]
        root = tmp_path / "machine"
        await guest.install_files(files, prefix=str(root))
    finally:
        sshd.stop()
    config = root / "root" / ".docker" / "config.json"
    assert oct(config.stat().st_mode & 0o777) == "0o600"
    auth = json.loads(config.read_text())["auths"]["registry.example.local:5000"]["auth"]
    assert base64.b64decode(auth).decode() == f"ci:{PASSWORD}"
    assert (root / "etc" / "docker" / "certs.d" / "registry.example.local:5000" / "ca.crt").read_text() == ca
    assert not list(root.rglob("*.ntnx-console.tmp"))
    assert commands and not any(PASSWORD in c or auth in c for c in commands)
