"""A Prism-compatible server built only from the payloads recorded from real Prism Central
(``recordings/``, see SOURCES.md there): every entity it serves was recorded, none invented.

It serves the four distinct VMs the recordings hold across pages: like Prism, it caps a
page's ``length`` (at ``PAGE_CAP``, far below Prism's 500, so that four VMs make four pages)
and answers with the recorded list envelope's keys. Lists with no recording (projects,
hosts, volume groups) are empty; tasks are the two recorded ones. Login is Prism's: basic
auth, then a session cookie; a refused login is a 401 whose body is HTML, not JSON.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backends.prism_sim.serving import PrismLogin

RECORDINGS = Path(__file__).parent / "recordings"
PAGE_CAP = 1
PRODUCT = "pc.2024.3.0.1"


def recording(name: str) -> dict[str, Any]:
    return json.loads((RECORDINGS / name).read_text())


def recorded_vms() -> list[dict[str, Any]]:
    """The distinct VMs of the recorded lists, in recorded order."""
    seen: dict[str, dict[str, Any]] = {}
    for name in ("pc_v3_vms_list_response_paginated_trimmed.json", "pc_v3_vms_list_response.json"):
        for entity in recording(name)["entities"]:
            seen.setdefault(entity["metadata"]["uuid"], entity)
    return list(seen.values())


def _lists() -> dict[str, list[dict[str, Any]]]:
    return {
        "vm": recorded_vms(),
        "cluster": recording("pc_v3_clusters_list_response.json")["entities"],
        "subnet": recording("pc_v3_subnets_list_response.json")["entities"],
        "image": recording("pc_v3_images_list_response.documented.json")["entities"],
        "task": [recording("pc_v3_task_get_succeeded.json"), recording("pc_v3_task_get_succeeded_pc7.json")],
        "project": [],
        "host": [],
    }


def _name(entity: dict[str, Any]) -> str:
    return (entity.get("status") or {}).get("name") or (entity.get("spec") or {}).get("name") or ""


def _not_found(kind: str, uuid: str) -> JSONResponse:
    body = recording("pc_v3_error_404_vm_not_found.json")
    body["kind"] = kind
    body["message_list"] = [{"message": f"{kind} : {uuid} does not exist.", "reason": "ENTITY_NOT_FOUND"}]
    return JSONResponse(body, status_code=404)


def build_recorded_app(*, user: str, password: str) -> PrismLogin:
    lists = _lists()
    tasks = {t["uuid"]: t for t in lists["task"]}
    vm_detail = {e["metadata"]["uuid"]: {**e, "api_version": "3.1"} for e in lists["vm"]}
    get = recording("pc_v3_vm_get_response.json")
    vm_detail[get["metadata"]["uuid"]] = get

    async def v3_list(request: Request) -> JSONResponse:
        kind = request.path_params["plural"].rstrip("s")
        if kind not in lists:
            return _not_found(kind, "list")
        body = json.loads(await request.body() or b"{}")
        entities = lists[kind]
        clause = str(body.get("filter") or "")
        if "==" in clause:
            wanted = clause.split("==", 1)[1]
            entities = [e for e in entities if _name(e) == wanted]
        offset = int(body.get("offset") or 0)
        length = min(PAGE_CAP, int(body.get("length") or 20))
        page = entities[offset : offset + length]
        # The recorded envelope's keys: total_matches, kind, length, offset.
        metadata = {"total_matches": len(entities), "kind": kind, "length": len(page), "offset": offset}
        return JSONResponse({"api_version": "3.1", "metadata": metadata, "entities": page})

    async def vm_get(request: Request) -> JSONResponse:
        uuid = request.path_params["uuid"]
        return JSONResponse(vm_detail[uuid]) if uuid in vm_detail else _not_found("vm", uuid)

    async def task_get(request: Request) -> JSONResponse:
        uuid = request.path_params["uuid"]
        return JSONResponse(tasks[uuid]) if uuid in tasks else _not_found("task", uuid)

    async def volume_groups(request: Request) -> JSONResponse:
        return JSONResponse({"data": [], "metadata": {"totalAvailableResults": 0}})

    app = Starlette(
        routes=[
            Route("/api/nutanix/v3/{plural:str}/list", v3_list, methods=["POST"]),
            Route("/api/nutanix/v3/vms/{uuid:str}", vm_get, methods=["GET"]),
            Route("/api/nutanix/v3/tasks/{uuid:str}", task_get, methods=["GET"]),
            Route("/api/volumes/v4.0/config/volume-groups", volume_groups, methods=["GET"]),
        ]
    )
    return PrismLogin(app, user=user, password=password, product=PRODUCT, simulated=False)
