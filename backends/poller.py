"""A shared poller: turns a backend that can only take snapshots into a change stream.

``SnapshotPoller`` calls ``fetch()`` every ``interval`` seconds, diffs the result against
the previous snapshot and publishes one ``ChangeBatch`` per poll that changed anything.
Polls never overlap, and each is bounded by ``poll_timeout``.

Polling heals: *any* failed poll (a typed error, a ProtocolError, a poll that takes too long,
or an exception the backend did not expect) publishes ``ConnectionChanged(UNREACHABLE)`` with
the reason, the next retry and, as ``since``, when the data was last good; it retries with
backoff (capped at ``max_backoff``, longer if the server asked with Retry-After) and the first
good poll after it publishes ``CONNECTED``. The loop itself never ends until ``stop()``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import AsyncIterator, Awaitable, Callable

from .contract import KIND_NAMES, Change, ChangeBatch, ConnectionChanged, ConnectionState, Inventory, Loading, Update
from .errors import AuthenticationFailed, BackendError, ProtocolError, Unavailable

log = logging.getLogger(__name__)

#: Seconds one poll may take as a whole. Each request has its own deadline; a poll is several
#: lists (a few pages each, four at a time), so this is several request deadlines, and a poll
#: stuck past it is a failure to heal from rather than a console frozen on old data.
POLL_TIMEOUT = 300.0

#: What a backend's parsing raises on an answer of the wrong shape that its client let through:
#: reported as the server's fault (ProtocolError), not as a crash of the console.
SHAPE_ERRORS = (AttributeError, KeyError, IndexError, TypeError, ValueError)


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

    @property
    def subscribed(self) -> bool:
        return bool(self._queues)

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
        poll_timeout: float = POLL_TIMEOUT,
        source: str = "the backend",
    ) -> None:
        self._fetch_raw = fetch
        self.interval = interval
        self.max_backoff = max_backoff
        self.poll_timeout = poll_timeout
        self.source = source  # names the server in errors this poller makes up itself
        self.failures = 0  # polls failed in a row
        self.last_good = 0.0  # when a poll last succeeded (time.time())
        self._current = Inventory()
        self._seq = 0
        self._broadcast = Broadcast()
        self._task: asyncio.Task[None] | None = None
        self._unreachable_since: float | None = None
        self._reason = ""
        self._wake = asyncio.Event()
        self._loading: Loading | None = None  # a paged first snapshot the next poll completes

    @property
    def current(self) -> Inventory:
        return self._current

    async def prime(self) -> Inventory:
        """The first snapshot; errors propagate so ``connect()`` can report them."""
        inv = await self._fetch()
        self._seq += 1
        inv.seq = self._seq
        self._current = inv
        self.last_good = time.time()
        return inv.copy()

    async def prime_page(self, fetch_first: Callable[[], Awaitable[Inventory | None]]) -> Inventory:
        """A paged first snapshot (backends/contract.py ``paged_snapshot``): ``fetch_first``
        gives the first page (its ``loading`` set), fetched as a poll is (bounded, every error
        typed), or None when one page held everything (then the plain ``prime``). The next poll
        fetches everything and publishes the difference as the page that ends the load: the
        caller starts polling and asks for it at once (``poll_now``)."""
        first = await self._fetch(fetch_first)
        if first is None:
            return await self.prime()
        self._seq += 1
        first.seq = self._seq
        self._current = first
        self._loading = first.loading
        self.last_good = time.time()
        shown = first.copy()
        shown.loading = first.loading
        return shown

    async def _fetch(self, fetch: Callable[[], Awaitable[Inventory | None]] | None = None) -> Inventory:
        """One bounded fetch whose every failure is a BackendError."""
        try:
            async with asyncio.timeout(self.poll_timeout):
                return await (fetch or self._fetch_raw)()
        except TimeoutError:
            raise Unavailable(f"{self.source} did not give a full snapshot within {self.poll_timeout:g}s") from None
        except BackendError:
            raise
        except SHAPE_ERRORS as err:
            text = " ".join(str(err).split())[:200]
            raise ProtocolError(
                f"{self.source} answered in a shape the console cannot read ({type(err).__name__}: {text})"
            ) from err

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
        self.last_good = time.time()
        changes = diff(self._current, inv)
        if changes or self._loading is not None:
            self._seq += 1
            inv.seq = self._seq
            # After a paged first snapshot, the first whole poll is the page that ends the load.
            done = None if self._loading is None else replace(self._loading, done=True)
            self._loading = None
            self._broadcast.publish(ChangeBatch(self._seq, tuple(changes), done))
        else:
            inv.seq = self._seq
        self._current = inv

    def backoff(self, err: BaseException | None = None) -> float:
        """Seconds before the next try after ``failures`` failed polls in a row: from the
        interval (at least 1 s), doubling, capped at ``max_backoff``; a server's own
        Retry-After (carried by the error) is honoured up to that cap too."""
        delay = min(self.max_backoff, max(self.interval, 1.0) * 2 ** max(0, self.failures - 1))
        asked = getattr(err, "retry_after", None)
        if isinstance(asked, (int, float)) and asked > delay:
            delay = min(self.max_backoff, float(asked))
        return delay

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
            except asyncio.CancelledError:
                raise
            except Exception as err:  # noqa: BLE001 - whatever went wrong, keep polling
                self.failures += 1
                if isinstance(err, AuthenticationFailed):
                    delay = self.max_backoff  # retrying a refused password soon only locks the account
                else:
                    delay = self.backoff(err)
                if isinstance(err, BackendError):
                    reason = err.one_line()
                else:  # a bug of ours, not the server's: still a reason, and polling goes on
                    log.exception("poll of %s failed unexpectedly", self.source)
                    reason = f"Error: unexpected {type(err).__name__}: {' '.join(str(err).split())[:200]}"
                self._set_unreachable(f"{reason} (retry {self.failures} in {delay:.0f}s)")
                continue
            self.failures = 0
            if self._unreachable_since is not None:
                self._unreachable_since = None
                self._reason = ""
                self._broadcast.publish(ConnectionChanged(ConnectionState.CONNECTED, "", self.last_good))
            delay = self.interval

    def _set_unreachable(self, reason: str) -> None:
        """Publish the state with each new reason (so the header says why and when the next try
        is); ``since`` is when the data was last good, which is what its age counts from."""
        if self._unreachable_since is None:
            self._unreachable_since = time.time()
        if reason != self._reason:
            self._reason = reason
            since = self.last_good or self._unreachable_since
            self._broadcast.publish(ConnectionChanged(ConnectionState.UNREACHABLE, reason, since))
