"""The built-in simulator backend: a believable Nutanix cluster on a virtual clock."""

from .backend import SimulatorBackend

__all__ = ["SimulatorBackend"]
