"""A shared poller: turns a backend that can only take snapshots into a change stream.

``SnapshotPoller`` calls ``fetch()`` every ``interval`` seconds, diffs the result against
the previous snapshot and publishes one ``ChangeBatch`` per poll that changed anything.
A failed poll publishes ``ConnectionChanged(UNREACHABLE)`` once and retries with backoff
(capped); the first good poll after it publishes ``CONNECTED``. Polls never overlap.
"""

from __future__ import annotations

import asyncio
import time
from typing import AsyncIterator, Awaitable, Callable

from .contract import KIND_NAMES, Change, ChangeBatch, ConnectionChanged, ConnectionState, Inventory, Update
from .errors import AuthenticationFailed, BackendError


def diff(old: Inventory, new: Inventory) -> list[Change]:
    """Changes that turn ``old`` into ``new`` (values compared by equality)."""
    changes: list[Change] = []
    for kind in KIND_NAMES:
        before, after = old.of(kind), new.of(kind)
        for key, value in after.items():
            if before.get(key) != value:
                changes.append(Change(kind, "upsert", key, value))
        for key in before.keys() - after.keys():
            changes.append(Change(kind, "delete", key))
    return changes


class Broadcast:
    """Fan-out of updates to any number of subscribers, each with its own queue."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[Update | None]] = set()

    def publish(self, update: Update) -> None:
        for queue in self._queues:
            queue.put_nowait(update)

    def close(self) -> None:
        for queue in self._queues:
            queue.put_nowait(None)

    async def subscribe(self) -> AsyncIterator[Update]:
        queue: asyncio.Queue[Update | None] = asyncio.Queue()
        self._queues.add(queue)
        try:
            while (update := await queue.get()) is not None:
                yield update
        finally:
            self._queues.discard(queue)


class SnapshotPoller:
    def __init__(
        self,
        fetch: Callable[[], Awaitable[Inventory]],
        *,
        interval: float = 5.0,
        max_backoff: float = 30.0,
    ) -> None:
        self._fetch = fetch
        self.interval = interval
        self.max_backoff = max_backoff
        self._current = Inventory()
        self._seq = 0
        self._broadcast = Broadcast()
        self._task: asyncio.Task[None] | None = None
        self._unreachable_since: float | None = None
        self._wake = asyncio.Event()

    @property
    def current(self) -> Inventory:
        return self._current

    async def prime(self) -> Inventory:
        """The first snapshot; errors propagate so ``connect()`` can report them."""
        inv = await self._fetch()
        self._seq += 1
        inv.seq = self._seq
        self._current = inv
        return inv.copy()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="snapshot-poller")

    def poll_now(self) -> None:
        """Ask for a poll at once (after an action, say) instead of at the next interval."""
        self._wake.set()

    async def stop(self) -> None:
        if self._task is not None:
            # Python 3.11's wait_for swallows a cancel that lands just as a wake-up arrives
            # (poll_now): cancel again until the task has ended.
            while not self._task.done():
                self._task.cancel()
                await asyncio.wait({self._task}, timeout=0.5)
            try:
                await self._task
            except (asyncio.CancelledError, Exception):
                pass
            self._task = None
        self._broadcast.close()

    def subscribe(self) -> AsyncIterator[Update]:
        return self._broadcast.subscribe()

    async def poll_once(self) -> None:
        inv = await self._fetch()
        changes = diff(self._current, inv)
        if changes:
            self._seq += 1
            inv.seq = self._seq
            self._broadcast.publish(ChangeBatch(self._seq, tuple(changes)))
        else:
            inv.seq = self._seq
        self._current = inv

    async def _run(self) -> None:
        delay = self.interval
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=delay)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.poll_once()
            except AuthenticationFailed as err:
                self._set_unreachable(err.one_line())
                delay = self.max_backoff
                continue
            except BackendError as err:
                self._set_unreachable(err.one_line())
                delay = min(self.max_backoff, max(delay * 2, 1.0))
                continue
            if self._unreachable_since is not None:
                self._unreachable_since = None
                self._broadcast.publish(ConnectionChanged(ConnectionState.CONNECTED))
            delay = self.interval

    def _set_unreachable(self, reason: str) -> None:
        if self._unreachable_since is None:
            self._unreachable_since = time.time()
            self._broadcast.publish(ConnectionChanged(ConnectionState.UNREACHABLE, reason, self._unreachable_since))
