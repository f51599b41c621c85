"""The headless CLI on the simulator in swarm mode (``--demo --sim-swarm``): its lists have the
documented shapes, a drain through the CLI is kept in ``--demo-state`` and moves the tasks,
and a swarm's state file is refused without the flag."""

from __future__ import annotations

import json

from .conftest import run_command


def test_services_secrets_and_hosts_of_the_simulated_swarm(cli):
    result = cli("--demo", "--sim-swarm", "services", "list", "--json")
    assert result.code == 0, result.err
    services = {s["name"]: s for s in json.loads(result.out)}
    assert {"web", "api", "node-exporter"} <= set(services)
    for s in services.values():
        assert {"id", "name", "mode", "replicas_running", "replicas_desired", "image", "update_state"} <= set(s)
        assert s["replicas_running"] == s["replicas_desired"] > 0
    assert services["node-exporter"]["mode"] == "global"
    secrets = {s["name"]: s for s in json.loads(cli("--demo", "--sim-swarm", "secrets", "list", "--json").out)}
    assert set(secrets["db-password"]["services"]) == {"api", "worker"}
    hosts = json.loads(cli("--demo", "--sim-swarm", "hosts", "list", "--json").out)
    assert sorted(h["role"] for h in hosts if h["role"] == "manager") == ["manager"] * 3
    assert {h["availability"] for h in hosts} == {"active"}
    tasks = [c for c in json.loads(cli("--demo", "--sim-swarm", "containers", "list", "--json").out) if c.get("service")]
    assert sorted(c["slot"] for c in tasks if c["service"] == "web") == [1, 2, 3, 4]
    # Without the flag the simulator is no swarm: no services.
    assert json.loads(cli("--demo", "services", "list", "--json").out) == []


def test_a_drain_from_the_cli_moves_the_tasks_and_is_kept(state: str):
    drained = run_command("--demo", "--sim-swarm", "--demo-state", state, "host", "drain", "cm-edge-01", "--wait")
    assert drained.code == 0, drained.err
    listed = run_command("--demo", "--sim-swarm", "--demo-state", state, "containers", "list", "--json")
    hosts = {h["name"]: h for h in json.loads(
        run_command("--demo", "--sim-swarm", "--demo-state", state, "hosts", "list", "--json").out)}
    assert hosts["cm-edge-01"]["availability"] == "drain"
    running = [c for c in json.loads(listed.out) if c.get("service") and c["state"] == "running"]
    assert running and not [c for c in running if c["host"] == "cm-edge-01"]
    services = json.loads(run_command("--demo", "--sim-swarm", "--demo-state", state, "services", "list", "--json").out)
    assert all(s["replicas_running"] == s["replicas_desired"] for s in services)
    refused = run_command("--demo", "--demo-state", state, "services", "list")
    assert refused.code == 2 and "--sim-swarm" in refused.err
