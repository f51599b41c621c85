"""Every way a user can get a command wrong ends in one clear line and the right exit code:
never "unexpected …" and never a traceback (those are for --debug alone)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.cli import main

ROOT = Path(__file__).resolve().parents[2]
IMAGE, NET = "ubuntu-22.04-docker-26.1.4", "vlan110-apps"

CASES = [
    # (argv, exit code, a word the line must carry)
    (["--backend", "docker", "--docker-host", "tcp://127.0.0.1:99999", "hosts", "list"], 2, "out of range"),
    (["--backend", "docker", "--docker-host", "ssh://ops@127.0.0.1:99999", "hosts", "list"], 2, "out of range"),
    (["--backend", "prism", "--prism-endpoint", "https://h:99999", "--prism-user", "a", "hosts", "list"], 2, "out of range"),
    (["--demo", "--faults", "", "hosts", "list"], 2, "--faults"),
    (["--demo", "--faults", "meteor", "hosts", "list"], 2, "meteor"),
    (["--demo", "--speed", "inf", "hosts", "list"], 2, "finite"),
    (["--demo", "--speed", "nan", "hosts", "list"], 2, "finite"),
    (["--demo", "--scale", "1000000000", "hosts", "list"], 2, "out of range"),
    (["--demo", "--scale", "0", "hosts", "list"], 2, "out of range"),
    (["--demo", "--demo-state", "", "hosts", "list"], 2, "--demo-state"),
    (["--demo", "sim", "serve", "--port", "99999"], 2, "out of range"),
    (["--demo", "container", "run", "busybox", "--host", "cm-web-01", "--publish", "99999"], 2, "port"),
    (["--demo", "container", "run", "busybox", "--host", "cm-web-01", "--publish", "x:80"], 2, "port"),
    (["--demo", "container", "run", "Not An Image", "--host", "cm-web-01"], 2, "image"),
    (["--demo", "host", "create", "Web-01", "--image", IMAGE, "--cores", "1", "--memory-mib", "1024", "--network", NET], 2, "host name"),
    (["--demo", "host", "create", "web-01", "--image", IMAGE, "--cores", "0", "--memory-mib", "1024", "--network", NET], 2, "at least 1"),
    (["--demo", "volume", "create", "v1", "--size-gib", "1e9"], 2, "more than"),
    (["--demo", "volume", "attach", "db-1-data", "--host", "cm-web-01", "--container", "db-1"], 2, "go together"),
    (["--demo", "container", "stop", "no-such-container"], 1, "no-such-container"),
    (["--demo", "--backend", "docker", "hosts", "list"], 2, "--demo"),
    (["--demo", "hosts", "upgrade", "--to", "26.1.4"], 2, "--all"),
    (["--demo", "--read-only", "container", "stop", "db-1"], 4, "read-only"),
    (["--no-such-option"], 2, "unrecognized"),
    (["hosts", "frobnicate"], 2, "invalid choice"),
]


@pytest.mark.parametrize("argv, code, says", CASES, ids=[" ".join(c[0])[:60] for c in CASES])
def test_bad_commands_are_one_line_with_the_right_code(argv, code, says, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    assert main(argv) == code
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if not line.startswith("simulated data")]
    assert len(lines) == 1, err
    assert says in lines[0], err
    assert "unexpected" not in err and "Traceback" not in err


@pytest.mark.parametrize(
    "config, says",
    [
        ('[contexts.d]\nbackend = "simulator"\nspeed = nan\n', "finite"),
        ('[contexts.d]\nbackend = "simulator"\nscale = -3\n', "out of range"),
        ('[contexts.d]\nbackend = "docker"\nhosts = ["tcp://127.0.0.1:2375"]\n', "without TLS"),
        ('[contexts.d]\nbackend = "prism"\nendpoint = "https://127.0.0.1:9440"\nuser = "a"\npassword_command = "pass \'show"\n', "password_command"),
    ],
)
def test_bad_config_values_are_one_line_and_exit_2(config, says, capsys, monkeypatch, tmp_path):
    path = tmp_path / "c.toml"
    path.write_text(config)
    path.chmod(0o600)
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(path))
    monkeypatch.delenv("NTNX_PASSWORD", raising=False)
    assert main(["--context", "d", "hosts", "list"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err, err


def test_a_container_command_after_double_dash_reaches_the_container(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    code = main(["--demo", "container", "run", "busybox:1.36", "--host", "cm-web-01", "--name", "echoer", "--wait", "--json", "--", "echo", "hi", "--there"])
    assert code == 0, capsys.readouterr().err


def test_wait_gives_up_after_its_timeout_with_the_last_state(capsys, monkeypatch, tmp_path):
    # The simulator in real time (speed 1): an upgrade takes simulated minutes.
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(tmp_path / "none.toml"))
    started = time.monotonic()
    code = main(["--demo", "--speed", "1", "hosts", "upgrade", "--all", "--to", "26.1.4", "--wait", "--timeout", "1"])
    assert code == 1 and time.monotonic() - started < 20
    err = capsys.readouterr().err.splitlines()
    timed_out = [line for line in err if line.startswith("Timed out:")]
    assert len(timed_out) == 1 and "upgrade_hosts" in timed_out[0] and "RUNNING" in timed_out[0], err


def _readable(stream) -> bool:
    import select

    return bool(select.select([stream], [], [], 0)[0])


def test_ctrl_c_ends_the_command_at_once_with_130(tmp_path):
    env = {**os.environ, "NTNX_CONSOLE_CONFIG": str(tmp_path / "none.toml")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--demo", "--speed", "1", "hosts", "upgrade", "--all", "--to", "26.1.4", "--wait"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        # Interrupt once it is following the task: it says "simulated data" after connecting.
        os.set_blocking(proc.stderr.fileno(), False)
        seen = ""
        deadline = time.monotonic() + 30
        while "simulated data" not in seen:
            assert proc.poll() is None and time.monotonic() < deadline, seen
            seen += (os.read(proc.stderr.fileno(), 65536) if _readable(proc.stderr) else b"").decode()
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        sent = time.monotonic()
        code = proc.wait(timeout=10)
        assert code == 130 and time.monotonic() - sent < 5
        os.set_blocking(proc.stderr.fileno(), True)
        assert "Traceback" not in seen + proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
