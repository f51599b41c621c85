"""Make the backend a ``Settings`` asks for. Only the chosen backend's modules are imported,
which keeps start-up fast (see tests/test_import_hygiene.py)."""

from __future__ import annotations

from .contract import Backend
from .endpoints import check_settings
from .errors import InvalidInput
from .settings import Settings


def open_backend(settings: Settings) -> Backend:
    """A new, not yet connected backend; the caller ``await``s ``connect()``.

    Its endpoints are checked first, whoever filled the settings: nothing is looked up or
    connected for a bad or plain-text URL."""
    check_settings(settings)
    if settings.backend == "simulator":
        from .simulator import SimulatorBackend

        return SimulatorBackend.from_settings(settings)
    if settings.backend == "docker":
        from .docker import DockerBackend

        return DockerBackend.from_settings(settings)
    if settings.backend == "prism":
        from .prism import PrismBackend

        return PrismBackend.from_settings(settings)
    raise InvalidInput(f"unknown backend {settings.backend!r}: choose simulator, docker or prism")
