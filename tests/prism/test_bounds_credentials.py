"""A password_command is bounded: one that never returns is stopped after a short, named
timeout with one line saying so; one the config spells wrong is invalid input (exit 2)."""

from __future__ import annotations

import os
import sys
import time

import pytest

from backends.errors import AuthenticationFailed, InvalidInput
from backends.prism import credentials as creds


def test_a_password_command_that_never_returns_is_stopped(monkeypatch, tmp_path):
    monkeypatch.setattr(creds, "PASSWORD_COMMAND_TIMEOUT", 0.5)
    pid_file = tmp_path / "pid"
    hang = f"{sys.executable} -c 'import os, time; open(\"{pid_file}\", \"w\").write(str(os.getpid())); time.sleep(3600)'"
    started = time.monotonic()
    with pytest.raises(AuthenticationFailed) as caught:
        creds._from_command(hang)
    assert time.monotonic() - started < 10
    line = caught.value.one_line()
    assert "\n" not in line and "did not finish within 0.5s and was stopped" in line, line
    # It was killed, not left behind: its pid is gone (run() killed and reaped it).
    pid = int(pid_file.read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


@pytest.mark.parametrize("command", ["pass show 'prism/admin", 'echo "unbalanced'])
def test_an_unbalanced_quote_is_invalid_input_in_one_line(command):
    with pytest.raises(InvalidInput) as caught:
        creds._from_command(command)
    assert caught.value.exit_code == 2
    assert caught.value.one_line() == "Invalid input: password_command cannot be read as a command: No closing quotation"


def test_an_empty_password_command_is_invalid_input():
    with pytest.raises(InvalidInput, match="password_command is empty"):
        creds._from_command("   ")
