"""The TOML config: contexts, current context, key map, and one clear line for a bad file."""

from __future__ import annotations

from pathlib import Path

import pytest

from console.config import ConfigError, config_path, load_config


def test_config_path_follows_the_environment_variable(config_file: Path, cli):
    assert config_path() == config_file
    result = cli("config", "path")
    assert result.code == 0 and result.out.strip() == str(config_file)


def test_config_path_defaults_to_the_platform_config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.delenv("NTNX_CONSOLE_CONFIG")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert config_path() == tmp_path / "xdg" / "ntnx-console" / "config.toml"


def test_a_missing_file_means_the_simulator(tmp_path: Path):
    config = load_config(tmp_path / "absent.toml")
    settings = config.settings_for(None)
    assert settings.backend == "simulator" and settings.context is None and not settings.read_only


def test_contexts_fill_the_settings_of_their_backend(config_file: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("HOME", "/home/tester")
    config_file.write_text(
        """
current_context = "lab"

[contexts.lab]
backend = "prism"
endpoint = "https://127.0.0.1:9440"
user = "admin"
password_command = "pass show prism"
ca_bundle = "~/certs/prism.pem"
read_only = true

[contexts.local]
backend = "docker"
hosts = ["unix:///run/docker.sock", "ssh://ops@127.0.0.1:2222"]
tls_verify = true

[contexts.demo]
backend = "simulator"
seed = 42
scale = 5000
speed = 4

[keymap]
host.create = "n"
"item.delete" = "ctrl+x"
"""
    )
    config = load_config()
    # a dotted binding id reads as nested tables in TOML, quoted or not: both come back flat
    assert config.keymap == {"host.create": "n", "item.delete": "ctrl+x"}
    lab = config.settings_for(None)
    assert (lab.backend, lab.context, lab.read_only) == ("prism", "lab", True)
    assert lab.prism.endpoint == "https://127.0.0.1:9440" and lab.prism.user == "admin"
    assert lab.prism.password_command == "pass show prism"
    assert lab.prism.ca_bundle == "/home/tester/certs/prism.pem"
    local = config.settings_for("local")
    assert local.docker.hosts == ["unix:///run/docker.sock", "ssh://ops@127.0.0.1:2222"]
    assert local.docker.tls_verify is True and not local.read_only
    demo = config.settings_for("demo")
    assert (demo.simulator.seed, demo.simulator.scale, demo.simulator.speed) == (42, 5000, 4.0)


@pytest.mark.parametrize(
    "text, reason",
    [
        ("current_context = [", "config.toml"),
        ('[contexts.a]\nbackend = "vmware"', "backend must be one of"),
        ('[contexts.a]\nbackend = "prism"\nendpont = "https://x"', "unknown key 'endpont'"),
        ('[contexts.a]\nbackend = "prism"\npassword = "hunter2"', "password is never kept"),
        ('[contexts.a]\nbackend = "simulator"\nseed = "seven"', "seed must be a number"),
        ('[contexts.a]\nbackend = "docker"\nhosts = "unix:///x"', "hosts must be a list of strings"),
        ('current_context = "b"\n[contexts.a]\nbackend = "docker"', "current_context 'b' is not a context"),
        ("[keymap]\ncreate_host = 3", "[keymap]"),
        ('colour = "blue"', "unknown top-level key"),
    ],
)
def test_a_bad_config_is_one_line_and_exit_2(config_file: Path, cli, text: str, reason: str):
    config_file.write_text(text)
    with pytest.raises(ConfigError, match=None) as caught:
        load_config()
    assert reason in str(caught.value)
    result = cli("hosts", "list")
    assert result.code == 2
    assert result.out == ""
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Config error:") and reason in lines[0]
    assert "Traceback" not in result.err


def test_a_password_in_the_config_is_never_echoed(config_file: Path, cli):
    config_file.write_text('[contexts.a]\nbackend = "prism"\npassword = "hunter2"')
    result = cli("config", "path")  # the path is printed even when the file is bad
    assert result.code == 0
    result = cli("--context", "a", "hosts", "list")
    assert result.code == 2 and "hunter2" not in result.err + result.out


def test_an_unknown_context_exits_2_naming_the_known_ones(config_file: Path, cli):
    config_file.write_text('[contexts.lab]\nbackend = "simulator"\n[contexts.home]\nbackend = "simulator"')
    result = cli("--context", "prod", "hosts", "list")
    assert result.code == 2
    assert result.err.strip() == f"Config error: no such context 'prod' in {config_file} (contexts: home, lab)"
