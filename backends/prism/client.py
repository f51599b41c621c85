"""An async client for Prism Central: the v3 intentful API and the v4 Volumes and tasks APIs.

Every transport or HTTP failure leaves this module as one of ``backends.errors``' types, with
a message a user can act on. Nothing here knows about the console's models: see ``parse``.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import json as jsonlib
import logging
import math
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from ..tls import tls_problem, verification
from ..errors import (
    AuthenticationFailed,
    BackendError,
    Conflict,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProtocolError,
    QuotaExceeded,
    TaskFailed,
    Unavailable,
)

log = logging.getLogger(__name__)

V3 = "/api/nutanix/v3"
V4_VOLUMES = "/api/volumes/v4.0/config"
V4_TASKS = "/api/prism/v4.0/config/tasks"
V4_STORAGE = "/api/clustermgmt/v4.0/config/storage-containers"
V4_VM_STATS = "/api/vmm/v4.0/ahv/stats/vms"

#: The header the console's own ``sim serve`` adds, so the backend can say it is simulated.
SIMULATOR_HEADER = "X-Ntnx-Console-Simulator"

# v3 list kinds and the FIQL attribute that holds their name.
NAME_FILTER = {"vm": "vm_name"}

TERMINAL_V3 = frozenset({"SUCCEEDED", "FAILED", "ABORTED"})
TERMINAL_V4 = frozenset({"SUCCEEDED", "FAILED", "CANCELED"})

# -- bounds: every request ends, every answer fits in memory, every list has an end ------------

#: Seconds to open a connection (TCP and TLS); Prism on the same site answers in well under one.
CONNECT_TIMEOUT = 10.0
#: Seconds between two reads of one answer (httpx's read timeout).
READ_TIMEOUT = 30.0
#: Seconds for a whole request, sending to the last byte: a server that drips one byte just
#: inside the read timeout must still end. A page of 500 VMs takes a second or two.
TOTAL_TIMEOUT = 120.0
#: Bytes of one answer. A v3 page of 500 VMs is about 5 MiB; 64 MiB is far past any real page
#: and still a bounded cost for a server that sends without end.
MAX_BODY = 64 * 1024 * 1024
#: Entities of one list. The console is built and measured for 100,000 containers (README,
#: Performance); a Prism claiming more is lying or beyond what the console can show.
MAX_LIST_ENTITIES = 100_000
#: Pages of one list. 100,000 entities at Prism's cap of 500 a page are 200 pages; a server
#: that serves so few a page that 1,000 are needed would take minutes and is refused.
MAX_LIST_PAGES = 1_000
#: A busy answer (429/503) is retried at most this many times...
MAX_RETRIES = 4
#: ...each after the server's Retry-After, if it asks for no more than this (seconds). A server
#: asking for longer is not waited for: the error says when it said to come back.
MAX_RETRY_WAIT = 30.0
#: Seconds to wait for a Prism task to end unless the caller says otherwise. Creating a VM
#: from an image or attaching a volume group takes seconds to minutes; a task still running
#: after this is reported with its last state rather than waited for without end.
TASK_TIMEOUT = 900.0


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
    except ValueError:  # also UnicodeDecodeError: any body, read as text
        if _looks_like_html(response):
            return f"HTTP {response.status_code} {response.reason_phrase} (an HTML page)", ""
        return " ".join(response.text.split())[:200] or response.reason_phrase, ""
    if isinstance(body, dict):
        messages = body.get("message_list")
        if isinstance(messages, list) and messages:
            first = messages[0] if isinstance(messages[0], dict) else {"message": messages[0]}
            return str(first.get("message") or first.get("details") or ""), str(first.get("reason") or "")
        error = body["data"].get("error") if isinstance(body.get("data"), dict) else None
        if isinstance(error, list) and error:
            first = error[0] if isinstance(error[0], dict) else {"message": error[0]}
            return str(first.get("message", "")), str(first.get("code", ""))
        if body.get("message"):
            return str(body["message"]), ""
    return str(body)[:200], ""


def _looks_like_html(response: httpx.Response) -> bool:
    if "html" in response.headers.get("content-type", "").lower():
        return True
    start = response.content[:64].lstrip().lower()
    return start.startswith(b"<!doctype html") or start.startswith(b"<html")


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
    """``status.execution_context.task_uuid``: a string in a 202, a list in a GET. Anything
    else where it should be (a number, an object) is no task."""
    status = entity.get("status") if isinstance(entity, dict) else None
    context = status.get("execution_context") if isinstance(status, dict) else None
    value = context.get("task_uuid") if isinstance(context, dict) else None
    if isinstance(value, list):
        value = value[-1] if value else None
    return value if isinstance(value, str) and value else None


class PrismClient:
    """One Prism Central endpoint. ``open()`` checks the credentials; ``close()`` ends it.

    Every request is bounded (connect, read, and whole-request timeouts; a cap on the answer's
    size), every answer is checked for the shape the caller needs, and every list ends: an
    answer outside the API is a ``ProtocolError`` naming the request and what was wrong."""

    def __init__(
        self,
        endpoint: str,
        credentials: Credentials,
        *,
        insecure: bool = False,
        ca_bundle: str | None = None,
        timeout: float = READ_TIMEOUT,
        connect_timeout: float = CONNECT_TIMEOUT,
        total_timeout: float = TOTAL_TIMEOUT,
        max_body: int = MAX_BODY,
        page_size: int = 500,
        page_concurrency: int = 4,
        max_retries: int = MAX_RETRIES,
        max_retry_wait: float = MAX_RETRY_WAIT,
        task_poll: tuple[float, float] = (0.2, 5.0),
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self._credentials = credentials
        verify = verification(insecure=insecure, ca_bundle=ca_bundle)
        # Redirects are not followed: Prism's API never redirects, and following one would send
        # the credentials elsewhere. A 3xx is a ProtocolError naming where it pointed.
        self._http = httpx.AsyncClient(
            base_url=self.endpoint,
            verify=verify,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
        )
        self.total_timeout = total_timeout
        self.max_body = max_body
        self.page_size = page_size
        self.page_concurrency = page_concurrency
        self._pages = asyncio.Semaphore(page_concurrency)
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.task_poll = task_poll
        self.simulated = False
        self.product: str | None = None
        self._callers: set[asyncio.Task[Any]] = set()  # tasks with a request under way
        self._closing = False

    async def close(self) -> None:
        # Requests still under way (siblings of a failed gather, say) are ended here, while the
        # loop runs: left to the loop's shutdown, their half-made connections warn on stderr.
        # Those still waiting for a page slot find the client closing and send nothing.
        self._closing = True
        others = {t for t in self._callers if t is not asyncio.current_task() and not t.done()}
        for task in others:
            task.cancel()
        if others:
            await asyncio.wait(others, timeout=5)
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
        wait (bounded), a 401 on a stale session renewed once, errors mapped to typed errors.
        The answer's body is read (within ``max_body``) before it is returned."""
        if self._closing:
            raise Unavailable(f"{what}: the connection to {self.endpoint} is closed")
        caller = asyncio.current_task()
        if caller is not None:
            self._callers.add(caller)
        try:
            return await self._request(method, path, what=what, json=json, params=params, headers=headers)
        finally:
            self._callers.discard(caller)  # type: ignore[arg-type]

    async def _request(
        self,
        method: str,
        path: str,
        *,
        what: str,
        json: Any,
        params: dict[str, Any] | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        renewed = False
        attempt = 0
        waited = 0.0
        while True:
            sent = dict(headers or {})
            if not self._http.cookies or self._credentials.api_key:
                sent.update(self._credentials.headers())
            response = await self._send(method, path, what=what, json=json, params=params, headers=sent)
            self._note_product(response)
            if response.status_code == 401 and self._http.cookies and not renewed:
                # The session expired: forget it and log in again once with the credentials.
                self._http.cookies.clear()
                renewed = True
                continue
            if response.status_code in (429, 503):
                asked = _retry_after(response)
                if asked is not None and asked > self.max_retry_wait:
                    # Waiting that long helps nobody looking at a console; the caller (or the
                    # poller's backoff) comes back later.
                    raise Unavailable(
                        f"{what}: {self.endpoint} is busy (HTTP {response.status_code}) and asked to retry after "
                        f"{asked:.0f}s, longer than the {self.max_retry_wait:.0f}s the console waits",
                        retry_after=asked,
                    )
                if attempt < self.max_retries:
                    attempt += 1
                    wait = asked if asked is not None else min(self.max_retry_wait, 0.5 * 2**attempt)
                    log.warning(
                        "%s: %s busy (HTTP %s), retry %d of %d in %.1fs",
                        what, self.endpoint, response.status_code, attempt, self.max_retries, wait,
                    )
                    waited += wait
                    await asyncio.sleep(wait)
                    continue
                message, _ = _error_text(response)
                raise Unavailable(
                    f"{what}: {self.endpoint} still busy (HTTP {response.status_code}{': ' + message if message else ''}) "
                    f"after {attempt} retries over {waited:.1f}s"
                )
            if response.status_code == 401:
                raise AuthenticationFailed(
                    f"{self.endpoint} refused the credentials of {self._credentials.user or 'the API key'}"
                )
            if response.is_error:
                raise error_for(response, what)
            if response.is_redirect or 300 <= response.status_code < 400:
                where = response.headers.get("Location", "nowhere")
                raise self._protocol(method, path, f"answered HTTP {response.status_code}, a redirect to {where}")
            if response.status_code < 200:
                raise self._protocol(method, path, f"answered HTTP {response.status_code}")
            return response

    async def _send(self, method: str, path: str, *, what: str, **kwargs: Any) -> httpx.Response:
        """One exchange, bounded in time as a whole and in size, the body read."""
        try:
            async with asyncio.timeout(self.total_timeout):
                request = self._http.build_request(method, path, **kwargs)
                response = await self._http.send(request, stream=True)
                try:
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) > self.max_body:
                        raise self._too_large(method, path, f"{int(declared):,} bytes announced")
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():  # decoded: a compressed bomb counts in full
                        size += len(chunk)
                        if size > self.max_body:
                            raise self._too_large(method, path, "more than that sent")
                        chunks.append(chunk)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise Unavailable(
                f"{what}: {self.endpoint} did not finish answering {method} {path} within {self.total_timeout:g}s"
            ) from None
        except httpx.ConnectError as err:
            raise self._unreachable(err) from None
        except httpx.TimeoutException:
            raise Unavailable(f"{self.endpoint} did not answer in time ({what})") from None
        except httpx.HTTPError as err:
            raise Unavailable(f"{self.endpoint}: {type(err).__name__}: {err} ({what})") from None
        # httpx's own aread() keeps the body here; the response is closed and whole.
        response._content = b"".join(chunks)
        return response

    def _too_large(self, method: str, path: str, detail: str) -> ProtocolError:
        return self._protocol(method, path, f"answer larger than {self.max_body // (1024 * 1024)} MiB ({detail})")

    def _protocol(self, method: str, path: str, problem: str) -> ProtocolError:
        return ProtocolError(f"{self.endpoint}: {method} {path} {problem}")

    async def request_json(self, method: str, path: str, *, what: str, **kwargs: Any) -> dict[str, Any]:
        """A request whose answer must be a JSON object."""
        response = await self.request(method, path, what=what, **kwargs)
        return self.json_object(response, method, path)

    def json_object(self, response: httpx.Response, method: str, path: str) -> dict[str, Any]:
        """The answer's body as a JSON object, or a ProtocolError saying what it was instead."""
        status = response.status_code
        if not response.content.strip():
            raise self._protocol(method, path, f"answered HTTP {status} with an empty body where JSON was expected")
        if _looks_like_html(response):
            raise self._protocol(method, path, f"answered an HTML page (HTTP {status}), not JSON")
        try:
            body = jsonlib.loads(response.content)
        except (ValueError, RecursionError) as err:  # UnicodeDecodeError is a ValueError
            raise self._protocol(method, path, f"answered something that is not JSON (HTTP {status}: {err})") from None
        if not isinstance(body, dict):
            raise self._protocol(method, path, f"answered a JSON {_kind(body)} where an object was expected")
        return body

    def _unreachable(self, err: httpx.ConnectError) -> Unavailable:
        problem = tls_problem(err)
        if problem is not None and problem.untrusted:
            return Unavailable(f"TLS certificate of {self.endpoint} not trusted (use --ca-bundle PATH or --insecure)")
        if problem is not None:
            return Unavailable(f"TLS with {self.endpoint} failed: {problem.detail}")
        return Unavailable(f"cannot connect to {self.endpoint}: {str(err) or type(err).__name__}")

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
        """One page, checked: ``entities`` a list of objects (absent means none), ``metadata``
        an object, ``total_matches`` a count."""
        body: dict[str, Any] = {"kind": kind, "length": length, "offset": offset}
        if filter:
            body["filter"] = filter
        if sort_attribute:
            body["sort_attribute"] = sort_attribute
            body["sort_order"] = sort_order or "ASCENDING"
        path = f"{V3}/{kind}s/list"
        async with self._pages:
            page = await self.request_json("POST", path, json=body, what=f"list {kind}s")
        entities = page.get("entities")
        if entities is None:
            page["entities"] = []
        else:
            self._check_items(entities, "POST", path, "entities")
        metadata = page.get("metadata")
        if metadata is None:
            page["metadata"] = {}
        elif not isinstance(metadata, dict):
            raise self._protocol("POST", path, f"answered metadata as a JSON {_kind(metadata)}, not an object")
        self._count(page["metadata"], "total_matches", "POST", path)
        return page

    def _check_items(self, items: Any, method: str, path: str, field: str) -> None:
        if not isinstance(items, list):
            raise self._protocol(method, path, f"answered {field} as a JSON {_kind(items)}, not a list")
        for index, item in enumerate(items):
            if not isinstance(item, dict):
                raise self._protocol(method, path, f"answered {field}[{index}] as a JSON {_kind(item)}, not an object")
            for part in ("metadata", "spec", "status"):
                value = item.get(part)
                # a v3 task's status is a word; a v3 entity's spec, status and metadata are objects
                if value is not None and not isinstance(value, (dict, str) if part == "status" else dict):
                    raise self._protocol(
                        method, path, f"answered {field}[{index}].{part} as a JSON {_kind(value)}, not an object"
                    )

    def _count(self, metadata: dict[str, Any], key: str, method: str, path: str) -> int | None:
        value = metadata.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise self._protocol(method, path, f"answered {key} {value!r}, not a count")
        return value

    async def v3_list(
        self,
        kind: str,
        *,
        filter: str | None = None,
        sort_attribute: str | None = None,
        sort_order: str | None = None,
        limit: int | None = None,
        first: dict[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        """Every entity of ``kind`` (or the first ``limit``): the first page, then the rest by
        ``total_matches``, concurrently within the page limit. The server may cap ``length``:
        the step is the length it actually returned. ``first``: the first page as
        ``v3_list_page`` gave it already (a paged snapshot showed it), not asked for again.

        Paging ends: a total beyond ``MAX_LIST_ENTITIES`` or needing more than
        ``MAX_LIST_PAGES`` pages is refused before the second page, and a page that brings no
        entity not seen before is a ProtocolError. An empty page ends the list early (entities
        deleted while it was read)."""
        want = min(self.page_size, limit) if limit else self.page_size
        opts = dict(filter=filter, sort_attribute=sort_attribute, sort_order=sort_order)
        path = f"{V3}/{kind}s/list"
        if first is None:
            first = await self.v3_list_page(kind, offset=0, length=want, **opts)
        entities = first["entities"]
        total = self._count(first["metadata"], "total_matches", "POST", path)
        total = len(entities) if total is None else total
        if limit:
            total = min(total, limit)
        step = len(entities)
        if step == 0 or step >= total:
            return entities[:total]
        self.check_v3_total(kind, total, step)
        offsets = range(step, total, step)

        async def fetch(offset: int) -> list[dict[str, Any]]:
            return (await self.v3_list_page(kind, offset=offset, length=step, **opts))["entities"]

        rest = await self._pages_of(offsets, fetch, entities, _v3_identity, "POST", path)
        return (entities + rest)[:total]

    def check_v3_total(self, kind: str, total: int, step: int) -> None:
        """A v3 list's ``total_matches`` at ``step`` a page: a ProtocolError past what the console reads."""
        self._check_total(total, step, "POST", f"{V3}/{kind}s/list", "total_matches")

    def _check_total(self, total: int, step: int, method: str, path: str, field: str) -> None:
        pages = -(-total // step)
        if total > MAX_LIST_ENTITIES:
            raise self._protocol(
                method, path, f"claims {field} {total:,}, more than the {MAX_LIST_ENTITIES:,} the console accepts"
            )
        if pages > MAX_LIST_PAGES:
            raise self._protocol(
                method, path,
                f"claims {field} {total:,} at {step} a page: {pages:,} pages, more than the {MAX_LIST_PAGES:,} the console reads",
            )

    async def _pages_of(
        self,
        keys: range,
        fetch: Callable[[int], Any],
        first: list[dict[str, Any]],
        identity: Callable[[dict[str, Any]], str],
        method: str,
        path: str,
    ) -> list[dict[str, Any]]:
        """The pages after the first, at most ``page_concurrency`` at once (a fixed number of
        workers, so a long list is never thousands of waiting coroutines), each checked as it
        arrives; returned in order.

        A page brings something new when one of its entities has an id not seen before, or
        differs from every entity seen with its id (Prism's documented examples reuse a
        placeholder uuid; a server repeating a page repeats it whole). Entities are compared
        only when ids collide, so an honest list costs one set lookup each."""
        seen: dict[str, list[dict[str, Any]]] = {}
        for entity in first:
            seen.setdefault(identity(entity), []).append(entity)
        pages: dict[int, list[dict[str, Any]]] = {}
        pending = iter(keys)
        ended = False

        def brings_news(page: list[dict[str, Any]]) -> bool:
            news = False
            for entity in page:
                before = seen.setdefault(identity(entity), [])
                if not any(entity == old for old in before):
                    before.append(entity)
                    news = True
            return news

        async def worker() -> None:
            nonlocal ended
            for key in pending:
                if ended:
                    return
                page = await fetch(key)
                if not page:
                    ended = True  # the list shrank while being read
                    return
                if not brings_news(page):
                    raise self._protocol(
                        method, path, f"sent a page ({key}) of {len(page)} entities all seen before: paging would not end"
                    )
                pages[key] = page

        workers = [asyncio.create_task(worker()) for _ in range(min(self.page_concurrency, len(keys)))]
        try:
            done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                if task.exception() is not None:
                    raise task.exception()  # the first failure, as its own type (not a group)
        finally:
            for task in workers:
                task.cancel()
            await asyncio.gather(*workers, return_exceptions=True)
        return [entity for key in sorted(pages) for entity in pages[key]]

    async def v3_find(self, kind: str, name: str) -> list[dict[str, Any]]:
        """Entities of ``kind`` named exactly ``name`` (FIQL filter, then an exact check)."""
        attribute = NAME_FILTER.get(kind, "name")
        found = await self.v3_list(kind, filter=f"{attribute}=={name}")
        return [e for e in found if _name(e) == name]

    # -- v3: one entity ------------------------------------------------------------------------

    async def v3_get(self, kind: str, entity_uuid: str) -> dict[str, Any]:
        path = f"{V3}/{kind}s/{entity_uuid}"
        entity = await self.request_json("GET", path, what=f"get {kind} {entity_uuid}")
        self._check_items([entity], "GET", path, "the entity")
        return entity

    async def v3_create(self, kind: str, spec: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
        """POST an entity; returns the 202 answer (its ``metadata.uuid`` and task)."""
        body = {"spec": spec, "metadata": {"kind": kind, **metadata}, "api_version": "3.1"}
        path = f"{V3}/{kind}s"
        answer = await self.request_json("POST", path, json=body, what=f"create {kind} {spec.get('name', '')}")
        self._check_items([answer], "POST", path, "the answer")
        return answer

    async def v3_update(
        self, kind: str, entity_uuid: str, edit: Callable[[dict[str, Any], dict[str, Any]], None], *, tries: int = 4
    ) -> str | None:
        """GET the entity, ``edit(spec, metadata)`` in place, PUT it back with its current
        metadata (``spec_version``); on 409 start again from a fresh GET. Returns the task."""
        path = f"{V3}/{kind}s/{entity_uuid}"
        for attempt in range(tries):
            current = await self.v3_get(kind, entity_uuid)
            spec = copy.deepcopy(current.get("spec") or {})
            metadata = copy.deepcopy(current.get("metadata") or {})
            try:
                edit(spec, metadata)
            except (AttributeError, KeyError, TypeError) as err:
                # the edit reaches into the spec Prism sent: a spec without the expected parts
                raise self._protocol("GET", path, f"answered a spec the console cannot edit ({type(err).__name__}: {err})") from None
            body = {"spec": spec, "metadata": metadata, "api_version": current.get("api_version", "3.1")}
            try:
                answer = await self.request_json("PUT", path, json=body, what=f"update {kind} {_name(current)}")
            except Conflict:
                if attempt == tries - 1:
                    raise
                await asyncio.sleep(0.1 * (attempt + 1))
                continue
            return task_uuid_of(answer)
        return None  # pragma: no cover - the loop returns or raises

    async def v3_delete(self, kind: str, entity_uuid: str) -> str | None:
        path = f"{V3}/{kind}s/{entity_uuid}"
        response = await self.request("DELETE", path, what=f"delete {kind} {entity_uuid}")
        # Prism answers 202 with the task; an empty answer (204) is a deletion with no task.
        return task_uuid_of(self.json_object(response, "DELETE", path)) if response.content.strip() else None

    # -- v3: tasks -----------------------------------------------------------------------------

    async def v3_task(self, task_uuid: str) -> dict[str, Any]:
        path = f"{V3}/tasks/{task_uuid}"
        task = await self.request_json("GET", path, what=f"get task {task_uuid}")
        _check_task(task, lambda problem: self._protocol("GET", path, problem))
        return task

    async def wait_v3_task(
        self,
        task_uuid: str,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        *,
        timeout: float = TASK_TIMEOUT,
    ) -> dict[str, Any]:
        """Poll a v3 task with backoff until SUCCEEDED, FAILED or ABORTED; after ``timeout``
        seconds, TaskFailed naming the task's last state."""
        return await self._wait(
            f"task {task_uuid}", lambda: self.v3_task(task_uuid), TERMINAL_V3, on_progress, timeout,
            lambda t: t.get("percentage_complete"),
        )

    async def _wait(self, name: str, fetch, terminal, on_progress, timeout: float, percent_of) -> dict[str, Any]:
        delay, cap = self.task_poll
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        last: dict[str, Any] | None = None
        try:
            async with asyncio.timeout_at(deadline):
                while True:
                    last = await fetch()
                    if on_progress:
                        on_progress(last)
                    if last.get("status") in terminal:
                        return last
                    await asyncio.sleep(delay)
                    delay = min(cap, delay * 1.5)
        except TimeoutError:
            if last is None:
                state = "its state never read"
            else:
                percent = percent_of(last)
                state = f"last {last.get('status') or 'without a status'}" + (
                    f" at {percent}%" if isinstance(percent, (int, float)) and not isinstance(percent, bool) else ""
                )
            raise TaskFailed(f"{name} did not end within {timeout:g}s ({state}); it may still be running on Prism") from None

    # -- v4: volume groups -----------------------------------------------------------------

    async def v4_list(self, path: str, *, what: str, limit: int = 100) -> list[dict[str, Any]]:
        """Every item of a v4 list, page by page (``$page``/``$limit``), the pages after the
        first fetched concurrently; bounded as ``v3_list`` is, by ``totalAvailableResults``."""

        async def page(number: int) -> list[dict[str, Any]]:
            async with self._pages:
                body = await self.request_json("GET", path, params={"$page": number, "$limit": limit}, what=what)
            items = body.get("data")
            if items is None:
                return []
            self._check_items(items, "GET", path, "data")
            if number == 0:
                metadata = body.get("metadata")
                if metadata is not None and not isinstance(metadata, dict):
                    raise self._protocol("GET", path, f"answered metadata as a JSON {_kind(metadata)}, not an object")
                counts["total"] = self._count(metadata or {}, "totalAvailableResults", "GET", path)
            return items

        counts: dict[str, int | None] = {}
        items = await page(0)
        total = counts.get("total")
        total = len(items) if total is None else total
        if len(items) >= total or not items:
            return items
        self._check_total(total, limit, "GET", path, "totalAvailableResults")
        return items + await self._pages_of(range(1, -(-total // limit)), page, items, _v4_identity, "GET", path)

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
        body = await self.request_json(method, path, json=json, headers=headers, what=what)
        data = body.get("data")
        if not isinstance(data, dict) or not isinstance(data.get("extId"), str) or not data["extId"]:
            raise self._protocol(method, path, "answered without data.extId, the task to follow")
        return data["extId"]

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

    async def vm_stats(self, vm_uuid: str, start: str, end: str, interval: int) -> list[dict[str, Any]]:
        """A VM's stats from ``start`` to ``end`` (RFC 3339), one tuple per ``interval``
        seconds, averaged (``$statType=AVG``): the ``data.stats`` of ``GetVmStatsApiResponse``."""
        path = f"{V4_VM_STATS}/{vm_uuid}"
        params = {"$startTime": start, "$endTime": end, "$samplingInterval": interval, "$statType": "AVG"}
        body = await self.request_json("GET", path, params=params, what=f"get the stats of VM {vm_uuid}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise self._protocol("GET", path, f"answered data as a JSON {_kind(data)}, not a VM's stats")
        stats = data.get("stats")
        if stats is None:
            return []  # no samples in the window (a VM made a moment ago)
        self._check_items(stats, "GET", path, "data.stats")
        return stats

    async def v4_task(self, ext_id: str) -> dict[str, Any]:
        path = f"{V4_TASKS}/{ext_id}"
        body = await self.request_json("GET", path, what=f"get task {ext_id}")
        data = body.get("data")
        if not isinstance(data, dict):
            raise self._protocol("GET", path, f"answered data as a JSON {_kind(data)}, not a task object")
        _check_task(data, lambda problem: self._protocol("GET", path, problem))
        return data

    async def wait_v4_task(
        self,
        ext_id: str,
        on_progress: Callable[[dict[str, Any]], None] | None = None,
        *,
        timeout: float = TASK_TIMEOUT,
    ) -> dict[str, Any]:
        """Poll a v4 task until SUCCEEDED, FAILED or CANCELED; after ``timeout`` seconds,
        TaskFailed naming the task's last state."""
        return await self._wait(
            f"task {ext_id}", lambda: self.v4_task(ext_id), TERMINAL_V4, on_progress, timeout,
            lambda t: t.get("progressPercentage"),
        )


def _retry_after(response: httpx.Response) -> float | None:
    """The server's Retry-After in seconds, when it gave a usable number (an HTTP date or
    nonsense is treated as no advice)."""
    header = response.headers.get("Retry-After")
    if header is None:
        return None
    try:
        wait = float(header)
    except ValueError:
        return None
    return max(0.0, wait) if math.isfinite(wait) else None


def _check_task(task: dict[str, Any], problem: Callable[[str], ProtocolError]) -> None:
    status = task.get("status")
    if status is not None and not isinstance(status, str):
        raise problem(f"answered the task's status as a JSON {_kind(status)}, not a word")


def _kind(value: Any) -> str:
    """JSON's name for a parsed value's type, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", list: "list", dict: "object"}.get(type(value), type(value).__name__)


def _identity(entity: dict[str, Any], *keys: str) -> str:
    for key in keys:
        holder = entity.get("metadata") if key == "metadata.uuid" else entity
        value = holder.get("uuid" if key == "metadata.uuid" else key) if isinstance(holder, dict) else None
        if isinstance(value, str) and value:
            return value
    # No id to go by: the entity's content (so a page repeating id-less entities is still caught).
    return hashlib.sha1(jsonlib.dumps(entity, sort_keys=True, default=str).encode()).hexdigest()


def _v3_identity(entity: dict[str, Any]) -> str:
    return _identity(entity, "metadata.uuid", "uuid")


def _v4_identity(entity: dict[str, Any]) -> str:
    return _identity(entity, "extId")


def _name(entity: dict[str, Any]) -> str:
    spec = entity.get("spec") if isinstance(entity.get("spec"), dict) else {}
    status = entity.get("status") if isinstance(entity.get("status"), dict) else {}
    return str(spec.get("name") or status.get("name") or "")
