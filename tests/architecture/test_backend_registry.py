"""Adding a backend is a folder with an ``about.py`` and one registry line: the CLI offers it
(``--backend``, its options in ``--help``), a config context may name it with its keys, and
the factory opens it. Nothing else is edited."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from backends import registry
from console.cli import main

ROOT = Path(__file__).resolve().parents[2]

TOY_ABOUT = '''
from dataclasses import dataclass

from backends.contract import Capability
from backends.registry import BackendInfo
from backends.settings import option


@dataclass(slots=True)
class ToySettings:
    greeting: str = option("hello", flag="--toy-greeting", metavar="WORD", help="what the toy host is called")
    hosts: int = 2  # a config key only


BACKEND = BackendInfo(
    name="toy",
    summary="a toy backend for the registry test",
    settings=ToySettings,
    loader="toy_backend.backend:ToyBackend",
    capabilities=frozenset(),
    options_title="toy (--backend toy)",
)
'''

TOY_BACKEND = '''
from backends.contract import Backend, Inventory
from backends.models import Host, HostState


class ToyBackend(Backend):
    kind = "toy"

    def __init__(self, greeting, count, **kw):
        super().__init__(**kw)
        self.greeting, self.count = greeting, count

    @classmethod
    def from_settings(cls, settings):
        s = settings.chosen
        return cls(s.greeting, s.hosts, read_only=settings.read_only)

    async def snapshot(self):
        hosts = {
            f"t{i}": Host(id=f"t{i}", name=f"{self.greeting}-{i}", state=HostState.RUNNING)
            for i in range(self.count)
        }
        return Inventory(hosts=hosts)

    async def updates(self):
        return
        yield
'''


@pytest.fixture
def toy(tmp_path, monkeypatch):
    package = tmp_path / "toy_backend"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "about.py").write_text(textwrap.dedent(TOY_ABOUT))
    (package / "backend.py").write_text(textwrap.dedent(TOY_BACKEND))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(registry, "BACKENDS", [*registry.BACKENDS, "toy_backend.about"])  # the one line
    registry.reload()
    yield tmp_path
    registry.reload()


def test_a_toy_backend_is_listed_in_help_with_its_options(toy, capsys):
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "{simulator,docker,prism,swarm,toy}" in out
    assert "toy: a toy backend for the registry test" in " ".join(out.split())
    assert "--toy-greeting WORD" in out and "toy (--backend toy):" in out


def test_a_toy_backend_is_selectable_and_its_options_reach_it(toy, capsys, monkeypatch):
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(toy / "none.toml"))
    assert main(["--backend", "toy", "--toy-greeting", "hi", "hosts", "list", "--json"]) == 0
    assert [h["name"] for h in __import__("json").loads(capsys.readouterr().out)] == ["hi-0", "hi-1"]
    # Its options belong to it alone.
    assert main(["--demo", "--toy-greeting", "hi", "hosts", "list"]) == 2
    assert "--toy-greeting applies only to the toy backend, not simulator" in capsys.readouterr().err


def test_a_config_context_may_name_the_toy_backend_with_its_keys(toy, capsys, monkeypatch):
    config = toy / "c.toml"
    config.write_text('[contexts.play]\nbackend = "toy"\nhosts = 3\n')
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(config))
    assert main(["--context", "play", "hosts", "list", "--json"]) == 0
    assert len(__import__("json").loads(capsys.readouterr().out)) == 3
    config.write_text('[contexts.play]\nbackend = "toy"\ncolour = "red"\n')
    assert main(["--context", "play", "hosts", "list"]) == 2
    assert "unknown key 'colour' for the toy backend" in capsys.readouterr().err


def test_help_loads_no_backend_module():
    probe = (
        "import sys, contextlib, io\nfrom console.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n    main(['--help'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('backends.') and m.count('.') >= 2))"
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, check=True).stdout
    loaded = eval(out)
    # Only the light descriptions (and a settings dataclass one of them keeps apart): no
    # backend, client, transport or simulator module.
    assert loaded and all(m.endswith((".about", ".settings")) for m in loaded), loaded
