"""Pull, remove and prune as tasks on one engine: what the Docker backend does for each of its
engines and the swarm backend for its manager, in one place.

Each starts a task at once (checks that need no engine first, so a bad request is refused
before anything runs) and leaves the engine's image list current before the task ends.
"""

from __future__ import annotations

from dataclasses import replace

from ..contract import Inventory, PullSpec
from ..errors import BackendError, Conflict, NotFound
from ..models import HostImage, Task, TaskStatus
from ..tasks import TaskHandle, TaskTable
from ..validation import check_image_ref
from . import images
from .engine import Engine
from .inventory import EngineInventory

#: The label the swarm puts on a task's container (its task id).
TASK_CONTAINER_LABEL = "com.docker.swarm.task.id"
#: Containers named in a refusal; the rest are counted.
NAMED_USERS = 5


async def _refresh(engine: Engine) -> None:
    # The task ends with the list as the engine has it; if the engine went away, the
    # supervisor's resync catches up later.
    try:
        await engine.inventory.refresh_images()
    except BackendError:
        pass


def find_image(engine: Engine, image_id: str) -> HostImage:
    """The engine's image by its HostImage id ("<host id>/<image id>"), its image id (whole or
    the 12-digit short form) or one of its tags."""
    wanted = image_id.removeprefix(f"{engine.inventory.host_id}/")
    found = list(engine.inventory.image_values())
    for i in found:
        if wanted in (i.image_id, i.id) or wanted in i.repo_tags:
            return i
    short = [i for i in found if len(wanted) >= 12 and i.image_id.removeprefix("sha256:").startswith(wanted.removeprefix("sha256:"))]
    if len(short) == 1:
        return short[0]
    raise NotFound(f"image {image_id} not found on {engine.name}")


def pull_task(tasks: TaskTable, engine: Engine, spec: PullSpec) -> Task:
    check_image_ref(spec.image)

    async def work(task: TaskHandle) -> str | None:
        try:
            last = await images.pull(engine.api, spec.image, spec.registry_auth, task.progress)
        finally:
            await _refresh(engine)
        pulled = next((i for i in engine.inventory.image_values() if spec.image in i.repo_tags), None)
        tasks.finish(task.id, TaskStatus.SUCCEEDED, message=" ".join(last.split()),
                     result_id=pulled.id if pulled is not None else None)
        return None

    return tasks.start("pull_image", f"{spec.image} on {engine.name}", work, target_id=engine.host_id)


def remove_task(tasks: TaskTable, engine: Engine, image_id: str, *, force: bool) -> Task:
    image = find_image(engine, image_id)
    if image.container_ids and not force:
        names = [engine.inventory.containers[c].name if c in engine.inventory.containers else c[:12]
                 for c in image.container_ids]
        shown = ", ".join(names[:NAMED_USERS]) + (f" and {len(names) - NAMED_USERS} more" if len(names) > NAMED_USERS else "")
        raise Conflict(
            f"image {image.repo_tags[0] if image.repo_tags else image.image_id[:19]} is used by "
            f"{len(names)} container(s): {shown}; remove them first, or force"
        )
    # Named by a tag: that tag goes (``docker rmi TAG``: the image stays while other tags name
    # it); named by id: the image, which the engine refuses while several tags name it.
    named = image_id.removeprefix(f"{engine.inventory.host_id}/")
    target = named if named in image.repo_tags else image.image_id
    label = target if target in image.repo_tags else image.image_id.removeprefix("sha256:")[:12]

    async def work(task: TaskHandle) -> str | None:
        task.progress(20, f"removing image {label}")
        try:
            await images.remove(engine.api, target, force=force)
        finally:
            await _refresh(engine)
        return image.id

    return tasks.start("remove_image", f"{label} on {engine.name}", work, target_id=image.id)


def prune_task(tasks: TaskTable, engine: Engine, *, unused: bool) -> Task:
    what = "unused" if unused else "dangling"

    async def work(task: TaskHandle) -> str | None:
        task.progress(10, f"pruning {what} images")
        # The engine lists the layers it deleted with the images: count only the images.
        before = set(await images.list_images(engine.api))
        try:
            deleted, reclaimed = await images.prune(engine.api, unused=unused)
        finally:
            await _refresh(engine)
        count = len(deleted & before)
        tasks.finish(task.id, TaskStatus.SUCCEEDED,
                     message=f"removed {count} image(s), reclaimed {images.size_text(reclaimed)} ({reclaimed} bytes)")
        return None

    return tasks.start("prune_images", f"{what} images on {engine.name}", work, target_id=engine.host_id)


def add_manager_images(inv: Inventory, raw: EngineInventory) -> None:
    """A swarm manager's images into the swarm's inventory: on the manager's node, and a task's
    container named by its task id, as the swarm's inventory shows it."""
    if raw.host_id not in inv.hosts:
        return
    as_task = {c.id: dict(c.labels).get(TASK_CONTAINER_LABEL, c.id) for c in raw.containers.values()}
    for i in raw.image_values():
        inv.host_images[i.id] = replace(i, container_ids=tuple(sorted(as_task.get(c, c) for c in i.container_ids)))
