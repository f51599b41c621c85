"""The built-in simulator backend: a believable Nutanix cluster on a virtual clock.

Modules, in the order a call goes through them:
- ``backend``: ``SimulatorBackend``, the contract's every action, reads, and time control;
- ``rules``: the checks an action passes before it starts (names, quotas, capacity, states);
- ``tasks`` / ``processes``: the runner of task processes and what each action does step by step;
- ``clock``: the virtual clock and its event heap; ``store``: the tables and the change journal;
- ``world``: generation of the cluster for a seed and scale; ``activity``: metrics that move;
- ``faults``: crashes, node failures, partitions, API errors and latency, the demo story;
- ``persist``: the document of ``--demo-state`` (encode, check, restore); ``statefile``: that
  file shared between processes (the CLI's lock from load to save, the console's refusal to
  overwrite another's save), written through ``backends.files``;
- ``swarm``: the swarm mode (``--sim-swarm``): nodes, services, tasks, secrets and configs, the
  orchestrator's tick that reschedules, and the swarm's actions (``SwarmActions``, a base of
  ``SimulatorBackend``);
- ``logs``, ``inspect``, ``shell``: reads.

No module here imports ``backend``: faults get the upgrade they start as a callable, persist
works on the world and the task runner.
"""

from typing import Any

__all__ = ["SimulatorBackend"]


def __getattr__(name: str) -> Any:
    # Lazy, so the registry can read ``about`` without loading the backend and its libraries.
    if name == "SimulatorBackend":
        from .backend import SimulatorBackend

        return SimulatorBackend
    raise AttributeError(name)
