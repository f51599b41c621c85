"""The swarm backend as the registry sees it: its settings and checks. Light on purpose.

Its options are the Docker backend's (``--docker-host`` and the TLS ones): the manager is
an engine, reached the same ways; the CLI gives a flag that two backends share once."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..contract import Capability
from ..endpoints import check_docker_url
from ..errors import InvalidInput
from ..registry import BackendInfo, Resolving
from ..settings import option
from ..docker.about import DEFAULT_DOCKER_HOST, engine_url

if TYPE_CHECKING:
    from ..settings import Settings


@dataclass(slots=True)
class SwarmSettings:
    # A list, as the Docker backend's (the flag is shared), but one manager: see finish.
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


def finish(s: SwarmSettings, how: Resolving) -> None:
    if not s.hosts:
        s.hosts = [os.environ.get("DOCKER_HOST") or DEFAULT_DOCKER_HOST]
    if len(s.hosts) != 1:
        # The manager is the swarm's source of truth: one is all it takes, and two would be
        # two views of the same swarm.
        raise InvalidInput(f"the swarm backend talks to one manager: give one --docker-host, not {len(s.hosts)}")


def tls_wanted(settings: "Settings") -> bool:
    return bool(settings.swarm.tls_verify) or bool(os.environ.get("DOCKER_TLS_VERIFY"))


def check(settings: "Settings") -> None:
    for url in settings.swarm.hosts:
        check_docker_url(url, "swarm manager", tls=tls_wanted(settings), insecure_transport=settings.insecure_transport)


BACKEND = BackendInfo(
    name="swarm",
    summary="a Docker swarm through a manager: nodes, services, tasks, secrets",
    settings=SwarmSettings,
    loader="backends.swarm.backend:SwarmBackend",
    capabilities=frozenset(
        {
            Capability.SERVICES,
            Capability.SERVICES_CREATE,
            Capability.SERVICES_SCALE,
            Capability.SERVICES_REMOVE,
            Capability.SECRETS,
            Capability.SECRETS_CREATE,
            Capability.SECRETS_REMOVE,
            Capability.HOSTS_AVAILABILITY,
            # Through the manager: any task's logs (/tasks/ID/logs), the manager's own containers.
            Capability.CONTAINERS_LOGS,
            Capability.CONTAINERS_INSPECT,
        }
    ),
    options_title="swarm (--backend swarm)",
    finish=finish,
    check=check,
)
