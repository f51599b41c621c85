"""A ``docker inspect``-shaped document for a simulated container."""

from __future__ import annotations

import hashlib
import time
from typing import Any

from ..models import Container, ContainerState
from .world import World


def _iso(t: float | None) -> str:
    if not t:
        return "0001-01-01T00:00:00Z"
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e9):09d}Z"


def inspect_document(world: World, c: Container) -> dict[str, Any]:
    host = world.store.hosts.get(c.host_id)
    volumes = world.store.volumes
    image_id = "sha256:" + hashlib.sha256(c.image.encode()).hexdigest()
    ports = {f"{p.container_port}/{p.protocol}": [{"HostIp": p.host_ip or "", "HostPort": str(p.host_port or "")}]
             for p in c.ports}
    cmd = c.command.split() if c.command else []
    return {
        "Id": c.id,
        "Created": _iso(c.created_at),
        "Path": cmd[0] if cmd else "",
        "Args": cmd[1:],
        "State": {
            "Status": c.state.value,
            "Running": c.state is ContainerState.RUNNING,
            "Paused": c.state is ContainerState.PAUSED,
            "Restarting": c.state is ContainerState.RESTARTING,
            "OOMKilled": False,
            "Dead": c.state is ContainerState.DEAD,
            "Pid": (int(c.id[:4], 16) % 30000 + 1000) if c.state is ContainerState.RUNNING else 0,
            "ExitCode": c.exit_code or 0,
            "Error": "",
            "StartedAt": _iso(c.started_at),
            "FinishedAt": _iso(c.finished_at),
        },
        "Image": image_id,
        "Name": f"/{c.name}",
        "RestartCount": 0,
        "Driver": "overlay2",
        "Platform": "linux",
        "HostConfig": {
            "RestartPolicy": {"Name": c.restart_policy, "MaximumRetryCount": 0},
            "Memory": int((c.memory_limit_mib or 0) * 1024 * 1024),
            "PortBindings": {k: v for k, v in ports.items() if v[0]["HostPort"]},
            "NetworkMode": "bridge",
        },
        "Mounts": [
            {
                "Type": m.kind,
                "Name": volumes[m.source].name if m.source in volumes else m.source,
                "Source": f"/mnt/volumes/{volumes[m.source].name}" if m.source in volumes else m.source,
                "Destination": m.path,
                "Driver": volumes[m.source].driver if m.source in volumes else "local",
                "Mode": "ro" if m.read_only else "z",
                "RW": not m.read_only,
            }
            for m in c.mounts
        ],
        "Config": {
            "Hostname": c.id[:12],
            "Image": c.image,
            "Cmd": cmd,
            "Labels": dict(c.labels),
            "ExposedPorts": {k: {} for k in ports},
            "Env": [*world.container_env.get(c.id, ()), "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        },
        "NetworkSettings": {
            "IPAddress": "",  # simulated containers have no address of their own
            "Ports": ports,
        },
        "Node": {"Name": host.name if host else None, "Addr": host.ip if host else None,
                 "EngineVersion": host.engine_version if host else None},
    }
