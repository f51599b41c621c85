"""The Prism backend's settings: its config keys, and its command-line options (the fields made
with ``option``). Apart from ``about`` so that the credentials can name it without a cycle."""

from __future__ import annotations

from dataclasses import dataclass

from ..settings import option


@dataclass(slots=True)
class PrismSettings:
    endpoint: str | None = option(None, flag="--prism-endpoint", metavar="URL", help="https://HOST:9440")
    user: str | None = option(None, flag="--prism-user", metavar="USER", help="the Prism Central user")
    # The password is never a setting: NTNX_PASSWORD, a prompt, the keyring or password_command.
    password_command: str | None = None
    api_key_env: str | None = None
    insecure: bool = option(False, flag="--insecure", help="do not verify TLS (shown loudly)")
    ca_bundle: str | None = option(None, flag="--ca-bundle", metavar="PATH", help="trust this CA certificate")
    engine_check: bool = option(True, flag="--no-engine-check", negate=True, help="skip the SSH check of a new machine")
