"""The images of a container machine's engine, through the Prism backend: listed under the
VM's id as ``docker image ls`` has them, and pruned there (``sim serve`` plays Prism; the
machine's engine is a real dockerd over tcp+TLS, as in test_machine_engines.py)."""

from __future__ import annotations

import io
import shutil
import tarfile

from backends.contract import Capability
from backends.models import TaskStatus
from tests.daemons import dockerd  # noqa: F401
from tests.prism.test_machine_engines import (  # noqa: F401  (fixtures)
    _container_machines, _hold_keys, backend, machines, own_sshd, server,
)
from tests.waiting import wait_until


def _engine_images(dockerd) -> set[str]:  # noqa: F811
    return set(dockerd.cli("image", "ls", "-aq", "--no-trunc").split())


async def test_a_machine_s_images_are_listed_under_its_vm_and_pruned_there(backend, machines, own_sshd, dockerd):  # noqa: F811
    inv = await backend.snapshot()
    machine = _container_machines(inv)[0]
    _hold_keys(machines, machine.id, own_sshd, dockerd.tls_url)
    for pem in ("ca.pem", "cert.pem", "key.pem"):
        shutil.copy(dockerd.tls_dir / pem, machines / machine.id / pem)

    async def listed() -> set[str]:
        return {i.image_id for i in (await backend.snapshot()).host_images.values() if i.host_id == machine.id}

    async def same() -> bool:
        return await listed() == _engine_images(dockerd)

    await wait_until(same, timeout=20, interval=0.1, what="the engine's images under the VM")
    assert backend.supports(Capability.HOST_IMAGES_REMOVE)
    for i in (await backend.snapshot()).host_images.values():
        assert i.id == f"{machine.id}/{i.image_id}"

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"machine prune " * 1000
        info = tarfile.TarInfo("m.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    image_id = dockerd.cli("import", "-", input=buf.getvalue()).strip()

    async def has_it() -> bool:
        return image_id in await listed()

    await wait_until(has_it, timeout=20, interval=0.1, what="the dangling image under the VM")
    task = await backend.prune_images(machine.id)
    final = await backend.wait_task(task.id)
    assert final.status is TaskStatus.SUCCEEDED, final.error
    assert "reclaimed" in final.message
    assert image_id not in _engine_images(dockerd)
