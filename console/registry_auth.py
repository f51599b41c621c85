"""Which configured registry an image comes from, and its credentials for a pull.

An image reference starts with its registry (``registry.example.local:5000/app:1``); the
registry configured with that host[:port] in its URL (``[registries.NAME]``, for this
context or every context) gives the user, and its password comes from where every registry
password comes from (``backends.registries.credentials.password_for``: the environment, a
password_command, the keyring, a masked prompt only on a terminal). When the context (or
the machine) belongs to a project, that project's registry wins over one for any project.

The result is a ``RegistryAuth`` for the engine's ``X-Registry-Auth``; nothing here prints
or logs the password, and an anonymous registry (no user) or an image from a registry that
is not configured needs none: None.
"""

from __future__ import annotations

import sys
import urllib.parse
from typing import TYPE_CHECKING, Callable, Iterable, TypeVar

from backends.errors import InvalidInput

if TYPE_CHECKING:
    from backends.contract import RegistryAuth
    from backends.registries.models import RegistryEntry
    from console.config import Config

_Spec = TypeVar("_Spec")

# How Docker Hub is named in a configured URL: an image without a registry part comes from it.
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")
DOCKER_HUB_SERVER = "https://index.docker.io/v1/"  # what the engine expects as its serveraddress


def registry_of(ref: str) -> str | None:
    """The registry part (host[:port]) of an image reference; None for Docker Hub. The first
    component names a registry only with a dot, a port, or as localhost (the engine's rule)."""
    first, sep, _ = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return None


def server_of(entry: "RegistryEntry") -> str:
    """host[:port] of a registry's URL, as an image reference names it (443 left out)."""
    parts = urllib.parse.urlsplit(entry.url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    return host if port in (None, 443) else f"{host}:{port}"


def find_registry(
    ref: str, entries: Iterable["RegistryEntry"], *, context: str | None = None, project: str | None = None
) -> "RegistryEntry | None":
    """The configured registry ``ref`` is pulled from, or None if none is configured for it.
    Among several for the same host: the project's own, then one for no project; two left
    is ambiguous (one line naming them, exit 2)."""
    server = registry_of(ref)
    candidates = [
        e for e in entries
        if (e.context in (None, context))
        and (server_of(e) == server if server else server_of(e) in DOCKER_HUB_HOSTS)
    ]
    if project:
        own = [e for e in candidates if e.project == project]
        candidates = own or [e for e in candidates if e.project is None]
    elif len(candidates) > 1:
        candidates = [e for e in candidates if e.project is None] or candidates
    if len(candidates) > 1:
        names = ", ".join(sorted(e.name for e in candidates))
        raise InvalidInput(
            f"image {ref}: registries {names} all serve {server or 'Docker Hub'}; "
            "give each a --project, or remove one"
        )
    return candidates[0] if candidates else None


def auth_for_entry(entry: "RegistryEntry", config_path: "object | None" = None, *,
                   password: Callable[["RegistryEntry"], str] | None = None) -> "RegistryAuth | None":
    """The credentials of one configured registry (None when it is anonymous)."""
    from backends.contract import RegistryAuth

    if not entry.user:
        return None
    if entry.password_command and config_path is not None:
        from pathlib import Path

        from console.config import ConfigError, unsafe_reason

        problem = unsafe_reason(Path(str(config_path)))
        if problem:
            raise ConfigError(f"refusing password_command of registry {entry.name}: {problem}")
    if password is None:
        from backends.registries.credentials import password_for

        password = password_for
    server = server_of(entry)
    if server in DOCKER_HUB_HOSTS:
        server = DOCKER_HUB_SERVER
    return RegistryAuth(server=server, username=entry.user, password=password(entry))


def registry_auth(
    ref: str,
    *,
    config: "Config | None" = None,
    context: str | None = None,
    project: str | None = None,
    password: Callable[["RegistryEntry"], str] | None = None,
    warn: bool = True,
) -> "RegistryAuth | None":
    """The ``RegistryAuth`` to pull ``ref`` with, from the config's registries; None when the
    image's registry is not configured or is anonymous. ``password`` replaces the look-up (the
    console passes one that never prompts on the terminal it draws on)."""
    if config is None:
        from console.config import load_config

        config = load_config()
    if not config.registries:
        return None
    entry = find_registry(ref, config.registries.values(), context=context, project=project)
    if entry is None:
        return None
    for line in entry.warnings() if warn else ():
        from widgets.terminal_text import visible

        sys.stderr.write(visible(line) + "\n")
    return auth_for_entry(entry, config.path, password=password)


def no_prompt_password(entry: "RegistryEntry") -> str:
    """The password without a prompt (inside the full-screen console: a prompt there would
    read the keys the console draws with)."""
    from backends.registries.credentials import password_for

    return password_for(entry, interactive=lambda: False)


async def with_registry_auth(backend: object, spec: "_Spec") -> "_Spec":
    """``spec`` (a ContainerSpec, PullSpec or ServiceSpec) with the configured registry's
    credentials when it has none yet: what the console's forms send. Looked up off the event
    loop (a password_command may take seconds) and never with a prompt (the console owns the
    terminal); a registry whose password is nowhere to be found fails the action in one line."""
    import asyncio
    import dataclasses

    if getattr(spec, "registry_auth", None) is not None or not getattr(spec, "image", ""):
        return spec
    project = None
    label = getattr(backend, "label", "") or None
    host_ref = getattr(spec, "host", None)
    if host_ref:
        try:
            from backends.contract import resolve

            inv = await backend.snapshot()  # type: ignore[attr-defined]
            host = resolve(inv.hosts.values(), host_ref, "host")
            found = inv.projects.get(host.project_id or "")
            project = found.name if found is not None else None
            if getattr(backend, "kind", "") == "fleet":  # several contexts: the host's own
                label = host.id.partition("/")[0]
        except Exception:  # the backend says what is wrong with the host, in its own words
            project = None
    auth = await asyncio.to_thread(
        registry_auth, spec.image, context=label, project=project, password=no_prompt_password, warn=False  # type: ignore[attr-defined]
    )
    return dataclasses.replace(spec, registry_auth=auth) if auth is not None else spec  # type: ignore[type-var]


#: Bytes of a registry's CA bundle carried to a machine (a few certificates).
MAX_CA_BUNDLE = 64 * 1024


async def with_project_registries(backend: object, spec: "_Spec") -> "_Spec":
    """A Prism ``HostSpec`` with the registries configured for its project (and this context)
    in ``registries``: their credentials and CAs go into the new machine's engine configuration
    through cloud-init. Passwords come from the usual sources without a prompt; a registry
    whose password is nowhere stops the create in one line, before anything is made."""
    import dataclasses

    from backends.contract import Capability, resolve

    project_ref = getattr(spec, "project", None)
    if not project_ref or getattr(spec, "registries", ()) or not backend.supports(Capability.PROJECTS):  # type: ignore[attr-defined]
        return spec
    inv = await backend.snapshot()  # type: ignore[attr-defined]
    try:
        project = resolve(inv.projects.values(), project_ref, "project")
    except Exception:  # the backend says what is wrong with the project, in its own words
        return spec
    registries = await project_registries(backend, project)
    return dataclasses.replace(spec, registries=registries) if registries else spec  # type: ignore[type-var]


async def project_registries(backend: object, project: object) -> "tuple[RegistryAuth, ...]":
    """The registries configured for ``project`` (a Project: its name or id) and this context,
    each with its credentials (no prompt) and CA: what a machine of the project is given."""
    import asyncio

    from backends.contract import RegistryAuth

    context = getattr(backend, "label", "") or None

    def lookup() -> tuple[RegistryAuth, ...]:
        from backends.files import read_capped
        from console.config import load_config

        config = load_config()
        found = []
        for entry in sorted(config.registries.values(), key=lambda e: e.name):
            if entry.project not in (project.name, project.id) or entry.context not in (None, context):  # type: ignore[attr-defined]
                continue
            auth = auth_for_entry(entry, config.path, password=no_prompt_password)
            ca = ""
            if entry.ca_bundle:
                try:
                    raw = read_capped(entry.ca_bundle, MAX_CA_BUNDLE)
                except OSError as err:
                    raise InvalidInput(f"registry {entry.name}: its CA bundle: {err.strerror or err}") from None
                if raw is None:
                    raise InvalidInput(f"registry {entry.name}: its CA bundle {entry.ca_bundle} cannot be read")
                ca = raw.decode("utf-8", errors="replace")
            server = server_of(entry)
            found.append(RegistryAuth(server=server, username=auth.username if auth else "",
                                      password=auth.password if auth else "", ca_pem=ca))
        return tuple(found)

    return await asyncio.to_thread(lookup)
