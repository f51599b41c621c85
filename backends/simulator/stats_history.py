"""The past of a host's or container's figures, made up deterministically from the clock.

The simulator keeps no history (at 100,000 containers it would cost more than the rest of
the world). Instead the past is a pure function of the item's id, the seed and the time: a
slow wave and a little noise around the item's figures of now, so asking twice gives the same
answer, and the newest sample is the item's figures as they are. A machine that is not
running had nothing then either: its past is its present (zero), not an invented busy day.

Network rates are made the same way, from the CPU: a busy machine moves more bytes.
"""

from __future__ import annotations

import math
import zlib

from ..models import Container, ContainerState, Host, HostState, StatsSample

WAVE_SECONDS = 1800.0  # one slow rise and fall of load every half hour
KIB_PER_CPU_PERCENT = 6.0  # received KiB/s per percent of a core in use
SENT_SHARE = 0.6  # sent as a share of received: a server mostly answers smaller than it is asked
MAX_SAMPLES = 2000


def _unit(seed: int, item_id: str, n: int) -> float:
    """A number in [0, 1) fixed by its arguments (not Python's hash: that changes per run)."""
    return (zlib.crc32(f"{seed}:{item_id}:{n}".encode()) & 0xFFFFFF) / float(1 << 24)


def shape(seed: int, item_id: str, at: float) -> float:
    """The load's factor at ``at`` against now's, around 1 (0.55 to 1.45)."""
    phase = _unit(seed, item_id, -1) * 2 * math.pi
    wave = math.sin(2 * math.pi * at / WAVE_SECONDS + phase)
    noise = _unit(seed, item_id, int(at // 10)) - 0.5
    return 1.0 + 0.3 * wave + 0.3 * noise


def network(seed: int, item_id: str, cpu_percent: float) -> tuple[float, float]:
    """Received and sent KiB/s for this much CPU."""
    rx = round(cpu_percent * KIB_PER_CPU_PERCENT * (0.5 + _unit(seed, item_id, -2)), 1)
    return rx, round(rx * SENT_SHARE, 1)


def samples(seed: int, item: Host | Container, since: float, step: float, now: float) -> list[StatsSample]:
    if isinstance(item, Host):
        running = item.state is HostState.RUNNING
        cpu, memory = item.cpu_percent, float(item.memory_used_mib)
        cpu_cap = item.cores * 100.0 if item.cores else math.inf
        memory_cap = float(item.memory_mib) if item.memory_mib else math.inf
    else:
        running = item.state is ContainerState.RUNNING
        cpu, memory = item.cpu_percent, item.memory_mib
        cpu_cap, memory_cap = math.inf, item.memory_limit_mib or math.inf
    step = max(step, (now - since) / MAX_SAMPLES, 1.0)
    anchor = shape(seed, item.id, now)  # now's factor: the newest sample is the figure of now
    out: list[StatsSample] = []
    count = int(max(0.0, now - since) // step)
    for i in range(count, -1, -1):
        at = now - i * step
        if not running:
            out.append(StatsSample(at, 0.0, 0.0 if isinstance(item, Container) else memory, 0.0, 0.0))
            continue
        factor = shape(seed, item.id, at) / anchor
        c = min(cpu_cap, max(0.0, cpu * factor))
        # Memory moves far less than CPU: a tenth of the swing.
        m = min(memory_cap, max(0.0, memory * (1 + (factor - 1) * 0.1)))
        rx, tx = network(seed, item.id, c)
        out.append(StatsSample(at, round(c, 2), round(m, 1), rx, tx))
    return out
