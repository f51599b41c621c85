"""The simulator's virtual clock: an event heap of (time, seq, callback) and sleeps on it.

Simulated processes (tasks) are asyncio coroutines that ``await clock.sleep(seconds)``.
``run_until`` fires due events in time order and, after each one, lets the woken coroutines
run until they are all blocked again (``settle``), so what happens is the same for a seed
whatever the wall clock does.
"""

from __future__ import annotations

import asyncio
import heapq
from dataclasses import dataclass, field
from typing import Awaitable, Callable

# A fixed start, the same for every seed: Monday 2 March 2026, 09:00:00 UTC.
EPOCH = 1772442000.0


@dataclass(order=True, slots=True)
class Timer:
    when: float
    seq: int
    callback: Callable[[], None] = field(compare=False)
    cancelled: bool = field(default=False, compare=False)

    def cancel(self) -> None:
        self.cancelled = True


class Clock:
    def __init__(self, now: float = EPOCH) -> None:
        self.now = now
        self._heap: list[Timer] = []
        self._seq = 0
        # Bumped by anything a simulated process does; ``settle`` waits until it stops moving.
        self.activity = 0

    def call_at(self, when: float, callback: Callable[[], None]) -> Timer:
        self._seq += 1
        timer = Timer(max(when, self.now), self._seq, callback)
        heapq.heappush(self._heap, timer)
        self.activity += 1
        return timer

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return self.call_at(self.now + delay, callback)

    def sleep(self, seconds: float) -> Awaitable[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not future.done():
                future.set_result(None)

        self.call_later(seconds, wake)
        return future

    def next_time(self) -> float | None:
        while self._heap and self._heap[0].cancelled:
            heapq.heappop(self._heap)
        return self._heap[0].when if self._heap else None

    async def settle(self) -> None:
        """Let woken coroutines run until none of them does anything for a few loop turns."""
        idle, seen = 0, self.activity
        for _ in range(10_000):
            await asyncio.sleep(0)
            if self.activity != seen:
                seen, idle = self.activity, 0
            else:
                idle += 1
                if idle >= 8:
                    return

    async def run_until(self, until: float, after_event: Callable[[], None]) -> None:
        """Fire every event due up to ``until``, in order; ``after_event`` after each one."""
        while (when := self.next_time()) is not None and when <= until:
            timer = heapq.heappop(self._heap)
            self.now = max(self.now, timer.when)
            timer.callback()
            self.activity += 1
            await self.settle()
            after_event()
        self.now = max(self.now, until)
