"""The history behind the plots: bounded rings per item, figures carried forward, the past
from the backend filling only what was not seen, and containers kept only once asked for."""

from __future__ import annotations

import math

from backends.contract import Change, ChangeBatch, Inventory
from backends.models import Container, ContainerState, Host, HostState
from console.history import CHANNELS, SLOTS, History
from console.store import InventoryStore


def known(values) -> list[float]:
    return [v for v in values if not math.isnan(v)]


def test_a_figure_holds_until_it_changes_and_before_the_first_there_is_nothing():
    h = History(minutes=10)  # 120 steps of 5 s
    assert h.step == 5.0
    h.record("a", 1000.0, (10.0, 100.0, None, None))
    h.record("a", 1020.0, (30.0, 100.0, 1.0, 2.0))
    w = h.window("a", 1040.0)
    assert len(w.cpu) == SLOTS and w.span == 600.0
    assert known(w.cpu) == [10.0, 10.0, 10.0, 10.0, 30.0, 30.0, 30.0, 30.0, 30.0]  # 1000 .. 1040
    assert math.isnan(w.rx[-9]) and w.rx[-1] == 1.0 and w.tx[-1] == 2.0
    assert w.samples() == 9


def test_a_ring_grows_with_its_steps_and_stays_bounded_however_long_it_runs():
    h = History(minutes=1)
    h.record("seen-once", 1000.0, (1.0, 2.0, None, None))
    assert len(h._rings["seen-once"].values) == CHANNELS  # a host seen once costs one step
    for i in range(10 * SLOTS):  # ten windows' worth
        h.record("a", 1000.0 + i * h.step, (float(i), 0.0, None, None))
    ring = h._rings["a"]
    assert len(ring.values) == SLOTS * CHANNELS
    w = h.window("a", 1000.0 + (10 * SLOTS - 1) * h.step)
    assert list(w.cpu) == [float(i) for i in range(9 * SLOTS, 10 * SLOTS)]  # only the last window


def test_after_a_quiet_hour_the_window_holds_the_figure_of_before_then_the_new_one():
    h = History(minutes=1)
    h.record("a", 0.0, (5.0, 1.0, None, None))
    h.record("a", 3600.0, (7.0, 1.0, None, None))
    # No change in the stream is no change: the old figure held through the quiet hour.
    assert list(h.window("a", 3600.0).cpu) == [5.0] * (SLOTS - 1) + [7.0]


def test_the_backends_past_fills_gaps_and_never_overrides_what_was_seen():
    h = History(minutes=10)
    h.record("a", 1000.0, (50.0, 10.0, None, None))
    h.backfill("a", [(1000.0 - 5.0 * i, (20.0, 8.0, 3.0, 4.0)) for i in range(5, -1, -1)])
    w = h.window("a", 1000.0)
    assert w.cpu[-1] == 50.0 and w.memory[-1] == 10.0  # live wins
    assert w.rx[-1] == 3.0  # ... but what live did not know comes from the past
    assert known(w.cpu)[:-1] == [20.0] * 5
    h.backfill("b", [])
    assert h.window("b", 1000.0).samples() == 0


def host(cpu: float, state=HostState.RUNNING, memory: int = 1000, i: int = 1) -> Host:
    return Host(id=f"h{i}", name=f"host-{i}", state=state, cores=4, memory_mib=8192, cpu_percent=cpu, memory_used_mib=memory,
                net_rx_kibps=12.0, net_tx_kibps=6.0)


def container(cid: str, cpu: float) -> Container:
    return Container(id=cid, name=cid, image="nginx", host_id="h1", state=ContainerState.RUNNING, cpu_percent=cpu, memory_mib=50.0)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_store_keeps_every_host_the_cluster_and_only_containers_asked_for():
    clock = Clock()
    store = InventoryStore(clock)
    store.load(Inventory(seq=1, hosts={"h1": host(100.0), "h2": host(50.0, i=2)},
                         containers={"c1": container("c1", 5.0), "c2": container("c2", 6.0)}))
    assert "h1" in store.history and "h2" in store.history and "c1" not in store.history
    assert store.history.window("", clock.now).cpu[-1] == 150.0  # the cluster's use
    store.watch_container("c1")
    clock.now += store.history.step
    store.ingest(ChangeBatch(2, (Change("containers", "upsert", "c1", container("c1", 9.0)),
                                 Change("containers", "upsert", "c2", container("c2", 9.0)),
                                 Change("hosts", "upsert", "h1", host(0.0, HostState.STOPPED, 0)))))
    assert known(store.history.window("c1", clock.now).cpu) == [5.0, 9.0]
    assert "c2" not in store.history  # a container nobody opened costs nothing
    w = store.history.window("h1", clock.now)
    assert w.rx[-1] == 0.0 and w.rx[-2] == 12.0  # off: nothing on the wire
    assert store.history.window("", clock.now).cpu[-1] == 50.0  # 150 - 100: h1 is off
    store.ingest(ChangeBatch(3, (Change("hosts", "delete", "h2"), Change("containers", "delete", "c1"))))
    assert "h2" not in store.history and "c1" not in store.history
    assert math.isnan(store.history.window("", clock.now).cpu[-1])  # nothing runs: no use to show


def test_a_running_host_without_figures_is_not_known_rather_than_idle():
    clock = Clock()
    store = InventoryStore(clock)
    vm = Host(id="vm", name="vm", state=HostState.RUNNING, cores=2, memory_mib=4096)  # as Prism lists a VM
    store.load(Inventory(seq=1, hosts={"vm": vm}))
    store.history.backfill("vm", [(clock.now - 30.0, (40.0, 1000.0, 5.0, 3.0))])
    w = store.history.window("vm", clock.now)
    # The backend's past stands, and now is not known: a gap, not a drop to zero.
    assert known(w.cpu) == [40.0] and known(w.memory) == [1000.0] and math.isnan(w.cpu[-1])
    assert math.isnan(store.history.window("", clock.now).cpu[-1])  # the header's line has nothing to draw
