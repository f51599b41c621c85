"""The simulator as the registry sees it: its settings (config keys and options) and defaults.

Light on purpose: the CLI reads it for ``--help`` without loading the simulator."""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..contract import ALL_CAPABILITIES, SWARM_CAPABILITIES
from ..errors import InvalidInput
from ..registry import BackendInfo, Resolving
from ..settings import option

# The console holds about 2 KB a container (with hosts and volumes in proportion: 196 MiB at
# 100,000), the CLI's --json about twice that: past this a world no longer fits comfortably in
# an operator's memory, so a bigger --scale is refused rather than swapped to death.
MAX_SCALE = 500_000


def whole(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def scale(text: str) -> int:
    value = whole(text)
    if not 1 <= value <= MAX_SCALE:
        raise ValueError(f"{value} is out of range: 1 to {MAX_SCALE:,} containers")
    return value


def speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{text} must be a finite number, 0 or more (0 = as fast as possible)")
    return value


@dataclass(slots=True)
class SimulatorSettings:
    seed: int = option(7, flag="--seed", parse=whole, help="the simulated world's seed (default 7)")
    scale: int | None = option(None, flag="--scale", metavar="N", parse=scale, help="generate N containers")
    speed: float = option(
        1.0,
        flag="--speed",
        parse=speed,
        help="simulated seconds per second; 0 = as fast as possible (default 1 in the console, 0 for commands)",
    )
    faults: str | None = option(None, flag="--faults", metavar="SPEC", help="e.g. all, story, crash,node,api-errors=0.05")
    activity: bool = option(True, flag="--no-activity", negate=True, help="no background activity")
    state_path: str | None = option(None, flag="--demo-state", metavar="PATH", help="keep the simulator's state here")
    swarm: bool = option(
        False, flag="--sim-swarm",
        help="run the simulated cluster as a Docker swarm: services, tasks, secrets, configs, drain",
    )


def finish(s: SimulatorSettings, how: Resolving) -> None:
    if "speed" not in how.given and how.headless:
        # A command runs for a moment and time does not pass between runs: a task it waits
        # for should not take its simulated minutes of wall time.
        s.speed = 0.0
    if "faults" not in how.given and how.demo and not how.headless and s.faults is None:
        # The demo tells its story (a crash, a node failure, an upgrade) unless told otherwise;
        # `--faults none` turns it off.
        s.faults = "story"
    if s.faults is not None and not s.faults.strip():
        raise InvalidInput("--faults: empty; give a spec such as crash,node or none")
    if s.faults == "none":
        s.faults = None
    if not math.isfinite(s.speed) or s.speed < 0:
        raise InvalidInput(f"speed {s.speed}: must be a finite number, 0 or more")
    if s.scale is not None and not 1 <= s.scale <= MAX_SCALE:
        raise InvalidInput(f"scale {s.scale}: out of range, 1 to {MAX_SCALE:,} containers")
    if s.state_path is not None and not s.state_path.strip():
        raise InvalidInput("--demo-state: empty path; name the file to keep the state in")


BACKEND = BackendInfo(
    name="simulator",
    summary="a built-in, deterministic Nutanix cluster (the demo and the test bed)",
    settings=SimulatorSettings,
    loader="backends.simulator.backend:SimulatorBackend",
    # The most it can do: a swarm's too with --sim-swarm (the backend claims them only then).
    capabilities=ALL_CAPABILITIES | SWARM_CAPABILITIES,
    options_title="simulator (--demo)",
    finish=finish,
)
