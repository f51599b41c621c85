"""The Docker backend as the registry sees it: its settings (config keys and options),
defaults and endpoint checks. Light on purpose: no httpx or asyncssh here."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..contract import HOST_IMAGE_CAPABILITIES, Capability
from ..endpoints import check_docker_url
from ..registry import BackendInfo, Resolving
from ..settings import option

if TYPE_CHECKING:
    from ..settings import Settings

DEFAULT_DOCKER_HOST = "unix:///var/run/docker.sock"


def engine_url(text: str) -> str:
    # On the command line an engine is a URL (a Docker context comes from DOCKER_HOST or the
    # config); the rest of the URL is checked with every other endpoint before connecting.
    if not text.startswith(("unix://", "tcp://", "ssh://")):
        raise ValueError(f"{text!r}: use unix://PATH, tcp://HOST:PORT or ssh://USER@HOST")
    return text


@dataclass(slots=True)
class EngineSettings:
    """How engines are reached: the Docker backend's, and the swarm's (its manager is an
    engine reached the same ways)."""

    hosts: list[str] = option(
        [],
        flag="--docker-host",
        metavar="URL",
        repeat=True,
        parse=engine_url,
        help=f"unix://, tcp:// or ssh:// engine (repeatable; default $DOCKER_HOST, else {DEFAULT_DOCKER_HOST})",
    )
    tls_verify: bool | None = option(None, flag="--tls-verify", help="verify the engine's TLS")
    cert_path: str | None = option(None, flag="--cert-path", metavar="DIR", help="ca.pem, cert.pem, key.pem for tcp+TLS")
    accept_new_host_keys: bool = option(
        False,
        flag="--accept-new-host-keys",
        help="ssh://: trust a host key seen for the first time (a changed key is still refused)",
    )


@dataclass(slots=True)
class DockerSettings(EngineSettings):
    provision_script: str | None = None  # run on a machine without Docker Engine
    upgrade_command: str | None = None  # run over SSH for each host of an upgrade wave


def default_hosts(s: EngineSettings) -> None:
    if not s.hosts:
        s.hosts = [os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST]


def check_engines(s: EngineSettings, what: str, insecure_transport: bool) -> None:
    """Every engine URL, before any connection; tcp:// needs TLS (the setting or DOCKER_TLS_VERIFY)."""
    tls = bool(s.tls_verify) or bool(os.environ.get("DOCKER_TLS_VERIFY"))
    for url in s.hosts:
        check_docker_url(url, what, tls=tls, insecure_transport=insecure_transport)


def finish(d: DockerSettings, how: Resolving) -> None:
    default_hosts(d)


def check(settings: "Settings") -> None:
    check_engines(settings.docker, "Docker host", settings.insecure_transport)


BACKEND = BackendInfo(
    name="docker",
    summary="real Docker Engines: local socket, tcp+TLS, ssh://",
    settings=DockerSettings,
    loader="backends.docker.backend:DockerBackend",
    # Upgrades and task control come with an upgrade_command (see DockerBackend).
    capabilities=frozenset(
        {
            Capability.HOSTS_CREATE,
            Capability.HOSTS_UPGRADE,
            Capability.HOSTS_SHELL,
            Capability.VOLUMES_CREATE,
            Capability.VOLUMES_ATTACH,
            Capability.VOLUMES_DELETE,
            Capability.CONTAINERS_RUN,
            Capability.CONTAINERS_LIFECYCLE,
            Capability.CONTAINERS_REMOVE,
            Capability.CONTAINERS_LOGS,
            Capability.CONTAINERS_SHELL,
            Capability.CONTAINERS_INSPECT,
            Capability.TASKS_CONTROL,
            Capability.STATS,
            # Images on each engine: listed, pulled (with a registry's credentials), removed, pruned.
            *HOST_IMAGE_CAPABILITIES,
        }
    ),
    options_title="docker (--backend docker)",
    finish=finish,
    check=check,
)
