"""The headless CLI against the simulator: the Done-when of the foundation issue, and the
exit codes a script relies on. Simulated time runs as fast as possible (`--speed 0`)."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import run_command

IMAGE = "ubuntu-22.04-docker-24.0.7"
NETWORK = "vlan110-apps"
HOST_KEYS = {"id", "name", "state", "ip", "cores", "memory_mib", "engine_version", "node", "project", "containers"}
CONTAINER_KEYS = {"id", "name", "image", "host", "state", "status"}
VOLUME_KEYS = {"id", "name", "size_gib", "host", "containers", "state"}
TASK_KEYS = {"id", "kind", "target", "status", "progress", "message"}


def _create(name: str, *extra: str) -> list[str]:
    return ["host", "create", name, "--image", IMAGE, "--cores", "2", "--memory-mib", "4096", "--network", NETWORK, *extra]


def test_demo_hosts_list_json_has_the_documented_shape():
    result = run_command("--demo", "hosts", "list", "--json")
    assert result.code == 0, result.err
    hosts = json.loads(result.out)  # a bare array: nothing but the data on stdout
    assert isinstance(hosts, list) and len(hosts) >= 10
    for host in hosts:
        assert HOST_KEYS <= host.keys()
        assert isinstance(host["containers"], int) and host["ip"].startswith("127.")
    assert sum(h["containers"] for h in hosts) > 0
    assert result.err.strip() == "simulated data (built-in simulator, seed 7)"


def test_every_list_gives_ids_names_and_the_documented_keys(cli):
    seen = {}
    for kind in ("hosts", "containers", "volumes", "tasks", "images", "networks", "projects", "nodes", "events"):
        result = cli("--demo", kind, "list", "--json")
        assert result.code == 0, result.err
        items = json.loads(result.out)
        assert items or kind == "tasks", kind  # a fresh demo has run no task yet
        for item in items:
            assert item["id"], kind
            if kind not in ("tasks", "events"):
                assert item["name"], kind
        seen[kind] = items
    assert all(CONTAINER_KEYS <= c.keys() for c in seen["containers"])
    assert all(VOLUME_KEYS <= v.keys() for v in seen["volumes"])
    host_names = {h["name"] for h in seen["hosts"]}
    assert {c["host"] for c in seen["containers"]} <= host_names  # names, not ids
    sandbox = next(p for p in seen["projects"] if p["name"] == "sandbox")
    assert sandbox["used"]["vms"] < sandbox["quota"]["vms"]


def test_the_same_seed_gives_the_same_world_and_another_seed_another(cli):
    first = cli("--demo", "--seed", "3", "hosts", "list", "--json").out
    assert cli("--demo", "--seed", "3", "hosts", "list", "--json").out == first
    assert cli("--demo", "--seed", "4", "hosts", "list", "--json").out != first


def test_tables_render_with_the_simulated_label(cli):
    result = cli("--demo", "hosts", "list")
    assert result.code == 0
    header, *rows = result.out.splitlines()
    assert header.split()[:3] == ["NAME", "STATE", "IP"]
    assert len(rows) >= 10 and all(row.split()[1] in {"running", "stopped", "crashed", "provisioning"} or row for row in rows)
    assert "simulated data (built-in simulator, seed 7)" in result.err
    result = cli("--demo", "projects", "list")
    assert "sandbox" in result.out and "VMS" in result.out


def test_host_create_waits_to_succeeded_and_the_next_run_lists_it(state: str):
    created = run_command("--demo", "--demo-state", state, "--speed", "0", *_create("web-11"), "--wait", "--json")
    assert created.code == 0, created.err
    task = json.loads(created.out)
    assert task["status"] == "SUCCEEDED" and task["progress"] == 100 and task["kind"] == "create_host"
    # Not a terminal: plain progress lines on stderr, ending with the result.
    progress = [line for line in created.err.splitlines() if line.startswith("create_host web-11:")]
    assert len(progress) >= 2 and progress[-1].startswith("create_host web-11: SUCCEEDED 100%")

    listed = run_command("--demo", "--demo-state", state, "hosts", "list", "--json")
    assert listed.code == 0, listed.err
    web = [h for h in json.loads(listed.out) if h["name"] == "web-11"]
    assert len(web) == 1 and web[0]["state"] == "running" and web[0]["id"] == task["result_id"]
    assert (web[0]["cores"], web[0]["memory_mib"], web[0]["engine_version"]) == (2, 4096, "24.0.7")
    tasks = json.loads(run_command("--demo", "--demo-state", state, "tasks", "list", "--json").out)
    assert [t["id"] for t in tasks if t["kind"] == "create_host"] == [task["id"]]
    assert all(TASK_KEYS <= t.keys() for t in tasks)


def test_past_a_project_quota_exits_1_naming_the_quota(cli, state: str):
    # The demo's sandbox project allows 3 machines and has 2.
    assert cli("--demo", "--demo-state", state, *_create("sb-1", "--project", "sandbox"), "--wait").code == 0
    result = cli("--demo", "--demo-state", state, *_create("sb-2", "--project", "sandbox"), "--wait")
    assert result.code == 1
    [line] = [l for l in result.err.splitlines() if not l.startswith("simulated")]
    assert line.startswith("Quota exceeded:") and "sandbox" in line and "VM count quota" in line


def test_a_name_taken_is_a_conflict_exit_1(cli, state: str):
    assert cli("--demo", "--demo-state", state, *_create("dup-01"), "--wait").code == 0
    result = cli("--demo", "--demo-state", state, *_create("dup-01"))
    assert result.code == 1 and "Conflict: " in result.err and "dup-01" in result.err


def test_the_backends_invalid_input_is_exit_2_too(cli):
    result = cli("--demo", "host", "create", "web-11", "--image", IMAGE, "--cores", "2", "--memory-mib", "1000", "--network", NETWORK)
    assert result.code == 2 and "Invalid input: memory" in result.err


def test_an_unknown_host_is_not_found_exit_1(cli):
    result = cli("--demo", "host", "delete", "no-such-host")
    assert result.code == 1
    assert result.err.splitlines()[-1] == "Not found: host 'no-such-host' not found"


def test_debug_shows_the_traceback_others_never_see(cli):
    assert "Traceback" not in cli("--demo", "host", "delete", "nope").err
    assert "Traceback" in cli("--demo", "--debug", "host", "delete", "nope").err


def test_read_only_refuses_every_change_with_exit_4(cli, state: str):
    result = cli("--demo", "--read-only", "--demo-state", state, *_create("web-11"), "--wait")
    assert result.code == 4
    assert result.err.splitlines()[-1].startswith("Permission denied: read-only mode")
    assert cli("--demo", "--read-only", "--demo-state", state, "volume", "create", "v1", "--size-gib", "5").code == 4
    # reads still work, and nothing was made
    hosts = json.loads(cli("--demo", "--read-only", "--demo-state", state, "hosts", "list", "--json").out)
    assert "web-11" not in {h["name"] for h in hosts}


def test_a_read_only_context_refuses_too(cli, config_file, state: str):
    config_file.write_text('current_context = "demo"\n[contexts.demo]\nbackend = "simulator"\nread_only = true\nseed = 7')
    assert cli("--demo-state", state, *_create("web-11")).code == 4


def test_volumes_and_containers_end_to_end(cli, state: str):
    base = ("--demo", "--demo-state", state)
    assert cli(*base, *_create("store-11"), "--wait").code == 0
    assert cli(*base, "volume", "create", "pg-data", "--size-gib", "20", "--wait").code == 0
    result = cli(*base, "volume", "attach", "pg-data", "--host", "store-11", "--wait", "--json")
    assert result.code == 0 and json.loads(result.out)["status"] == "SUCCEEDED"
    result = cli(*base, "container", "run", "postgres:16", "--host", "store-11", "--name", "pg",
                 "--volume", "pg-data:/var/lib/postgresql/data", "--wait")
    assert result.code == 0, result.err
    volumes = {v["name"]: v for v in json.loads(cli(*base, "volumes", "list", "--json").out)}
    assert volumes["pg-data"]["host"] == "store-11" and volumes["pg-data"]["containers"] == ["pg"]
    # an attached volume in use cannot be deleted
    assert cli(*base, "volume", "delete", "pg-data").code == 1
    assert cli(*base, "container", "stop", "pg", "--wait").code == 0
    containers = {c["name"]: c for c in json.loads(cli(*base, "containers", "list", "--json").out)}
    assert containers["pg"]["state"] == "exited" and containers["pg"]["host"] == "store-11"
    assert cli(*base, "container", "remove", "pg", "--wait").code == 0
    assert cli(*base, "volume", "detach", "pg-data", "--wait").code == 0
    assert cli(*base, "volume", "delete", "pg-data", "--wait").code == 0
    assert "pg-data" not in {v["name"] for v in json.loads(cli(*base, "volumes", "list", "--json").out)}


def test_logs_tail(cli):
    running = [c for c in json.loads(cli("--demo", "containers", "list", "--json").out) if c["state"] == "running"]
    logs = cli("--demo", "container", "logs", running[0]["name"], "--tail", "5")
    assert logs.code == 0 and len(logs.out.splitlines()) + len(logs.err.splitlines()) - 1 == 5


def test_rolling_upgrade_of_every_host(cli, state: str):
    base = ("--demo", "--demo-state", state)
    assert cli(*base, "hosts", "upgrade", "--all", "--to", "23.0.0").code == 2  # no downgrade
    assert cli(*base, "hosts", "upgrade", "--to", "26.1.4").code == 2  # which hosts?
    result = cli(*base, "hosts", "upgrade", "--all", "--to", "26.1.4", "--batch", "4", "--wait", "--json")
    assert result.code == 0, result.err
    task = json.loads(result.out)
    assert task["status"] == "SUCCEEDED" and task["kind"] == "upgrade_hosts"
    hosts = json.loads(cli(*base, "hosts", "list", "--json").out)
    assert {h["engine_version"] for h in hosts if h["state"] == "running"} == {"26.1.4"}


def test_power_off_and_on(cli, state: str):
    base = ("--demo", "--demo-state", state)
    name = json.loads(cli(*base, "hosts", "list", "--json").out)[0]["name"]
    assert cli(*base, "host", "power-off", name, "--wait").code == 0
    assert {h["name"]: h["state"] for h in json.loads(cli(*base, "hosts", "list", "--json").out)}[name] == "stopped"
    assert cli(*base, "host", "power-on", name, "--wait").code == 0
    assert {h["name"]: h["state"] for h in json.loads(cli(*base, "hosts", "list", "--json").out)}[name] == "running"


@pytest.mark.slow
def test_scale_100000_containers_list_json():
    started = time.monotonic()
    result = run_command("--demo", "--scale", "100000", "containers", "list", "--json", timeout=120)
    elapsed = time.monotonic() - started
    assert result.code == 0, result.err
    containers = json.loads(result.out)
    assert len(containers) == 100_000
    assert len({c["id"] for c in containers}) == 100_000
    assert CONTAINER_KEYS <= containers[0].keys()
    assert elapsed < 30, f"took {elapsed:.1f}s"


def test_ctrl_c_while_following_logs_exits_130_quietly(tmp_path):
    import os
    import select
    import signal
    import subprocess
    import sys

    from .conftest import ROOT

    name = json.loads(run_command("--demo", "containers", "list", "--json").out)[0]["name"]
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--demo", "--speed", "50", "container", "logs", name, "--follow", "--tail", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        env={**os.environ, "NTNX_CONSOLE_CONFIG": str(tmp_path / "none.toml")},
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready and proc.stdout.readline(), "no log line within 20 s"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)  # drains the pipes while it stops
        code = proc.returncode
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 130
    assert "Traceback" not in err and "KeyboardInterrupt" not in err



def test_an_engine_that_does_not_answer_exits_3(tmp_path, config_file):
    socket = f"unix://{tmp_path}/absent.sock"
    result = run_command("--backend", "docker", "--docker-host", socket, "hosts", "list",
                         env={"NTNX_CONSOLE_CONFIG": str(config_file)})
    assert result.code == 3
    assert result.err.strip().splitlines() == [result.err.strip()] and result.err.startswith("Unavailable:")
    # the same through a config context
    config_file.write_text(f'[contexts.local]\nbackend = "docker"\nhosts = ["{socket}"]\n')
    result = run_command("--context", "local", "containers", "list", "--json", env={"NTNX_CONSOLE_CONFIG": str(config_file)})
    assert result.code == 3 and result.out == "" and result.err.startswith("Unavailable:")


def test_every_table_renders(cli, state: str):
    base = ("--demo", "--demo-state", state)
    assert cli(*base, *_create("tbl-01"), "--wait").code == 0
    for kind, header in (("containers", "IMAGE"), ("volumes", "SIZE"), ("tasks", "PROGRESS"), ("images", "ENGINE"),
                         ("networks", "VLAN"), ("nodes", "HOSTS"), ("events", "SEVERITY")):
        result = cli(*base, kind, "list")
        assert result.code == 0, result.err
        lines = result.out.splitlines()
        assert header in lines[0] and len(lines) >= 2, kind
    tasks = cli(*base, "tasks", "list").out
    assert "create_host" in tasks and "tbl-01" in tasks and "SUCCEEDED" in tasks and "100%" in tasks


def test_wait_draws_a_progress_bar_on_a_terminal(config_file):
    import os
    import subprocess
    import sys
    import threading

    from .conftest import ROOT

    # stderr is a terminal (a pty), stdout a pipe: the bar goes to the terminal, the data to the pipe.
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "--demo", "--speed", "30", *_create("web-21"), "--wait", "--json"],
        stdout=subprocess.PIPE, stderr=slave, cwd=ROOT,
        env={**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "NTNX_CONSOLE_CONFIG": str(config_file)},
    )
    os.close(slave)
    screen = bytearray()

    def drain() -> None:  # read the terminal while the child writes, so it never blocks on it
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # the child closed the terminal
                return
            if not chunk:
                return
            screen.extend(chunk)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    os.close(master)
    assert proc.returncode == 0
    assert json.loads(out)["status"] == "SUCCEEDED"
    text = bytes(screen).decode()
    assert "━" in text and "\r" in text  # a bar, redrawn in place
    assert "create_host web-21" in text and "100%" in text and "cloning image" in text


def test_an_api_that_fails_every_call_exits_3_and_a_bad_fault_spec_2(cli):
    result = cli("--demo", "--faults", "api-errors=1", "hosts", "list", "--json")
    assert result.code == 3 and result.out == ""
    assert result.err.splitlines()[-1].startswith("Unavailable:")
    result = cli("--demo", "--faults", "bogus", "hosts", "list")
    assert result.code == 2 and "Invalid input: unknown fault 'bogus'" in result.err


def test_a_task_started_without_wait_is_done_by_the_next_call(cli, tmp_path):
    """At --speed 0 (the default for commands) simulated time passes only while something
    waits; a call that starts a task without --wait must not leave it stuck for the next."""
    state = ["--demo", "--demo-state", str(tmp_path / "s.json")]
    assert cli(*state, "volume", "create", "data-7", "--size-gib", "20").code == 0
    assert cli(*state, "volume", "attach", "data-7", "--host", "cm-web-01").code == 0
    volumes = json.loads(cli(*state, "volumes", "list", "--json").out)
    assert [(v["state"], v["host"]) for v in volumes if v["name"] == "data-7"] == [("attached", "cm-web-01")]
    tasks = json.loads(cli(*state, "tasks", "list", "--json").out)
    assert {t["status"] for t in tasks if t["target"] == "data-7"} == {"SUCCEEDED"}
