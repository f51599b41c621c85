"""The generated world is a function of the seed: a faster build must make the very same one.

The hash below was taken from the world as it was generated before the build was tuned for
speed; every item (its ``to_dict`` and its exact Python values), in the order the tables
hold them, at 10,000 containers with seed 7.
"""

from __future__ import annotations

import hashlib
import json

from backends.contract import KIND_NAMES
from backends.simulator import SimulatorBackend

WORLD_10K_SEED_7 = "5e6cc3010c377ebbdb20ba015928f8a1d4d81d21eb9f249286720eda0f244192"

# Fields the models gained after the hash was taken (Swarm's node and task facts; a host's
# network rates, which only the activity sets). A world as built leaves them at None: the
# hash is taken as if they were not there, so it still says "the same world", and a value
# in any of them makes the world differ.
ADDED_LATER = {
    "hosts": ("availability", "manager_status", "net_rx_kibps", "net_tx_kibps"),
    "containers": ("service", "slot", "desired_state", "error"),
}


def _as_before(kind: str, item) -> tuple[dict, str]:
    data, text = item.to_dict(), repr(item)
    for name in ADDED_LATER.get(kind, ()):
        if data.get(name) is None:
            data.pop(name, None)
            text = text.replace(f", {name}=None", "")
    return data, text


def world_hash(inventory) -> str:
    digest = hashlib.sha256()
    for kind in KIND_NAMES:
        if kind not in ("hosts", "containers", "volumes", "tasks", "images", "networks", "projects", "nodes", "events"):
            continue  # kinds added later (services, secrets): a simulated world has none
        for item_id, item in inventory.of(kind).items():
            data, text = _as_before(kind, item)
            digest.update(f"{kind}\0{item_id}\0{json.dumps(data, sort_keys=True)}\0{text}\n".encode())
    return digest.hexdigest()


async def test_the_10k_world_for_a_seed_is_the_same_as_before_the_speedup():
    sim = SimulatorBackend(seed=7, scale=10_000, speed=0.0, activity=False)
    try:
        await sim.connect()
        assert world_hash(await sim.snapshot()) == WORLD_10K_SEED_7
    finally:
        await sim.close()
