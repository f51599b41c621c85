"""Nothing secret crosses a plain transport, every endpoint is checked before a connection,
and a protection the user turned off is shown on every command and in the header.

The listeners here are our own, on 127.0.0.1: a plain TCP socket that records whatever
reaches it, and the simulator served as Prism over HTTPS (tests/prism/servers.py)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from backends.prism.client import Credentials
from backends.prism import PrismBackend
from backends.prism.about import PrismSettings
from backends.settings import Settings
from console.app import NtnxConsoleApp
from console.cli import main
from tests.prism.servers import PASSWORD, serve, sim_app
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


class PlainListener:
    """A plain TCP listener that records every connection and every byte sent to it."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.received = bytearray()
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                continue
            self.connections += 1
            conn.settimeout(1.0)
            try:
                while len(self.received) < 1_000_000:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    self.received += chunk
                    if b"\r\n\r\n" in self.received:
                        conn.sendall(b"HTTP/1.1 500 Nope\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                        break
            except OSError:
                pass
            finally:
                conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture
def listener():
    server = PlainListener()
    yield server
    server.close()


def run_cli(*args: str, config: Path | None = None, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    """The real command, as a user runs it, with a clean environment."""
    full = {k: v for k, v in os.environ.items() if not k.startswith(("NTNX_", "DOCKER_"))}
    full["NTNX_CONSOLE_CONFIG"] = str(config) if config else "/nonexistent/ntnx-console.toml"
    full["NTNX_PASSWORD"] = PASSWORD
    full.update(env or {})
    argv = [sys.executable, "-m", "console", *args]
    return subprocess.run(argv, cwd=ROOT, env=full, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


def write_config(path: Path, text: str, mode: int = 0o600) -> Path:
    path.write_text(text)
    path.chmod(mode)
    return path


# ---------------------------------------------------------------------------------------------
# No password in clear


def test_a_config_endpoint_over_http_is_refused_before_anything_is_sent(tmp_path, listener):
    config = write_config(
        tmp_path / "c.toml",
        f'current_context = "lab"\n[contexts.lab]\nbackend = "prism"\nendpoint = "http://127.0.0.1:{listener.port}"\nuser = "admin"\n',
    )
    done = run_cli("hosts", "list", config=config)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "plain HTTP" in lines[0] and "--insecure-transport" in lines[0], done.stderr
    assert listener.connections == 0 and PASSWORD.encode() not in listener.received


def test_the_endpoint_flag_over_http_is_refused_too(listener):
    done = run_cli("--backend", "prism", "--prism-endpoint", f"http://127.0.0.1:{listener.port}", "--prism-user", "admin", "hosts", "list")
    assert done.returncode == 2 and "plain HTTP" in done.stderr
    assert listener.connections == 0


def test_docker_host_over_tcp_without_tls_from_the_environment_is_refused(listener):
    done = run_cli("--backend", "docker", "hosts", "list", env={"DOCKER_HOST": f"tcp://127.0.0.1:{listener.port}"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"Insecure transport: Docker host: tcp://127.0.0.1:{listener.port} is plain TCP without TLS: anyone on the path "
        "controls the engine; use --tls-verify with --cert-path (or DOCKER_TLS_VERIFY), ssh://, or --insecure-transport"
    ]
    assert listener.connections == 0


def test_insecure_transport_is_the_users_explicit_choice_and_is_shown(listener):
    done = run_cli(
        "--backend", "prism", "--prism-endpoint", f"http://127.0.0.1:{listener.port}", "--prism-user", "admin",
        "--insecure-transport", "hosts", "list",
    )
    # The user asked for it: the request goes out, and the warning says what that means.
    assert "Warning: plain-text transport allowed (--insecure-transport)" in done.stderr
    assert listener.connections >= 1
    assert done.returncode in (1, 3) and "Traceback" not in done.stderr


# ---------------------------------------------------------------------------------------------
# Validation before connection: no DNS look-up, no connection


@pytest.fixture
def no_network(monkeypatch):
    """Fails the test if anything looks a name up or opens a connection."""
    attempts: list[object] = []

    def refuse(*args, **kwargs):
        attempts.append(args)
        raise AssertionError(f"a network call was made: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", "/nonexistent/ntnx-console.toml")
    monkeypatch.setenv("NTNX_PASSWORD", PASSWORD)
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_TLS_VERIFY", raising=False)
    return attempts


@pytest.mark.parametrize(
    "argv, says",
    [
        (["--backend", "docker", "--docker-host", "tcp://127.0.0.1:99999"], "out of range"),
        (["--backend", "docker", "--docker-host", "ssh://ops@127.0.0.1:99999"], "out of range"),
        (["--backend", "docker", "--docker-host", "tcp://127.0.0.1:http", "--tls-verify"], "not a number"),
        (["--backend", "docker", "--docker-host", "tcp://bad_host!:2376", "--tls-verify"], "not a valid host name"),
        (["--backend", "docker", "--docker-host", "unix://relative.sock"], "must be absolute"),
        (["--backend", "docker", "--docker-host", "ssh://ops:hunter2@127.0.0.1"], "no password"),
        (["--backend", "prism", "--prism-endpoint", "https://127.0.0.1:99999", "--prism-user", "a"], "out of range"),
        (["--backend", "prism", "--prism-endpoint", "https://admin:pw@127.0.0.1:9440", "--prism-user", "a"], "no user or password"),
        (["--backend", "prism", "--prism-endpoint", "https://", "--prism-user", "a"], "no host"),
        (["--backend", "prism", "--prism-endpoint", "ftp://127.0.0.1", "--prism-user", "a"], "not an https:// URL"),
        (["--backend", "prism", "--prism-endpoint", "https://127.0.0.1:9440\x1b]0;x\x07", "--prism-user", "a"], "control characters"),
    ],
)
def test_bad_endpoints_are_one_line_and_exit_2_before_any_network_call(argv, says, no_network, capsys):
    assert main([*argv, "hosts", "list"]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and says in err, err
    assert "\x1b" not in err and not no_network


def test_a_docker_host_http_url_in_the_config_makes_no_dns_look_up(tmp_path, no_network, monkeypatch, capsys):
    config = write_config(tmp_path / "c.toml", 'current_context = "d"\n[contexts.d]\nbackend = "docker"\nhosts = ["http://x"]\n')
    monkeypatch.setenv("NTNX_CONSOLE_CONFIG", str(config))
    assert main(["hosts", "list"]) == 2
    assert "plain TCP without TLS" in capsys.readouterr().err and not no_network


# ---------------------------------------------------------------------------------------------
# Insecure is visible


@pytest.fixture(scope="module")
def prism():
    with serve(sim_app()) as srv:
        yield srv


def test_insecure_tls_warns_on_every_command(prism, tmp_path):
    flag = run_cli("--backend", "prism", "--prism-endpoint", prism.endpoint, "--prism-user", "admin", "--insecure", "hosts", "list", "--json")
    assert flag.returncode == 0, flag.stderr
    assert "Warning: TLS verification is OFF (--insecure)" in flag.stderr.splitlines()[0]
    config = write_config(
        tmp_path / "c.toml",
        f'current_context = "lab"\n[contexts.lab]\nbackend = "prism"\nendpoint = "{prism.endpoint}"\nuser = "admin"\ninsecure = true\n',
    )
    for args in (["hosts", "list"], ["volumes", "list", "--json"], ["tasks", "list"]):
        done = run_cli(*args, config=config)
        assert done.returncode == 0, done.stderr
        assert "Warning: TLS verification is OFF" in done.stderr, args


async def test_insecure_tls_shows_a_red_badge_in_the_header(prism):
    settings = Settings(backend="prism", prism=PrismSettings(endpoint=prism.endpoint, user="admin", insecure=True))
    backend = PrismBackend(settings.prism, credentials=Credentials("admin", PASSWORD))
    app = NtnxConsoleApp(settings, None, backend=backend)
    app.ANIMATION_LEVEL = "none"
    async with app.run_test(size=(160, 48)) as pilot:
        header = app.screen.query_one("#status")
        await wait_until(lambda: "INSECURE TLS" in str(header.render()), timeout=20, what="the INSECURE TLS badge")
        badge = next(s for s in header.render().spans if "red" in str(s.style))
        assert "INSECURE TLS" in header.render().plain[badge.start : badge.end] or "READ-ONLY" in header.render().plain
        await pilot.press("q")


# ---------------------------------------------------------------------------------------------
# Config trust


def test_a_config_writable_by_others_does_not_run_its_password_command(tmp_path):
    marker = tmp_path / "ran"
    config = write_config(
        tmp_path / "c.toml",
        '[contexts.lab]\nbackend = "prism"\nendpoint = "https://127.0.0.1:9440"\nuser = "admin"\n'
        f'password_command = "touch {marker}"\n',
        mode=0o666,
    )
    done = run_cli("--context", "lab", "hosts", "list", config=config, env={"NTNX_PASSWORD": ""})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"Config error: refusing password_command of context 'lab': {config} is writable by group or others "
        f"(mode 666); fix with: chmod go-w {config}"
    ]
    assert not marker.exists()


def test_a_config_in_a_directory_others_can_write_is_refused_too(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    config = write_config(
        shared / "c.toml",
        '[contexts.d]\nbackend = "docker"\nhosts = ["unix:///nonexistent.sock"]\nupgrade_command = "true"\n',
    )
    done = run_cli("--context", "d", "hosts", "list", config=config)
    assert done.returncode == 2 and f"{shared} is writable by group or others" in done.stderr


def test_a_loose_config_without_commands_is_still_usable(tmp_path):
    config = write_config(tmp_path / "c.toml", '[contexts.demo]\nbackend = "simulator"\nseed = 3\n', mode=0o666)
    done = run_cli("--context", "demo", "hosts", "list", "--json", config=config)
    assert done.returncode == 0, done.stderr
