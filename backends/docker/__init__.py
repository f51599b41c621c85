"""The Docker backend: real Docker Engines (unix, tcp+TLS, ssh, contexts) as the console's hosts.

    from backends.docker import DockerBackend

    backend = DockerBackend(["unix:///var/run/docker.sock", "ssh://ops@10.0.0.5"],
                            upgrade_command="apt-get install -y docker-ce={version} && systemctl restart docker")
    backend = DockerBackend.from_settings(settings)      # settings.docker (backends.settings)
    await backend.connect()        # Unavailable / AuthenticationFailed when no engine answers
    backend.request_stats(ids)     # one-shot CPU/memory for the rows in view (arrive as changes)
    backend.engines                # one Engine per host: endpoint, reachable, reason

Modules: ``transport`` (endpoints, TLS, ssh tunnel), ``api`` (Engine API, typed errors),
``engine`` (one engine = one Host, supervision), ``inventory`` (containers, volumes, events,
stats), ``actions`` (container and volume actions, re-creation), ``machines`` (provisioning
and upgrades over SSH), ``tasks`` (the local task table), ``bench`` (listing N containers).
"""

from typing import Any

__all__ = ["DockerBackend"]


def __getattr__(name: str) -> Any:
    # Lazy, so the registry can read ``about`` without loading the backend and its libraries.
    if name == "DockerBackend":
        from .backend import DockerBackend

        return DockerBackend
    raise AttributeError(name)
