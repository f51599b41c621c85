"""The Docker backend: real Docker Engines (unix, tcp+TLS, ssh) as the console's hosts."""

from .backend import DockerBackend

__all__ = ["DockerBackend"]
