"""The upgrade's health gate: after each wave, the containers that ran on its hosts must run
again before the next wave starts; a wave that does not come back stops the upgrade as
FAILED, naming the hosts and the containers, and later waves are not touched."""

from __future__ import annotations

from dataclasses import replace

from backends.contract import UpgradeSpec
from backends.models import ContainerState, HostState, TaskStatus
from backends.simulator import SimulatorBackend
from backends.waves import HEALTH_TIMEOUT


def _two_hosts(inv):
    """Two running hosts behind the newest version, each with a container that restarts."""
    hosts = sorted(
        (h for h in inv.hosts.values() if h.state is HostState.RUNNING and h.engine_version != "26.1.4"
         and any(c.host_id == h.id and c.state is ContainerState.RUNNING and c.restart_policy == "unless-stopped"
                 for c in inv.containers.values())),
        key=lambda h: h.name,
    )
    return hosts[:2]


async def test_a_wave_whose_container_does_not_come_back_fails_the_upgrade_and_stops_it(sim: SimulatorBackend):
    inv = await sim.snapshot()
    first, second = _two_hosts(inv)
    task = await sim.upgrade_hosts(UpgradeSpec((first.id, second.id), "26.1.4", batch_size=1))
    # Run until the first wave's host is mid-upgrade (its containers stopped, the engine down).
    for _ in range(600):
        await sim.advance(1)
        children = [t for t in sim.store.tasks.values() if t.parent_id == task.id]
        if children and "installing" in children[0].message:
            break
    upgrading = children[0]
    host_name = sim.store.hosts[upgrading.target_id].name
    gone = sorted(
        (c for c in inv.containers.values() if c.host_id == upgrading.target_id and c.state is ContainerState.RUNNING
         and c.restart_policy == "unless-stopped"),
        key=lambda c: c.name,
    )[0]
    # The engine will not start it again when it comes back (as after `docker update
    # --restart no` while the engine was down): it stays exited, and the gate must notice.
    sim.store.upsert(replace(sim.store.containers[gone.id], restart_policy="no"))
    await sim.advance(HEALTH_TIMEOUT + 30)
    final = sim.store.tasks[task.id]
    assert final.status is TaskStatus.FAILED
    assert f"wave 1 ({host_name}) did not come back healthy within {HEALTH_TIMEOUT:g} s" in final.error
    assert f"{gone.name} exited on {host_name}" in final.error
    assert sim.store.tasks[upgrading.id].status is TaskStatus.SUCCEEDED  # the host itself upgraded
    other = second if upgrading.target_id == first.id else first
    assert sim.store.hosts[other.id].engine_version == other.engine_version  # wave 2 never started


async def test_waves_that_come_back_pass_the_gate(sim: SimulatorBackend):
    inv = await sim.snapshot()
    first, second = _two_hosts(inv)
    task = await sim.upgrade_hosts(UpgradeSpec((first.id, second.id), "26.1.4", batch_size=1))
    final = await sim.wait_task(task.id)
    assert final.status is TaskStatus.SUCCEEDED, final.error
    after = await sim.snapshot()
    for host in (first, second):
        assert after.hosts[host.id].engine_version == "26.1.4"
        before = {c.id for c in inv.containers.values() if c.host_id == host.id and c.state is ContainerState.RUNNING
                  and c.restart_policy == "unless-stopped"}
        assert all(after.containers[c].state is ContainerState.RUNNING for c in before)
