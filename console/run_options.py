"""What ``docker run`` takes, as the Run form and ``container run`` both take it.

Each option is parsed by the shared rules (``backends.validation``), so a bad value gets the
same one line, naming the field, in the form and in the CLI. The form's fields hold several
values each: ports and volumes separated by blanks or commas, environment, labels and the
command split as a shell would split words (quotes keep blanks inside one value), but never
run by a shell.
"""

from __future__ import annotations

import re
import shlex
from typing import Any, Iterable

from backends import validation
from backends.contract import ContainerSpec, MountSpec, VolumeSpec
from backends.errors import InvalidInput

from .actions import RunRequest


def words(text: str, field: str) -> list[str]:
    """A field's values, split as a shell splits words (quotes keep blanks in one value)."""
    try:
        return shlex.split(text)
    except ValueError as err:  # an unclosed quote
        raise InvalidInput(f"{field}: {err}") from None


def items(text: str) -> list[str]:
    """Ports and volumes: separated by blanks or commas (none of them holds either)."""
    return [part for part in re.split(r"[\s,]+", text.strip()) if part]


def run_request(
    *,
    image: str,
    host: str,
    name: str | None = None,
    command: Iterable[str] = (),
    ports: Iterable[str] = (),
    env: Iterable[str] = (),
    volumes: Iterable[str] = (),
    restart: str = "no",
    labels: Iterable[str] = (),
    inventory: Any = None,
    host_id: str | None = None,
    must_exist: bool = False,
) -> RunRequest:
    """The run request for these options; InvalidInput (one line, naming the field) for the
    first bad one. ``inventory`` and ``host_id`` tell a new volume (``NAME:SIZE:/path``) from an
    existing one: a size for a volume that already exists is refused rather than ignored."""
    validation.check_image_ref(image)
    if name:
        validation.check_container_name(name)
    validation.check_restart_policy(restart)
    port_pairs = [validation.parse_port_mapping(p) for p in ports]
    env_pairs = [validation.parse_env(e) for e in env]
    label_pairs = [validation.parse_label(label) for label in labels]
    mounts, new = volume_mounts(volumes, host, inventory, host_id, must_exist)
    spec = ContainerSpec(
        image=image,
        host=host,
        name=name or None,
        command=tuple(command),
        env=tuple(env_pairs),
        ports=tuple(port_pairs),
        mounts=tuple(mounts),
        restart_policy=restart,
        labels=tuple(label_pairs),
    )
    return RunRequest(spec, tuple(new))


def volume_mounts(
    volumes: Iterable[str], host: str, inventory: Any = None, host_id: str | None = None, must_exist: bool = False
) -> tuple[list[MountSpec], list[VolumeSpec]]:
    """The mounts, and the new volumes (``NAME:SIZE:/path``) to make on ``host`` first.

    ``must_exist``: a volume named without a size must be one the host can mount now (where a
    backend attaches volumes to hosts: Docker instead makes a volume it does not know, as
    ``docker run -v`` does)."""
    mounts: list[MountSpec] = []
    new: list[VolumeSpec] = []
    usable = [v for v in inventory.volumes.values() if host_id is None or v.host_id in (None, host_id)] if inventory else []
    known = {v.name for v in usable}
    for text in volumes:
        volume, size, path, read_only = validation.parse_volume_mount(text)
        if size is not None:
            if volume in known:
                raise InvalidInput(f"volume {volume}: it already exists; leave out the size to mount it ({volume}:{path})")
            if volume in {v.name for v in new}:
                raise InvalidInput(f"volume {volume}: made twice; give its size once")
            new.append(VolumeSpec(name=volume, size_gib=size, host=host))
        elif must_exist and inventory is not None and volume not in known and volume not in {v.id for v in usable}:
            raise InvalidInput(
                f"volume {volume}: none on this host or free to attach; give a size to make it ({volume}:10:{path})"
            )
        mounts.append(MountSpec(volume=volume, path=path, read_only=read_only))
    paths = [m.path for m in mounts]
    if len(set(paths)) != len(paths):
        raise InvalidInput("volume: two volumes at one mount path")
    return mounts, new
