"""Where a password comes from when it is not typed: a ``password_command`` or the system
keyring. Shared by every backend that logs in (Prism, registries); the order in which they
are tried is each caller's.

A password_command is bounded in time and output, reads nothing from the user's terminal
(stdin closed: a password manager that needs a passphrase asks through its own agent), and
what it prints on stderr is never shown (a failing password manager may echo what it got).
"""

from __future__ import annotations

import os
import selectors
import shlex
import subprocess
import time

from .errors import AuthenticationFailed, InvalidInput

KEYRING_SERVICE = "ntnx-console"
#: Seconds a password_command may take: a password manager answers in well under one (a few
#: when it asks for its own passphrase); one that hangs must not hang the command.
PASSWORD_COMMAND_TIMEOUT = 30.0
#: Bytes of its output read: a password is short; a command that prints without end is
#: stopped there rather than held in memory.
MAX_COMMAND_OUTPUT = 64 * 1024


def run_password_command(
    command: str, *, where: str = "", timeout: float = PASSWORD_COMMAND_TIMEOUT, max_output: int = MAX_COMMAND_OUTPUT
) -> str:
    """The first line ``command`` prints; ``where`` prefixes every error ("registry lab: ")."""
    try:
        argv = shlex.split(command)
    except ValueError as err:  # an unbalanced quote: the config's fault, said as such
        raise InvalidInput(f"{where}password_command cannot be read as a command: {err}") from None
    if not argv:
        raise InvalidInput(f"{where}password_command is empty")
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    except (OSError, ValueError) as err:
        raise AuthenticationFailed(f"{where}password_command could not run: {err}") from None
    too_slow = AuthenticationFailed(f"{where}password_command {argv[0]} did not finish within {timeout:g}s and was stopped")
    deadline = time.monotonic() + timeout
    out = bytearray()
    try:
        assert proc.stdout is not None
        with selectors.DefaultSelector() as selector:
            selector.register(proc.stdout, selectors.EVENT_READ)
            while len(out) < max_output:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise too_slow
                if not selector.select(left):
                    continue
                chunk = os.read(proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                out += chunk
        if len(out) >= max_output:
            proc.kill()  # it said enough: the password is in its first line
        try:
            code = proc.wait(timeout=max(0.0, deadline - time.monotonic()) + 0.1)
        except subprocess.TimeoutExpired:
            raise too_slow from None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    if code != 0 and len(out) < max_output:
        raise AuthenticationFailed(f"{where}password_command exited with status {code}")
    text = bytes(out[:max_output]).decode("utf-8", errors="replace")
    line = text.splitlines()[0] if text else ""
    if not line:
        raise AuthenticationFailed(f"{where}password_command printed no password")
    return line


def from_keyring(key: str) -> str | None:
    """The password the system keyring holds for ``key`` (service "ntnx-console"), if the
    optional ``keyring`` module is installed and has one."""
    try:
        import keyring  # optional: only when the user installed it
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, key)
    except Exception:  # any keyring backend failure just means "not there"
        return None
