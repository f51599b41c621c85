"""A swarm's rolling work: image updates, rollbacks, secret rotation, and configs.

The swarm does the rolling itself (``UpdateConfig``: so many tasks at a time, a delay between
waves, pause / continue / roll back on a failed task); this module asks for it through the
manager and follows the service's ``UpdateStatus`` to its end, the task's progress being the
tasks that run the new spec out of those the service wants.

What the Engine API can and cannot do, said where it matters:

- There is no call to pause an update under way (moby/moby#26160 is the open proposal): the
  swarm pauses one itself, when a task fails and the failure action is ``pause``.
  ``pause_task`` on an update therefore refuses, saying so.
- A paused update is resumed by posting the service's spec again (``docker service update
  NAME`` does the same): ``resume_task`` on the update's (failed) task does that and returns
  the new task that follows the resumed update. The swarm then keeps the paused spec as the
  one a rollback returns to.
- A rollback is the API's own (``rollback=previous``): the swarm goes back to the service's
  previous spec with its ``RollbackConfig``.

The functions take the ``SwarmBackend`` (its engine, lookups and task table); its methods
are thin, so that read-only mode guards each one (``contract._guard``).
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from typing import TYPE_CHECKING, Any, Callable

from ..contract import ConfigSpec, RegistryAuth, ServiceUpdateSpec
from ..errors import Conflict, InvalidInput, NotFound, TaskFailed
from ..models import Config, Secret, Task
from ..tasks import TaskHandle
from ..validation import check_config_name, check_image_ref

if TYPE_CHECKING:
    from ..docker.api import DockerAPI
    from .backend import SwarmBackend

UPDATE_TIMEOUT = 900.0  # a rolling update that has not ended by then is reported as stuck
NO_STATUS_GRACE = 3.0  # the swarm sets no UpdateStatus when no task needs replacing
MAX_CONFIG_BYTES = 500 * 1024  # a secret's limit on a swarm; configs are held to it too
# A rotation's new name: NAME-2, then NAME-3... ; a trailing -N of one to three digits is the
# counter (``db-2`` rotates to ``db-3``), a longer number is part of the name (``cert-2024``
# rotates to ``cert-2024-2``).
_COUNTER = re.compile(r"^(?P<base>.+)-(?P<n>[0-9]{1,3})$")
PAUSE_REFUSED = (
    "the Docker Engine API has no call to pause a rolling update: the swarm pauses one itself when a "
    "task fails (failure action pause); roll the service back to stop it"
)
_STATES_UPDATE_END = {"completed"}
_STATES_ROLLBACK_END = {"rollback_completed"}


def registry_auth_header(auth: RegistryAuth) -> str:
    """``X-Registry-Auth`` as the Engine API wants it: base64url of the auth JSON."""
    doc = {"username": auth.username, "password": auth.password, "serveraddress": auth.server}
    return base64.urlsafe_b64encode(json.dumps(doc).encode()).decode()


async def post(api: "DockerAPI", path: str, body: Any, auth: RegistryAuth | None, **params: Any) -> Any:
    """A POST with the registry credentials in ``X-Registry-Auth`` when there are any (so every
    node can pull the image). The header is made here and goes nowhere else: not logged, not
    in an error (the API's errors carry the path, never the headers)."""
    if auth is None:
        return await api.post(path, body, **params)
    from ..docker.api import _params

    response = await api._call(
        "POST", api._url(path), params=_params(params), json=body, headers={"X-Registry-Auth": registry_auth_header(auth)}
    )
    return api._json(response, "POST", path) if response.content.strip() else None


def _image_of(task: dict[str, Any]) -> str:
    """The image a task (``/tasks``) runs, as its spec names it."""
    return str(((task.get("Spec") or {}).get("ContainerSpec") or {}).get("Image") or "")


def _spec_image(spec: dict[str, Any] | None) -> str:
    """The image of a service's spec (``Spec`` or ``PreviousSpec``)."""
    return str((((spec or {}).get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Image") or "")


def _task_error(backend: "SwarmBackend", service_id: str) -> str:
    errors = sorted({t["Status"]["Err"] for t in backend.engine.inventory.tasks.values()
                     if t.get("ServiceID") == service_id and (t.get("Status") or {}).get("Err")})
    return f": {'; '.join(errors[:3])}" if errors else ""


async def follow(
    backend: "SwarmBackend",
    task: TaskHandle,
    service_id: str,
    what: str,
    is_new: Callable[[dict[str, Any]], bool],
    *,
    rollback: bool,
    on_paused: Callable[[], None] | None = None,
    start: int = 10,
) -> None:
    """Follow the service's UpdateStatus to its end: ``completed`` (or ``rollback_completed``
    for a rollback) returns; a pause, or the swarm's own rollback of an update, fails with the
    swarm's message. Progress: running tasks that ``is_new`` out of the tasks it wants."""
    inventory = backend.engine.inventory
    posted = time.monotonic()
    deadline = posted + UPDATE_TIMEOUT
    while True:
        await inventory.refresh_swarm()
        raw = inventory.services.get(service_id)
        if raw is None:
            raise TaskFailed(f"{what}: the service was removed meanwhile")
        status = raw.get("UpdateStatus") or {}
        state = str(status.get("State") or "")
        message = str(status.get("Message") or "")
        wanted = [t for t in inventory.tasks.values() if t.get("ServiceID") == service_id and t.get("DesiredState") == "running"]
        total = int((raw.get("ServiceStatus") or {}).get("DesiredTasks") or len(wanted))
        new = sum(1 for t in wanted if is_new(t) and (t.get("Status") or {}).get("State") == "running")
        span = max(1, total)
        task.progress(start + (99 - start) * min(new, span) // span, f"{new}/{total} tasks updated" + (f" ({state})" if state else ""))
        if rollback:
            if state in _STATES_ROLLBACK_END:
                return
            if state == "rollback_paused":
                raise TaskFailed(f"{what}: the swarm paused the rollback: {message or 'no reason given'}")
        else:
            if state in _STATES_UPDATE_END:
                return
            if state == "paused":
                if on_paused is not None:
                    on_paused()
                raise TaskFailed(f"{what}: paused by the swarm: {message or 'no reason given'}")
            if state == "rollback_completed":
                raise TaskFailed(f"{what}: the swarm rolled it back: {message or 'no reason given'}")
            if state == "rollback_paused":
                raise TaskFailed(f"{what}: the swarm began a rollback and paused it: {message or 'no reason given'}")
        if not state and total and new >= total and time.monotonic() - posted > NO_STATUS_GRACE:
            return  # nothing to replace: every task already runs this spec
        if time.monotonic() > deadline:
            raise TaskFailed(
                f"{what}: {new}/{total} tasks updated after {UPDATE_TIMEOUT:g}s ({state or 'no update status'})"
                f"{_task_error(backend, service_id)}"
            )
        await asyncio.sleep(0.5)


# -- image update, rollback, resume ------------------------------------------------------------


async def update_service(backend: "SwarmBackend", spec: ServiceUpdateSpec) -> Task:
    check_image_ref(spec.image)
    engine = backend._reachable()
    s = backend._service(spec.service)
    if s.mode not in ("replicated", "global"):
        raise InvalidInput(f"service {s.name} is a {s.mode}: a job is not updated in rolling waves")
    if s.image == spec.image:
        raise InvalidInput(f"service {s.name} already runs {spec.image}: nothing to update")
    what = f"update of {s.name} to {spec.image}"

    def is_new(t: dict[str, Any]) -> bool:
        return _image_of(t) == spec.image

    async def work(task: TaskHandle) -> str:
        task.progress(5, f"asking the swarm to update {s.name} to {spec.image}")
        raw = await engine.api.get(f"/services/{s.id}")
        body = raw.get("Spec") or {}
        body.setdefault("TaskTemplate", {}).setdefault("ContainerSpec", {})["Image"] = spec.image
        await post(engine.api, f"/services/{s.id}/update", body, spec.registry_auth, version=(raw.get("Version") or {}).get("Index"))
        engine.inventory.settle()
        await follow(backend, task, s.id, what, is_new, rollback=False,
                     on_paused=lambda: backend._paused_updates.__setitem__(task.id, s.id))
        return s.id

    return backend._tasks.start("update_service", f"{s.name} to {spec.image}", work, target_id=s.id)


async def rollback_service(backend: "SwarmBackend", service_id: str) -> Task:
    engine = backend._reachable()
    s = backend._service(service_id)
    raw_now = engine.inventory.services.get(s.id) or {}
    previous = _spec_image(raw_now.get("PreviousSpec"))
    if s.previous_image is None:
        raise InvalidInput(f"service {s.name} has no previous spec: there is nothing to roll back to")
    what = f"rollback of {s.name} to {s.previous_image}"

    def is_new(t: dict[str, Any]) -> bool:
        return _image_of(t) == previous if previous else True

    async def work(task: TaskHandle) -> str:
        task.progress(5, f"asking the swarm to roll {s.name} back to {s.previous_image}")
        raw = await engine.api.get(f"/services/{s.id}")
        # The spec sent is ignored with rollback=previous; the version still guards the write.
        await engine.api.post(f"/services/{s.id}/update", raw.get("Spec") or {},
                              version=(raw.get("Version") or {}).get("Index"), rollback="previous")
        engine.inventory.settle()
        await follow(backend, task, s.id, what, is_new, rollback=True)
        return s.id

    return backend._tasks.start("rollback_service", f"{s.name} to {s.previous_image}", work, target_id=s.id)


def pause_update(backend: "SwarmBackend", task_id: str) -> Task:
    task = _update_task(backend, task_id)
    raise InvalidInput(f"{task.target}: {PAUSE_REFUSED}")


async def resume_update(backend: "SwarmBackend", task_id: str) -> Task:
    """A swarm-paused update, resumed by posting the service's spec again; the new task
    follows it (the paused one has ended, FAILED with the swarm's message)."""
    old = _update_task(backend, task_id)
    if not old.done or old.status.value == "SUCCEEDED":
        raise InvalidInput(f"{old.target}: the update is not paused (it is {old.status.value.lower()})")
    service_id = backend._paused_updates.get(task_id)
    if service_id is None:
        raise InvalidInput(f"{old.target}: this update was not paused by the swarm ({old.error or old.status.value}); nothing to resume")
    engine = backend._reachable()
    await engine.inventory.refresh_swarm()
    raw = engine.inventory.services.get(service_id)
    if raw is None:
        raise NotFound(f"{old.target}: the service is gone")
    state = (raw.get("UpdateStatus") or {}).get("State") or "none"
    if state != "paused":
        raise Conflict(f"{old.target}: the swarm's update is {state}, not paused: nothing to resume")
    image = _spec_image(raw.get("Spec"))
    name = (raw.get("Spec") or {}).get("Name") or service_id
    what = f"update of {name} to {image}"

    def is_new(t: dict[str, Any]) -> bool:
        return _image_of(t) == image

    async def work(task: TaskHandle) -> str:
        task.progress(5, f"resuming the update of {name}")
        current = await engine.api.get(f"/services/{service_id}")
        await engine.api.post(f"/services/{service_id}/update", current.get("Spec") or {},
                              version=(current.get("Version") or {}).get("Index"))
        backend._paused_updates.pop(task_id, None)
        engine.inventory.settle()
        await follow(backend, task, service_id, what, is_new, rollback=False,
                     on_paused=lambda: backend._paused_updates.__setitem__(task.id, service_id))
        return service_id

    return backend._tasks.start("update_service", f"{name} to {image} (resumed)", work, target_id=service_id)


def _update_task(backend: "SwarmBackend", task_id: str) -> Task:
    task = backend._tasks.get(task_id)
    if task is None:
        raise NotFound(f"task {task_id} not found")
    if task.kind != "update_service":
        raise InvalidInput(f"task {task.kind} {task.target}: only a service's rolling update is paused or resumed here")
    return task


# -- secrets: rotation --------------------------------------------------------------------------


def check_secret_value(name: str, data: bytes) -> None:
    if not data:
        raise InvalidInput(f"secret {name}: the value is empty")
    if len(data) > 500 * 1024:  # the swarm's own limit, said before sending
        raise InvalidInput(f"secret {name}: the value is {len(data):,} bytes; the swarm takes at most 500 KiB")


def rotated_name(name: str, taken: set[str]) -> str:
    """NAME-2, NAME-3...: the next free name after ``name`` (see ``_COUNTER``)."""
    match = _COUNTER.match(name)
    base, n = (match["base"], int(match["n"])) if match else (name, 1)
    while True:
        n += 1
        candidate = f"{base}-{n}"
        if candidate not in taken and len(candidate) <= 64:
            return candidate
        if len(candidate) > 64:
            raise InvalidInput(f"secret {name}: no room for a rotation counter within 64 characters")


async def rotate_secret(backend: "SwarmBackend", secret_id: str, data: bytes) -> Task:
    engine = backend._reachable()
    await engine.inventory.refresh_swarm()  # who uses it now
    old = backend._secret(secret_id)
    check_secret_value(old.name, data)
    inv = backend._inventory()
    new_name = rotated_name(old.name, {s.name for s in inv.secrets.values()})
    users = sorted((s for s in inv.services.values() if old.id in s.secret_ids), key=lambda s: s.name)
    # Encoded here, sent once; the task keeps neither the value nor the body.
    body = {"Name": new_name, "Labels": {}, "Data": base64.b64encode(data).decode()}

    async def work(task: TaskHandle) -> str:
        task.progress(5, f"creating secret {new_name}")
        try:
            created = await engine.api.post("/secrets/create", body)
        finally:
            body.clear()
        new_id = str((created or {}).get("ID") or "")
        if not new_id:
            raise TaskFailed(f"rotation of {old.name}: the manager created {new_name} but gave no id; {old.name} is unchanged")
        moved: list[str] = []
        try:
            for i, s in enumerate(users):
                task.progress(10 + 80 * i // max(1, len(users)), f"moving {s.name} to {new_name}")
                await _swap_secret(engine.api, s.id, old.id, new_id, new_name)
                moved.append(s.name)
            engine.inventory.settle()
            for s in users:
                await follow(backend, task, s.id, f"moving {s.name} to {new_name}",
                             lambda t: any(x.get("SecretID") == new_id for x in ((t.get("Spec") or {}).get("ContainerSpec") or {}).get("Secrets") or ()),
                             rollback=False, start=50)
        except Exception as err:
            left = [s.name for s in users if s.name not in moved]
            state = (f"moved to {new_name}: {', '.join(moved) or 'none'}; still on {old.name}: {', '.join(left) or 'none'}; "
                     f"both secrets kept")
            reason = err.one_line() if hasattr(err, "one_line") else str(err)
            raise TaskFailed(f"rotation of {old.name} stopped ({state}): {reason}") from None
        task.progress(95, f"removing {old.name}")
        try:
            await engine.api.delete(f"/secrets/{old.id}")
        except Exception as err:
            reason = err.one_line() if hasattr(err, "one_line") else str(err)
            raise TaskFailed(f"rotation of {old.name}: every service is on {new_name}, but {old.name} was kept: {reason}") from None
        await engine.inventory.refresh_swarm()
        return new_id

    target = f"{old.name} to {new_name}" + (f" ({len(users)} service{'s' if len(users) != 1 else ''})" if users else "")
    return backend._tasks.start("rotate_secret", target, work, target_id=old.id)


async def _swap_secret(api: "DockerAPI", service_id: str, old_id: str, new_id: str, new_name: str) -> None:
    """The service's references to the old secret point at the new one, with the same file
    (name, owner, mode) inside the tasks."""
    raw = await api.get(f"/services/{service_id}")
    spec = raw.get("Spec") or {}
    container = spec.setdefault("TaskTemplate", {}).setdefault("ContainerSpec", {})
    container["Secrets"] = [
        {**ref, "SecretID": new_id, "SecretName": new_name} if ref.get("SecretID") == old_id else ref
        for ref in container.get("Secrets") or ()
    ]
    await api.post(f"/services/{service_id}/update", spec, version=(raw.get("Version") or {}).get("Index"))


# -- configs ------------------------------------------------------------------------------------


async def create_config(backend: "SwarmBackend", spec: ConfigSpec) -> Task:
    check_config_name(spec.name)
    if not spec.data:
        raise InvalidInput(f"config {spec.name}: the value is empty")
    if len(spec.data) > MAX_CONFIG_BYTES:
        raise InvalidInput(f"config {spec.name}: the value is {len(spec.data):,} bytes; at most 500 KiB")
    engine = backend._reachable()
    if any(c.name == spec.name for c in backend._inventory().configs.values()):
        raise Conflict(f"a config named {spec.name} already exists")
    body = {"Name": spec.name, "Labels": {}, "Data": base64.b64encode(spec.data).decode()}

    async def work(task: TaskHandle) -> str:
        task.progress(20, f"creating config {spec.name}")
        try:
            created = await engine.api.post("/configs/create", body)
        finally:
            body.clear()
        await engine.inventory.refresh_swarm()
        return str((created or {}).get("ID") or "")

    return backend._tasks.start("create_config", spec.name, work)


async def remove_config(backend: "SwarmBackend", config_id: str) -> Task:
    engine = backend._reachable()
    await engine.inventory.refresh_swarm()  # who uses it now, not a few seconds ago
    config = find_config(backend, config_id)
    users = sorted(s.name for s in backend._inventory().services.values() if config.id in s.config_ids)
    if users:
        raise Conflict(f"config {config.name} is used by service(s) {', '.join(users)}: remove it from them first")

    async def work(task: TaskHandle) -> None:
        task.progress(20, f"removing config {config.name}")
        await engine.api.delete(f"/configs/{config.id}")
        await engine.inventory.refresh_swarm()

    return backend._tasks.start("remove_config", config.name, work, target_id=config.id)


def find_config(backend: "SwarmBackend", ref: str) -> Config:
    from ..contract import resolve

    configs = list(backend._inventory().configs.values())
    try:
        return resolve(configs, ref, "config")
    except NotFound:
        matches = [c for c in configs if len(ref) >= 4 and c.id.startswith(ref)]
        if len(matches) != 1:
            raise
        return matches[0]


def secret_ref(s: Secret) -> dict[str, Any]:
    # Mounted as a file at /run/secrets/NAME, 0444 inside the task, as ``docker service create`` does.
    return {"File": {"Name": s.name, "UID": "0", "GID": "0", "Mode": 0o444}, "SecretID": s.id, "SecretName": s.name}


def config_ref(c: Config) -> dict[str, Any]:
    # At /NAME inside the task, as ``docker service create --config NAME`` puts it.
    return {"File": {"Name": c.name, "UID": "0", "GID": "0", "Mode": 0o444}, "ConfigID": c.id, "ConfigName": c.name}
