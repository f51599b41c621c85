"""The swarm upgrade's preview and settings, as pure functions of an inventory: no swarm."""

from __future__ import annotations

import pytest

from backends.contract import Inventory, UpgradeSpec
from backends.errors import InvalidInput, PermissionDenied
from backends.models import Container, ContainerState, Host, HostState, Service
from backends.swarm.upgrade import node_target, parse_node_ssh, preview
from backends.waves import plan_waves


def _inventory(*, c_availability: str = "active") -> Inventory:
    inv = Inventory()
    for node, role, availability in (("a1", "manager", "active"), ("b2", "worker", "active"), ("c3", "worker", c_availability)):
        inv.hosts[node] = Host(node, f"node-{node}", HostState.RUNNING, ip="10.0.0.1", engine_version="24.0.7",
                               role=role, availability=availability)
    services = [
        Service("s-web", "web", "replicated", "busybox", replicas_desired=2, replicas_running=2),
        Service("s-agent", "agent", "global", "busybox", replicas_desired=3, replicas_running=3),
        Service("s-db", "db", "replicated", "busybox", replicas_desired=1, replicas_running=1,
                constraints=("node.role==manager",)),
        Service("s-job", "job", "replicated-job", "busybox", replicas_desired=1, replicas_running=1),
    ]
    for s in services:
        inv.services[s.id] = s
    tasks = [("web", 1, "a1"), ("web", 2, "b2"), ("agent", None, "a1"), ("agent", None, "b2"), ("agent", None, "c3"),
             ("db", 1, "a1"), ("job", 1, "a1")]
    for n, (service, slot, node) in enumerate(tasks):
        inv.containers[f"t{n}"] = Container(f"t{n}", f"{service}.{n}", "busybox", node, ContainerState.RUNNING,
                                            service=service, slot=slot)
    return inv


def _preview(inv: Inventory, *nodes: str, batch: int = 1):
    return preview(inv, plan_waves([inv.hosts[n] for n in nodes], "25.0.0", batch))


def test_a_service_that_can_run_only_on_the_drained_node_is_refused_and_named():
    shown = _preview(_inventory(), "a1")
    (wave,) = shown.waves
    assert wave.refused == ("db",)  # node.role==manager: the only manager is in the wave
    refusal = shown.refusal()
    assert refusal and "db" in refusal and "web" not in refusal and "\n" not in refusal
    impacts = {i.service: i for i in wave.impacts}
    assert impacts["web"].room == 2 and impacts["web"].during == 2 and impacts["web"].moving == ("web.1 on node-a1",)
    assert impacts["agent"].during == 2 and not impacts["agent"].refused
    assert "job" not in impacts  # a job runs to its end: a drain stops nothing that must keep running


def test_replicated_tasks_that_can_move_are_fine_and_a_paused_node_keeps_its_tasks():
    assert _preview(_inventory(), "b2").refusal() is None
    # c3 paused: no room there, but what runs on it keeps running.
    inv = _inventory(c_availability="pause")
    shown = _preview(inv, "a1", "b2", batch=3)
    assert shown.waves[0].hosts == ("node-a1", "node-b2")
    impacts = {i.service: i for i in shown.waves[0].impacts}
    assert impacts["web"].refused and impacts["web"].room == 0 and impacts["web"].kept == 0
    assert not impacts["agent"].refused and impacts["agent"].kept == 1
    assert "REFUSED: db, web" in "\n".join(shown.lines())


def test_the_preview_lines_and_json_say_what_moves():
    shown = _preview(_inventory(), "b2")
    text = "\n".join(shown.lines())
    assert "web: web.2 on node-b2 moves to the 2 other node(s) that can run it" in text
    assert "agent: agent on node-b2 stops until the node is back (2 keep running elsewhere)" in text
    data = shown.as_dict()
    assert data["refused"] is None and data["waves"][0]["hosts"][0]["id"] == "b2"


def test_a_node_is_reached_by_its_own_target_else_at_its_address_as_the_user():
    inv = _inventory()
    targets = parse_node_ssh(["a1=root@10.9.9.9:2222", "node-b2=ops@b.example"])
    assert node_target(inv.hosts["a1"], targets, None) == "root@10.9.9.9:2222"
    assert node_target(inv.hosts["b2"], targets, None) == "ops@b.example"
    assert node_target(inv.hosts["c3"], targets, "admin") == "admin@10.0.0.1"
    with pytest.raises(InvalidInput, match="node node-c3: no SSH target; give --node-ssh c3="):
        node_target(inv.hosts["c3"], targets, None)
    with pytest.raises(InvalidInput, match="expected NODE=USER@HOST"):
        parse_node_ssh(["no-equals-sign"])


def test_a_bad_node_ssh_entry_in_a_config_is_one_line_and_the_flag_is_checked_too(capsys):
    from backends.registry import Resolving
    from backends.swarm.about import SwarmSettings, finish
    from console.cli import main

    settings = SwarmSettings(hosts=["unix:///x.sock"], node_ssh=["=root@h"])
    with pytest.raises(InvalidInput, match="node_ssh '=root@h'"):
        finish(settings, Resolving(headless=True, demo=False, given=frozenset()))
    code = main(["--backend", "swarm", "--docker-host", "unix:///nowhere.sock", "--node-ssh", "oops", "hosts", "list"])
    assert code == 2 and "NODE=USER@HOST" in capsys.readouterr().err


async def test_upgrades_are_refused_in_read_only_mode_and_offered_only_with_a_command():
    from backends.contract import Capability
    from backends.swarm.backend import SwarmBackend

    assert Capability.HOSTS_UPGRADE not in SwarmBackend("unix:///nowhere.sock").capabilities
    with_command = SwarmBackend("unix:///nowhere.sock", upgrade_command="true")
    assert {Capability.HOSTS_UPGRADE, Capability.TASKS_CONTROL} <= with_command.capabilities
    read_only = SwarmBackend("unix:///nowhere.sock", upgrade_command="true", read_only=True)
    with pytest.raises(PermissionDenied, match="read-only"):
        await read_only.upgrade_hosts(UpgradeSpec(("a1",), "25.0.0"))
