"""The swarm backend: a Docker swarm, through one of its managers, as the console's hosts
(its nodes), containers (its services' tasks, and the manager's own containers), services
and secrets.

    from backends.swarm import SwarmBackend

    backend = SwarmBackend("unix:///var/run/docker.sock")   # a manager's engine
    backend = SwarmBackend.from_settings(settings)            # settings.swarm

Modules: ``parse`` (the swarm API's objects as the console's values), ``engine`` (the
manager's engine: the Docker backend's supervision, plus the swarm's lists and events),
``backend`` (the contract, the actions).
"""

from typing import Any

__all__ = ["SwarmBackend"]


def __getattr__(name: str) -> Any:
    # Lazy, so the registry can read ``about`` without loading httpx and the Docker backend.
    if name == "SwarmBackend":
        from .backend import SwarmBackend

        return SwarmBackend
    raise AttributeError(name)
