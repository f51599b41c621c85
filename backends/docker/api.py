"""The Docker Engine API over one ``Transport``: version negotiation and typed errors.

Every failure leaves here as a ``backends.errors`` type: a transport failure is
``Unavailable``; 400 ``InvalidInput``, 401/403 ``PermissionDenied``, 404 ``NotFound``,
409 ``Conflict``; any other status ``BackendError``. Messages are Docker's own, on one line.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any, AsyncIterator

import httpx

from ..errors import BackendError, Conflict, InvalidInput, NotFound, PermissionDenied, Unavailable
from .transport import Transport

# The newest API version this client speaks; older engines get their own (negotiated) version.
CLIENT_API_VERSION = (1, 45)
MIN_API_VERSION = (1, 24)

_STATUS_ERRORS: dict[int, type[BackendError]] = {
    400: InvalidInput,
    401: PermissionDenied,
    403: PermissionDenied,
    404: NotFound,
    409: Conflict,
}


def _version_tuple(text: str) -> tuple[int, int]:
    major, minor = text.split(".")[:2]
    return int(major), int(minor)


class DockerAPI:
    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self.version: tuple[int, int] = MIN_API_VERSION
        self.server_version: dict[str, Any] = {}

    @property
    def where(self) -> str:
        return self.transport.endpoint.url

    @property
    def _client(self) -> httpx.AsyncClient:
        if self.transport.client is None:
            raise Unavailable(f"{self.where}: not connected")
        return self.transport.client

    def _url(self, path: str) -> str:
        return f"/v{self.version[0]}.{self.version[1]}{path}"

    async def negotiate(self) -> dict[str, Any]:
        """Read ``/version`` (unversioned) and settle on the highest version both speak."""
        version = await self._call("GET", "/version")
        info = version.json()
        server = _version_tuple(info.get("ApiVersion", "1.24"))
        if server < MIN_API_VERSION:
            raise Unavailable(f"{self.where}: engine API {info.get('ApiVersion')} is too old (need 1.24+)")
        self.version = min(server, CLIENT_API_VERSION)
        self.server_version = info
        return info

    def _wrap(self, err: Exception) -> BackendError:
        if isinstance(err, httpx.TimeoutException):
            return Unavailable(f"{self.where}: the engine did not answer in time")
        text = str(err) or type(err).__name__
        return Unavailable(f"{self.where}: {text}")

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            response = await self._client.request(method, url, **kwargs)
        except (httpx.TransportError, OSError) as err:
            raise self._wrap(err) from None
        _raise_for_status(response)
        return response

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {"params": _params(params)}
        if json_body is not None:
            kwargs["json"] = json_body
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout, connect=10.0)
        return await self._call(method, self._url(path), **kwargs)

    async def get(self, path: str, **params: Any) -> Any:
        return (await self.request("GET", path, params=params)).json()

    async def post(self, path: str, body: Any = None, *, timeout: float | None = None, **params: Any) -> Any:
        response = await self.request("POST", path, params=params, json_body=body, timeout=timeout)
        return response.json() if response.content else None

    async def delete(self, path: str, **params: Any) -> None:
        await self.request("DELETE", path, params=params)

    @contextlib.asynccontextmanager
    async def stream(self, path: str, **params: Any) -> AsyncIterator[httpx.Response]:
        """A GET whose body arrives over time (events, logs); no read timeout."""
        request = self._client.build_request(
            "GET", self._url(path), params=_params(params), timeout=httpx.Timeout(None, connect=10.0)
        )
        try:
            response = await self._client.send(request, stream=True)
        except (httpx.TransportError, OSError) as err:
            raise self._wrap(err) from None
        try:
            if response.is_error:
                await response.aread()
                _raise_for_status(response)
            yield response
        except (httpx.TransportError, OSError) as err:
            raise self._wrap(err) from None
        finally:
            await response.aclose()


def _params(params: dict[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    out: dict[str, str] = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif isinstance(value, (dict, list)):
            out[key] = json.dumps(value)
        else:
            out[key] = str(value)
    return out


def _raise_for_status(response: httpx.Response) -> None:
    if response.status_code < 400:
        return
    try:
        message = response.json().get("message") or response.text
    except ValueError:
        message = response.text
    message = " ".join(str(message).split()) or f"HTTP {response.status_code}"
    raise _STATUS_ERRORS.get(response.status_code, BackendError)(message)
