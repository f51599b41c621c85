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
import sys
from typing import Callable, Mapping

from ..errors import AuthenticationFailed, InvalidInput
from ..password_sources import PASSWORD_COMMAND_TIMEOUT, from_keyring, run_password_command
from .models import RegistryEntry

ENV_PASSWORD = "NTNX_REGISTRY_PASSWORD"
def _from_command(entry: RegistryEntry, timeout: float) -> str:
    return run_password_command(entry.password_command or "", where=f"registry {entry.name}: ", timeout=timeout)


def _from_keyring(entry: RegistryEntry) -> str | None:
    return from_keyring(f"{entry.user}@{entry.url}")


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
