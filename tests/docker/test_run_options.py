"""`container run` with every option against a real engine: `docker inspect` agrees."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.docker.conftest import cli_env

pytestmark = pytest.mark.docker


def _cli(dockerd, tmp_path, *argv: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "console", "--backend", "docker", "--docker-host", dockerd.url, *argv],
        capture_output=True, text=True, timeout=120, env=cli_env(tmp_path),
    )


def test_run_with_every_option_and_docker_inspect_agrees(dockerd, image, name, tmp_path):
    hosts = json.loads(_cli(dockerd, tmp_path, "hosts", "list", "--json").stdout)
    host = hosts[0]["name"]
    dockerd.cli("volume", "create", f"{name}-keep")
    done = _cli(
        dockerd, tmp_path, "container", "run", image, "--host", host, "--name", name,
        "-p", "18080:80/tcp", "-e", "A=1", "-e", "GREETING=two words", "-v", f"{name}-new:1:/data",
        "-v", f"{name}-keep:/keep:ro", "--restart", "unless-stopped", "--label", "app=web", "--wait",
        "--", "sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait",
    )
    try:
        assert done.returncode == 0, done.stderr
        doc = json.loads(dockerd.cli("inspect", name))[0]
        assert doc["HostConfig"]["PortBindings"]["80/tcp"][0]["HostPort"] == "18080"
        assert {"A=1", "GREETING=two words"} <= set(doc["Config"]["Env"])
        mounts = {m["Name"]: (m["Destination"], m["RW"]) for m in doc["Mounts"]}
        assert mounts == {f"{name}-new": ("/data", True), f"{name}-keep": ("/keep", False)}
        assert doc["HostConfig"]["RestartPolicy"]["Name"] == "unless-stopped"
        assert doc["Config"]["Labels"]["app"] == "web"
        assert doc["State"]["Running"]
    finally:
        try:
            dockerd.cli("rm", "-f", name)
        finally:
            dockerd.cli("volume", "rm", "-f", f"{name}-new", f"{name}-keep")


def test_a_bad_option_is_refused_before_the_engine_is_asked(dockerd, image, name, tmp_path):
    done = _cli(dockerd, tmp_path, "container", "run", image, "--host", "any", "--name", name, "-e", "1X=2")
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "environment '1X=2'" in done.stderr
    assert name not in dockerd.cli("ps", "-a", "--format", "{{.Names}}").split()
