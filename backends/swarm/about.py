"""The swarm backend as the registry sees it: its settings and checks. Light on purpose.

Its options are the Docker backend's (``--docker-host`` and the TLS ones): the manager is
an engine, reached the same ways; the CLI gives a flag that two backends share once."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..contract import HOST_IMAGE_CAPABILITIES, Capability
from ..errors import InvalidInput
from ..registry import BackendInfo, Resolving
from ..docker.about import EngineSettings, check_engines, default_hosts
from ..settings import option

if TYPE_CHECKING:
    from ..settings import Settings


def _node_ssh_entry(text: str) -> str:
    node, found, target = text.partition("=")
    if not found or not node.strip() or not target.strip():
        raise ValueError(f"{text!r}: use NODE=USER@HOST[:PORT] (NODE: a node id or name)")
    return text


@dataclass(slots=True)
class SwarmSettings(EngineSettings):
    """The Docker backend's engine settings (the flags are shared): the manager is an engine.
    A list, as the Docker backend's, but one manager: see finish.

    Machine upgrades (``hosts upgrade``) drain a node, run ``upgrade_command`` on it over SSH
    and activate it again; a node is reached at its own ``node_ssh`` target, else at the
    address the swarm knows it by as ``node_ssh_user``."""

    node_ssh: list[str] = option(
        [],
        flag="--node-ssh",
        metavar="NODE=USER@HOST[:PORT]",
        repeat=True,
        parse=_node_ssh_entry,
        help="upgrades: reach this swarm node (id or name) over SSH at this target (repeatable)",
    )
    node_ssh_user: str | None = option(
        None,
        flag="--node-ssh-user",
        metavar="USER",
        help="upgrades: reach any other node over SSH as USER at the address the swarm knows it by",
    )
    # Run over SSH on each drained node of an upgrade wave; {version} and {node} (its id) are
    # put in, quoted. A config key only, as the Docker backend's: a command is not a flag.
    upgrade_command: str | None = None
    # Versions offered as upgrade targets, beside the ones the nodes already run.
    upgrade_versions: list[str] = field(default_factory=list)


def finish(s: SwarmSettings, how: Resolving) -> None:
    default_hosts(s)
    if len(s.hosts) != 1:
        # The manager is the swarm's source of truth: one is all it takes, and two would be
        # two views of the same swarm.
        raise InvalidInput(f"the swarm backend talks to one manager: give one --docker-host, not {len(s.hosts)}")
    from .upgrade import parse_node_ssh

    parse_node_ssh(s.node_ssh)  # a config's entries, checked as the flag's are


def check(settings: "Settings") -> None:
    check_engines(settings.swarm, "swarm manager", settings.insecure_transport)


BACKEND = BackendInfo(
    name="swarm",
    summary="a Docker swarm through a manager: nodes, services, tasks, secrets, configs",
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
            # Drain, upgrade over SSH, activate; dropped by the backend without an upgrade_command.
            Capability.HOSTS_UPGRADE,
            Capability.SERVICES_UPDATE,
            Capability.SECRETS_ROTATE,
            Capability.CONFIGS,
            Capability.CONFIGS_CREATE,
            Capability.CONFIGS_REMOVE,
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
