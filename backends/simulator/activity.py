"""Background activity: containers' CPU and memory move over simulated time.

Every ``TICK_SECONDS`` about ``SHARE`` of the running containers get new figures, and their
hosts' totals follow; the whole tick is one change batch.
"""

from __future__ import annotations

from dataclasses import replace

from ..models import Container, ContainerState, HostState, Severity
from .stats_history import network
from .world import APPS_BY_IMAGE, World, human_status

TICK_SECONDS = 2.0
SHARE = 0.05
# Now and then a container dies and its restart policy brings it back, as in any real fleet.
DEATHS_PER_CONTAINER_TICK = 0.0002
RESTART_DELAY_SECONDS = 5.0


def fresh_usage(world: World, c: Container) -> tuple[float, float]:
    app = APPS_BY_IMAGE.get(c.image)
    cpu, mem = (app.cpu, app.memory_mib) if app else (8.0, 120.0)
    return round(cpu * world.rng.uniform(0.3, 1.7), 2), round(mem * world.rng.uniform(0.6, 1.3), 1)


def tick(world: World) -> None:
    store = world.store
    containers = store.tables["containers"]
    if not containers:
        return
    rng = world.rng
    now = store.clock.now
    ids = list(containers)
    picked = rng.sample(ids, max(1, int(len(ids) * SHARE)))
    host_delta: dict[str, tuple[float, float]] = {}
    for cid in picked:
        c = containers[cid]
        if c.state is not ContainerState.RUNNING:
            continue
        app = APPS_BY_IMAGE.get(c.image)
        typical_cpu, typical_mem = (app.cpu, app.memory_mib) if app else (8.0, 120.0)
        # A random walk pulled back towards the app's typical figures.
        cpu = max(0.0, round(c.cpu_percent + (typical_cpu - c.cpu_percent) * 0.3 + rng.gauss(0, typical_cpu * 0.25), 2))
        mem = max(4.0, round(c.memory_mib + (typical_mem - c.memory_mib) * 0.2 + rng.gauss(0, typical_mem * 0.05), 1))
        store.upsert(replace(c, cpu_percent=cpu, memory_mib=mem, status=human_status(c.state, now, c.started_at, None)))
        d_cpu, d_mem = host_delta.get(c.host_id, (0.0, 0.0))
        host_delta[c.host_id] = (d_cpu + cpu - c.cpu_percent, d_mem + mem - c.memory_mib)
    if rng.random() < DEATHS_PER_CONTAINER_TICK * len(ids):
        _die(world, containers[rng.choice(ids)])
    hosts = store.tables["hosts"]
    for host_id, (d_cpu, d_mem) in host_delta.items():
        host = hosts.get(host_id)
        if host is not None and host.state is HostState.RUNNING:
            cpu = round(max(0.0, host.cpu_percent + d_cpu), 2)
            rx, tx = network(world.seed, host.id, cpu)
            store.upsert(replace(
                host,
                cpu_percent=cpu,
                memory_used_mib=max(0, int(host.memory_used_mib + d_mem)),
                net_rx_kibps=rx,
                net_tx_kibps=tx,
                observed_at=now,
            ))


def _die(world: World, c: Container) -> None:
    host = world.store.hosts.get(c.host_id)
    if c.state is not ContainerState.RUNNING or host is None or host.state is not HostState.RUNNING:
        return
    now = world.store.clock.now
    code = world.rng.choice((1, 137, 139))
    world.store.upsert(replace(c, state=ContainerState.RESTARTING, exit_code=code, finished_at=now, cpu_percent=0.0,
                               memory_mib=0.0, status=human_status(ContainerState.RESTARTING, now, now, code)))
    world.event(Severity.WARNING, c.name, f"Container died (exit code {code}) on {host.name}; restarting",
                "container.died", c.id)
    world.store.clock.call_later(RESTART_DELAY_SECONDS, lambda: _revive(world, c.id))


def _revive(world: World, container_id: str) -> None:
    c = world.store.containers.get(container_id)
    if c is None or c.state is not ContainerState.RESTARTING:
        return
    cpu, mem = fresh_usage(world, c)
    now = world.store.clock.now
    world.store.upsert(replace(c, state=ContainerState.RUNNING, exit_code=None, started_at=now, finished_at=None,
                               cpu_percent=cpu, memory_mib=mem, status=human_status(ContainerState.RUNNING, now, now, None)))


def resume_restarts(world: World) -> None:
    """After a load: containers that were restarting finish restarting."""
    for c in world.store.containers.values():
        if c.state is ContainerState.RESTARTING:
            world.store.clock.call_later(RESTART_DELAY_SECONDS, lambda cid=c.id: _revive(world, cid))
