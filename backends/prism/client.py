"""An async client for Prism Central: the v3 intentful API and the v4 Volumes and tasks APIs.

Every transport or HTTP failure leaves this module as one of ``backends.errors``' types, with
a message a user can act on. Nothing here knows about the console's models: see ``parse``.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import ssl
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from ..errors import (
    AuthenticationFailed,
    BackendError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    QuotaExceeded,
    Unavailable,
)

V3 = "/api/nutanix/v3"
V4_VOLUMES = "/api/volumes/v4.0/config"
V4_TASKS = "/api/prism/v4.0/config/tasks"
V4_STORAGE = "/api/clustermgmt/v4.0/config/storage-containers"

#: The header the console's own ``sim serve`` adds, so the backend can say it is simulated.
SIMULATOR_HEADER = "X-Ntnx-Console-Simulator"

# v3 list kinds and the FIQL attribute that holds their name.
NAME_FILTER = {"vm": "vm_name"}

TERMINAL_V3 = frozenset({"SUCCEEDED", "FAILED", "ABORTED"})
TERMINAL_V4 = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str | None
    password: str | None
    api_key: str | None = None

    def headers(self) -> dict[str, str]:
        if self.api_key:
            return {"X-ntnx-api-key": self.api_key}
        token = base64.b64encode(f"{self.user or ''}:{self.password or ''}".encode()).decode()
        return {"Authorization": f"Basic {token}"}


def _error_text(response: httpx.Response) -> tuple[str, str]:
    """(message, reason) from a v3 error envelope or a v4 error response, else the raw text."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase, ""
    if isinstance(body, dict):
        messages = body.get("message_list") or []
        if messages:
            first = messages[0]
            return str(first.get("message") or first.get("details") or ""), str(first.get("reason") or "")
        error = (body.get("data") or {}).get("error") if isinstance(body.get("data"), dict) else None
        if isinstance(error, list) and error:
            return str(error[0].get("message", "")), str(error[0].get("code", ""))
        if body.get("message"):
            return str(body["message"]), ""
    return str(body)[:200], ""


def error_for(response: httpx.Response, what: str) -> BackendError:
    """Map an HTTP error answer from Prism to the contract's typed error."""
    message, reason = _error_text(response)
    status = response.status_code
    text = f"{what}: {message}" if message else f"{what}: HTTP {status}"
    if "quota" in message.lower() or "QUOTA" in reason:
        return QuotaExceeded(text)
    if status == 401:
        return AuthenticationFailed(f"{what}: the user name or password was refused")
    if status == 403:
        return PermissionDenied(text)
    if status == 404:
        return NotFound(text)
    if status in (409, 412):
        return Conflict(text)
    if status in (400, 422):
        return InvalidInput(text)
    if status in (429, 502, 503, 504):
        return Unavailable(text)
    return BackendError(text)


def task_uuid_of(entity: dict[str, Any]) -> str | None:
    """``status.execution_context.task_uuid``: a string in a 202, a list in a GET."""
    value = ((entity.get("status") or {}).get("execution_context") or {}).get("task_uuid")
    if isinstance(value, list):
        return value[-1] if value else None
    return value or None


class PrismClient:
    """One Prism Central endpoint. ``open()`` checks the credentials; ``close()`` ends it."""

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials,
        *,
        insecure: bool = False,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        page_size: int = 500,
        page_concurrency: int = 4,
        max_retries: int = 4,
        max_retry_wait: float = 30.0,
        task_poll: tuple[float, float] = (0.2, 5.0),
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._credentials = credentials
        verify: bool | ssl.SSLContext = True
        if insecure:
            verify = False
        elif ca_bundle:
            try:
                verify = ssl.create_default_context(cafile=ca_bundle)
            except (OSError, ssl.SSLError) as err:
                raise InvalidInput(f"cannot read the CA bundle {ca_bundle}: {err}") from None
        self._http = httpx.AsyncClient(base_url=self.endpoint, verify=verify, timeout=timeout)
        self.page_size = page_size
        self._pages = asyncio.Semaphore(page_concurrency)
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.task_poll = task_poll
        self.simulated = False
        self.product: str | None = None

    async def close(self) -> None:
        await self._http.aclose()

    async def open(self) -> None:
        """Check that the endpoint answers and accepts the credentials."""
        await self.v3_list_page("cluster", offset=0, length=1)

    # -- transport -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any = None,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """Send one request: session cookie or credentials, 429/503 retried after the server's
        wait, a 401 on a stale session renewed once, errors mapped to typed errors."""
        renewed = False
        attempt = 0
        while True:
            sent = dict(headers or {})
            if not self._http.cookies or self._credentials.api_key:
                sent.update(self._credentials.headers())
            try:
                response = await self._http.request(method, path, json=json, params=params, headers=sent)
            except httpx.ConnectError as err:
                raise self._unreachable(err) from None
            except httpx.TimeoutException:
                raise Unavailable(f"{self.endpoint} did not answer in time ({what})") from None
            except httpx.HTTPError as err:
                raise Unavailable(f"{self.endpoint}: {type(err).__name__}: {err}") from None
            self._note_product(response)
            if response.status_code == 401 and self._http.cookies and not renewed:
                # The session expired: forget it and log in again once with the credentials.
                self._http.cookies.clear()
                renewed = True
                continue
            if response.status_code in (429, 503) and attempt < self.max_retries:
                attempt += 1
                await asyncio.sleep(self._retry_wait(response, attempt))
                continue
            if response.status_code == 401:
                raise AuthenticationFailed(
                    f"{self.endpoint} refused the credentials of {self._credentials.user or 'the API key'}"
                )
            if response.is_error:
                raise error_for(response, what)
            return response

    def _retry_wait(self, response: httpx.Response, attempt: int) -> float:
        header = response.headers.get("Retry-After")
        try:
            wait = float(header) if header is not None else 0.5 * 2**attempt
        except ValueError:
            wait = 0.5 * 2**attempt
        return max(0.0, min(wait, self.max_retry_wait))

    def _unreachable(self, err: httpx.ConnectError) -> Unavailable:
        cause: BaseException | None = err
        while cause is not None:
            if isinstance(cause, ssl.SSLCertVerificationError):
                return Unavailable(
                    f"TLS certificate of {self.endpoint} not trusted (use --ca-bundle PATH or --insecure)"
                )
            if isinstance(cause, ssl.SSLError):
                return Unavailable(f"TLS with {self.endpoint} failed: {cause.reason or cause}")
            cause = cause.__cause__ or cause.__context__
        text = str(err) or type(err).__name__
        if "CERTIFICATE_VERIFY_FAILED" in text:
            return Unavailable(f"TLS certificate of {self.endpoint} not trusted (use --ca-bundle PATH or --insecure)")
        return Unavailable(f"cannot connect to {self.endpoint}: {text}")

    def _note_product(self, response: httpx.Response) -> None:
        if SIMULATOR_HEADER in response.headers:
            self.simulated = True
        self.product = response.headers.get("X-Ntnx-Product", self.product)

    # -- v3: lists -------------------------------------------------------------------------

    async def v3_list_page(
        self,
        kind: str,
        *,
        offset: int,
        length: int,
        filter: str | None = None,
        sort_attribute: str | None = None,
        sort_order: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"kind": kind, "length": length, "offset": offset}
        if filter:
            body["filter"] = filter
        if sort_attribute:
            body["sort_attribute"] = sort_attribute
            body["sort_order"] = sort_order or "ASCENDING"
        async with self._pages:
            response = await self.request("POST", f"{V3}/{kind}s/list", json=body, what=f"list {kind}s")
        return response.json()

    async def v3_list(
        self,
        kind: str,
        *,
        filter: str | None = None,
        sort_attribute: str | None = None,
        sort_order: str | None = None,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Every entity of ``kind`` (or the first ``limit``): the first page, then the rest by
        ``total_matches``, concurrently within the page limit. The server may cap ``length``:
        the step is the length it actually returned."""
        want = min(self.page_size, limit) if limit else self.page_size
        opts = dict(filter=filter, sort_attribute=sort_attribute, sort_order=sort_order)
        first = await self.v3_list_page(kind, offset=0, length=want, **opts)
        entities = list(first.get("entities") or [])
        total = int((first.get("metadata") or {}).get("total_matches") or len(entities))
        if limit:
            total = min(total, limit)
        step = len(entities)
        if step == 0 or len(entities) >= total:
            return entities[:total]
        pages = await asyncio.gather(
            *(
                self.v3_list_page(kind, offset=offset, length=step, **opts)
                for offset in range(step, total, step)
            )
        )
        for page in pages:
            entities.extend(page.get("entities") or [])
        return entities[:total]

    async def v3_find(self, kind: str, name: str) -> list[dict[str, Any]]:
        """Entities of ``kind`` named exactly ``name`` (FIQL filter, then an exact check)."""
        attribute = NAME_FILTER.get(kind, "name")
        found = await self.v3_list(kind, filter=f"{attribute}=={name}")
        return [e for e in found if _name(e) == name]

    # -- v3: one entity ------------------------------------------------------------------------

    async def v3_get(self, kind: str, entity_uuid: str) -> dict[str, Any]:
        response = await self.request("GET", f"{V3}/{kind}s/{entity_uuid}", what=f"get {kind} {entity_uuid}")
        return response.json()

    async def v3_create(self, kind: str, spec: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
        """POST an entity; returns the 202 answer (its ``metadata.uuid`` and task)."""
        body = {"spec": spec, "metadata": {"kind": kind, **metadata}, "api_version": "3.1"}
        response = await self.request("POST", f"{V3}/{kind}s", json=body, what=f"create {kind} {spec.get('name', '')}")
        return response.json()

    async def v3_update(
        self, kind: str, entity_uuid: str, edit: Callable[[dict[str, Any], dict[str, Any]], None], *, tries: int = 4
    ) -> str | None:
        """GET the entity, ``edit(spec, metadata)`` in place, PUT it back with its current
        metadata (``spec_version``); on 409 start again from a fresh GET. Returns the task."""
        for attempt in range(tries):
            current = await self.v3_get(kind, entity_uuid)
            spec = copy.deepcopy(current.get("spec") or {})
            metadata = copy.deepcopy(current.get("metadata") or {})
            edit(spec, metadata)
            body = {"spec": spec, "metadata": metadata, "api_version": current.get("api_version", "3.1")}
            try:
                response = await self.request(
                    "PUT", f"{V3}/{kind}s/{entity_uuid}", json=body, what=f"update {kind} {_name(current)}"
                )
            except Conflict:
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
                continue
            return task_uuid_of(response.json())
        return None  # pragma: no cover - the loop returns or raises

    async def v3_delete(self, kind: str, entity_uuid: str) -> str | None:
        response = await self.request("DELETE", f"{V3}/{kind}s/{entity_uuid}", what=f"delete {kind} {entity_uuid}")
        return task_uuid_of(response.json()) if response.content else None

    # -- v3: tasks -----------------------------------------------------------------------------

    async def v3_task(self, task_uuid: str) -> dict[str, Any]:
        response = await self.request("GET", f"{V3}/tasks/{task_uuid}", what=f"get task {task_uuid}")
        return response.json()

    async def wait_v3_task(
        self, task_uuid: str, on_progress: Callable[[dict[str, Any]], None] | None = None, *, timeout: float = 3600
    ) -> dict[str, Any]:
        """Poll a v3 task with backoff until SUCCEEDED, FAILED or ABORTED."""
        return await self._wait(lambda: self.v3_task(task_uuid), lambda t: t.get("status"), TERMINAL_V3, on_progress, timeout)

    async def _wait(self, fetch, status_of, terminal, on_progress, timeout: float) -> dict[str, Any]:
        delay, cap = self.task_poll
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            task = await fetch()
            if on_progress:
                on_progress(task)
            if status_of(task) in terminal:
                return task
            if asyncio.get_running_loop().time() > deadline:
                raise Unavailable(f"task did not end within {timeout:.0f}s")
            await asyncio.sleep(delay)
            delay = min(cap, delay * 1.5)

    # -- v4: volume groups -----------------------------------------------------------------

    async def v4_list(self, path: str, *, what: str, limit: int = 100) -> list[dict[str, Any]]:
        """Every item of a v4 list, page by page (``$page``/``$limit``), the pages after the
        first fetched concurrently."""

        async def page(number: int) -> dict[str, Any]:
            async with self._pages:
                response = await self.request("GET", path, params={"$page": number, "$limit": limit}, what=what)
            return response.json()

        first = await page(0)
        items = list(first.get("data") or [])
        total = int((first.get("metadata") or {}).get("totalAvailableResults") or len(items))
        if len(items) < total and items:
            rest = await asyncio.gather(*(page(n) for n in range(1, -(-total // limit))))
            for body in rest:
                items.extend(body.get("data") or [])
        return items

    async def volume_groups(self) -> list[dict[str, Any]]:
        return await self.v4_list(f"{V4_VOLUMES}/volume-groups", what="list volume groups")

    async def volume_group_disks(self, vg_id: str) -> list[dict[str, Any]]:
        return await self.v4_list(f"{V4_VOLUMES}/volume-groups/{vg_id}/disks", what=f"list disks of volume group {vg_id}")

    async def volume_group_attachments(self, vg_id: str) -> list[dict[str, Any]]:
        return await self.v4_list(
            f"{V4_VOLUMES}/volume-groups/{vg_id}/vm-attachments", what=f"list attachments of volume group {vg_id}"
        )

    async def storage_containers(self) -> list[dict[str, Any]]:
        return await self.v4_list(V4_STORAGE, what="list storage containers")

    async def _v4_mutate(self, method: str, path: str, *, what: str, json: Any = None, etag: str | None = None) -> str:
        headers = {"NTNX-Request-Id": str(uuid.uuid4())}
        if etag:
            headers["If-Match"] = etag
        response = await self.request(method, path, json=json, headers=headers, what=what)
        return str(((response.json() or {}).get("data") or {}).get("extId") or "")

    async def _etag(self, vg_id: str) -> str | None:
        response = await self.request("GET", f"{V4_VOLUMES}/volume-groups/{vg_id}", what=f"get volume group {vg_id}")
        return response.headers.get("ETag")

    async def create_volume_group(self, body: dict[str, Any]) -> str:
        return await self._v4_mutate(
            "POST", f"{V4_VOLUMES}/volume-groups", json=body, what=f"create volume group {body.get('name', '')}"
        )

    async def attach_vm(self, vg_id: str, vm_uuid: str) -> str:
        return await self._v4_mutate(
            "POST",
            f"{V4_VOLUMES}/volume-groups/{vg_id}/$actions/attach-vm",
            json={"extId": vm_uuid},
            etag=await self._etag(vg_id),
            what=f"attach volume group {vg_id}",
        )

    async def detach_vm(self, vg_id: str, vm_uuid: str) -> str:
        return await self._v4_mutate(
            "POST",
            f"{V4_VOLUMES}/volume-groups/{vg_id}/$actions/detach-vm",
            json={"extId": vm_uuid},
            etag=await self._etag(vg_id),
            what=f"detach volume group {vg_id}",
        )

    async def delete_volume_group(self, vg_id: str) -> str:
        return await self._v4_mutate(
            "DELETE", f"{V4_VOLUMES}/volume-groups/{vg_id}", etag=await self._etag(vg_id), what=f"delete volume group {vg_id}"
        )

    # -- v4: tasks ---------------------------------------------------------------------------

    async def v4_task(self, ext_id: str) -> dict[str, Any]:
        response = await self.request("GET", f"{V4_TASKS}/{ext_id}", what=f"get task {ext_id}")
        return response.json().get("data") or {}

    async def wait_v4_task(
        self, ext_id: str, on_progress: Callable[[dict[str, Any]], None] | None = None, *, timeout: float = 3600
    ) -> dict[str, Any]:
        return await self._wait(lambda: self.v4_task(ext_id), lambda t: t.get("status"), TERMINAL_V4, on_progress, timeout)


def _name(entity: dict[str, Any]) -> str:
    return str((entity.get("spec") or {}).get("name") or (entity.get("status") or {}).get("name") or "")
