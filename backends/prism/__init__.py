"""The Prism Central backend: container machines, volume groups and rolling upgrades on
Nutanix. It depends on nothing simulated: the simulator served as Prism Central (``sim
serve``) lives beside it, in ``backends.prism_sim``."""

from typing import Any

__all__ = ["PrismBackend"]


def __getattr__(name: str) -> Any:
    # Lazy, so the registry can read ``about`` without loading the backend and its libraries.
    if name == "PrismBackend":
        from .backend import PrismBackend

        return PrismBackend
    raise AttributeError(name)
