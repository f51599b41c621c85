"""The built-in simulator backend: a believable Nutanix cluster on a virtual clock.

Modules, in the order a call goes through them:
- ``backend``: ``SimulatorBackend``, the contract's every action, reads, and time control;
- ``rules``: the checks an action passes before it starts (names, quotas, capacity, states);
- ``tasks`` / ``processes``: the runner of task processes and what each action does step by step;
- ``clock``: the virtual clock and its event heap; ``store``: the tables and the change journal;
- ``world``: generation of the cluster for a seed and scale; ``activity``: metrics that move;
- ``faults``: crashes, node failures, partitions, API errors and latency, the demo story;
- ``persist``: the state file of ``--demo-state``; ``logs``, ``inspect``, ``shell``: reads.
"""

from typing import Any

__all__ = ["SimulatorBackend"]


def __getattr__(name: str) -> Any:
    # Lazy, so the registry can read ``about`` without loading the backend and its libraries.
    if name == "SimulatorBackend":
        from .backend import SimulatorBackend

        return SimulatorBackend
    raise AttributeError(name)
