"""A real two-node swarm for tests: two private dockerd (as ``tests.daemons`` starts one:
own data root, exec root, pidfile, unix socket, no bridge, no iptables, vfs), the first
``swarm init`` on 127.0.0.1, the second joined as a worker on another loopback port. Both
run on this machine, so both nodes have the same hostname, as cloned machines would.

Services run without networks: with ``bridge: none`` and no iptables there is no overlay
or ingress, and a task with no network attachment (no published ports) needs none. Each
daemon runs with ``DOCKER_SERVICE_PREFER_OFFLINE_IMAGE=1``: a swarm task otherwise tries to
pull its image from a registry before starting, which would leave 127.0.0.0/8.

One swarm per test process (``shared_swarm``), stopped and removed at exit.
"""

from __future__ import annotations

import atexit
import json
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.daemons import DockerDaemon, cleanup_dockerd, free_port, require

OFFLINE = {"DOCKER_SERVICE_PREFER_OFFLINE_IMAGE": "1"}


@dataclass
class Swarm:
    manager: DockerDaemon
    worker: DockerDaemon
    manager_id: str = ""
    worker_id: str = ""

    def cli(self, *args: str, **kw) -> str:
        """The real ``docker`` CLI against the manager."""
        return self.manager.cli(*args, **kw)

    def json_lines(self, *args: str) -> list[dict]:
        out = self.cli(*args, "--format", "{{json .}}")
        return [json.loads(line) for line in out.splitlines() if line.strip()]


def _daemon() -> DockerDaemon:
    root = Path(tempfile.mkdtemp(prefix="ntw", dir="/tmp"))  # short: unix socket paths are limited
    daemon = DockerDaemon(root, require("dockerd", "docker.io"), require("docker", "docker.io"), env=dict(OFFLINE))
    try:
        daemon.start()
        daemon.import_busybox_image()
    except BaseException:
        cleanup_dockerd(daemon)
        raise
    return daemon


def start_swarm() -> Swarm:
    manager = _daemon()
    try:
        worker = _daemon()
    except BaseException:
        cleanup_dockerd(manager)
        raise
    swarm = Swarm(manager, worker)
    try:
        manager_port, worker_port = free_port(), free_port()
        manager.cli("swarm", "init", "--advertise-addr", f"127.0.0.1:{manager_port}", "--listen-addr", f"127.0.0.1:{manager_port}")
        token = manager.cli("swarm", "join-token", "-q", "worker").strip()
        worker.cli(
            "swarm", "join", "--token", token, "--listen-addr", f"127.0.0.1:{worker_port}",
            "--advertise-addr", f"127.0.0.1:{worker_port}", f"127.0.0.1:{manager_port}",
        )
        swarm.manager_id = manager.cli("info", "--format", "{{.Swarm.NodeID}}").strip()
        swarm.worker_id = worker.cli("info", "--format", "{{.Swarm.NodeID}}").strip()
    except BaseException:
        stop_swarm(swarm)
        raise
    return swarm


def stop_swarm(swarm: Swarm) -> None:
    # Leave first, so the swarm does not restart the tasks that cleanup removes.
    for daemon in (swarm.worker, swarm.manager):
        if daemon.proc is not None:
            daemon.cli("swarm", "leave", "--force", check=False)
    for daemon in (swarm.worker, swarm.manager):
        cleanup_dockerd(daemon)


_swarm: Swarm | None = None


def shared_swarm() -> Swarm:
    global _swarm
    if _swarm is None:
        _swarm = start_swarm()
        atexit.register(stop_swarm, _swarm)
    return _swarm
