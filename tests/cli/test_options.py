"""How global options and a config context become the Settings a backend is opened with."""

from __future__ import annotations

from pathlib import Path

import pytest

from backends.errors import InvalidInput
from console.cli import UsageError, build_parser, main, resolve_settings
from console.config import load_config


def settings_of(*argv: str, headless: bool = True):
    args = build_parser().parse_args(list(argv))
    return resolve_settings(args, load_config(), headless=headless)


def test_nothing_configured_means_the_simulator():
    s = settings_of("hosts", "list")
    assert s.backend == "simulator" and s.simulator.seed == 7 and not s.read_only


def test_global_options_may_come_after_the_command():
    before = settings_of("--demo", "--seed", "3", "--read-only", "--speed", "2", "hosts", "list")
    after = settings_of("hosts", "list", "--demo", "--seed", "3", "--read-only", "--speed", "2")
    assert before == after
    assert (after.simulator.seed, after.simulator.speed, after.read_only) == (3, 2.0, True)


def test_commands_run_simulated_time_as_fast_as_possible_unless_told():
    assert settings_of("hosts", "list").simulator.speed == 0
    assert settings_of("--speed", "5", "hosts", "list").simulator.speed == 5
    assert settings_of(headless=False).simulator.speed == 1.0  # the console runs in real time


def test_simulator_options_fill_the_simulator_settings(tmp_path: Path):
    s = settings_of(
        "--demo", "--scale", "1000", "--faults", "crash,partition", "--no-activity",
        "--demo-state", str(tmp_path / "s.json"), "tasks", "list",
    )
    sim = s.simulator
    assert (sim.scale, sim.faults, sim.activity, sim.state_path) == (
        1000, "crash,partition", False, str(tmp_path / "s.json"),
    )


def test_docker_hosts_default_to_DOCKER_HOST_then_the_local_socket(monkeypatch: pytest.MonkeyPatch):
    assert settings_of("--backend", "docker", "hosts", "list").docker.hosts == ["unix:///var/run/docker.sock"]
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:2376")
    s = settings_of("--backend", "docker", "--tls-verify", "--cert-path", "/certs", "hosts", "list")
    assert s.docker.hosts == ["tcp://127.0.0.1:2376"]
    assert (s.docker.tls_verify, s.docker.cert_path) == (True, "/certs")
    s = settings_of("--backend", "docker", "--docker-host", "unix:///a.sock", "--docker-host", "ssh://u@127.0.0.1",
                    "--accept-new-host-keys", "hosts", "list")
    assert s.docker.hosts == ["unix:///a.sock", "ssh://u@127.0.0.1"] and s.docker.accept_new_host_keys
    assert not settings_of("--backend", "docker", "hosts", "list").docker.accept_new_host_keys


def test_prism_options_fill_the_prism_settings():
    s = settings_of(
        "--backend", "prism", "--prism-endpoint", "https://127.0.0.1:9440", "--prism-user", "admin",
        "--insecure", "--ca-bundle", "/ca.pem", "--no-engine-check", "hosts", "list",
    )
    p = s.prism
    assert (p.endpoint, p.user, p.insecure, p.ca_bundle, p.engine_check) == (
        "https://127.0.0.1:9440", "admin", True, "/ca.pem", False,
    )


@pytest.mark.parametrize(
    "argv, reason",
    [
        (["--prism-endpoint", "https://127.0.0.1:9440", "hosts", "list"], "--prism-endpoint applies only to the prism"),
        (["--backend", "docker", "--seed", "3", "hosts", "list"], "--seed applies only to the simulator"),
        (["--demo", "--backend", "prism", "hosts", "list"], "--demo is the simulator"),
        (["--backend", "prism", "hosts", "list"], "needs --prism-endpoint"),
    ],
)
def test_options_that_contradict_each_other_are_refused(argv: list[str], reason: str):
    # UsageError or the backend's own InvalidInput: both are one line and exit 2.
    with pytest.raises(InvalidInput, match=reason.replace("-", r"\-")):
        settings_of(*argv)


def test_an_engine_on_the_command_line_is_a_url(capsys):
    assert main(["--backend", "docker", "--docker-host", "127.0.0.1:2375", "hosts", "list"]) == 2
    assert "--docker-host: '127.0.0.1:2375': use unix://PATH" in capsys.readouterr().err


def test_an_explicit_backend_ignores_the_current_context(config_file: Path):
    config_file.write_text('current_context = "lab"\n[contexts.lab]\nbackend = "prism"\nendpoint = "https://127.0.0.1:9440"\nread_only = true')
    assert settings_of("hosts", "list").backend == "prism"
    demo = settings_of("--demo", "hosts", "list")
    assert demo.backend == "simulator" and not demo.read_only
    with pytest.raises(UsageError, match="is a prism context"):
        settings_of("--context", "lab", "--backend", "docker", "hosts", "list")


def test_a_read_only_context_stays_read_only(config_file: Path):
    config_file.write_text('[contexts.demo]\nbackend = "simulator"\nread_only = true\nseed = 11')
    s = settings_of("--context", "demo", "--seed", "12", "hosts", "list")
    assert s.read_only and s.context == "demo" and s.simulator.seed == 12


@pytest.mark.parametrize(
    "argv",
    [
        ["hosts", "list", "--bogus"],
        ["host", "create", "web-01", "--image", "i", "--cores", "0", "--memory-mib", "1", "--network", "n"],
        ["volume", "create", "v", "--size-gib", "-1"],
        ["hosts", "frobnicate"],
        ["--password", "x", "hosts", "list"],
    ],
)
def test_usage_errors_are_one_line_and_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("ntnx-console")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]):
    assert main(["--help"]) == 0
    assert "hosts" in capsys.readouterr().out


def test_a_bad_host_name_exits_2_before_connecting(cli):
    result = cli("host", "create", "Web_01!", "--image", "i", "--cores", "2", "--memory-mib", "4096", "--network", "n")
    assert result.code == 2 and result.out == ""
    assert result.err.strip().startswith("Invalid input: host name 'Web_01!': not a DNS label")
    assert "simulated" not in result.err  # refused before the backend was even opened
