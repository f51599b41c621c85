"""``ntnx-console sim serve``: the simulator served as Prism Central.

The v3 subset the Prism backend uses (``POST <kind>s/list``, ``vms`` CRUD, ``tasks``) and the
v4 vmm, volumes, prism and clustermgmt APIs Nutanix's own SDKs call (``v4.py``), over HTTPS on
127.0.0.1 with a self-signed certificate of its own per port, behind Prism's
basic-auth-then-session-cookie login. Starlette routes, served by uvicorn.

Actions map onto the simulator's own: ``POST /vms`` creates a host, a ``PUT`` that turns the
power on or off powers it, a ``PUT`` that changes the VM's ``NtnxConsoleEngine`` category
upgrades its engine to that version (the simulator's rolling upgrade of one host), and the v4
calls create, attach, detach and delete volumes and power and delete VMs. Other spec edits are accepted
and ignored. With ``--speed 0`` simulated time moves only when a client polls an unfinished
task (``POLL_STEP`` simulated seconds per poll), so tests run at the speed they poll.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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

from ..contract import HostSpec, Inventory, UpgradeSpec
from ..errors import BackendError, Conflict, InvalidInput, NotFound, PermissionDenied, QuotaExceeded, Unavailable
from ..models import Task, TaskStatus
from ..prism.parse import ENGINE_CATEGORY, GIB
from . import payloads as pay
from .serving import PrismLogin, server_cert, v3_error
from .v4 import V4, overlay_path
from .v4 import routes as v4_routes

POLL_STEP = 15.0  # simulated seconds a task poll moves the clock by, at --speed 0
MAX_LENGTH = 500  # Prism's largest page
STORAGE_CONTAINER = pay.STORAGE_CONTAINER
V3 = "/api/nutanix/v3"

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
        # The v4 APIs' own state (a volume group's disks, edits the world has no room for),
        # kept beside the simulator's --state file when there is one.
        self.v4 = V4(self, overlay_path(getattr(sim, "state_path", None)))
        self.advance_on_poll = advance_on_poll
        self.spec_versions: dict[str, int] = {}
        self.vm_tasks: dict[str, str] = {}
        self.instant: dict[str, Task] = {}
        self.born = 0.0
        self.loop: asyncio.AbstractEventLoop | None = None
        self._inventory: Inventory | None = None
        # kind -> (the state it was made from, its entities so far: None where not made yet)
        self._cache: dict[str, tuple[tuple[Any, ...], list[dict[str, Any] | None], Callable[[Any], dict[str, Any]], list[Any]]] = {}

    async def start(self) -> None:
        # Tests in other threads move the simulator's clock on this loop.
        self.loop = asyncio.get_running_loop()
        await self.sim.connect()
        await self.sim.snapshot()  # a large world is made in pages: serve it whole
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
        made, total = self.page(kind, inv, 0, None)
        return made

    def page(self, kind: str, inv: Inventory, offset: int, length: int | None) -> tuple[list[dict[str, Any]], int]:
        """The entities ``offset`` to ``offset + length`` of ``kind`` and how many there are.
        Only the asked page is made: at 10,000 VMs making every VM's JSON takes seconds, and
        the first page of a listing should not wait for the last. What is made is kept per
        kind (a poll lists VMs and volume groups in turn) until the state changes."""
        key = (inv.seq, len(self.instant), sum(self.spec_versions.values()))
        cached = self._cache.get(kind)
        if cached is None or cached[0] != key:
            items, make = self._recipe(kind, inv)
            cached = self._cache[kind] = (key, [None] * len(items), make, items)
        _, made, make, items = cached
        stop = len(items) if length is None else min(len(items), offset + length)
        for i in range(offset, stop):
            if made[i] is None:
                made[i] = make(items[i])
        return list(made[offset:stop]), len(items)  # type: ignore[arg-type]

    def _recipe(self, kind: str, inv: Inventory) -> tuple[list[Any], Callable[[Any], dict[str, Any]]]:
        """The items of ``kind`` in the order Prism lists them, and how one becomes JSON."""
        cluster = self.cluster_name(inv)
        if kind == "vm":
            by_host: dict[str, list[str]] = {}
            for vol in inv.volumes.values():
                if vol.host_id:
                    by_host.setdefault(vol.host_id, []).append(vol.id)
            return list(inv.hosts.values()), lambda h: pay.vm(
                h,
                cluster=h.cluster or cluster,
                volume_ids=sorted(by_host.get(h.id, [])),
                project=inv.projects.get(h.project_id or ""),
                spec_version=self.spec_versions.get(h.id, 0),
                task_uuid=self.vm_tasks.get(h.id),
                storage_container=STORAGE_CONTAINER,
                subnet_name=inv.networks[h.network_id].name if h.network_id in inv.networks else "",
            )
        if kind == "image":
            return list(inv.images.values()), lambda i: pay.image(i, self.born)
        if kind == "subnet":
            return list(inv.networks.values()), lambda n: pay.subnet(n, self.born)
        if kind == "project":
            return list(inv.projects.values()), lambda p: pay.project(p, self.born)
        if kind == "host":
            return list(enumerate(inv.nodes.values())), lambda pair: pay.node(pair[1], self.born, f"127.0.1.{pair[0] + 1}")
        if kind == "cluster":
            ips = [f"127.0.1.{i + 1}" for i in range(len(inv.nodes))]
            return [False, True], lambda central: (
                pay.cluster(pay.PC_NAME, self.born, prism_central=True, node_ips=[]) if central
                else pay.cluster(cluster, self.born, prism_central=False, node_ips=ips)
            )
        if kind == "volume_group":
            return sorted(inv.volumes.values(), key=lambda v: v.name), lambda v: pay.volume_group(v, cluster=cluster)
        if kind == "task":
            return sorted(inv.tasks.values(), key=lambda t: t.created_at, reverse=True), lambda t: pay.task_v3(t, cluster=cluster)
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

    plural = lambda request: str(request.path_params.get("plural", "vms")).rstrip("s")  # noqa: E731

    @v3(plural)
    async def v3_list(request: Request) -> Response:
        body = _json(await request.body())
        kind = plural(request)
        inv = await facade.inventory()
        offset = max(0, int(body.get("offset") or 0))
        length = min(MAX_LENGTH, max(1, int(body.get("length") or 20)))
        clauses = list(filter(None, str(body.get("filter") or "").split(";")))
        if not clauses and body.get("sort_attribute") != "name":  # a plain page: only it is made
            page, total = facade.page(kind, inv, offset, length)
            return JSONResponse(pay.list_envelope(kind, page, total, offset, body))
        entities = facade.entities(kind, inv)
        for clause in clauses:
            entities = [e for e in entities if _matches(e, clause)]
        if body.get("sort_attribute") == "name":
            entities.sort(key=lambda e: (e.get("status") or {}).get("name", ""), reverse=body.get("sort_order") == "DESCENDING")
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

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette):
        await facade.start()
        try:
            yield
        finally:
            try:
                facade.v4.save()
            finally:
                await facade.sim.close()

    routes = [
        Route(f"{V3}/{{plural:str}}/list", v3_list, methods=["POST"]),
        Route(f"{V3}/vms", vm_create, methods=["POST"]),
        Route(f"{V3}/vms/{{uuid:str}}", vm_get, methods=["GET"]),
        Route(f"{V3}/vms/{{uuid:str}}", vm_update, methods=["PUT"]),
        Route(f"{V3}/vms/{{uuid:str}}", vm_delete, methods=["DELETE"]),
        Route(f"{V3}/tasks/{{uuid:str}}", task_get, methods=["GET"]),
        *v4_routes(facade, facade.v4, _status_of),
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
    """Serve until interrupted. ``args``: port, seed, scale, speed, faults, activity,
    state_path (the world kept there across restarts, the v4 APIs' own state beside it)."""
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
    # One certificate per port: several servers run at once, each trusted by its own bundle.
    cert = server_cert(sim_dir() / f"port-{port}")
    app = build_app(PrismFacade(sim, advance_on_poll=speed == 0), user="admin", password=password)
    endpoint = f"https://127.0.0.1:{port}"
    shown = password if generated else "(the NTNX_PASSWORD you set)"
    print(f"Simulated Prism Central on {endpoint}  (seed {sim.seed}, speed {speed:g})", flush=True)
    print(f"  user admin, password {shown}", flush=True)
    if sim.state_path:
        print(f"  state: {sim.state_path} (kept across restarts)", flush=True)
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
    parser.add_argument("--state", dest="state_path")
    sys.exit(main(parser.parse_args()))
