"""The manager's images on a real two-node swarm: on the manager's node as ``docker image ls``
there has them, live from the manager's image events, pruned there; a worker's engine is not
reached through the manager, and saying so is one line."""

from __future__ import annotations

import io
import tarfile

import pytest

from backends.errors import InvalidInput
from backends.models import TaskStatus
from backends.swarm.backend import SwarmBackend
from tests.waiting import wait_until

pytestmark = pytest.mark.docker


@pytest.fixture
async def backend(swarm):
    b = SwarmBackend(swarm.manager.url)
    await b.connect()
    yield b
    await b.close()


def _manager_images(swarm) -> set[str]:
    return set(swarm.cli("image", "ls", "-aq", "--no-trunc").split())


def _ours(backend, node_id: str) -> set[str]:
    return {i.image_id for i in backend._published.host_images.values() if i.host_id == node_id}


async def test_the_manager_s_images_live_and_pruned_and_a_worker_s_refused(backend, swarm):
    await wait_until(lambda: _ours(backend, swarm.manager_id) == _manager_images(swarm), what="the manager's images")
    assert all(i.id.startswith(f"{swarm.manager_id}/") for i in backend._published.host_images.values())

    tag = "swarm-images-test/copy:1"
    swarm.cli("tag", swarm.manager.image, tag)
    await wait_until(lambda: any(tag in i.repo_tags for i in backend._published.host_images.values()),
                     what="the tag, from the manager's image event")
    swarm.cli("rmi", tag)

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = b"swarm prune " * 1000
        info = tarfile.TarInfo("s.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    image_id = swarm.cli("import", "-", input=buf.getvalue()).strip()
    await wait_until(lambda: image_id in _ours(backend, swarm.manager_id), what="the dangling image")
    final = await backend.wait_task((await backend.prune_images(swarm.manager_id)).id)
    assert final.status is TaskStatus.SUCCEEDED and "reclaimed" in final.message, final
    assert image_id not in _manager_images(swarm)

    with pytest.raises(InvalidInput, match="only the manager's images"):
        await backend.prune_images(swarm.worker_id)
