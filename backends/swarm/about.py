"""The swarm backend as the registry sees it: its settings and checks. Light on purpose.

Its options are the Docker backend's (``--docker-host`` and the TLS ones): the manager is
an engine, reached the same ways; the CLI gives a flag that two backends share once."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..contract import HOST_IMAGE_CAPABILITIES, Capability
from ..errors import InvalidInput
from ..registry import BackendInfo, Resolving
from ..docker.about import EngineSettings, check_engines, default_hosts

if TYPE_CHECKING:
    from ..settings import Settings


@dataclass(slots=True)
class SwarmSettings(EngineSettings):
    """The Docker backend's engine settings (the flags are shared): the manager is an engine.
    A list, as the Docker backend's, but one manager: see finish."""


def finish(s: SwarmSettings, how: Resolving) -> None:
    default_hosts(s)
    if len(s.hosts) != 1:
        # The manager is the swarm's source of truth: one is all it takes, and two would be
        # two views of the same swarm.
        raise InvalidInput(f"the swarm backend talks to one manager: give one --docker-host, not {len(s.hosts)}")


def check(settings: "Settings") -> None:
    check_engines(settings.swarm, "swarm manager", settings.insecure_transport)


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
            # The manager's own images (a worker's engine is not reached through the manager).
            *HOST_IMAGE_CAPABILITIES,
        }
    ),
    options_title="swarm (--backend swarm)",
    finish=finish,
    check=check,
)
