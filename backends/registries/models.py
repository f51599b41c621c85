"""A configured registry, and an image tag as a registry lists it.

A registry is a ``[registries.NAME]`` table of the config file:

```toml
[registries.lab]
url = "https://registry.example.local:5000"
user = "ci"                          # none: anonymous pulls
project = "apps"                     # optional: the Prism project whose machines use it
context = "lab"                      # optional: only with this context (none: every context)
ca_bundle = "~/certs/registry.pem"   # the registry's own CA
password_command = "pass show registry/lab"   # never a password itself
```

Light on purpose (no httpx): the config loader checks these tables on every command.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..endpoints import check_https_url
from ..errors import InvalidInput

# A registry's name is a bare TOML key, so its table header is always ``[registries.NAME]``
# (the config writer finds the table by that line).
REGISTRY_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
# A project or user name: printable, one line, bounded (they are shown and sent as-is).
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f-\x9f]{1,255}$")

_KEYS = {
    "url": str,
    "user": str,
    "project": str,
    "context": str,
    "ca_bundle": str,
    "insecure": bool,
    "insecure_transport": bool,
    "password_command": str,
}
# Never in the config: a secret written to a file is a secret leaked to every backup of it.
_SECRET_KEYS = ("password", "token", "secret", "auth")


@dataclass(frozen=True, slots=True)
class RegistryEntry:
    name: str
    url: str
    user: str | None = None
    project: str | None = None
    context: str | None = None
    ca_bundle: str | None = None
    insecure: bool = False  # TLS not verified (shown on every command)
    insecure_transport: bool = False  # http:// allowed (shown on every command)
    password_command: str | None = None

    def table(self) -> dict[str, Any]:
        """The config table that stores this entry (only what is set)."""
        out: dict[str, Any] = {"url": self.url}
        for key in ("user", "project", "context", "ca_bundle", "password_command"):
            value = getattr(self, key)
            if value:
                out[key] = value
        for key in ("insecure", "insecure_transport"):
            if getattr(self, key):
                out[key] = True
        return out

    def warnings(self) -> list[str]:
        lines = []
        if self.insecure:
            lines.append(f"Warning: registry {self.name}: TLS verification is OFF (insecure): anyone on the path can read the password")
        if self.insecure_transport:
            lines.append(f"Warning: registry {self.name}: plain-text transport allowed: credentials may cross the network in clear")
        return lines


def registry_name_problem(name: str) -> str | None:
    if REGISTRY_NAME.match(name):
        return None
    return "a registry name is 1-63 letters, digits, '-' or '_', starting with a letter or digit"


def check_entry(entry: RegistryEntry, where: str) -> RegistryEntry:
    """Every field of ``entry`` checked; raises ``InvalidInput`` with the reason (exit 2)."""
    problem = registry_name_problem(entry.name)
    if problem:
        raise InvalidInput(f"{where}: {entry.name!r}: {problem}")
    check_https_url(entry.url, f"{where}: url", insecure_transport=entry.insecure_transport)
    for key in ("user", "project", "context"):
        value = getattr(entry, key)
        if value is not None and not _PRINTABLE.match(value):
            raise InvalidInput(f"{where}: {key} must be 1-255 printable characters")
    if entry.user is not None and ":" in entry.user:
        raise InvalidInput(f"{where}: a user name cannot hold ':' (HTTP Basic would split it there)")
    if entry.insecure and entry.ca_bundle:
        raise InvalidInput(f"{where}: give a CA bundle or insecure, not both")
    return entry


def entry_from_table(name: str, raw: Any, where: str) -> RegistryEntry:
    """A ``[registries.NAME]`` table as read by tomllib, checked (``InvalidInput`` on any problem)."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{where} must be a table")
    for key in raw:
        if key in _SECRET_KEYS:
            raise InvalidInput(
                f"{where}: a {key} is never kept in the config; use password_command, NTNX_REGISTRY_PASSWORD or a prompt"
            )
        if key not in _KEYS:
            raise InvalidInput(f"{where}: unknown key {key!r} (keys: {', '.join(sorted(_KEYS))})")
        if not isinstance(raw[key], _KEYS[key]):
            wanted = "true or false" if _KEYS[key] is bool else "a string"
            raise InvalidInput(f"{where}: {key} must be {wanted}")
    if "url" not in raw:
        raise InvalidInput(f"{where}: no url (https://HOST[:PORT])")
    values = dict(raw)
    if values.get("ca_bundle"):
        values["ca_bundle"] = os.path.expanduser(values["ca_bundle"])
    return check_entry(RegistryEntry(name=name, **values), where)


@dataclass(frozen=True, slots=True)
class ImageTag:
    """One tag of one repository, as the registry's manifest describes it."""

    repository: str
    tag: str
    digest: str  # of the manifest the tag points to ("sha256:…"), as the registry serves it
    media_type: str
    # Bytes stored in the registry: the config and layers of an image manifest; for an index
    # (manifest list), the sum over its images. None when the manifest does not say.
    size_bytes: int | None
    platforms: tuple[str, ...] = field(default_factory=tuple)  # "linux/amd64", "linux/arm64/v8"
