"""Images on a real engine: the inventory equals ``docker image ls``, follows the engine's
events (tag, untag, delete, a container made or removed), a remove is refused while a
container uses the image, and a prune says what the engine reclaimed."""

from __future__ import annotations

import io
import json
import tarfile

import pytest

from backends.errors import Conflict, NotFound
from backends.models import TaskStatus
from tests.waiting import wait_until

pytestmark = pytest.mark.docker


def _docker_images(dockerd) -> dict[str, tuple[set[str], int]]:
    """Image id -> (tags, size) as ``docker image ls`` and ``docker image inspect`` say."""
    ids = set(dockerd.cli("image", "ls", "-aq", "--no-trunc").split())
    out: dict[str, tuple[set[str], int]] = {}
    if ids:
        for doc in json.loads(dockerd.cli("image", "inspect", *sorted(ids))):
            out[doc["Id"]] = (set(doc.get("RepoTags") or ()), int(doc["Size"]))
    return out


def _ours(backend) -> dict[str, tuple[set[str], int]]:
    return {i.image_id: (set(i.repo_tags), i.size_bytes) for i in backend._published.host_images.values()}


def _dangling_image(dockerd, marker: str) -> str:
    """An untagged image of one small file, made by ``docker import``; its id."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = (marker * 2000).encode()
        info = tarfile.TarInfo(f"{marker}.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return dockerd.cli("import", "-", input=buf.getvalue()).strip()


async def test_images_equal_docker_image_ls_and_follow_events(backend, dockerd, image, name):
    await wait_until(lambda: _ours(backend) == _docker_images(dockerd), what="images = docker image ls", timeout=10)
    (host_id,) = backend._published.hosts
    for i in backend._published.host_images.values():
        assert i.id == f"{host_id}/{i.image_id}" and i.host_id == host_id

    tag = f"{name}/copy:1"
    dockerd.cli("tag", image, tag)
    await wait_until(lambda: any(tag in i.repo_tags for i in backend._published.host_images.values()),
                     what="the new tag, from the tag event", timeout=10)
    dockerd.cli("rmi", tag)
    await wait_until(lambda: not any(tag in i.repo_tags for i in backend._published.host_images.values()),
                     what="the tag gone, from the untag event", timeout=10)

    cid = dockerd.cli("create", "--network", "none", "--name", name, image, "true").strip()
    used = lambda: next(i for i in backend._published.host_images.values() if image in i.repo_tags)  # noqa: E731
    await wait_until(lambda: cid in used().container_ids, what="the container among the image's users", timeout=10)
    dockerd.cli("rm", cid)
    await wait_until(lambda: cid not in used().container_ids, what="the container gone from its users", timeout=10)
    assert _ours(backend) == _docker_images(dockerd)


async def test_remove_refused_while_used_then_removed(backend, dockerd, name):
    # An image of its own (not the shared busybox, which other tests' containers use), used
    # by exactly one container: created, never started.
    tag = f"{name}/img:1"
    dockerd.cli("tag", _dangling_image(dockerd, name), tag)
    dockerd.cli("create", "--network", "none", "--name", name, tag, "true")
    await wait_until(
        lambda: any(tag in i.repo_tags and i.container_ids for i in backend._published.host_images.values()),
        what="the tagged image in use", timeout=10,
    )
    target = next(i for i in backend._published.host_images.values() if tag in i.repo_tags)
    with pytest.raises(Conflict, match=rf"used by 1 container\(s\): {name}; remove them first, or force"):
        await backend.remove_image(target.id)
    assert tag in dockerd.cli("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").split()
    dockerd.cli("rm", name)
    await wait_until(lambda: not backend._published.host_images[target.id].container_ids, what="no user left", timeout=10)
    task = await backend.remove_image(target.id)
    final = await backend.wait_task(task.id)
    assert final.status is TaskStatus.SUCCEEDED, final.error
    assert tag not in dockerd.cli("image", "ls", "--format", "{{.Repository}}:{{.Tag}}").split()
    await wait_until(lambda: target.id not in backend._published.host_images, what="the image gone", timeout=10)
    with pytest.raises(NotFound):
        await backend.remove_image(f"{target.host_id}/sha256:{'0' * 64}")


async def test_prune_reports_what_the_engine_reclaimed(backend, dockerd, name):
    image_id = _dangling_image(dockerd, name)
    await wait_until(lambda: any(i.image_id == image_id and i.dangling for i in backend._published.host_images.values()),
                     what="the dangling image (import event)", timeout=10)
    size = next(i.size_bytes for i in backend._published.host_images.values() if i.image_id == image_id)
    task = await backend.prune_images(next(iter(backend._published.hosts)))
    final = await backend.wait_task(task.id)
    assert final.status is TaskStatus.SUCCEEDED, final.error
    # The engine's SpaceReclaimed for one image with a layer of its own is that image's size.
    assert final.message.startswith("removed 1 image(s), reclaimed") and f"({size} bytes)" in final.message
    assert image_id not in dockerd.cli("image", "ls", "-aq", "--no-trunc").split()
    await wait_until(lambda: all(i.image_id != image_id for i in backend._published.host_images.values()),
                     what="the pruned image gone", timeout=10)


async def test_read_only_refuses_pull_remove_prune(dockerd):
    from backends.docker import DockerBackend
    from backends.contract import PullSpec
    from backends.errors import PermissionDenied

    b = DockerBackend([dockerd.url], read_only=True)
    await b.connect()
    try:
        host = next(iter((await b.snapshot()).hosts))
        for call in (b.pull_image(PullSpec(host, "x:1")), b.remove_image(f"{host}/x"), b.prune_images(host)):
            with pytest.raises(PermissionDenied):
                await call
    finally:
        await b.close()
