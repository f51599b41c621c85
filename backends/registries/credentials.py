"""Where a registry's password (or token) comes from. Never an option, a config value, or a
log line; looked up only when the registry asks for credentials, so an anonymous registry
never prompts.

In order: ``NTNX_REGISTRY_PASSWORD``; the registry's ``password_command`` (its first line of
output; at most ``PASSWORD_COMMAND_TIMEOUT`` seconds; the caller refuses it from a config
others can write); the system keyring when the ``keyring`` module is installed (service
"ntnx-console", user part ``USER@URL``); a masked prompt when stdin is a terminal.
"""

from __future__ import annotations

import getpass
import os
import shlex
import subprocess
import sys
from typing import Callable, Mapping

from ..errors import AuthenticationFailed, InvalidInput
from .models import RegistryEntry

ENV_PASSWORD = "NTNX_REGISTRY_PASSWORD"
KEYRING_SERVICE = "ntnx-console"
#: Seconds a password_command may take: a password manager answers in well under one (a few
#: when it asks for its own passphrase); one that hangs must not hang the command.
PASSWORD_COMMAND_TIMEOUT = 30.0
#: Bytes of a password_command's output read: a password is short; a command that prints
#: without end is stopped there.
MAX_COMMAND_OUTPUT = 64 * 1024


def _from_command(entry: RegistryEntry, timeout: float) -> str:
    try:
        argv = shlex.split(entry.password_command or "")
    except ValueError as err:
        raise InvalidInput(f"registry {entry.name}: password_command cannot be read as a command: {err}") from None
    if not argv:
        raise InvalidInput(f"registry {entry.name}: password_command is empty")
    try:
        # The command's stdin is closed: it must not read the user's terminal behind our back
        # (a password manager that needs a passphrase asks through its own agent).
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise AuthenticationFailed(
            f"registry {entry.name}: password_command {argv[0]} did not finish within {timeout:g}s and was stopped"
        ) from None
    except (OSError, ValueError) as err:
        raise AuthenticationFailed(f"registry {entry.name}: password_command could not run: {err}") from None
    if done.returncode != 0:
        # Its stderr is not shown: a failing password manager may print what it was given.
        raise AuthenticationFailed(f"registry {entry.name}: password_command exited with status {done.returncode}")
    out = done.stdout[:MAX_COMMAND_OUTPUT].decode("utf-8", errors="replace")
    line = out.splitlines()[0] if out else ""
    if not line:
        raise AuthenticationFailed(f"registry {entry.name}: password_command printed no password")
    return line


def _from_keyring(entry: RegistryEntry) -> str | None:
    try:
        import keyring  # optional: only when the user installed it
    except ImportError:
        return None
    try:
        return keyring.get_password(KEYRING_SERVICE, f"{entry.user}@{entry.url}")
    except Exception:  # any keyring backend failure just means "not there"
        return None


def password_for(
    entry: RegistryEntry,
    *,
    env: Mapping[str, str] = os.environ,
    prompt: Callable[[str], str] = getpass.getpass,
    interactive: Callable[[], bool] = lambda: sys.stdin.isatty(),
    command_timeout: float = PASSWORD_COMMAND_TIMEOUT,
) -> str:
    """The password of ``entry.user`` at the registry, from the first source that has one."""
    password = env.get(ENV_PASSWORD)
    if not password and entry.password_command:
        password = _from_command(entry, command_timeout)
    if not password:
        password = _from_keyring(entry)
    if not password and interactive():
        try:
            password = prompt(f"Password for {entry.user} at registry {entry.name} ({entry.url}): ")
        except EOFError:  # ctrl+d at the prompt: no password
            password = None
    if not password:
        raise AuthenticationFailed(
            f"registry {entry.name} asks for a password: set {ENV_PASSWORD}, a password_command in its "
            "config table, or run on a terminal to be asked"
        )
    return password
