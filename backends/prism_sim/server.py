"""``ntnx-console sim serve``: the simulator served as Prism Central.

The v3 subset the Prism backend uses (``POST <kind>s/list``, ``vms`` CRUD, ``tasks``) and the
v4 Volumes, tasks and storage-container endpoints, over HTTPS on 127.0.0.1 with a generated
self-signed certificate, behind Prism's basic-auth-then-session-cookie login. Starlette
routes, served by uvicorn.

Actions map onto the simulator's own: ``POST /vms`` creates a host, a ``PUT`` that turns the
power on or off powers it, a ``PUT`` that changes the VM's ``NtnxConsoleEngine`` category
upgrades its engine to that version (the simulator's rolling upgrade of one host), and the v4
volume-group calls create, attach, detach and delete volumes. Other spec edits are accepted
and ignored. With ``--speed 0`` simulated time moves only when a client polls an unfinished
task (``POLL_STEP`` simulated seconds per poll), so tests run at the speed they poll.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..contract import HostSpec, Inventory, UpgradeSpec, VolumeSpec
from ..errors import BackendError, Conflict, InvalidInput, NotFound, PermissionDenied, QuotaExceeded, Unavailable
from ..models import Task, TaskStatus
from ..prism.parse import ENGINE_CATEGORY, GIB
from . import payloads as pay
from .serving import PrismLogin, self_signed_cert, v3_error, v4_error

POLL_STEP = 15.0  # simulated seconds a task poll moves the clock by, at --speed 0
MAX_LENGTH = 500  # Prism's largest page
STORAGE_CONTAINER = "default-container"
V3 = "/api/nutanix/v3"
VG = "/api/volumes/v4.0/config/volume-groups"

_ERRORS: tuple[tuple[type[BackendError], int, str], ...] = (
    (NotFound, 404, "ENTITY_NOT_FOUND"),
    (Conflict, 409, "CONFLICT"),
    (QuotaExceeded, 422, "QUOTA_EXCEEDED"),
    (InvalidInput, 422, "INVALID_REQUEST"),
    (PermissionDenied, 403, "ACCESS_DENIED"),
    (Unavailable, 503, "SERVICE_UNAVAILABLE"),
)


def _status_of(err: BackendError) -> tuple[int, str]:
    for kind, status, reason in _ERRORS:
        if isinstance(err, kind):
            return status, reason
    return 500, "INTERNAL_ERROR"


class PrismFacade:
    """The simulator as Prism sees it: payloads out, actions in."""

    def __init__(self, sim: Any, *, advance_on_poll: bool) -> None:
        self.sim = sim
        self.advance_on_poll = advance_on_poll
        self.spec_versions: dict[str, int] = {}
        self.vm_tasks: dict[str, str] = {}
        self.instant: dict[str, Task] = {}
        self.born = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._inventory: Inventory | None = None
        self._cache_key: tuple[Any, ...] | None = None
        self._cache: list[dict[str, Any]] = []

    async def start(self) -> None:
        # Tests in other threads move the simulator's clock on this loop.
        self.loop = asyncio.get_running_loop()
        await self.sim.connect()
        self.born = self.sim.clock.now

    async def inventory(self) -> Inventory:
        """The simulator's state; one copy serves every request until something changes (a
        listing at scale is hundreds of page requests)."""
        await self.sim.faults.gate("answer Prism API calls")
        store = self.sim.store
        store.flush()
        if self._inventory is None or self._inventory.seq != store.seq:
            self._inventory = store.snapshot()
        return self._inventory

    @staticmethod
    def cluster_name(inv: Inventory) -> str:
        return next((n.cluster for n in inv.nodes.values()), "ntnx-sim")

    # -- v3 entities ---------------------------------------------------------------------------

    def entities(self, kind: str, inv: Inventory) -> list[dict[str, Any]]:
        """Every entity of ``kind``; the pages of one listing share one build of them."""
        key = (kind, inv.seq, len(self.instant), sum(self.spec_versions.values()))
        if self._cache_key != key:
            self._cache_key, self._cache = key, self._build(kind, inv)
        return list(self._cache)

    def _build(self, kind: str, inv: Inventory) -> list[dict[str, Any]]:
        cluster = self.cluster_name(inv)
        if kind == "vm":
            by_host: dict[str, list[str]] = {}
            for vol in inv.volumes.values():
                if vol.host_id:
                    by_host.setdefault(vol.host_id, []).append(vol.id)
            return [
                pay.vm(
                    h,
                    cluster=h.cluster or cluster,
                    volume_ids=sorted(by_host.get(h.id, [])),
                    project=inv.projects.get(h.project_id or ""),
                    spec_version=self.spec_versions.get(h.id, 0),
                    task_uuid=self.vm_tasks.get(h.id),
                    storage_container=STORAGE_CONTAINER,
                    subnet_name=inv.networks[h.network_id].name if h.network_id in inv.networks else "",
                )
                for h in inv.hosts.values()
            ]
        if kind == "image":
            return [pay.image(i, self.born) for i in inv.images.values()]
        if kind == "subnet":
            return [pay.subnet(n, self.born) for n in inv.networks.values()]
        if kind == "project":
            return [pay.project(p, self.born) for p in inv.projects.values()]
        if kind == "host":
            return [pay.node(n, self.born, f"127.0.1.{i + 1}") for i, n in enumerate(inv.nodes.values())]
        if kind == "cluster":
            ips = [f"127.0.1.{i + 1}" for i in range(len(inv.nodes))]
            return [
                pay.cluster(cluster, self.born, prism_central=False, node_ips=ips),
                pay.cluster(pay.PC_NAME, self.born, prism_central=True, node_ips=[]),
            ]
        if kind == "volume_group":
            return [pay.volume_group(v, cluster=cluster) for v in sorted(inv.volumes.values(), key=lambda v: v.name)]
        if kind == "task":
            tasks = sorted(inv.tasks.values(), key=lambda t: t.created_at, reverse=True)
            return [pay.task_v3(t, cluster=cluster) for t in tasks]
        raise NotFound(f"kind {kind} is not served")

    # -- tasks -----------------------------------------------------------------------------

    async def task(self, task_id: str) -> tuple[Task, str]:
        """A task by id; at --speed 0 each poll of an unfinished task moves time on."""
        if task_id in self.instant:
            return self.instant[task_id], self.cluster_name(await self.inventory())
        inv = await self.inventory()
        task = inv.tasks.get(task_id)
        if task is None:
            raise NotFound(f"task : {task_id} does not exist.")
        if not task.done and self.advance_on_poll:
            await self.sim.advance(POLL_STEP)
            inv = await self.inventory()
            task = inv.tasks.get(task_id, task)
        return task, self.cluster_name(inv)

    def instant_task(self, kind: str, target: str, target_id: str) -> Task:
        now = self.sim.clock.now
        task = Task(
            id=pay.stable_uuid(f"instant:{target_id}:{len(self.instant)}"),
            kind=kind,
            target=target,
            target_id=target_id,
            status=TaskStatus.SUCCEEDED,
            progress=100,
            message="nothing to change",
            created_at=now,
            started_at=now,
            finished_at=now,
        )
        self.instant[task.id] = task
        return task

    # -- VM actions ------------------------------------------------------------------------------

    async def create_vm(self, body: dict[str, Any]) -> dict[str, Any]:
        spec = body.get("spec") or {}
        res = spec.get("resources") or {}
        metadata = body.get("metadata") or {}
        disks = res.get("disk_list") or [{}]
        nics = res.get("nic_list") or [{}]
        host_spec = HostSpec(
            name=str(spec.get("name") or ""),
            image=str((disks[0].get("data_source_reference") or {}).get("uuid") or ""),
            cores=int(res.get("num_sockets") or 1) * int(res.get("num_vcpus_per_socket") or 1),
            memory_mib=int(res.get("memory_size_mib") or 0),
            network=str((nics[0].get("subnet_reference") or {}).get("uuid") or ""),
            project=(metadata.get("project_reference") or {}).get("uuid"),
            engine_check=False,
        )
        task = await self.sim.create_host(host_spec)
        if task.target_id:
            self.vm_tasks[task.target_id] = task.id
        return {
            "metadata": {"use_categories_mapping": False, "kind": "vm", "spec_version": 0, "uuid": task.target_id},
            "api_version": "3.1",
            "spec": spec,
            "status": {"state": "PENDING", "execution_context": {"task_uuid": task.id}},
        }

    async def update_vm(self, vm_uuid: str, body: dict[str, Any]) -> dict[str, Any]:
        inv = await self.inventory()
        host = inv.hosts.get(vm_uuid)
        if host is None:
            raise NotFound(f"vm : {vm_uuid} does not exist.")
        metadata = body.get("metadata") or {}
        current = self.spec_versions.get(vm_uuid, 0)
        if metadata.get("spec_version") != current:
            raise Conflict(f"spec_version {metadata.get('spec_version')} is not the current {current}")
        spec = body.get("spec") or {}
        power = str((spec.get("resources") or {}).get("power_state") or "").upper()
        engine = (metadata.get("categories") or {}).get(ENGINE_CATEGORY)
        is_on = pay.vm_resources(host, (), STORAGE_CONTAINER)["power_state"] == "ON"
        if engine and engine != host.engine_version:
            task = await self.sim.upgrade_hosts(UpgradeSpec((host.id,), engine, 1))
        elif power == "ON" and not is_on:
            task = await self.sim.power_on_host(host.id)
        elif power == "OFF" and is_on:
            task = await self.sim.power_off_host(host.id)
        else:
            task = self.instant_task("update_host", host.name, host.id)
        self.spec_versions[vm_uuid] = current + 1
        self.vm_tasks[vm_uuid] = task.id
        return {
            "metadata": {"use_categories_mapping": False, "kind": "vm", "spec_version": current + 1, "uuid": vm_uuid},
            "api_version": "3.1",
            "spec": spec,
            "status": {"state": "PENDING", "execution_context": {"task_uuid": task.id}},
        }

    async def delete_vm(self, vm_uuid: str) -> dict[str, Any]:
        inv = await self.inventory()
        host = inv.hosts.get(vm_uuid)
        project = inv.projects.get(host.project_id or "") if host else None
        task = await self.sim.delete_host(vm_uuid)
        # As Prism answers: the project shows as a category of the VM being deleted.
        categories = {"Project": project.name} if project else {}
        return {
            "status": {"state": "DELETE_PENDING", "execution_context": {"task_uuid": task.id}},
            "spec": "",
            "api_version": "3.1",
            "metadata": {"kind": "vm", "categories": categories},
        }

    # -- volume groups ---------------------------------------------------------------------------

    @staticmethod
    def etag(vg: dict[str, Any], host_id: str | None) -> str:
        digest = hashlib.sha256(json.dumps([vg, host_id], sort_keys=True).encode()).hexdigest()
        return base64.b64encode(b"application/json").decode() + ":" + digest

    async def create_vg(self, body: dict[str, Any]) -> Task:
        disks = body.get("disks") or []
        if len(disks) != 1:
            raise InvalidInput("a volume group of the console has exactly one disk")
        container_id = disks[0].get("storageContainerId")
        if container_id and container_id != pay.stable_uuid(f"container:{STORAGE_CONTAINER}"):
            raise NotFound(f"storage container {container_id} not found")
        size = int(disks[0].get("diskSizeBytes") or 0) / GIB
        return await self.sim.create_volume(
            VolumeSpec(name=str(body.get("name") or ""), size_gib=size, storage_container=STORAGE_CONTAINER)
        )


def _json(request_body: bytes) -> dict[str, Any]:
    if not request_body:
        return {}
    try:
        body = json.loads(request_body)
    except ValueError:
        raise InvalidInput("the request body is not JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("the request body is not a JSON object")
    return body


def _matches(entity: dict[str, Any], clause: str) -> bool:
    attribute, _, value = clause.partition("==")
    if attribute not in ("name", "vm_name"):
        return True
    name = (entity.get("status") or {}).get("name") or (entity.get("spec") or {}).get("name")
    return name == value


def build_app(facade: PrismFacade, *, user: str, password: str, announce: bool = True) -> PrismLogin:
    """The ASGI app: Starlette routes behind Prism's login. ``announce=False`` leaves out the
    header that tells the backend it is simulated (tests of the paths real Prism takes)."""

    def v3(kind_of: Callable[[Request], str]):
        def wrap(handler: Callable[[Request], Awaitable[Response]]):
            async def endpoint(request: Request) -> Response:
                try:
                    return await handler(request)
                except BackendError as err:
                    status, reason = _status_of(err)
                    retry = 0.2 if status == 503 else None
                    return v3_error(status, kind_of(request), err.message, reason, retry_after=retry)

            return endpoint

        return wrap

    def v4(handler: Callable[[Request], Awaitable[Response]]):
        async def endpoint(request: Request) -> Response:
            try:
                return await handler(request)
            except BackendError as err:
                status, reason = _status_of(err)
                return v4_error(status, "volumes", err.message, reason, retry_after=0.2 if status == 503 else None)

        return endpoint

    plural = lambda request: str(request.path_params.get("plural", "vms")).rstrip("s")  # noqa: E731

    @v3(plural)
    async def v3_list(request: Request) -> Response:
        body = _json(await request.body())
        kind = plural(request)
        inv = await facade.inventory()
        entities = facade.entities(kind, inv)
        for clause in filter(None, str(body.get("filter") or "").split(";")):
            entities = [e for e in entities if _matches(e, clause)]
        if body.get("sort_attribute") == "name":
            entities.sort(key=lambda e: (e.get("status") or {}).get("name", ""), reverse=body.get("sort_order") == "DESCENDING")
        offset = max(0, int(body.get("offset") or 0))
        length = min(MAX_LENGTH, max(1, int(body.get("length") or 20)))
        page = entities[offset : offset + length]
        return JSONResponse(pay.list_envelope(kind, page, len(entities), offset, body))

    @v3(lambda r: "vm")
    async def vm_get(request: Request) -> Response:
        vm_uuid = request.path_params["uuid"]
        inv = await facade.inventory()
        for entity in facade.entities("vm", inv) if vm_uuid in inv.hosts else ():
            if entity["metadata"]["uuid"] == vm_uuid:
                return JSONResponse({**entity, "api_version": "3.1"})
        raise NotFound(f"vm : {vm_uuid} does not exist.")

    @v3(lambda r: "vm")
    async def vm_create(request: Request) -> Response:
        return JSONResponse(await facade.create_vm(_json(await request.body())), status_code=202)

    @v3(lambda r: "vm")
    async def vm_update(request: Request) -> Response:
        return JSONResponse(await facade.update_vm(request.path_params["uuid"], _json(await request.body())), status_code=202)

    @v3(lambda r: "vm")
    async def vm_delete(request: Request) -> Response:
        return JSONResponse(await facade.delete_vm(request.path_params["uuid"]), status_code=202)

    @v3(lambda r: "task")
    async def task_get(request: Request) -> Response:
        task, cluster = await facade.task(request.path_params["uuid"])
        return JSONResponse(pay.task_v3(task, cluster=cluster))

    @v4
    async def task_get_v4(request: Request) -> Response:
        task, cluster = await facade.task(request.path_params["ext_id"])
        return JSONResponse({"data": pay.task_v4(task, cluster=cluster), "$objectType": "prism.v4.config.GetTaskApiResponse"})

    def paged(request: Request, items: list[dict[str, Any]], object_type: str) -> Response:
        page = max(0, int(request.query_params.get("$page", 0)))
        limit = min(100, max(1, int(request.query_params.get("$limit", 50))))
        return JSONResponse(pay.v4_list(items[page * limit : (page + 1) * limit], len(items), object_type))

    async def volume(request: Request) -> tuple[Any, dict[str, Any], str]:
        inv = await facade.inventory()
        vol = inv.volumes.get(request.path_params["ext_id"])
        if vol is None:
            raise NotFound(f"volume group {request.path_params['ext_id']} not found")
        vg = pay.volume_group(vol, cluster=facade.cluster_name(inv))
        return vol, vg, facade.etag(vg, vol.host_id)

    def check_etag(request: Request, etag: str) -> None:
        sent = request.headers.get("If-Match")
        if not sent:
            raise PermissionDenied("If-Match with the volume group's ETag is required")
        if sent != etag:
            raise Conflict("the volume group changed since it was read (ETag mismatch)")

    @v4
    async def vg_list(request: Request) -> Response:
        items = facade.entities("volume_group", await facade.inventory())
        return paged(request, items, "volumes.v4.config.ListVolumeGroupsApiResponse")

    @v4
    async def vg_get(request: Request) -> Response:
        _, vg, etag = await volume(request)
        return JSONResponse({"data": vg, "$objectType": "volumes.v4.config.GetVolumeGroupApiResponse"}, headers={"ETag": etag})

    @v4
    async def vg_create(request: Request) -> Response:
        task = await facade.create_vg(_json(await request.body()))
        return JSONResponse(pay.task_reference(task.id), status_code=202)

    @v4
    async def vg_delete(request: Request) -> Response:
        vol, _, etag = await volume(request)
        check_etag(request, etag)
        task = await facade.sim.delete_volume(vol.id)
        return JSONResponse(pay.task_reference(task.id), status_code=202)

    @v4
    async def vg_disks(request: Request) -> Response:
        vol, _, _ = await volume(request)
        return paged(request, [pay.volume_disk(vol)], "volumes.v4.config.ListVolumeDisksApiResponse")

    @v4
    async def vg_attachments(request: Request) -> Response:
        vol, _, _ = await volume(request)
        items = [{"$objectType": "volumes.v4.config.VmAttachment", "extId": vol.host_id, "index": 0}] if vol.host_id else []
        return paged(request, items, "volumes.v4.config.ListVmAttachmentsApiResponse")

    @v4
    async def vg_action(request: Request) -> Response:
        vol, _, etag = await volume(request)
        check_etag(request, etag)
        vm_uuid = str(_json(await request.body()).get("extId") or "")
        action = request.path_params["action"]
        if action == "attach-vm":
            task = await facade.sim.attach_volume(vol.id, vm_uuid)
        elif action == "detach-vm":
            if vol.host_id != vm_uuid:
                raise Conflict(f"volume group {vol.name} is not attached to VM {vm_uuid}")
            task = await facade.sim.detach_volume(vol.id)
        else:
            raise NotFound(f"no action {action}")
        return JSONResponse(pay.task_reference(task.id), status_code=202)

    @v4
    async def storage_containers(request: Request) -> Response:
        inv = await facade.inventory()
        cluster = pay.cluster_ref(facade.cluster_name(inv))["uuid"]
        item = {
            "$objectType": "clustermgmt.v4.config.StorageContainer",
            "containerExtId": pay.stable_uuid(f"container:{STORAGE_CONTAINER}"),
            "name": STORAGE_CONTAINER,
            "clusterExtId": cluster,
        }
        return paged(request, [item], "clustermgmt.v4.config.ListStorageContainersApiResponse")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await facade.start()
        try:
            yield
        finally:
            await facade.sim.close()

    routes = [
        Route(f"{V3}/{{plural:str}}/list", v3_list, methods=["POST"]),
        Route(f"{V3}/vms", vm_create, methods=["POST"]),
        Route(f"{V3}/vms/{{uuid:str}}", vm_get, methods=["GET"]),
        Route(f"{V3}/vms/{{uuid:str}}", vm_update, methods=["PUT"]),
        Route(f"{V3}/vms/{{uuid:str}}", vm_delete, methods=["DELETE"]),
        Route(f"{V3}/tasks/{{uuid:str}}", task_get, methods=["GET"]),
        Route("/api/prism/v4.0/config/tasks/{ext_id:str}", task_get_v4, methods=["GET"]),
        Route(VG, vg_list, methods=["GET"]),
        Route(VG, vg_create, methods=["POST"]),
        Route(f"{VG}/{{ext_id:str}}", vg_get, methods=["GET"]),
        Route(f"{VG}/{{ext_id:str}}", vg_delete, methods=["DELETE"]),
        Route(f"{VG}/{{ext_id:str}}/disks", vg_disks, methods=["GET"]),
        Route(f"{VG}/{{ext_id:str}}/vm-attachments", vg_attachments, methods=["GET"]),
        Route(f"{VG}/{{ext_id:str}}/$actions/{{action:str}}", vg_action, methods=["POST"]),
        Route("/api/clustermgmt/v4.0/config/storage-containers", storage_containers, methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.facade = facade
    return PrismLogin(app, user=user, password=password, product="pc.2024.3 (ntnx-console simulator)", simulated=announce)


def sim_dir() -> Path:
    override = os.environ.get("NTNX_CONSOLE_SIM_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir("ntnx-console")) / "sim-serve"


def main(args: argparse.Namespace) -> int:
    """Serve until interrupted. ``args``: port, seed, scale, speed, faults."""
    import uvicorn

    from ..simulator import SimulatorBackend

    port = int(getattr(args, "port", None) or 9440)
    speed = getattr(args, "speed", None)
    speed = 1.0 if speed is None else float(speed)
    sim = SimulatorBackend(
        seed=int(getattr(args, "seed", None) or 7),
        scale=getattr(args, "scale", None),
        speed=speed,
        faults=getattr(args, "faults", None),
        activity=getattr(args, "activity", True),
        state_path=getattr(args, "state_path", None),
    )
    password = os.environ.get("NTNX_PASSWORD")
    generated = not password
    password = password or secrets.token_urlsafe(12)
    cert = self_signed_cert(sim_dir())
    app = build_app(PrismFacade(sim, advance_on_poll=speed == 0), user="admin", password=password)
    endpoint = f"https://127.0.0.1:{port}"
    shown = password if generated else "(the NTNX_PASSWORD you set)"
    print(f"Simulated Prism Central on {endpoint}  (seed {sim.seed}, speed {speed:g})", flush=True)
    print(f"  user admin, password {shown}", flush=True)
    print(f"  CA bundle: {cert.cert}", flush=True)
    print(
        f"  try: NTNX_PASSWORD=... ntnx-console --backend prism --prism-endpoint {endpoint} "
        f"--prism-user admin --ca-bundle {cert.cert} hosts list",
        flush=True,
    )
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ssl_certfile=str(cert.cert), ssl_keyfile=str(cert.key), log_level="warning"
    )
    try:
        uvicorn.Server(config).run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":  # pragma: no cover - `python -m backends.prism_sim.server`
    parser = argparse.ArgumentParser(prog="ntnx-console sim serve")
    parser.add_argument("--port", type=int, default=9440)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--scale", type=int)
    parser.add_argument("--speed", type=float, default=1.0)
    parser.add_argument("--faults")
    sys.exit(main(parser.parse_args()))
