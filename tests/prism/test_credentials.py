"""Where the password comes from: never an option; NTNX_PASSWORD, a password_command, the
keyring, a prompt on a terminal; an API key instead of all of them."""

from __future__ import annotations

import sys

import pytest

from backends.errors import AuthenticationFailed, InvalidInput
from backends.prism.credentials import credentials
from backends.prism.about import PrismSettings

SETTINGS = PrismSettings(endpoint="https://127.0.0.1:9440", user="admin")


def no_prompt(_: str) -> str:
    raise AssertionError("prompted although a password was available")


def test_environment_first():
    creds = credentials(SETTINGS, env={"NTNX_PASSWORD": "from-env"}, prompt=no_prompt)
    assert (creds.user, creds.password) == ("admin", "from-env")


def test_password_command_prints_it():
    settings = PrismSettings(endpoint=SETTINGS.endpoint, user="admin", password_command=f"{sys.executable} -c 'print(\"from-cmd\")'")
    assert credentials(settings, env={}, prompt=no_prompt, interactive=lambda: True).password == "from-cmd"


def test_a_failing_password_command_is_an_authentication_failure():
    settings = PrismSettings(endpoint=SETTINGS.endpoint, user="admin", password_command=f"{sys.executable} -c 'raise SystemExit(2)'")
    with pytest.raises(AuthenticationFailed, match="status 2"):
        credentials(settings, env={}, prompt=no_prompt)


def test_prompt_only_on_a_terminal():
    asked: list[str] = []
    creds = credentials(SETTINGS, env={}, prompt=lambda q: asked.append(q) or "typed", interactive=lambda: True)
    assert creds.password == "typed" and asked == ["Password for admin at https://127.0.0.1:9440: "]
    with pytest.raises(AuthenticationFailed, match="NTNX_PASSWORD"):
        credentials(SETTINGS, env={}, prompt=no_prompt, interactive=lambda: False)


def test_an_api_key_replaces_the_password():
    settings = PrismSettings(endpoint=SETTINGS.endpoint, user="admin", api_key_env="MY_PRISM_KEY")
    creds = credentials(settings, env={"MY_PRISM_KEY": "k-123"}, prompt=no_prompt)
    assert creds.headers() == {"X-ntnx-api-key": "k-123"}


def test_endpoint_and_user_are_required():
    with pytest.raises(InvalidInput, match="--prism-endpoint"):
        credentials(PrismSettings(user="admin"), env={"NTNX_PASSWORD": "x"})
    with pytest.raises(InvalidInput, match="--prism-user"):
        credentials(PrismSettings(endpoint=SETTINGS.endpoint), env={"NTNX_PASSWORD": "x"})
