"""The issue's Done-when, as a user runs it: the real ``ntnx-console`` command against real
uvicorn servers on 127.0.0.1, one built only from recorded payloads and one serving the
simulator (``sim serve``'s app)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.prism.recorded_server import build_recorded_app, recorded_vms
from tests.prism.servers import PASSWORD, RunningServer, serve, sim_app

ROOT = Path(__file__).resolve().parents[2]


def cli(server: RunningServer, *args: str, password: str = PASSWORD, trust: tuple[str, ...] | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    trust = ("--ca-bundle", str(server.cert.cert)) if trust is None else trust
    env = {k: v for k, v in os.environ.items() if not k.startswith("NTNX_")}
    env.update(NTNX_PASSWORD=password, NTNX_CONSOLE_MACHINES_DIR=str(server.cert.cert.parent / "machines"))
    argv = [sys.executable, "-m", "console", "--backend", "prism", "--prism-endpoint", server.endpoint, "--prism-user", "admin", *trust, *args]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def recorded_server():
    with serve(build_recorded_app(user="admin", password=PASSWORD)) as srv:
        yield srv


def test_hosts_list_json_shows_every_recorded_vm_across_pages(recorded_server):
    done = cli(recorded_server, "hosts", "list", "--json")
    assert done.returncode == 0, done.stderr
    hosts = {h["name"]: h for h in json.loads(done.stdout)}
    # Four VMs, one per page (the server caps a page at one): every page was fetched.
    assert set(hosts) == {"RH-LinuxToolsVM", "LinuxTest", "Template-LinuxToolVM", "test-vm"}
    assert len(recorded_vms()) == 4
    expected = {
        "RH-LinuxToolsVM": ("running", "172.21.30.116", 2, 2048),
        "LinuxTest": ("running", "172.21.31.153", 2, 2048),
        "Template-LinuxToolVM": ("stopped", "172.21.30.177", 2, 2048),
        "test-vm": ("stopped", "10.23.129.96", 1, 1024),
    }
    assert {n: (h["state"], h["ip"], h["cores"], h["memory_mib"]) for n, h in hosts.items()} == expected
    assert hosts["LinuxTest"]["project"] == "default"


def test_self_signed_certificate_refused_without_ca_bundle(recorded_server):
    done = cli(recorded_server, "hosts", "list", "--json", trust=())
    assert done.returncode == 3
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"Unavailable: TLS certificate of {recorded_server.endpoint} not trusted (use --ca-bundle PATH or --insecure)"
    ]


def test_insecure_is_explicit_and_works(recorded_server):
    done = cli(recorded_server, "hosts", "list", "--json", trust=("--insecure",))
    assert done.returncode == 0, done.stderr
    assert len(json.loads(done.stdout)) == 4


def test_wrong_password_exits_4_with_one_line(recorded_server):
    done = cli(recorded_server, "hosts", "list", "--json", password="not-the-password")
    assert done.returncode == 4
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Authentication failed:"), done.stderr
    assert "not-the-password" not in done.stderr


@pytest.fixture(scope="module")
def sim_server():
    with serve(sim_app(seed=7)) as srv:
        yield srv


def test_create_attach_and_upgrade_against_sim_serve(sim_server):
    listed = json.loads(cli(sim_server, "images", "list", "--json").stdout)
    oldest = min((i for i in listed if i.get("engine_version")), key=lambda i: [int(p) for p in i["engine_version"].split(".")])
    network = json.loads(cli(sim_server, "networks", "list", "--json").stdout)[0]["name"]

    made = cli(sim_server, "--json", "host", "create", "web-42", "--image", oldest["name"], "--cores", "2",
               "--memory-mib", "4096", "--network", network, "--wait")
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["status"] == "SUCCEEDED"
    hosts = {h["name"]: h for h in json.loads(cli(sim_server, "hosts", "list", "--json").stdout)}
    assert hosts["web-42"]["state"] == "running" and hosts["web-42"]["cores"] == 2
    assert hosts["web-42"]["ip"].startswith("127.")

    created = cli(sim_server, "volume", "create", "web-42-data", "--size-gib", "10", "--wait")
    assert created.returncode == 0, created.stderr
    attached = cli(sim_server, "volume", "attach", "web-42-data", "--host", "web-42", "--wait")
    assert attached.returncode == 0, attached.stderr
    volumes = {v["name"]: v for v in json.loads(cli(sim_server, "volumes", "list", "--json").stdout)}
    assert volumes["web-42-data"]["host"] == "web-42" and volumes["web-42-data"]["size_gib"] == 10

    newest = max((i["engine_version"] for i in listed if i.get("engine_version")), key=lambda v: [int(p) for p in v.split(".")])
    upgraded = cli(sim_server, "--json", "hosts", "upgrade", "--all", "--to", newest, "--batch", "2", "--wait", timeout=120)
    assert upgraded.returncode == 0, upgraded.stderr
    assert json.loads(upgraded.stdout)["status"] == "SUCCEEDED"
    after = json.loads(cli(sim_server, "hosts", "list", "--json").stdout)
    assert {h["engine_version"] for h in after} == {newest}


def test_create_without_wait_leaves_the_machine_being_made(sim_server):
    listed = json.loads(cli(sim_server, "images", "list", "--json").stdout)
    image = next(i["name"] for i in listed if i.get("engine_version"))
    network = json.loads(cli(sim_server, "networks", "list", "--json").stdout)[0]["name"]
    started = cli(sim_server, "host", "create", "web-43", "--image", image, "--cores", "1", "--memory-mib", "2048", "--network", network)
    assert started.returncode == 0, started.stderr
    names = {h["name"] for h in json.loads(cli(sim_server, "hosts", "list", "--json").stdout)}
    assert "web-43" in names, "the VM was deleted when the CLI returned"
