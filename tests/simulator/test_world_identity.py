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


def world_hash(inventory) -> str:
    digest = hashlib.sha256()
    for kind in KIND_NAMES:
        for item_id, item in inventory.of(kind).items():
            digest.update(f"{kind}\0{item_id}\0{json.dumps(item.to_dict(), sort_keys=True)}\0{item!r}\n".encode())
    return digest.hexdigest()


async def test_the_10k_world_for_a_seed_is_the_same_as_before_the_speedup():
    sim = SimulatorBackend(seed=7, scale=10_000, speed=0.0, activity=False)
    try:
        await sim.connect()
        assert world_hash(await sim.snapshot()) == WORLD_10K_SEED_7
    finally:
        await sim.close()
