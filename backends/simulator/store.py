"""The simulated world's tables and the change journal that feeds ``updates()``.

Every mutation goes through ``upsert`` / ``delete``; ``flush`` publishes what changed since
the last flush as one ``ChangeBatch`` with the next sequence number. ``snapshot`` copies the
dicts (the values are immutable), which stays cheap at 100,000 containers.
"""

from __future__ import annotations

from itertools import islice
from typing import Any, Callable

from ..contract import KIND_NAMES, Change, ChangeBatch, Inventory, Loading
from ..models import KINDS
from ..poller import Broadcast
from .clock import Clock

_KIND_OF_TYPE = {model: kind for kind, model in KINDS.items()}


class Store:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.tables: dict[str, dict[str, Any]] = {kind: {} for kind in KIND_NAMES}
        self.seq = 0
        self.changes = 0  # every upsert and delete: whether there is anything new to save
        self.broadcast = Broadcast()
        self._pending: dict[tuple[str, str], Change] = {}
        # While partitioned, batches are held back and delivered once the partition heals.
        self.held: list[ChangeBatch] | None = None
        # Called with the pending changes before each batch goes out, to patch what follows
        # from them in the same batch (the host images follow their containers).
        self.before_flush: list[Callable[[dict[tuple[str, str], Change]], None]] = []

    def __getattr__(self, kind: str) -> dict[str, Any]:
        try:
            return self.__dict__["tables"][kind]
        except KeyError:
            raise AttributeError(kind) from None

    def upsert(self, item: Any) -> Any:
        kind = _KIND_OF_TYPE[type(item)]
        self.tables[kind][item.id] = item
        self._pending[(kind, item.id)] = Change(kind, "upsert", item.id, item)
        self.changes += 1
        self.clock.activity += 1
        return item

    def delete(self, kind: str, item_id: str) -> None:
        if self.tables[kind].pop(item_id, None) is not None:
            self._pending[(kind, item_id)] = Change(kind, "delete", item_id)
            self.changes += 1
            self.clock.activity += 1

    def flush(self) -> None:
        if not self._pending:
            return
        for hook in self.before_flush:
            hook(self._pending)
        self.seq += 1
        batch = ChangeBatch(self.seq, tuple(self._pending.values()))
        self._pending.clear()
        if self.held is not None:
            self.held.append(batch)
        else:
            self.broadcast.publish(batch)

    def sizes(self) -> dict[str, int]:
        return {kind: len(table) for kind, table in self.tables.items()}

    def publish_page(self, sizes: dict[str, int], loading: Loading) -> None:
        """One page of a paged build as one batch: the rows written straight into the tables
        since ``sizes`` was taken (a build adds, never deletes, and tables keep their order)
        and whatever went through the journal meanwhile."""
        pages = self._pending
        if self.held is None and not self.broadcast.subscribed:  # no one to hand it to
            self.seq += 1
            self._pending = {}
            return
        for kind, table in self.tables.items():
            added = len(table) - sizes.get(kind, 0)
            if added > 0:
                newest = list(islice(reversed(table), added))
                for item_id in reversed(newest):  # in the order they were made: a table shows it
                    pages.setdefault((kind, item_id), Change(kind, "upsert", item_id, table[item_id]))
        for hook in self.before_flush:
            hook(pages)
        self.seq += 1
        batch = ChangeBatch(self.seq, tuple(pages.values()), loading)
        self._pending = {}
        if self.held is not None:
            self.held.append(batch)
        else:
            self.broadcast.publish(batch)

    def snapshot(self) -> Inventory:
        self.flush()
        return Inventory(seq=self.seq, **{kind: dict(self.tables[kind]) for kind in KIND_NAMES})
