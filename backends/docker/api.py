"""The Docker Engine API over one ``Transport``: version negotiation and typed errors.

Every failure leaves here as a ``backends.errors`` type: a transport failure is
``Unavailable``; 400 ``InvalidInput``, 401/403 ``PermissionDenied``, 404 ``NotFound``,
409 ``Conflict``; any other status ``BackendError``. Messages are Docker's own, on one line.

Every exchange is bounded: a whole-request deadline (not only the transport's per-read
timeout), a cap on the answer's size, and an answer that is not the JSON the call needs is a
``ProtocolError`` naming the engine and the request. Streams (events, logs) have no deadline
but a cap on each line or frame.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import struct
from typing import Any, AsyncIterator

import httpx

from ..errors import BackendError, Conflict, InvalidInput, NotFound, PermissionDenied, ProtocolError, Unavailable
from .transport import Transport

#: Seconds for a whole request unless the call gives its own timeout (then that plus
#: ``TOTAL_MARGIN``): listing 1,000 containers takes well under a second.
TOTAL_TIMEOUT = 60.0
TOTAL_MARGIN = 10.0
#: Bytes of one answer: ``/containers/json`` for 10,000 containers is about 20 MiB.
MAX_BODY = 64 * 1024 * 1024
#: Bytes of one line of ``/events`` or of a log stream, and of one multiplexed log frame.
#: An event is under 2 KiB; Docker splits log lines at 16 KiB; past 1 MiB the engine (or
#: something posing as it) is not sending a stream the console can show.
MAX_STREAM_LINE = 1024 * 1024

# What the calls the backend makes must answer (the rest are only checked to be JSON).
_SHAPES: list[tuple[re.Pattern[str], type]] = [
    (re.compile(r"^/(version|info|volumes|containers/[^/]+/json|images/.+/json|networks/[^/]+)$"), dict),
    (re.compile(r"^/(containers|images)/json$"), list),
]

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
        info = self._json(await self._call("GET", "/version"), "GET", "/version")
        try:
            server = _version_tuple(str(info.get("ApiVersion", "1.24")))
        except ValueError:
            raise self._protocol("GET", "/version", f"answered ApiVersion {info.get('ApiVersion')!r}, not a version") from None
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

    def _protocol(self, method: str, path: str, problem: str) -> ProtocolError:
        return ProtocolError(f"{self.where}: {method} {path} {problem}")

    async def _call(self, method: str, url: str, *, total: float | None = None, **kwargs: Any) -> httpx.Response:
        """One exchange within ``total`` seconds as a whole, its body read up to ``MAX_BODY``."""
        total = TOTAL_TIMEOUT if total is None else total
        path = _path_of(url)
        try:
            async with asyncio.timeout(total):
                request = self._client.build_request(method, url, **kwargs)
                response = await self._client.send(request, stream=True)
                try:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > MAX_BODY:
                            raise self._protocol(method, path, f"answer larger than {_size(MAX_BODY)}")
                        chunks.append(chunk)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise Unavailable(f"{self.where}: {method} {path} did not finish within {total:g}s") from None
        except (httpx.TransportError, OSError) as err:
            raise self._wrap(err) from None
        response._content = b"".join(chunks)  # where httpx's own aread() keeps it
        _raise_for_status(response)
        return response

    def _json(self, response: httpx.Response, method: str, path: str) -> Any:
        """The answer as JSON of the shape ``path`` needs, or a ProtocolError saying why not."""
        if not response.content.strip():
            raise self._protocol(method, path, f"answered HTTP {response.status_code} with an empty body where JSON was expected")
        try:
            body = json.loads(response.content)
        except (ValueError, RecursionError) as err:
            kind = "an HTML page" if response.content.lstrip()[:1] == b"<" else "something that is not JSON"
            raise self._protocol(method, path, f"answered {kind} (HTTP {response.status_code}: {err})") from None
        for pattern, shape in _SHAPES:
            if pattern.match(path) and not isinstance(body, shape):
                want = "an object" if shape is dict else "a list"
                raise self._protocol(method, path, f"answered a JSON {type(body).__name__} where {want} was expected")
        return body

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        timeout: float | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        kwargs: dict[str, Any] = {"params": _params(params)}
        if json_body is not None:
            kwargs["json"] = json_body
        if headers:
            kwargs["headers"] = headers
        total = None
        if timeout is not None:
            kwargs["timeout"] = httpx.Timeout(timeout, connect=10.0)
            total = timeout + TOTAL_MARGIN
        return await self._call(method, self._url(path), total=total, **kwargs)

    async def get(self, path: str, **params: Any) -> Any:
        return self._json(await self.request("GET", path, params=params), "GET", path)

    async def post(
        self, path: str, body: Any = None, *, timeout: float | None = None, headers: dict[str, str] | None = None,
        **params: Any,
    ) -> Any:
        response = await self.request("POST", path, params=params, json_body=body, timeout=timeout, headers=headers)
        return self._json(response, "POST", path) if response.content.strip() else None

    async def delete(self, path: str, **params: Any) -> None:
        await self.request("DELETE", path, params=params)

    @contextlib.asynccontextmanager
    async def stream(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: dict[str, str] | None = None,
        read_timeout: float | None = None,
        **params: Any,
    ) -> AsyncIterator[httpx.Response]:
        """A request whose answer arrives over time (events, logs, a pull's progress); no read
        timeout unless ``read_timeout`` (a pull's stream goes quiet only when something hangs)."""
        request = self._client.build_request(
            method, self._url(path), params=_params(params), headers=headers,
            timeout=httpx.Timeout(read_timeout, connect=10.0),
        )
        try:
            response = await self._client.send(request, stream=True)
        except (httpx.TransportError, OSError) as err:
            raise self._wrap(err) from None
        try:
            if response.is_error:
                await response.aread()
                _raise_for_status(response)
            yield _BoundedStream(response, f"{self.where}: {method} {path}")  # type: ignore[misc]
        except (httpx.TransportError, OSError) as err:
            raise self._wrap(err) from None
        finally:
            await response.aclose()


class _BoundedStream:
    """A streaming response whose lines (``aiter_lines``) and bytes (``aiter_bytes``) are
    bounded: no line, and no multiplexed frame, longer than ``MAX_STREAM_LINE``; raw bytes may
    not run longer than that without a newline (the log reader keeps a partial line until its
    newline). Anything else is read from the response itself."""

    def __init__(self, response: httpx.Response, where: str) -> None:
        self._response = response
        self._where = where  # "<engine>: GET <path>", for messages

    def __getattr__(self, name: str) -> Any:
        return getattr(self._response, name)

    def _too_long(self, what: str) -> ProtocolError:
        return ProtocolError(f"{self._where} sent {what} longer than {_size(MAX_STREAM_LINE)}")

    async def aiter_lines(self) -> AsyncIterator[str]:
        buffer = b""
        async for chunk in self._response.aiter_bytes():
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                if len(line) > MAX_STREAM_LINE:
                    raise self._too_long("a line")
                yield line.decode(errors="replace").rstrip("\r")
            if len(buffer) > MAX_STREAM_LINE:
                raise self._too_long("a line")
        if buffer:
            yield buffer.decode(errors="replace")

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        multiplexed = "multiplexed" in self._response.headers.get("content-type", "")
        since_newline = 0
        header = b""  # a multiplexed frame's header, while it arrives
        left = 0  # bytes of the current frame still to come
        async for chunk in self._response.aiter_bytes():
            if multiplexed:
                view = chunk
                while view:
                    if left:
                        step = min(left, len(view))
                        left, view = left - step, view[step:]
                        continue
                    need = 8 - len(header)
                    header, view = header + view[:need], view[need:]
                    if len(header) == 8:
                        left = struct.unpack(">I", header[4:8])[0]
                        header = b""
                        if left > MAX_STREAM_LINE:
                            raise self._too_long("a frame")
            else:
                cut = chunk.rfind(b"\n")
                since_newline = len(chunk) - cut - 1 if cut >= 0 else since_newline + len(chunk)
                if since_newline > MAX_STREAM_LINE:
                    raise self._too_long("a line")
            yield chunk


def _size(n: int) -> str:
    return f"{n // (1024 * 1024)} MiB" if n >= 1024 * 1024 and n % (1024 * 1024) == 0 else f"{n:,} bytes"


def _path_of(url: str) -> str:
    """The API path of a versioned URL, for messages and shapes: ``/v1.45/info`` is ``/info``."""
    return re.sub(r"^/v\d+\.\d+(?=/)", "", url.split("?", 1)[0])


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
        body = response.json()
        message = (body.get("message") if isinstance(body, dict) else None) or response.text
    except ValueError:
        message = response.text
    message = " ".join(str(message).split()) or f"HTTP {response.status_code}"
    raise _STATUS_ERRORS.get(response.status_code, BackendError)(message)
