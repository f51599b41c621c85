"""The inventory store: batches coalesce between drains; age and connection state."""

from __future__ import annotations

from backends.contract import Change, ChangeBatch, ConnectionChanged, ConnectionState, Inventory
from backends.models import Host, HostState, Task, TaskStatus
from console.store import InventoryStore


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def host(i: int, cpu: float = 0.0) -> Host:
    return Host(id=f"h{i}", name=f"host-{i}", state=HostState.RUNNING, cpu_percent=cpu, memory_used_mib=512)


def test_many_batches_between_drains_become_one_change_per_item():
    clock = Clock()
    store = InventoryStore(clock)
    store.load(Inventory(seq=1, hosts={"h1": host(1), "h2": host(2)}))
    store.drain()
    for seq, cpu in enumerate((10.0, 20.0, 30.0), start=2):
        clock.now += store.history.step  # one step of the history apart: each one is kept
        store.ingest(ChangeBatch(seq, (Change("hosts", "upsert", "h1", host(1, cpu)),)))
    store.ingest(ChangeBatch(5, (Change("hosts", "upsert", "h3", host(3)), Change("hosts", "delete", "h2"))))
    store.ingest(ChangeBatch(4, (Change("hosts", "delete", "h1"),)))  # old: ignored
    drained = store.drain()
    assert drained.upserts["hosts"] == {"h1": host(1, 30.0), "h3": host(3)}
    assert drained.deletes["hosts"] == {"h2"}
    assert set(store.inventory.hosts) == {"h1", "h3"}
    assert list(store.history.window("h1", clock.now).cpu)[-4:] == [0.0, 10.0, 20.0, 30.0]
    assert not store.drain()  # nothing new


def test_a_task_reaching_its_end_is_reported_once():
    store = InventoryStore(Clock())
    store.load(Inventory(seq=1))
    running = Task(id="t1", kind="create_host", target="web-01", status=TaskStatus.RUNNING)
    done = Task(id="t1", kind="create_host", target="web-01", status=TaskStatus.SUCCEEDED, progress=100)
    store.ingest(ChangeBatch(2, (Change("tasks", "upsert", "t1", running),)))
    store.ingest(ChangeBatch(3, (Change("tasks", "upsert", "t1", done),)))
    store.ingest(ChangeBatch(4, (Change("tasks", "upsert", "t1", done),)))
    assert store.drain().finished_tasks == [done]


def test_unreachable_keeps_the_data_and_counts_its_age():
    clock = Clock()
    store = InventoryStore(clock)
    store.load(Inventory(seq=1, hosts={"h1": host(1)}))
    clock.now += 5
    store.ingest(ConnectionChanged(ConnectionState.UNREACHABLE, "partitioned"))
    clock.now += 40
    assert store.stale and store.age() == 40 and "h1" in store.inventory.hosts
    assert store.drain().connection_changed
    store.ingest(ConnectionChanged(ConnectionState.CONNECTED))
    assert not store.stale and store.age() == 0
