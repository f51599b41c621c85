"""Container and volume actions on one engine, as plain coroutines over ``DockerAPI``.

The backend wraps each in a task; here is only what Docker needs, and the safety checks of
re-creating a container to add a mount.
"""

from __future__ import annotations

import struct
import time
from typing import Any, AsyncIterator, Callable

from ..contract import ContainerSpec, LogLine, RegistryAuth
from ..errors import BackendError, Conflict, NotFound
from . import images
from .api import DockerAPI
from .inventory import parse_time

STOP_GRACE_SECONDS = 10


async def start(api: DockerAPI, cid: str) -> None:
    await api.post(f"/containers/{cid}/start")


async def stop(api: DockerAPI, cid: str, grace: int = STOP_GRACE_SECONDS) -> None:
    await api.post(f"/containers/{cid}/stop", t=grace, timeout=grace + 30)


async def restart(api: DockerAPI, cid: str, grace: int = STOP_GRACE_SECONDS) -> None:
    await api.post(f"/containers/{cid}/restart", t=grace, timeout=grace + 30)


async def remove(api: DockerAPI, cid: str, *, force: bool = False) -> None:
    await api.delete(f"/containers/{cid}", force=force)


async def default_network_mode(api: DockerAPI) -> str | None:
    """None (Docker's default bridge) unless the engine runs without one (``bridge: none``)."""
    try:
        await api.get("/networks/bridge")
    except NotFound:
        return "none"
    return None


def create_body(spec: ContainerSpec, volume_name: Callable[[str], str], network_mode: str | None) -> dict[str, Any]:
    exposed = {f"{cport}/tcp": {} for cport, _ in spec.ports}
    bindings = {
        f"{cport}/tcp": [{"HostIp": "", "HostPort": str(hport) if hport else ""}] for cport, hport in spec.ports
    }
    host_config: dict[str, Any] = {
        "PortBindings": bindings,
        "Mounts": [
            {"Type": "volume", "Source": volume_name(m.volume), "Target": m.path, "ReadOnly": m.read_only}
            for m in spec.mounts
        ],
        "RestartPolicy": {"Name": "" if spec.restart_policy == "no" else spec.restart_policy},
    }
    if network_mode:
        host_config["NetworkMode"] = network_mode
    body: dict[str, Any] = {
        "Image": spec.image,
        "Env": [f"{k}={v}" for k, v in spec.env],
        "Labels": dict(spec.labels),
        "ExposedPorts": exposed,
        "HostConfig": host_config,
    }
    if spec.command:
        body["Cmd"] = list(spec.command)
    return body


async def create_container(
    api: DockerAPI,
    body: dict[str, Any],
    name: str | None,
    auth: RegistryAuth | None = None,
    progress: Callable[[int, str], None] = lambda p, m: None,
) -> str:
    try:
        created = await api.post("/containers/create", body, name=name)
    except NotFound as err:
        if "image" not in err.message.lower():
            raise
        # As ``docker run``: pull what the engine lacks, with the registry's credentials.
        await images.pull(api, body["Image"], auth, progress)
        created = await api.post("/containers/create", body, name=name)
    return created["Id"]


async def run(
    api: DockerAPI,
    spec: ContainerSpec,
    volume_name: Callable[[str], str],
    progress: Callable[[int, str], None] = lambda p, m: None,
) -> str:
    body = create_body(spec, volume_name, await default_network_mode(api))
    cid = await create_container(api, body, spec.name, spec.registry_auth, progress)
    await start(api, cid)
    return cid


# -- logs ---------------------------------------------------------------------------------


def _split_timestamp(line: str) -> tuple[str, float | None]:
    stamp, sep, text = line.partition(" ")
    if sep:
        try:
            return text, parse_time(stamp)
        except ValueError:
            pass
    return line, None


class _LineSplitter:
    """Bytes of one stream to whole lines (a line may span several frames)."""

    def __init__(self, stream: str) -> None:
        self.stream = stream
        self._buf = b""

    def feed(self, data: bytes) -> list[LogLine]:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        return [self._line(raw) for raw in lines]

    def rest(self) -> list[LogLine]:
        rest, self._buf = self._buf, b""
        return [self._line(rest)] if rest else []

    def _line(self, raw: bytes) -> LogLine:
        text, when = _split_timestamp(raw.decode(errors="replace").rstrip("\r"))
        return LogLine(text, when, self.stream)


def demultiplex(chunks: list[bytes], state: dict[str, Any]) -> list[tuple[int, bytes]]:
    """Frames of Docker's multiplexed stream: 8-byte header (stream, 0, 0, 0, size BE32) then data."""
    buf = state.get("buf", b"") + b"".join(chunks)
    frames = []
    while len(buf) >= 8:
        stream_type, size = buf[0], struct.unpack(">I", buf[4:8])[0]
        if len(buf) < 8 + size:
            break
        frames.append((stream_type, buf[8 : 8 + size]))
        buf = buf[8 + size :]
    state["buf"] = buf
    return frames


async def logs(
    api: DockerAPI, cid: str, *, follow: bool = False, tail: int | None = None, since: float | None = None
) -> AsyncIterator[LogLine]:
    info = await api.get(f"/containers/{cid}/json")
    tty = bool((info.get("Config") or {}).get("Tty"))
    params: dict[str, Any] = {
        "stdout": True,
        "stderr": True,
        "timestamps": True,
        "follow": follow,
        "tail": "all" if tail is None else tail,
    }
    if since is not None:
        params["since"] = f"{since:.9f}"
    splitters = {1: _LineSplitter("stdout"), 2: _LineSplitter("stderr")}
    state: dict[str, Any] = {}
    async with api.stream(f"/containers/{cid}/logs", **params) as response:
        async for chunk in response.aiter_bytes():
            if tty:
                for line in splitters[1].feed(chunk):
                    yield line
                continue
            for stream_type, data in demultiplex([chunk], state):
                for line in splitters.get(stream_type, splitters[1]).feed(data):
                    yield line
    for splitter in splitters.values():
        for line in splitter.rest():
            yield line


# -- volumes ------------------------------------------------------------------------------


async def create_volume(api: DockerAPI, name: str, driver: str | None, options: dict[str, str]) -> dict[str, Any]:
    body = {"Name": name, "Driver": driver or "local", "DriverOpts": options, "Labels": {}}
    return await api.post("/volumes/create", body)


async def remove_volume(api: DockerAPI, name: str) -> None:
    await api.delete(f"/volumes/{name}")


# -- attach a volume by re-creating the container -----------------------------------------

# Fields of Config that the engine fills from the image or the container's own id; copying
# them would pin values the user never chose.
_DERIVED_CONFIG = ("Hostname",)


async def recreate_with_mount(
    api: DockerAPI,
    cid: str,
    volume: str,
    path: str,
    *,
    read_only: bool = False,
    progress: Callable[[int, str], None] = lambda p, m: None,
) -> str:
    """Re-create ``cid`` with its configuration intact plus a volume mount; the new id."""
    info = await api.get(f"/containers/{cid}/json")
    if any(m.get("Destination") == path for m in info.get("Mounts") or ()):
        raise Conflict(f"{info['Name'].lstrip('/')} already has a mount at {path}")
    host_config = dict(info["HostConfig"])
    mounts = list(host_config.get("Mounts") or [])
    mounts.append({"Type": "volume", "Source": volume, "Target": path, "ReadOnly": read_only})
    host_config["Mounts"] = mounts
    return await _recreate(api, info, host_config, progress, f"with {volume} at {path}")


async def recreate_without_volume(
    api: DockerAPI, cid: str, volume: str, *, progress: Callable[[int, str], None] = lambda p, m: None
) -> str:
    """Re-create ``cid`` with its configuration intact minus its mounts of ``volume``."""
    info = await api.get(f"/containers/{cid}/json")
    host_config = dict(info["HostConfig"])
    host_config["Mounts"] = [
        m for m in host_config.get("Mounts") or () if not (m.get("Type") == "volume" and m.get("Source") == volume)
    ]
    host_config["Binds"] = [b for b in host_config.get("Binds") or () if b.split(":", 1)[0] != volume] or None
    return await _recreate(api, info, host_config, progress, f"without {volume}")


async def _recreate(
    api: DockerAPI,
    info: dict[str, Any],
    host_config: dict[str, Any],
    progress: Callable[[int, str], None],
    how: str,
) -> str:
    """Re-create the container ``info`` describes, with ``host_config``; the new id.

    Refuses, before touching anything, when the new container would not have the old one's
    data: an anonymous volume (a new, empty one would replace it), files written into the
    container's own writable layer, or an image tag that now names another image.
    """
    cid = info["Id"]
    name = info["Name"].lstrip("/")
    config = dict(info["Config"])
    for m in info.get("Mounts") or ():
        if m.get("Type") == "volume" and _anonymous(m, info["HostConfig"]):
            raise Conflict(
                f"{name} keeps data in an anonymous volume at {m.get('Destination')}: re-creating it would "
                "start with a new, empty one; copy the data to a named volume first"
            )
    image_ref = config.get("Image", "")
    try:
        current = await api.get(f"/images/{image_ref}/json")
    except NotFound:
        current = {}
    if current.get("Id") != info.get("Image"):
        raise Conflict(
            f"{name} runs image {info.get('Image', '')[:19]} but {image_ref!r} now names another image: "
            "re-creating it would change its software"
        )
    mount_points = {m.get("Destination", "") for m in info.get("Mounts") or ()}
    changes = _data_changes(await api.get(f"/containers/{cid}/changes") or [], mount_points)
    if changes:
        listed = ", ".join(c.get("Path", "?") for c in changes[:3])
        raise Conflict(
            f"{name} has {len(changes)} changed file(s) in its own writable layer ({listed}"
            f"{', ...' if len(changes) > 3 else ''}): re-creating it would lose them; keep that data on a volume"
        )

    was_running = bool((info.get("State") or {}).get("Running"))
    if was_running:
        progress(20, f"stopping {name}")
        await stop(api, cid)
        # Files written until the very moment it stopped count too.
        if _data_changes(await api.get(f"/containers/{cid}/changes") or [], mount_points):
            await start(api, cid)
            raise Conflict(f"{name} wrote files into its writable layer while stopping: re-creating it would lose them")

    for key in _DERIVED_CONFIG:
        if config.get(key) == cid[:12]:
            config.pop(key)
    body = {**config, "HostConfig": host_config}
    networks = (info.get("NetworkSettings") or {}).get("Networks") or {}
    if host_config.get("NetworkMode") not in ("none", "host") and networks:
        body["NetworkingConfig"] = {
            "EndpointsConfig": {
                net: {k: v for k, v in ep.items() if k in ("Aliases", "IPAMConfig", "Links", "DriverOpts")}
                for net, ep in networks.items()
            }
        }

    old_name = f"{name}-replaced-{int(time.time())}"
    progress(40, f"renaming {name} to {old_name}")
    await api.post(f"/containers/{cid}/rename", name=old_name)
    try:
        progress(60, f"creating {name} {how}")
        new_id = await create_container(api, body, name)
    except BackendError:
        await api.post(f"/containers/{cid}/rename", name=name)
        if was_running:
            await start(api, cid)
        raise
    if was_running:
        progress(80, f"starting {name}")
        await start(api, new_id)
    progress(90, f"removing the old {name}")
    await remove(api, cid)
    return new_id


# Files the engine itself puts in every container's layer: mount points and its /etc files.
_ENGINE_FILES = frozenset({"/etc/hostname", "/etc/hosts", "/etc/resolv.conf", "/dev", "/proc", "/sys"})


def _data_changes(changes: list[dict[str, Any]], mount_points: set[str]) -> list[dict[str, Any]]:
    """The changes of ``GET /containers/ID/changes`` that are the container's own data: not the
    mount points and files the engine made, nor directories changed only because of those."""
    made = _ENGINE_FILES | mount_points
    ancestors = {p.rsplit("/", i)[0] or "/" for p in made for i in range(1, p.count("/") + 1)}
    own = [c for c in changes if c.get("Path") not in made]
    own_paths = {c.get("Path", "") for c in own}
    return [
        c
        for c in own
        # a directory that only changed because the engine made something in it
        if not (c.get("Kind") == 0 and c.get("Path") in ancestors and not any(p.startswith(c["Path"].rstrip("/") + "/") for p in own_paths))
    ]


def _anonymous(mount: dict[str, Any], host_config: dict[str, Any]) -> bool:
    named = {m.get("Source") for m in host_config.get("Mounts") or () if m.get("Type") == "volume"}
    named |= {b.split(":", 1)[0] for b in host_config.get("Binds") or ()}
    return mount.get("Name") not in named
