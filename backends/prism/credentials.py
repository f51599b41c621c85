"""Where the Prism password comes from. It is never an option, a setting, or a log line.

In order: the ``NTNX_PASSWORD`` environment variable; the ``password_command`` a config
context names (its standard output, first line); the system keyring when the ``keyring``
module is installed (service "ntnx-console", the endpoint as the key's user part); a prompt
when stdin is a terminal (Enter submits, nothing is echoed; the full-screen console asks
before it takes the terminal, see ``ask_before_full_screen``). An API key (``api_key_env`` names the variable that holds it)
replaces the password altogether.
"""

from __future__ import annotations

import getpass
import os
import sys
from typing import TYPE_CHECKING, Callable, Mapping

from ..errors import AuthenticationFailed, InvalidInput
from ..password_sources import PASSWORD_COMMAND_TIMEOUT, from_keyring, run_password_command
from .client import Credentials

if TYPE_CHECKING:
    from .settings import PrismSettings

# A password typed at the prompt, kept in this process's memory only (never written, logged or
# put in the environment): the full-screen console asks before it takes the terminal, and its
# connection, and every reconnection after a failure, take it from here. Keyed by endpoint and
# user, as the keyring is.
_typed: dict[tuple[str, str], str] = {}
# Set once a full-screen UI owns the terminal: a prompt then cannot work (the terminal is raw,
# Enter is a carriage return getpass never takes for the end of the line, and reading it would
# block the UI's event loop), so there is none.
_prompt_closed = False


def _from_command(command: str) -> str:
    return run_password_command(command, timeout=PASSWORD_COMMAND_TIMEOUT)


def _from_keyring(endpoint: str, user: str) -> str | None:
    return from_keyring(f"{user}@{endpoint}")


def _ask(settings: PrismSettings, prompt: Callable[[str], str]) -> str | None:
    try:
        # getpass: on the terminal itself, nothing echoed, Enter submits.
        return prompt(f"Password for {settings.user} at {settings.endpoint}: ") or None
    except EOFError:  # ctrl+d at the prompt: no password
        return None


def ask_before_full_screen(
    settings: PrismSettings,
    *,
    env: Mapping[str, str] = os.environ,
    prompt: Callable[[str], str] = getpass.getpass,
    interactive: Callable[[], bool] = lambda: sys.stdin.isatty(),
) -> None:
    """Called just before a full-screen UI takes the terminal. When nothing but a prompt would
    give the password (no API key, NTNX_PASSWORD, password_command or keyring entry), ask now,
    on the terminal as it is, and keep the answer for ``credentials()``. After this no prompt
    is ever shown in this process; with no password, connecting fails saying where to put one.
    """
    global _prompt_closed
    try:
        if not (settings.endpoint and settings.user) or not interactive():
            return  # connect() says what is missing; off a terminal there is no one to ask
        if settings.api_key_env and env.get(settings.api_key_env):
            return
        if env.get("NTNX_PASSWORD") or settings.password_command:
            return
        if (settings.endpoint, settings.user) in _typed or _from_keyring(settings.endpoint, settings.user):
            return
        answer = _ask(settings, prompt)
        if answer:
            _typed[(settings.endpoint, settings.user)] = answer
    finally:
        _prompt_closed = True


def credentials(
    settings: PrismSettings,
    *,
    env: Mapping[str, str] = os.environ,
    prompt: Callable[[str], str] = getpass.getpass,
    interactive: Callable[[], bool] = lambda: sys.stdin.isatty(),
) -> Credentials:
    if not settings.endpoint:
        raise InvalidInput("the prism backend needs --prism-endpoint https://HOST:9440")
    if settings.api_key_env and env.get(settings.api_key_env):
        return Credentials(settings.user, None, env[settings.api_key_env])
    if not settings.user:
        raise InvalidInput("the prism backend needs --prism-user USER")
    password = env.get("NTNX_PASSWORD")
    if not password and settings.password_command:
        password = _from_command(settings.password_command)
    if not password:
        password = _from_keyring(settings.endpoint, settings.user)
    if not password:
        password = _typed.get((settings.endpoint, settings.user))
    if not password and not _prompt_closed and interactive():
        password = _ask(settings, prompt)
    if not password:
        raise AuthenticationFailed(
            "no password: set NTNX_PASSWORD, a password_command in the config, or run on a terminal to be asked"
        )
    return Credentials(settings.user, password)
