"""CPU, memory and network of hosts and containers over a time window, bounded in memory.

The window (``[preferences] history_minutes``) is cut into ``SLOTS`` equal steps; an item's
history is one ring of at most ``SLOTS`` steps of ``CHANNELS`` float32 values (its CPU,
memory, received and sent rates), so an item costs at most ~2 KiB whatever the window: a
longer window has coarser steps, never more memory. The ring grows as steps come. A step keeps the last value seen in it; a step
with no value seen takes the one before it (a figure holds until it changes: a quiet host
is as busy as it was), and steps before the first value are gaps (NaN).

Hosts are always kept (a few thousand at most); a container only once its details were
opened (``watch``): 100,000 containers with a ring each would be 200 MiB.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass
from typing import Iterable, Sequence

SLOTS = 120  # steps per window: a plot 60 cells wide shows one per braille dot
CHANNELS = 4  # cpu percent of one core, memory MiB, received KiB/s, sent KiB/s
CPU, MEMORY, RX, TX = range(CHANNELS)
DEFAULT_MINUTES = 15
MAX_MINUTES = 24 * 60  # a day: Prism keeps more, the console's memory is the bound that matters
NAN = math.nan


@dataclass(frozen=True, slots=True)
class Window:
    """What a plot draws: per channel the values of the window's steps, oldest first."""

    span: float  # seconds covered
    cpu: tuple[float, ...]
    memory: tuple[float, ...]
    rx: tuple[float, ...]
    tx: tuple[float, ...]

    def samples(self) -> int:
        """How many steps hold a value (CPU or memory)."""
        return sum(1 for c, m in zip(self.cpu, self.memory) if not (math.isnan(c) and math.isnan(m)))


class _Ring:
    """Step ``s`` lives at slot ``(s - first) % SLOTS``. The array grows a step at a time up
    to ``SLOTS`` steps: a host seen once costs one step (16 bytes), not a whole window, so
    100,000 containers' hosts at start cost what two one-value arrays did before."""

    __slots__ = ("values", "first", "last")

    def __init__(self, step: int) -> None:
        self.values = array("f", [NAN] * CHANNELS)
        self.first = self.last = step

    @property
    def full(self) -> bool:
        return len(self.values) == SLOTS * CHANNELS

    def grow(self, step: int) -> None:
        """Room up to ``step`` (the whole window once it is ``SLOTS`` steps after the first)."""
        wanted = min(SLOTS, step - self.first + 1) * CHANNELS
        if len(self.values) < wanted:
            self.values.extend([NAN] * (wanted - len(self.values)))

    def base(self, step: int) -> int:
        """Where ``step``'s figures start, or -1 when it is not held."""
        if step > self.last or step <= self.last - SLOTS or (step < self.first and not self.full):
            return -1
        return ((step - self.first) % SLOTS) * CHANNELS


class History:
    def __init__(self, minutes: float = DEFAULT_MINUTES) -> None:
        self.minutes = minutes
        self.step = minutes * 60.0 / SLOTS
        self._rings: dict[str, _Ring] = {}
        self._watched: set[str] = set()

    # -- what is kept ------------------------------------------------------------------------

    def watch(self, item_id: str) -> None:
        """Keep this item from now on (a container whose details were opened)."""
        self._watched.add(item_id)

    def watched(self, item_id: str) -> bool:
        return item_id in self._watched

    def forget(self, item_id: str) -> None:
        self._rings.pop(item_id, None)
        self._watched.discard(item_id)

    def ids(self) -> list[str]:
        return list(self._rings)

    def __contains__(self, item_id: str) -> bool:
        return item_id in self._rings

    def __len__(self) -> int:
        return len(self._rings)

    # -- writing -----------------------------------------------------------------------------

    def record(self, item_id: str, at: float, values: Sequence[float | None]) -> None:
        """The item's figures at ``at`` (clock seconds); None for a figure not known."""
        step = int(at // self.step)
        ring = self._rings.get(item_id)
        if ring is None:
            ring = self._rings[item_id] = _Ring(step)
        elif step > ring.last:
            self._carry(ring, step)
        base = ring.base(step)
        if base < 0:
            return  # older than the window (or than what this ring holds)
        for channel, value in enumerate(values[:CHANNELS]):
            ring.values[base + channel] = NAN if value is None else value

    def backfill(self, item_id: str, samples: Iterable[tuple[float, Sequence[float | None]]]) -> None:
        """Older figures from the backend (its own history): they fill steps that hold
        nothing yet and never replace what was seen live."""
        samples = sorted(samples, key=lambda s: s[0])
        if not samples:
            return
        ring = self._rings.get(item_id)
        if ring is None:
            ring = self._rings[item_id] = _Ring(int(samples[0][0] // self.step))
        # A plot is open on it: the whole window, so steps before the first seen live fit.
        ring.grow(ring.first + SLOTS)
        for at, values in samples:
            step = int(at // self.step)
            if step > ring.last:
                self._carry(ring, step, fill=False)
            base = ring.base(step)
            if base < 0:
                continue
            for channel, value in enumerate(values[:CHANNELS]):
                if value is not None and math.isnan(ring.values[base + channel]):
                    ring.values[base + channel] = value

    def _carry(self, ring: _Ring, step: int, *, fill: bool = True) -> None:
        """Steps after ``ring.last`` up to ``step``: the newest values carried forward (or
        gaps, ``fill=False``); a jump of a whole window or more rewrites every step."""
        last_base = ring.base(ring.last)
        carried = ring.values[last_base:last_base + CHANNELS] if fill else array("f", [NAN] * CHANNELS)
        ring.grow(step)
        start = max(ring.last + 1, step - SLOTS + 1)
        ring.last = step
        values = ring.values
        for s in range(start, step + 1):
            base = ring.base(s)
            values[base:base + CHANNELS] = carried

    # -- reading -----------------------------------------------------------------------------

    def window(self, item_id: str, now: float) -> Window:
        """The window ending at ``now``: the steps after the newest value carry it forward."""
        span = self.minutes * 60.0
        ring = self._rings.get(item_id)
        if ring is None:
            empty = (NAN,) * SLOTS
            return Window(span, empty, empty, empty, empty)
        end = max(int(now // self.step), ring.last)
        columns: list[list[float]] = [[] for _ in range(CHANNELS)]
        values = ring.values
        last_base = ring.base(ring.last)
        for step in range(end - SLOTS + 1, end + 1):
            # After the newest step nothing was seen: the newest figure holds.
            base = last_base if step > ring.last else ring.base(step)
            for channel in range(CHANNELS):
                columns[channel].append(NAN if base < 0 else values[base + channel])
        cpu, memory, rx, tx = (tuple(c) for c in columns)
        return Window(span, cpu, memory, rx, tx)
