"""The Docker API layer is bounded against an engine (or anything posing as one) that answers
outside the Engine API: malformed JSON, HTML, the wrong shape, a byte at a time, without end,
an endless event line or a giant log frame. Each is one typed error naming the engine and
the request, in bounded time. The "engine" is a plain asyncio server on a unix socket in the
test's own directory; no dockerd needed."""

from __future__ import annotations

import asyncio
import json
import struct
import time
from pathlib import Path
from typing import AsyncIterator, Callable

import pytest

from backends.docker import api as api_module
from backends.docker.api import DockerAPI
from backends.docker.transport import Transport, parse_endpoint
from backends.errors import ProtocolError, Unavailable

Body = bytes | Callable[[], AsyncIterator[bytes]]
VERSION = json.dumps({"ApiVersion": "1.45", "Version": "26.1.4"}).encode()


def response(body: bytes, status: str = "200 OK", content_type: str = "application/json") -> bytes:
    head = f"HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
    return head.encode() + body


class FakeEngine:
    """Answers each path (without its version prefix) with the bytes or byte stream set."""

    def __init__(self) -> None:
        self.answers: dict[str, Body] = {"/version": response(VERSION)}

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                target = head.split(b" ", 2)[1].decode().split("?", 1)[0]
                path = api_module._path_of(target)
                answer = self.answers.get(path, response(b'{"message": "no such path"}', "404 Not Found"))
                if isinstance(answer, bytes):
                    writer.write(answer)
                    await writer.drain()
                    continue
                async for piece in answer():
                    writer.write(piece)
                    await writer.drain()
                return
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def engine(tmp_path: Path):
    fake = FakeEngine()
    sock = tmp_path / "docker.sock"
    server = await asyncio.start_unix_server(fake.handle, path=str(sock))
    transport = Transport(parse_endpoint(f"unix://{sock}"))
    await transport.open()
    api = DockerAPI(transport)
    try:
        yield fake, api
    finally:
        await transport.close()
        server.close()
        await server.wait_closed()


def streamed(head: bytes, pieces: Callable[[], AsyncIterator[bytes]]) -> Callable[[], AsyncIterator[bytes]]:
    async def gen() -> AsyncIterator[bytes]:
        yield head
        async for piece in pieces():
            yield piece

    return gen


CHUNKED = b"HTTP/1.1 200 OK\r\nContent-Type: %s\r\nTransfer-Encoding: chunked\r\n\r\n"


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


@pytest.mark.parametrize(
    "answer, says",
    [
        (response(b'{"ApiVersion": '), "answered something that is not JSON"),
        (response(b"<html><body>proxy login</body></html>", content_type="text/html"), "answered an HTML page"),
        (response(b"[]"), "answered a JSON list where an object was expected"),
        (response(b'{"ApiVersion": "one.two"}'), "answered ApiVersion 'one.two', not a version"),
        (response(b"", "204 No Content"), "HTTP 204 with an empty body"),
    ],
    ids=["truncated", "HTML", "a list", "bad version", "204"],
)
async def test_a_malformed_version_is_a_protocol_error_naming_the_engine(engine, answer, says):
    fake, api = engine
    fake.answers["/version"] = answer
    with pytest.raises(ProtocolError) as caught:
        await api.negotiate()
    line = caught.value.one_line()
    assert line.startswith(f"Protocol error: {api.where}: GET /version ") and says in line, line
    assert caught.value.exit_code == 3


@pytest.mark.parametrize(
    "path, body, says",
    [
        ("/containers/json", b'{"Id": "x"}', "a JSON dict where a list was expected"),
        ("/info", b'"fine"', "a JSON str where an object was expected"),
        ("/volumes", b"not json", "not JSON"),
    ],
)
async def test_answers_of_the_wrong_shape_are_protocol_errors(engine, path, body, says):
    fake, api = engine
    await api.negotiate()
    fake.answers[path] = response(body)
    with pytest.raises(ProtocolError, match=f"GET {path} ") as caught:
        await api.get(path)
    assert says in caught.value.one_line()


async def test_an_engine_that_drips_ends_at_the_whole_request_deadline(engine, monkeypatch):
    fake, api = engine
    await api.negotiate()
    monkeypatch.setattr(api_module, "TOTAL_TIMEOUT", 0.5)

    async def drip() -> AsyncIterator[bytes]:
        for _ in range(100):  # a byte every 0.1 s: the 30 s read timeout alone would never fire
            await asyncio.sleep(0.1)
            yield chunk(b" ")

    fake.answers["/containers/json"] = streamed(CHUNKED % b"application/json" + chunk(b"["), drip)
    started = time.monotonic()
    with pytest.raises(Unavailable, match=r"GET /containers/json did not finish within 0.5s"):
        await api.get("/containers/json")
    assert time.monotonic() - started < 3


async def test_an_answer_past_the_cap_is_refused(engine, monkeypatch):
    fake, api = engine
    await api.negotiate()
    monkeypatch.setattr(api_module, "MAX_BODY", 64 * 1024)

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(64):  # 4 MiB, far past the cap; then it stops (the test must end)
            yield chunk(b"x" * 65536)

    fake.answers["/containers/json"] = streamed(CHUNKED % b"application/json" + chunk(b'["'), endless)
    with pytest.raises(ProtocolError, match=r"GET /containers/json answer larger than 65,536 bytes"):
        await api.get("/containers/json")


async def test_an_endless_event_line_is_refused(engine, monkeypatch):
    fake, api = engine
    await api.negotiate()
    monkeypatch.setattr(api_module, "MAX_STREAM_LINE", 4096)

    async def one_line_without_end() -> AsyncIterator[bytes]:
        yield chunk(b'{"Type": "container"}\n')
        for _ in range(64):
            yield chunk(b"y" * 1024)

    fake.answers["/events"] = streamed(CHUNKED % b"application/json", one_line_without_end)
    seen: list[str] = []
    with pytest.raises(ProtocolError, match=r"GET /events sent a line longer than 4,096 bytes"):
        async with api.stream("/events") as stream:
            async for line in stream.aiter_lines():
                seen.append(line)
    assert seen == ['{"Type": "container"}']


async def test_a_giant_log_frame_is_refused_before_it_is_buffered(engine, monkeypatch):
    fake, api = engine
    await api.negotiate()
    monkeypatch.setattr(api_module, "MAX_STREAM_LINE", 4096)
    ok = b"hello\n"

    async def frames() -> AsyncIterator[bytes]:
        yield chunk(struct.pack(">BxxxI", 1, len(ok)) + ok)
        yield chunk(struct.pack(">BxxxI", 1, 512 * 1024 * 1024))  # announces half a GiB

    fake.answers["/containers/c1/logs"] = streamed(CHUNKED % b"application/vnd.docker.multiplexed-stream", frames)
    got: list[bytes] = []
    with pytest.raises(ProtocolError, match=r"GET /containers/c1/logs sent a frame longer than 4,096 bytes"):
        async with api.stream("/containers/c1/logs") as stream:
            async for piece in stream.aiter_bytes():
                got.append(piece)
    assert b"".join(got).endswith(ok)
