"""The simulator as a swarm (``--sim-swarm``): nodes, services, tasks, secrets and configs, and
what the orchestrator does with them over simulated time. Time moves only by ``sim.advance``
and ``wait_task`` (speed 0): no sleeps, the same outcome for a seed on every run."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

import pytest

from backends.contract import (
    SWARM_CAPABILITIES,
    Capability,
    ConfigSpec,
    Inventory,
    ScaleSpec,
    SecretSpec,
    ServiceSpec,
    ServiceUpdateSpec,
)
from backends.errors import Conflict, InvalidInput, PermissionDenied
from backends.models import Container, ContainerState, HostState, Service, TaskStatus, UpdatePolicy
from backends.simulator import SimulatorBackend


@pytest.fixture
async def swarm():
    backend = SimulatorBackend(seed=7, speed=0.0, activity=False, swarm=True)
    await backend.connect()
    yield backend
    await backend.close()


def service(inv: Inventory, name: str) -> Service:
    return next(s for s in inv.services.values() if s.name == name)


def live_tasks(inv: Inventory, name: str) -> list[Container]:
    """The tasks the swarm wants running, as ``docker service ps --filter desired-state=running``."""
    return [c for c in inv.containers.values() if c.service == name and c.desired_state == "running"]


def converged(inv: Inventory) -> bool:
    return all(s.replicas_running == s.replicas_desired for s in inv.services.values())


def replicated_whole(inv: Inventory) -> None:
    for s in inv.services.values():
        if s.mode == "replicated" and s.name != "cache":  # cache: workers only, may have none left
            assert s.replicas_running == s.replicas_desired, f"{s.name}: {s.replicas_running}/{s.replicas_desired}"
            running = [t for t in live_tasks(inv, s.name) if t.state is ContainerState.RUNNING]
            assert sorted(t.slot for t in running) == list(range(1, s.replicas_desired + 1)), s.name


async def run(sim: SimulatorBackend, started) -> object:
    task = await started
    final = await sim.wait_task(task.id)
    assert final.status is TaskStatus.SUCCEEDED, f"{final.kind} {final.target}: {final.error}"
    return final


# -- the world ----------------------------------------------------------------------------------


async def test_a_swarm_world_has_nodes_services_secrets_and_configs(swarm: SimulatorBackend):
    assert SWARM_CAPABILITIES <= swarm.capabilities
    inv = await swarm.snapshot()
    managers = [h for h in inv.hosts.values() if h.role == "manager"]
    assert len(managers) == 3
    assert [h.manager_status for h in managers].count("leader") == 1
    # On three different Nutanix nodes: one node failing never takes the quorum.
    assert len({h.node_id for h in managers}) == 3
    assert all(h.availability == "active" for h in inv.hosts.values())
    assert {s.mode for s in inv.services.values()} == {"replicated", "global"}
    assert inv.secrets and inv.configs
    assert converged(inv)
    for s in inv.services.values():
        for t in live_tasks(inv, s.name):
            assert t.host_id in inv.hosts and t.image == s.image and t.desired_state == "running"
            assert (t.slot is None) == (s.mode == "global")
    exporter = service(inv, "node-exporter")
    running_hosts = [h for h in inv.hosts.values() if h.state is HostState.RUNNING]
    assert exporter.replicas_desired == len(running_hosts)
    assert {t.host_id for t in live_tasks(inv, "node-exporter")} == {h.id for h in running_hosts}
    proxy_nodes = {inv.hosts[t.host_id].role for t in live_tasks(inv, "proxy")}
    assert proxy_nodes == {"manager"}, "a constraint holds the proxy to the managers"


async def test_the_same_seed_makes_the_same_swarm_and_the_rest_of_the_world_is_unchanged():
    plain = SimulatorBackend(seed=7, speed=0.0, activity=False)
    a = SimulatorBackend(seed=7, speed=0.0, activity=False, swarm=True)
    b = SimulatorBackend(seed=7, speed=0.0, activity=False, swarm=True)
    for sim in (plain, a, b):
        await sim.connect()
    try:
        ia, ib, ip = await a.snapshot(), await b.snapshot(), await plain.snapshot()
        assert ia.services == ib.services and ia.containers == ib.containers and ia.hosts == ib.hosts
        # The swarm is added after the world is built: the machines and their own containers are
        # the plain simulator's, the machines with their swarm role.
        assert {k: c for k, c in ia.containers.items() if c.service is None} == ip.containers
        assert ia.volumes == ip.volumes
        assert {h.id: (h.name, h.node_id, h.state) for h in ia.hosts.values()} == {
            h.id: (h.name, h.node_id, h.state) for h in ip.hosts.values()}
        assert not ip.services and Capability.SERVICES not in plain.capabilities
    finally:
        for sim in (plain, a, b):
            await sim.close()


async def test_the_plain_simulator_refuses_swarm_actions():
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False)
    await sim.connect()
    try:
        with pytest.raises(PermissionDenied, match="--sim-swarm"):
            await sim.create_service(ServiceSpec("web2", "nginx:1.25.4"))
    finally:
        await sim.close()


# -- failures and availability --------------------------------------------------------------------


async def test_a_node_failure_reschedules_its_tasks_and_every_service_is_whole_again(swarm: SimulatorBackend):
    inv = await swarm.snapshot()
    # The Nutanix node under the most tasks: its machines go down together.
    per_node = Counter(inv.hosts[t.host_id].node_id for s in inv.services.values() for t in live_tasks(inv, s.name))
    node_id = max(per_node, key=lambda n: (per_node[n], n))
    victims = {h.id for h in inv.hosts.values() if h.node_id == node_id and h.state is HostState.RUNNING}
    before = {t.id: t for t in inv.containers.values() if t.service and t.host_id in victims}
    assert before, "the failing node carries tasks"
    swarm.fail_node(node_id)
    await swarm.advance(3)  # the orchestrator acts within its tick; new tasks start in 2-6 s
    inv = await swarm.snapshot()
    for t in before.values():
        now = inv.containers[t.id]
        assert now.desired_state == "shutdown" and "down" in (now.error or ""), now
    assert any(e.kind == "service.rescheduled" for e in inv.events.values())
    await swarm.advance(10)
    inv = await swarm.snapshot()
    assert all(inv.hosts[h].state is not HostState.RUNNING for h in victims), "still down: HA takes 25 s or more"
    replicated_whole(inv)
    for s in inv.services.values():
        for t in live_tasks(inv, s.name):
            assert t.host_id not in victims, f"{t.name} placed on a machine that is down"
    # The machines come back (HA restart on other nodes): the global service is on each again.
    await swarm.advance(120)
    inv = await swarm.snapshot()
    assert all(inv.hosts[h].state is HostState.RUNNING for h in victims)
    assert converged(inv)
    exporter_hosts = {t.host_id for t in live_tasks(inv, "node-exporter") if t.state is ContainerState.RUNNING}
    assert victims <= exporter_hosts
    # The old tasks were stopped once their nodes were back, and kept as the slot's history.
    assert all(inv.containers[i].state is not ContainerState.RUNNING for i in before if i in inv.containers)


async def test_a_crashed_leader_hands_over_leadership(swarm: SimulatorBackend):
    inv = await swarm.snapshot()
    leader = next(h for h in inv.hosts.values() if h.manager_status == "leader")
    swarm.crash_host(leader.id)
    await swarm.advance(2)
    inv = await swarm.snapshot()
    assert inv.hosts[leader.id].manager_status == "unreachable"
    leaders = [h for h in inv.hosts.values() if h.manager_status == "leader"]
    assert len(leaders) == 1 and leaders[0].id != leader.id and leaders[0].role == "manager"


async def test_drain_moves_the_tasks_and_activate_brings_the_capacity_back(swarm: SimulatorBackend):
    inv = await swarm.snapshot()
    host = max((h for h in inv.hosts.values() if h.role == "worker" and h.state is HostState.RUNNING),
               key=lambda h: (sum(1 for c in inv.containers.values() if c.host_id == h.id and c.service), h.name))
    on_it = [t for t in inv.containers.values() if t.host_id == host.id and t.desired_state == "running"]
    assert on_it
    final = await run(swarm, swarm.set_host_availability(host.id, "drain"))
    assert final.kind == "drain_host"
    await swarm.advance(10)
    inv = await swarm.snapshot()
    assert inv.hosts[host.id].availability == "drain"
    assert not [t for t in inv.containers.values() if t.host_id == host.id and t.state is ContainerState.RUNNING
                and t.service], "a drained node runs no task"
    assert all(inv.containers[t.id].desired_state == "shutdown" for t in on_it)
    replicated_whole(inv)
    exporter = service(inv, "node-exporter")
    assert exporter.replicas_desired == exporter.replicas_running == len(
        [h for h in inv.hosts.values() if h.state is HostState.RUNNING]) - 1, "not on the drained node"
    # Activate: the node takes tasks again: the global service's at once, and a scale-up's
    # new replica lands there first (it runs the fewest tasks now).
    await run(swarm, swarm.set_host_availability(host.id, "active"))
    await swarm.advance(10)
    web = service(await swarm.snapshot(), "web")
    await run(swarm, swarm.scale_service(ScaleSpec("web", web.replicas_desired + 1)))
    inv = await swarm.snapshot()
    assert inv.hosts[host.id].availability == "active"
    mine = {t.service for t in live_tasks(inv, "node-exporter") + live_tasks(inv, "web") if t.host_id == host.id}
    assert mine == {"node-exporter", "web"}
    assert converged(inv)


async def test_pause_keeps_the_tasks_but_takes_no_new_ones(swarm: SimulatorBackend):
    inv = await swarm.snapshot()
    host = next(h for h in sorted(inv.hosts.values(), key=lambda h: h.name) if h.role == "worker" and h.state is HostState.RUNNING)
    kept = {t.id for t in inv.containers.values() if t.host_id == host.id and t.desired_state == "running"}
    await run(swarm, swarm.set_host_availability(host.id, "pause"))
    await run(swarm, swarm.scale_service(ScaleSpec("web", 9)))
    inv = await swarm.snapshot()
    assert {t.id for t in inv.containers.values() if t.host_id == host.id and t.desired_state == "running"} == kept


async def test_scale_up_and_down_spreads_and_removes_the_highest_slots(swarm: SimulatorBackend):
    await run(swarm, swarm.scale_service(ScaleSpec("worker", 6)))
    inv = await swarm.snapshot()
    tasks = live_tasks(inv, "worker")
    assert sorted(t.slot for t in tasks) == [1, 2, 3, 4, 5, 6] and service(inv, "worker").replicas_running == 6
    assert max(Counter(t.host_id for t in tasks).values()) == 1, "spread over the nodes"
    await run(swarm, swarm.scale_service(ScaleSpec("worker", 1)))
    inv = await swarm.snapshot()
    assert [t.slot for t in live_tasks(inv, "worker")] == [1]
    assert not [c for c in inv.containers.values() if c.service == "worker" and (c.slot or 0) > 1]
    with pytest.raises(InvalidInput, match="global"):
        await swarm.scale_service(ScaleSpec("node-exporter", 3))


# -- rolling updates --------------------------------------------------------------------------------


async def test_a_rolling_update_goes_wave_by_wave_and_a_rollback_restores_the_image(swarm: SimulatorBackend):
    inv = await swarm.snapshot()
    web = service(inv, "web")
    policy = web.update_policy
    assert policy.parallelism == 2 and policy.delay_s == 10 and web.replicas_desired == 4
    old_image = web.image
    task = await swarm.update_service(ServiceUpdateSpec("web", "nginx:1.27.0"))
    seen: list[tuple[float, tuple[str, ...]]] = []  # (time, images of the running tasks by slot)
    messages = []
    while not (t := swarm.store.tasks[task.id]).done:
        messages.append(t.message)
        inv = await swarm.snapshot()
        running = sorted((c for c in live_tasks(inv, "web") if c.state is ContainerState.RUNNING), key=lambda c: c.slot)
        seen.append((swarm.clock.now, tuple(c.image for c in running)))
        await swarm.advance(1)
    assert t.status is TaskStatus.SUCCEEDED, t.error
    # Never more than the policy's 2 tasks down at once (stop-first), never 2 images past a wave.
    assert all(len(images) >= web.replicas_desired - policy.parallelism for _, images in seen)
    counts = [sum(1 for i in images if i == "nginx:1.27.0") for _, images in seen]
    assert counts == sorted(counts), "the new image only gains"
    assert set(counts) >= {0, 2, 4}, counts
    # Two waves, the second after the first's tasks ran, were watched and the delay passed.
    assert any("wave 1/2" in m for m in messages) and any("wave 2/2" in m for m in messages)
    first_two = next(when for when, images in seen if images.count("nginx:1.27.0") == 2)
    all_four = next(when for when, images in seen if images.count("nginx:1.27.0") == 4)
    assert all_four - first_two >= policy.delay_s + policy.monitor_s
    inv = await swarm.snapshot()
    web = service(inv, "web")
    assert (web.image, web.previous_image, web.update_state) == ("nginx:1.27.0", old_image, "completed")
    assert converged(inv)

    await run(swarm, swarm.rollback_service("web"))
    inv = await swarm.snapshot()
    web = service(inv, "web")
    assert (web.image, web.update_state) == (old_image, "rollback_completed")
    assert {t.image for t in live_tasks(inv, "web")} == {old_image}
    assert converged(inv)


async def test_a_failing_update_rolls_back_by_its_policy(swarm: SimulatorBackend):
    api = service(await swarm.snapshot(), "api")
    assert api.update_policy.failure_action == "rollback"
    task = await swarm.update_service(ServiceUpdateSpec("api", "registry.example.local/shop/api:broken"))
    final = await swarm.wait_task(task.id)
    assert final.status is TaskStatus.FAILED and "rolled back" in final.error
    inv = await swarm.snapshot()
    api_now = service(inv, "api")
    assert api_now.image == api.image and api_now.update_state == "rollback_completed"
    assert {t.image for t in live_tasks(inv, "api")} == {api.image}
    await swarm.advance(10)
    assert converged(await swarm.snapshot())


async def test_a_failing_update_pauses_by_default_and_a_rollback_ends_it(swarm: SimulatorBackend):
    worker = service(await swarm.snapshot(), "worker")
    assert worker.update_policy.failure_action == "pause"
    final = await swarm.wait_task((await swarm.update_service(ServiceUpdateSpec("worker", "busybox:broken"))).id)
    assert final.status is TaskStatus.FAILED and "paused" in final.error
    assert service(await swarm.snapshot(), "worker").update_state == "paused"
    await run(swarm, swarm.rollback_service("worker"))
    inv = await swarm.snapshot()
    assert service(inv, "worker").image == worker.image and converged(inv)


async def test_a_failure_action_continue_goes_on_to_the_next_waves(swarm: SimulatorBackend):
    spec = ServiceSpec("batch", "busybox:1.36", replicas=2, update=UpdatePolicy(parallelism=1, failure_action="continue"))
    await run(swarm, swarm.create_service(spec))
    final = await run(swarm, swarm.update_service(ServiceUpdateSpec("batch", "busybox:broken")))
    inv = await swarm.snapshot()
    assert final.message == "completed" and service(inv, "batch").update_state == "completed"
    assert {t.image for t in live_tasks(inv, "batch")} == {"busybox:broken"}
    assert service(inv, "batch").replicas_running == 0, "its tasks keep failing, as the swarm's would"
    assert sum(1 for e in inv.events.values() if e.kind == "service.task_failed") == 2


async def test_an_update_paused_by_the_user_waits_and_a_rollback_stops_it(swarm: SimulatorBackend):
    task = await swarm.update_service(ServiceUpdateSpec("web", "nginx:1.27.0"))
    await swarm.advance(3)
    await swarm.pause_task(task.id)
    await swarm.advance(60)
    inv = await swarm.snapshot()
    assert service(inv, "web").update_state == "paused"
    images = Counter(t.image for t in live_tasks(inv, "web"))
    assert images["nginx:1.27.0"] == 2, "the first wave only"
    rollback = await swarm.rollback_service("web")
    with pytest.raises(Conflict, match="rolled back already"):
        await swarm.rollback_service("web")
    assert (await swarm.wait_task(rollback.id)).status is TaskStatus.SUCCEEDED
    assert swarm.store.tasks[task.id].status is TaskStatus.ABORTED
    inv = await swarm.snapshot()
    assert {t.image for t in live_tasks(inv, "web")} == {"nginx:1.25.4"}


# -- secrets and configs -----------------------------------------------------------------------------


async def test_rotate_secret_moves_the_services_and_removes_the_old_one(swarm: SimulatorBackend):
    inv = await swarm.snapshot()
    old = next(s for s in inv.secrets.values() if s.name == "db-password")
    users = sorted(s.name for s in inv.services.values() if old.id in s.secret_ids)
    assert users == ["api", "worker"]
    before = {t.id for name in users for t in live_tasks(inv, name)}
    final = await run(swarm, swarm.rotate_secret("db-password", b"n3w-value"))
    inv = await swarm.snapshot()
    assert old.id not in inv.secrets
    new = inv.secrets[final.result_id]
    assert new.name == "db-password-2"
    for name in users:
        assert new.id in service(inv, name).secret_ids and old.id not in service(inv, name).secret_ids
    # Every task was redeployed, to read the new secret's file.
    assert not before & {t.id for name in users for t in live_tasks(inv, name)}
    assert converged(inv)
    # The value is kept nowhere: not in the tasks, the events, the saved state.
    document = json.dumps(__import__("backends.simulator.persist", fromlist=["encode"]).encode(
        swarm.runner, seed=7, scale=None))
    assert "n3w-value" not in document and "n3w-value" not in repr(inv)


async def test_a_secret_in_use_is_not_removed_and_names_its_services(swarm: SimulatorBackend):
    with pytest.raises(Conflict, match="api, worker"):
        await swarm.remove_secret("db-password")
    await run(swarm, swarm.remove_secret("smtp-password"))  # used by none
    assert "smtp-password" not in {s.name for s in (await swarm.snapshot()).secrets.values()}
    with pytest.raises(Conflict, match="web"):
        await swarm.remove_config("nginx-conf")


async def test_create_a_secret_and_a_service_that_uses_it_then_remove_both(swarm: SimulatorBackend):
    with pytest.raises(InvalidInput, match="empty"):
        await swarm.create_secret(SecretSpec("mail-key", b""))
    await run(swarm, swarm.create_secret(SecretSpec("mail-key", b"s3cret")))
    await run(swarm, swarm.create_config(ConfigSpec("mail-conf", b"relay = on")))
    spec = ServiceSpec("mailer", "registry.example.local/shop/mailer:1.0", replicas=2, secrets=("mail-key",),
                       configs=("mail-conf",), constraints=("node.role==worker",), update=UpdatePolicy(parallelism=1))
    final = await run(swarm, swarm.create_service(spec))
    inv = await swarm.snapshot()
    mailer = inv.services[final.result_id]
    assert mailer.replicas_running == 2 and all(inv.hosts[t.host_id].role == "worker" for t in live_tasks(inv, "mailer"))
    with pytest.raises(Conflict, match="mailer"):
        await swarm.remove_secret("mail-key")
    with pytest.raises(Conflict, match="already exists"):
        await swarm.create_service(spec)
    with pytest.raises(InvalidInput, match="constraint"):
        await swarm.create_service(ServiceSpec("odd", "busybox", constraints=("node.labels.zone==a",)))
    await run(swarm, swarm.remove_service("mailer"))
    await swarm.advance(5)
    inv = await swarm.snapshot()
    assert "mailer" not in {s.name for s in inv.services.values()}
    assert not [c for c in inv.containers.values() if c.service == "mailer"]
    await run(swarm, swarm.remove_secret("mail-key"))


async def test_read_only_refuses_the_swarm_actions():
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False, swarm=True, read_only=True)
    await sim.connect()
    try:
        for call in (sim.scale_service(ScaleSpec("web", 1)), sim.rotate_secret("db-password", b"x"),
                     sim.set_host_availability("cm-web-02", "drain"), sim.rollback_service("api")):
            with pytest.raises(PermissionDenied, match="read-only"):
                await call
        assert not (await sim.snapshot()).tasks
    finally:
        await sim.close()


# -- the state file ----------------------------------------------------------------------------------


async def test_the_swarm_is_kept_in_the_state_file_and_an_update_resumes(tmp_path):
    path = str(tmp_path / "swarm.json")
    first = SimulatorBackend(seed=7, speed=0.0, activity=False, swarm=True, state_path=path)
    await first.connect()
    await run(first, first.scale_service(ScaleSpec("web", 5)))
    task = await first.update_service(ServiceUpdateSpec("web", "nginx:1.27.0"))
    await first.advance(4)  # the first wave is under way
    before = await first.snapshot()
    await first.close()  # saves, the update unfinished

    second = SimulatorBackend(seed=7, speed=0.0, activity=False, swarm=True, state_path=path)
    await second.connect()
    try:
        inv = await second.snapshot()
        assert inv.services == before.services and inv.secrets == before.secrets and inv.configs == before.configs
        # Every task is back where it was (the resumed update may already have moved on).
        kept = {k: (c.service, c.slot, c.image, c.host_id) for k, c in before.containers.items() if c.service}
        assert {k: (c.service, c.slot, c.image, c.host_id) for k, c in inv.containers.items() if k in kept} == kept
        final = await second.wait_task(task.id)
        assert final.status is TaskStatus.SUCCEEDED, final.error
        inv = await second.snapshot()
        assert {t.image for t in live_tasks(inv, "web")} == {"nginx:1.27.0"} and converged(inv)
    finally:
        await second.close()

    plain = SimulatorBackend(seed=7, speed=0.0, state_path=path)
    with pytest.raises(InvalidInput, match="--sim-swarm"):
        await plain.connect()
    await plain.close()


async def test_the_demo_story_in_swarm_mode_reschedules_the_failed_nodes_tasks():
    sim = SimulatorBackend(seed=7, speed=0.0, activity=False, swarm=True, faults="story")
    await sim.connect()
    try:
        await sim.advance(65)  # the story's node failure is at 60 s
        inv = await sim.snapshot()
        failed = next(n for n in inv.nodes.values() if not n.up)
        down = {h.id for h in inv.hosts.values() if h.node_id == failed.id and h.state is HostState.RESTARTING}
        assert down
        assert any(e.kind == "service.rescheduled" for e in inv.events.values())
        for s in inv.services.values():
            assert not [t for t in live_tasks(inv, s.name) if t.host_id in down]
        await asyncio.sleep(0)
    finally:
        await sim.close()


def test_a_rotated_secret_is_named_as_the_swarm_backend_names_it():
    from backends.simulator.swarm import next_secret_name

    assert next_secret_name("db-password", []) == "db-password-2"
    assert next_secret_name("db-2", ["db-3"]) == "db-4"
    assert next_secret_name("cert-2024", []) == "cert-2024-2"  # a year is part of the name
