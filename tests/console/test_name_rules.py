"""One home for the name rules: the same table of host names gets the same verdict from the
CLI, the console's create form, and every backend (a host name becomes the VM's name and the
machine's hostname, so it is a lower-case RFC 1123 label everywhere)."""

from __future__ import annotations

import pytest
from textual.widgets import Static

from backends.contract import HostSpec
from backends.docker.backend import DockerBackend
from backends.errors import BackendError, InvalidInput
from backends.simulator import SimulatorBackend
from console.cli import main
from console.screens.forms import CreateHostForm
from tests.prism.servers import backend_for, serve, sim_app

IMAGE, NET = "ubuntu-22.04-docker-26.1.4", "vlan110-apps"
GOOD = ["web-01", "w", "a1", "x" * 63, "0web"]
BAD = ["Web-01", "web_01", "-web", "web-", "a.b", "x" * 64, "wéb", "web 01", "web\x1b]0;x\x07"]
TABLE = [(name, True) for name in GOOD] + [(name, False) for name in BAD]


@pytest.mark.parametrize("name, good", TABLE)
def test_the_cli(name, good, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    # After "--", as a user must type a name starting with '-'.
    code = main(["--demo", "host", "create", "--image", IMAGE, "--cores", "1", "--memory-mib", "1024", "--network", NET, "--", name])
    err = capsys.readouterr().err
    if good:
        assert code == 0, err
    else:
        assert code == 2 and err.count("\n") == 1 and "host name" in err and "\x1b" not in err, err


async def test_the_create_form(console):
    await console.press("c")
    await console.on(CreateHostForm)
    field = console.screen.query_one("#name")
    for name, good in TABLE:
        field.value = name
        await console.pilot.pause()
        error = str(console.screen.query_one("#name-error", Static).render())
        assert (error == "") is good, (name, error)


@pytest.mark.parametrize("name, good", TABLE)
async def test_the_simulator(name, good):
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    try:
        await sim.connect()
        if good:
            task = await sim.create_host(HostSpec(name, IMAGE, 1, 1024, NET))
            assert task.target == name
        else:
            with pytest.raises(InvalidInput, match="host name"):
                await sim.create_host(HostSpec(name, IMAGE, 1, 1024, NET))
    finally:
        await sim.close()


@pytest.fixture(scope="module")
def prism():
    with serve(sim_app()) as server:
        yield server


@pytest.mark.parametrize("name, good", TABLE)
async def test_prism(name, good, prism):
    backend = backend_for(prism)
    try:
        await backend.connect()
        # A missing image fails after the name check: the verdict on the name is what counts.
        with pytest.raises(BackendError) as err:
            await backend.create_host(HostSpec(name, "no-such-image", 1, 1024, NET))
        assert ("host name" not in str(err.value)) is good, str(err.value)
        assert isinstance(err.value, InvalidInput) or good
    finally:
        await backend.close()


@pytest.mark.parametrize("name, good", TABLE)
async def test_docker(name, good):
    # Nothing answers there: a good name is accepted and its provisioning task fails later.
    backend = DockerBackend(["unix:///nonexistent/docker.sock"])
    try:
        spec = HostSpec(name, "", 1, 1024, "", ssh_target="ops@127.0.0.1:1")
        if good:
            assert (await backend.create_host(spec)).target == name
        else:
            with pytest.raises(InvalidInput, match="host name"):
                await backend.create_host(spec)
    finally:
        await backend.close()
