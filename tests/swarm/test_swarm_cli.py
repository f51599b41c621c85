"""The swarm backend through the CLI, on a real two-node swarm, checked against the docker CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from console.cli import main
from tests.swarm.cluster import Swarm

ROOT = Path(__file__).resolve().parents[2]


def cli(swarm: Swarm, capsys, *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["--backend", "swarm", "--docker-host", swarm.manager.url, *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def listed(swarm: Swarm, capsys, kind: str) -> list[dict]:
    code, out, err = cli(swarm, capsys, kind, "list", "--json")
    assert code == 0, err
    return json.loads(out)


def wait_for(check, *, timeout: float, what: str):
    """A deadline on a condition of the real swarm (no bare sleeps)."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def services(swarm: Swarm) -> Swarm:
    """What a user would have made with the docker CLI: a secret, a replicated service using
    it, a global one."""
    swarm.cli("secret", "create", "cli-db-password", "-", input=b"not-this-one")
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "cli-web", "--replicas", "3",
              "--secret", "cli-db-password", swarm.manager.image)
    swarm.cli("service", "create", "--detach", "--no-resolve-image", "--name", "cli-agent", "--mode", "global",
              swarm.manager.image)

    def converged() -> bool:
        rows = swarm.json_lines("service", "ls")
        return all(r["Replicas"].split("/")[0] == r["Replicas"].split("/")[1] != "0" for r in rows)

    wait_for(converged, timeout=90, what="the services to run every replica")
    return swarm


def test_hosts_are_the_nodes_as_docker_node_ls_shows_them(services: Swarm, capsys):
    nodes = {n["ID"]: n for n in services.json_lines("node", "ls")}
    hosts = {h["id"]: h for h in listed(services, capsys, "hosts")}
    assert hosts.keys() == nodes.keys() == {services.manager_id, services.worker_id}
    # One machine, two engines: one hostname, told apart.
    assert len({n["Hostname"] for n in nodes.values()}) == 1
    assert len({h["name"] for h in hosts.values()}) == 2
    for node_id, node in nodes.items():
        h = hosts[node_id]
        assert h["name"].split("/")[0] == node["Hostname"]
        assert h["availability"] == node["Availability"].lower()
        assert h["state"] == ("running" if node["Status"] == "Ready" else "unreachable")
        assert h["engine_version"] == node["EngineVersion"]
        assert h["cores"] > 0 and h["memory_mib"] > 0
    assert hosts[services.manager_id]["role"] == "manager" and hosts[services.manager_id]["manager_status"] == "leader"
    assert nodes[services.manager_id]["ManagerStatus"] == "Leader"
    assert hosts[services.worker_id]["role"] == "worker" and "manager_status" not in hosts[services.worker_id]


def test_services_secrets_and_tasks_are_as_the_docker_cli_lists_them(services: Swarm, capsys):
    docker_services = {s["Name"]: s for s in services.json_lines("service", "ls")}
    mine = {s["name"]: s for s in listed(services, capsys, "services")}
    assert mine.keys() == docker_services.keys()
    for name, s in mine.items():
        d = docker_services[name]
        assert s["id"].startswith(d["ID"]) and s["mode"] == d["Mode"] and s["image"] == d["Image"]
        assert f"{s['replicas_running']}/{s['replicas_desired']}" == d["Replicas"].split(" ")[0]
        assert {"update_state"} <= s.keys()
    assert mine["cli-web"]["secrets"] == ["cli-db-password"]

    docker_secrets = {s["Name"]: s for s in services.json_lines("secret", "ls")}
    secrets = {s["name"]: s for s in listed(services, capsys, "secrets")}
    assert secrets.keys() == docker_secrets.keys()
    assert all(s["id"] == docker_secrets[n]["ID"] for n, s in secrets.items())
    assert secrets["cli-db-password"]["services"] == ["cli-web"] and secrets["cli-db-password"]["created"] > 0

    tasks = services.json_lines("service", "ps", "--no-trunc", "cli-web", "cli-agent")
    containers = {c["id"]: c for c in listed(services, capsys, "containers")}
    for t in tasks:
        c = containers[t["ID"]]
        assert c["service"] == t["Name"].split(".")[0]
        assert c["desired_state"] == t["DesiredState"].lower()
        assert c["host_id"] in (services.manager_id, services.worker_id)
        if c["service"] == "cli-web":
            assert f"cli-web.{c['slot']}" == t["Name"]
        else:
            assert c["slot"] is None
    # The manager's standalone containers are there too; its task containers are shown as tasks.
    standalone = [c for c in containers.values() if "service" not in c]
    assert all(c["host_id"] == services.manager_id for c in standalone)


def test_drain_moves_the_workers_tasks_to_the_manager_and_activate_brings_it_back(services: Swarm, capsys):
    worker = services.worker_id

    def running_on(node: str) -> list[dict]:
        return [c for c in listed(services, capsys, "containers")
                if c.get("service") == "cli-web" and c["host_id"] == node and c["state"] == "running"
                and c["desired_state"] == "running"]

    wait_for(lambda: running_on(worker), timeout=60, what="cli-web to have a task on the worker")
    code, out, err = cli(services, capsys, "host", "drain", worker, "--wait")
    assert code == 0, err
    assert "SUCCEEDED" in out
    assert services.cli("node", "inspect", worker, "--format", "{{.Spec.Availability}}").strip() == "drain"
    hosts = {h["id"]: h for h in listed(services, capsys, "hosts")}
    assert hosts[worker]["availability"] == "drain"
    # The swarm moves the replicas: all three run on the manager, within a deadline.
    wait_for(lambda: len(running_on(services.manager_id)) == 3 and not running_on(worker), timeout=90,
             what="cli-web's replicas to run on the manager")
    docker_running = [t for t in services.json_lines("service", "ps", "--no-trunc", "cli-web", "--filter", "desired-state=running")]
    assert {t["Node"] for t in docker_running} == {services.cli("info", "--format", "{{.Name}}").strip()}
    assert len(docker_running) == 3

    code, out, err = cli(services, capsys, "host", "activate", worker, "--wait")
    assert code == 0, err
    assert services.cli("node", "inspect", worker, "--format", "{{.Spec.Availability}}").strip() == "active"
    # The global service comes back to the worker at once (replicated ones stay where they are).
    wait_for(lambda: any(c.get("service") == "cli-agent" and c["host_id"] == worker and c["state"] == "running"
                         for c in listed(services, capsys, "containers")),
             timeout=90, what="cli-agent to run on the worker again")


def test_service_create_scale_remove_and_a_secret_in_use_is_not_removed(services: Swarm, capsys):
    services.cli("secret", "create", "cli-token", "-", input=b"also-not-shown")
    code, out, err = cli(services, capsys, "service", "create", "cli-api", "--image", services.manager.image,
                         "--replicas", "2", "--secret", "cli-token", "--env", "MODE=test", "--wait")
    assert code == 0, err
    row = services.json_lines("service", "ls", "--filter", "name=cli-api")[0]
    assert row["Replicas"] == "2/2"
    env = services.cli("service", "inspect", "cli-api", "--format", "{{json .Spec.TaskTemplate.ContainerSpec.Env}}")
    assert json.loads(env) == ["MODE=test"]

    code, out, err = cli(services, capsys, "secret", "remove", "cli-token")
    assert code == 1 and "used by service(s) cli-api" in err
    assert services.json_lines("secret", "ls", "--filter", "name=cli-token")

    code, out, err = cli(services, capsys, "service", "scale", "cli-api", "4", "--wait")
    assert code == 0, err
    assert services.json_lines("service", "ls", "--filter", "name=cli-api")[0]["Replicas"] == "4/4"
    code, out, err = cli(services, capsys, "service", "scale", "cli-agent", "2")
    assert code == 2 and "global" in err

    code, out, err = cli(services, capsys, "service", "remove", "cli-api", "--wait")
    assert code == 0, err
    assert not services.json_lines("service", "ls", "--filter", "name=cli-api")
    code, out, err = cli(services, capsys, "secret", "remove", "cli-token", "--wait")
    assert code == 0, err
    assert not services.json_lines("secret", "ls", "--filter", "name=cli-token")


def _command_lines() -> list[bytes]:
    lines = []
    for pid in os.listdir("/proc"):
        if pid.isdigit():
            try:
                lines.append(Path(f"/proc/{pid}/cmdline").read_bytes())
            except OSError:
                continue  # ended meanwhile
    return lines


def test_a_secret_from_stdin_is_on_no_command_line_and_never_printed(services: Swarm):
    value = b"s3cret-" + os.urandom(8).hex().encode()
    env = {**os.environ, "NTNX_CONSOLE_CONFIG": "/nonexistent/none.toml"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--backend", "swarm", "--docker-host", services.manager.url,
         "secret", "create", "stdin-secret", "-", "--wait", "--debug"],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=env,
    )
    seen = []
    # Look at every process's command line while the command runs, before and after the value
    # was written to its standard input.
    seen += [line for line in _command_lines() if value in line]
    proc.stdin.write(value)
    proc.stdin.close()
    while proc.poll() is None:
        seen += [line for line in _command_lines() if value in line]
    out, err = proc.stdout.read(), proc.stderr.read()
    assert proc.returncode == 0, err.decode()
    assert not seen, "the secret's value was on a command line"
    assert value not in out and value not in err
    assert services.json_lines("secret", "ls", "--filter", "name=stdin-secret")
    # The swarm keeps it; nothing gives it back (the API has no value to show).
    assert value not in services.cli("secret", "inspect", "stdin-secret").encode()
    # The value is never an argument: the CLI refuses one.
    code = subprocess.run(
        [sys.executable, "-m", "console", "--backend", "swarm", "--docker-host", services.manager.url,
         "secret", "create", "argv-secret", "some-value"], cwd=ROOT, env=env, capture_output=True,
    )
    assert code.returncode == 2 and b"never as an argument" in code.stderr
    services.cli("secret", "rm", "stdin-secret")
