"""The Prism Central backend: container machines, volume groups and rolling upgrades on
Nutanix, and ``sim serve``, the simulator served as Prism Central."""

from .backend import PrismBackend

__all__ = ["PrismBackend"]
