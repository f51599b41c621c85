"""The password prompt takes Enter: in the CLI and in the full-screen console.

The real ``ntnx-console`` runs in a pseudo-terminal (its controlling terminal, as a user's
shell gives it one) against the simulator served as Prism; the test types the password and a
carriage return, as a terminal's Enter key sends it. The password is never echoed.

The console used to ask from inside its feed worker, after Textual had put the terminal in
raw mode: Enter (``\\r``) was never the end of the line for getpass, only ctrl+j was. It now
asks before Textual starts (``ask_before_full_screen``).
"""

from __future__ import annotations

import errno
import os
import pty
import select
import signal
import sys
import time
from pathlib import Path

import pytest

from backends.errors import AuthenticationFailed
from backends.prism import credentials as creds_module
from backends.prism.about import PrismSettings
from backends.prism.credentials import ask_before_full_screen, credentials
from tests.prism.servers import PASSWORD, RunningServer, serve, sim_app

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = PrismSettings(endpoint="https://127.0.0.1:9440", user="admin")
COLUMNS, ROWS = 160, 48


@pytest.fixture(autouse=True)
def fresh_prompt(monkeypatch):
    """Each test starts as a new process would: nothing typed yet, the prompt open."""
    monkeypatch.setattr(creds_module, "_typed", {})
    monkeypatch.setattr(creds_module, "_prompt_closed", False)


def no_prompt(_: str) -> str:
    raise AssertionError("prompted")


# -- asking before the full screen ----------------------------------------------------------------


def test_asked_once_before_the_full_screen_and_used_for_every_connection():
    asked: list[str] = []
    ask_before_full_screen(SETTINGS, env={}, prompt=lambda q: asked.append(q) or "typed", interactive=lambda: True)
    assert asked == ["Password for admin at https://127.0.0.1:9440: "]
    for _ in range(3):  # the first connection and reconnections after failures
        assert credentials(SETTINGS, env={}, prompt=no_prompt, interactive=lambda: True).password == "typed"


def test_no_prompt_when_another_source_gives_the_password():
    ask_before_full_screen(SETTINGS, env={"NTNX_PASSWORD": "from-env"}, prompt=no_prompt, interactive=lambda: True)
    with_command = PrismSettings(endpoint=SETTINGS.endpoint, user="admin", password_command="pass show prism")
    ask_before_full_screen(with_command, env={}, prompt=no_prompt, interactive=lambda: True)
    with_key = PrismSettings(endpoint=SETTINGS.endpoint, user="admin", api_key_env="PRISM_KEY")
    ask_before_full_screen(with_key, env={"PRISM_KEY": "k"}, prompt=no_prompt, interactive=lambda: True)
    assert credentials(SETTINGS, env={"NTNX_PASSWORD": "from-env"}, prompt=no_prompt).password == "from-env"


def test_after_the_full_screen_took_the_terminal_nothing_prompts():
    """ctrl+d (or an empty Enter) at the prompt: connecting then fails saying where a password
    goes, instead of prompting on a terminal the console owns."""

    def eof(_: str) -> str:
        raise EOFError

    ask_before_full_screen(SETTINGS, env={}, prompt=eof, interactive=lambda: True)
    with pytest.raises(AuthenticationFailed, match="no password"):
        credentials(SETTINGS, env={}, prompt=no_prompt, interactive=lambda: True)


def test_off_a_terminal_nobody_is_asked():
    ask_before_full_screen(SETTINGS, env={}, prompt=no_prompt, interactive=lambda: False)
    with pytest.raises(AuthenticationFailed):
        credentials(SETTINGS, env={}, prompt=no_prompt, interactive=lambda: False)


# -- on a real terminal ---------------------------------------------------------------------------


class Terminal:
    """A child process on a pseudo-terminal of its own (its controlling terminal, so getpass
    reads /dev/tty as it does for a user), read with deadlines."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        pid, fd = pty.fork()
        if pid == 0:  # the child: size the terminal as a user's would be, then become the CLI
            try:
                import fcntl
                import struct
                import termios

                fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", ROWS, COLUMNS, 0, 0))
                os.chdir(ROOT)
                os.execve(argv[0], argv, env)
            finally:
                os._exit(127)
        self.pid, self.fd = pid, fd
        self.output = bytearray()
        self.status: int | None = None

    def _read(self, timeout: float) -> bool:
        """Read what is there within ``timeout``; False once the child closed the terminal."""
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.fd, 65536)
        except OSError as err:
            if err.errno == errno.EIO:  # Linux: the other side is closed
                return False
            raise
        self.output += chunk
        return bool(chunk)

    def expect(self, text: bytes, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if time.monotonic() > deadline or not self._read(min(0.2, max(0.0, deadline - time.monotonic()))):
                raise AssertionError(f"no {text!r} within {timeout}s; the terminal showed: {self.shown()!r}")

    def type(self, data: bytes) -> None:
        os.write(self.fd, data)

    def wait(self, timeout: float) -> int:
        deadline = time.monotonic() + timeout
        while self.status is None:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"still running after {timeout}s; the terminal showed: {self.shown()!r}")
            self._read(0.1)  # keep draining: a child blocked on a full terminal never ends
        while self._read(0.05):
            pass
        return self.status

    def shown(self) -> str:
        return self.output.decode(errors="replace")[-3000:]

    def close(self) -> None:
        if self.status is None:
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)


@pytest.fixture(scope="module")
def server():
    with serve(sim_app()) as srv:
        yield srv


def console(server: RunningServer, tmp_path: Path, *args: str) -> Terminal:
    # No password source at all: only the prompt can give it.
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTNX_")}
    env.update(
        TERM="xterm-256color",
        NTNX_CONSOLE_CONFIG=str(tmp_path / "no-config.toml"),
        NTNX_CONSOLE_MACHINES_DIR=str(tmp_path / "machines"),
    )
    argv = [sys.executable, "-m", "console", "--backend", "prism", "--prism-endpoint", server.endpoint,
            "--prism-user", "admin", "--ca-bundle", str(server.cert.cert), *args]
    return Terminal(argv, env)


def test_the_cli_prompt_takes_enter(server, tmp_path):
    term = console(server, tmp_path, "hosts", "list")
    try:
        term.expect(b"Password for admin at " + server.endpoint.encode(), timeout=30)
        term.type(PASSWORD.encode() + b"\r")  # what a terminal's Enter key sends
        code = term.wait(timeout=60)
    finally:
        term.close()
    assert code == 0, term.shown()
    assert b"cm-web-01" in term.output  # the simulator's hosts, listed
    assert PASSWORD.encode() not in term.output  # never echoed


def test_the_console_prompt_takes_enter(server, tmp_path):
    term = console(server, tmp_path)
    try:
        term.expect(b"Password for admin at " + server.endpoint.encode(), timeout=30)
        term.type(PASSWORD.encode() + b"\r")
        # The dashboard, connected with that password: the simulator's hosts are drawn.
        term.expect(b"cm-web-01", timeout=60)
        term.type(b"q")
        code = term.wait(timeout=30)
    finally:
        term.close()
    assert code == 0, term.shown()
    assert PASSWORD.encode() not in term.output
