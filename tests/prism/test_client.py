"""The Prism client's transport rules, against a real uvicorn server on 127.0.0.1 whose
answers are scripted per test: paging within the concurrency limit, 429/503 retried after
the server's wait, a stale session renewed once, 409 on update retried from a fresh GET,
task polling, v4 ETag and request ids, and every failure as a typed error."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from backends.errors import AuthenticationFailed, Conflict, InvalidInput, NotFound, PermissionDenied, QuotaExceeded, Unavailable
from backends.prism.client import Credentials, PrismClient
from backends.prism_sim.serving import PrismLogin, v3_error
from tests.daemons import free_port
from tests.prism.servers import PASSWORD, serve


class Script:
    """What the scripted server does, and what it saw."""

    def __init__(self) -> None:
        self.vm_count = 7
        self.page_cap = 2
        self.in_flight = 0
        self.max_in_flight = 0
        self.calls: Counter[str] = Counter()
        self.busy: list[int] = []  # statuses to answer clusters/list with before a 200
        self.conflicts = 0  # PUTs to refuse with 409 before accepting
        self.spec_version = 3
        self.put_bodies: list[dict[str, Any]] = []
        self.task_polls = 0
        self.v4_headers: list[dict[str, str]] = []
        self.error: tuple[int, str, str] | None = None


def scripted_app(script: Script) -> PrismLogin:
    async def vms_list(request: Request) -> Response:
        script.calls["vms/list"] += 1
        body = json.loads(await request.body())
        script.in_flight += 1
        script.max_in_flight = max(script.max_in_flight, script.in_flight)
        try:
            await asyncio.sleep(0.05)  # long enough for concurrent pages to overlap
        finally:
            script.in_flight -= 1
        offset, length = body["offset"], min(script.page_cap, body["length"])
        names = [f"vm-{i:02d}" for i in range(script.vm_count)][offset : offset + length]
        entities = [{"metadata": {"uuid": n, "kind": "vm"}, "spec": {"name": n}, "status": {"name": n}} for n in names]
        return JSONResponse({"api_version": "3.1", "metadata": {"kind": "vm", "total_matches": script.vm_count, "length": len(entities), "offset": offset}, "entities": entities})

    async def clusters_list(request: Request) -> Response:
        script.calls["clusters/list"] += 1
        if script.error:
            status, message, reason = script.error
            return v3_error(status, "cluster", message, reason)
        if script.busy:
            status = script.busy.pop(0)
            return JSONResponse({"message": "slow down"}, status_code=status, headers={"Retry-After": "0.3"})
        return JSONResponse({"api_version": "3.1", "metadata": {"kind": "cluster", "total_matches": 0}, "entities": []})

    async def vm(request: Request) -> Response:
        if request.method == "GET":
            script.calls["vm GET"] += 1
            return JSONResponse({"metadata": {"uuid": "vm-00", "kind": "vm", "spec_version": script.spec_version}, "spec": {"name": "vm-00", "resources": {"power_state": "ON"}}, "status": {}, "api_version": "3.1"})
        script.calls["vm PUT"] += 1
        body = json.loads(await request.body())
        script.put_bodies.append(body)
        if script.conflicts:
            script.conflicts -= 1
            script.spec_version += 1  # someone else changed it meanwhile
            return v3_error(409, "vm", "spec_version mismatch", "CONFLICT")
        return JSONResponse({"metadata": body["metadata"], "spec": body["spec"], "status": {"state": "PENDING", "execution_context": {"task_uuid": "t-1"}}}, status_code=202)

    async def task(request: Request) -> Response:
        script.task_polls += 1
        done = script.task_polls >= 3
        return JSONResponse({"uuid": "t-1", "status": "SUCCEEDED" if done else "RUNNING", "percentage_complete": 100 if done else 30 * script.task_polls, "progress_message": "working", "operation_type": "update_vm_intentful"})

    async def vg(request: Request) -> Response:
        return JSONResponse({"data": {"extId": "vg-1", "name": "data"}}, headers={"ETag": "etag-7"})

    async def vg_action(request: Request) -> Response:
        script.v4_headers.append({k: request.headers.get(k, "") for k in ("If-Match", "NTNX-Request-Id")})
        return JSONResponse({"data": {"$objectType": "prism.v4.config.TaskReference", "extId": "v4-task"}}, status_code=202)

    app = Starlette(
        routes=[
            Route("/api/nutanix/v3/vms/list", vms_list, methods=["POST"]),
            Route("/api/nutanix/v3/clusters/list", clusters_list, methods=["POST"]),
            Route("/api/nutanix/v3/vms/vm-00", vm, methods=["GET", "PUT"]),
            Route("/api/nutanix/v3/tasks/t-1", task, methods=["GET"]),
            Route("/api/volumes/v4.0/config/volume-groups/vg-1", vg, methods=["GET"]),
            Route("/api/volumes/v4.0/config/volume-groups/vg-1/$actions/{action:str}", vg_action, methods=["POST"]),
        ]
    )
    return PrismLogin(app, user="admin", password=PASSWORD, product="pc.test", simulated=False)


@pytest.fixture(scope="module")
def scripted():
    script = Script()
    with serve(scripted_app(script)) as server:
        yield server, script


@pytest.fixture
async def client(scripted):
    server, script = scripted
    script.__init__()
    c = PrismClient(server.endpoint, Credentials("admin", PASSWORD), ca_bundle=str(server.cert.cert), page_size=100, page_concurrency=2, task_poll=(0.01, 0.05))
    yield c, script, server
    await c.close()


async def test_pages_after_the_first_come_concurrently_within_the_limit(client):
    c, script, _ = client
    vms = await c.v3_list("vm")
    assert [v["spec"]["name"] for v in vms] == [f"vm-{i:02d}" for i in range(7)]
    assert script.calls["vms/list"] == 4  # the server caps pages at 2: 2+2+2+1
    assert script.max_in_flight == 2  # the three later pages, two at a time


async def test_busy_answers_are_retried_after_the_servers_wait(client):
    c, script, _ = client
    script.busy = [429, 503]
    started = time.monotonic()
    await c.open()
    assert script.calls["clusters/list"] == 3
    assert time.monotonic() - started >= 0.6  # Retry-After: 0.3, twice


async def test_a_busy_server_that_stays_busy_is_unavailable(client):
    c, script, _ = client
    c.max_retry_wait = 0.01
    script.busy = [503] * 10
    with pytest.raises(Unavailable):
        await c.open()


async def test_a_stale_session_is_renewed_once_with_the_credentials(client):
    c, script, server = client
    server.app.sessions.clear()
    await c.open()
    await c.open()
    assert len(server.app.sessions) == 1  # one login; the second call used its cookie
    server.app.sessions.clear()  # the server forgot every session: the cookie is stale
    await c.open()
    assert len(server.app.sessions) == 1 and script.calls["clusters/list"] == 3


async def test_update_is_retried_from_a_fresh_get_on_409(client):
    c, script, _ = client
    script.conflicts = 1

    def power_off(spec: dict, metadata: dict) -> None:
        spec["resources"]["power_state"] = "OFF"

    task = await c.v3_update("vm", "vm-00", power_off)
    assert task == "t-1"
    assert script.calls["vm GET"] == 2 and script.calls["vm PUT"] == 2
    # each PUT carried the spec_version of the GET just before it
    assert [b["metadata"]["spec_version"] for b in script.put_bodies] == [3, 4]
    assert script.put_bodies[-1]["spec"]["resources"]["power_state"] == "OFF"


async def test_tasks_are_polled_until_they_end_showing_progress(client):
    c, script, _ = client
    seen: list[tuple[str, int]] = []
    final = await c.wait_v3_task("t-1", lambda t: seen.append((t["status"], t["percentage_complete"])))
    assert final["status"] == "SUCCEEDED"
    assert seen == [("RUNNING", 30), ("RUNNING", 60), ("SUCCEEDED", 100)]


async def test_v4_updates_send_the_etag_and_a_fresh_request_id(client):
    c, script, _ = client
    assert await c.attach_vm("vg-1", "vm-00") == "v4-task"
    await c.detach_vm("vg-1", "vm-00")
    assert [h["If-Match"] for h in script.v4_headers] == ["etag-7", "etag-7"]
    ids = [h["NTNX-Request-Id"] for h in script.v4_headers]
    assert all(ids) and len(set(ids)) == 2


@pytest.mark.parametrize(
    "status, message, reason, error",
    [
        (403, "not allowed", "ACCESS_DENIED", PermissionDenied),
        (404, "cluster : x does not exist.", "ENTITY_NOT_FOUND", NotFound),
        (409, "changed", "CONFLICT", Conflict),
        (422, "bad spec", "INVALID_REQUEST", InvalidInput),
        (422, "project quota exceeded for vCPUs", "QUOTA_EXCEEDED", QuotaExceeded),
    ],
)
async def test_error_envelopes_become_typed_errors(client, status, message, reason, error):
    c, script, _ = client
    script.error = (status, message, reason)
    with pytest.raises(error) as caught:
        await c.open()
    assert message in caught.value.one_line()


async def test_wrong_password_is_an_authentication_failure(scripted):
    server, _ = scripted
    c = PrismClient(server.endpoint, Credentials("admin", "wrong"), ca_bundle=str(server.cert.cert))
    try:
        with pytest.raises(AuthenticationFailed, match="refused the credentials of admin"):
            await c.open()
    finally:
        await c.close()


async def test_nothing_listening_is_unavailable_in_one_line():
    endpoint = f"https://127.0.0.1:{free_port()}"
    c = PrismClient(endpoint, Credentials("admin", PASSWORD))
    try:
        with pytest.raises(Unavailable) as caught:
            await c.open()
    finally:
        await c.close()
    assert caught.value.one_line().startswith(f"Unavailable: cannot connect to {endpoint}")
    assert "\n" not in caught.value.one_line()
