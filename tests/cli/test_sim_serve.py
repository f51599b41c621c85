"""`sim serve` and the prism options end to end: the simulator served as Prism Central over
HTTPS on 127.0.0.1, and the CLI's prism backend against it."""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from .conftest import ROOT, run_command


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def prism(tmp_path_factory: pytest.TempPathFactory):
    tmp = tmp_path_factory.mktemp("sim-serve")
    port = _free_port()
    env = {**os.environ, "NTNX_PASSWORD": "s3cret-pw", "NTNX_CONSOLE_SIM_DIR": str(tmp),
           "NTNX_CONSOLE_CONFIG": str(tmp / "none.toml")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "console", "sim", "serve", "--port", str(port), "--speed", "0"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT, env=env,
    )
    banner: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [banner.put(line) for line in proc.stdout], daemon=True).start()
    lines: list[str] = []
    deadline = time.monotonic() + 30
    try:
        while not any("CA bundle:" in line for line in lines):
            try:
                lines.append(banner.get(timeout=max(0.01, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"sim serve did not start within 30 s: {''.join(lines)}") from None
        cert = next(line for line in lines if "CA bundle:" in line).split("CA bundle:")[1].strip()
        yield {"endpoint": f"https://127.0.0.1:{port}", "cert": cert, "tmp": tmp}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _prism(prism, *argv: str, password: str = "s3cret-pw", ca: bool = True):
    options = ["--backend", "prism", "--prism-endpoint", prism["endpoint"], "--prism-user", "admin"]
    if ca:
        options += ["--ca-bundle", prism["cert"]]
    return run_command(*options, *argv, env={"NTNX_PASSWORD": password}, timeout=120)


def test_hosts_list_through_prism_is_labelled_simulated(prism):
    result = _prism(prism, "hosts", "list", "--json")
    assert result.code == 0, result.err
    hosts = json.loads(result.out)
    assert len(hosts) >= 10 and all(h["ip"].startswith("127.") for h in hosts)
    assert "served by the simulator" in result.err


def test_a_wrong_password_exits_4_and_an_untrusted_certificate_3(prism):
    wrong = _prism(prism, "hosts", "list", password="nope")
    assert wrong.code == 4 and wrong.err.startswith("Authentication failed:") and "nope" not in wrong.err
    untrusted = _prism(prism, "hosts", "list", ca=False)
    assert untrusted.code == 3 and untrusted.err.startswith("Unavailable:")
    assert len(untrusted.err.strip().splitlines()) == 1


def test_host_create_through_prism_waits_to_succeeded(prism):
    result = _prism(
        prism, "--no-engine-check", "host", "create", "prism-web-01", "--image", "ubuntu-22.04-docker-24.0.7",
        "--cores", "2", "--memory-mib", "4096", "--network", "vlan110-apps", "--wait", "--json",
    )
    assert result.code == 0, result.err
    assert json.loads(result.out)["status"] == "SUCCEEDED"
    hosts = json.loads(_prism(prism, "hosts", "list", "--json").out)
    assert [h["state"] for h in hosts if h["name"] == "prism-web-01"] == ["running"]


def test_read_only_refuses_through_prism_too(prism):
    result = _prism(prism, "--read-only", "volume", "create", "v-ro", "--size-gib", "5")
    assert result.code == 4 and "read-only" in result.err


def test_sim_serve_serves_only_the_simulator():
    result = run_command("--backend", "docker", "sim", "serve")
    assert result.code == 2 and "sim serve serves the simulator" in result.err
