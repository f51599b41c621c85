"""A pull's progress stream against an engine of ours (tests/docker/test_bounds_api.py's fake
on a unix socket): the credentials travel in X-Registry-Auth as the Engine API wants them,
progress is folded into the task, the engine's error is the task's, and a stream that lies
(a line without end, one that is not JSON) or goes quiet ends in bounded time."""

from __future__ import annotations

import asyncio
import base64
import json
from typing import AsyncIterator

import pytest

from backends.contract import RegistryAuth
from backends.docker import api as api_module
from backends.docker import images
from backends.errors import ProtocolError, TaskFailed, Unavailable
from tests.docker.test_bounds_api import CHUNKED, chunk, engine, streamed  # noqa: F401

AUTH = RegistryAuth("registry.example.local:5000", "ci", "pw-stream-secret")


def _lines(*docs: dict) -> list[bytes]:
    return [chunk(json.dumps(d).encode() + b"\r\n") for d in docs]


async def test_progress_header_and_last_status(engine):  # noqa: F811
    fake, api = engine
    await api.negotiate()
    sent_requests = []

    async def keep(request):
        sent_requests.append(request)

    api._client.event_hooks["request"].append(keep)
    docs = [
        {"status": "Pulling from app", "id": "1"},
        {"status": "Pulling fs layer", "id": "aaa"},
        {"status": "Pulling fs layer", "id": "bbb"},
        {"status": "Downloading", "id": "aaa", "progressDetail": {"current": 50, "total": 100}},
        {"status": "Download complete", "id": "aaa"},
        {"status": "Downloading", "id": "bbb", "progressDetail": {"current": 100, "total": 100}},
        {"status": "Pull complete", "id": "aaa"},
        {"status": "Pull complete", "id": "bbb"},
        {"status": "Digest: sha256:" + "1" * 64},
        {"status": "Status: Downloaded newer image for registry.example.local:5000/app:1"},
    ]

    async def pieces() -> AsyncIterator[bytes]:
        for piece in _lines(*docs):
            yield piece
        yield b"0\r\n\r\n"

    fake.answers["/images/create"] = streamed(CHUNKED % b"application/json", pieces)
    seen: list[tuple[int, str]] = []
    last = await images.pull(api, "registry.example.local:5000/app:1", AUTH, lambda p, m: seen.append((p, m)))
    assert last == "Status: Downloaded newer image for registry.example.local:5000/app:1"
    assert [p for p, _ in seen] == sorted(p for p, _ in seen) and seen[-1][0] == 95
    assert seen[-1][1] == "pulling registry.example.local:5000/app:1: 2/2 layers"
    (request,) = [r for r in sent_requests if r.url.path.endswith("/images/create")]
    assert request.method == "POST"
    assert request.url.params["fromImage"] == "registry.example.local:5000/app" and request.url.params["tag"] == "1"
    assert json.loads(base64.urlsafe_b64decode(request.headers["X-Registry-Auth"])) == {
        "username": "ci", "password": "pw-stream-secret", "serveraddress": "registry.example.local:5000",
    }
    assert "pw-stream-secret" not in str(request.url)  # never in the URL


async def test_the_engine_s_error_is_the_task_s(engine):  # noqa: F811
    fake, api = engine
    await api.negotiate()

    async def pieces() -> AsyncIterator[bytes]:
        for piece in _lines({"status": "Pulling from app", "id": "1"},
                            {"errorDetail": {"message": "unauthorized: authentication required"},
                             "error": "unauthorized: authentication required"}):
            yield piece
        yield b"0\r\n\r\n"

    fake.answers["/images/create"] = streamed(CHUNKED % b"application/json", pieces)
    with pytest.raises(TaskFailed, match=r"pull reg.example:5000/app:1: unauthorized: authentication required"):
        await images.pull(api, "reg.example:5000/app:1")


async def test_a_stream_that_lies_or_goes_quiet_ends_bounded(engine, monkeypatch):  # noqa: F811
    fake, api = engine
    await api.negotiate()
    monkeypatch.setattr(api_module, "MAX_STREAM_LINE", 4096)

    async def endless() -> AsyncIterator[bytes]:
        for _ in range(64):
            yield chunk(b"y" * 1024)

    fake.answers["/images/create"] = streamed(CHUNKED % b"application/json", endless)
    with pytest.raises(ProtocolError, match=r"POST /images/create sent a line longer than 4,096 bytes"):
        await images.pull(api, "app:1")

    async def not_json() -> AsyncIterator[bytes]:
        yield chunk(b"<html>proxy</html>\n")
        yield b"0\r\n\r\n"

    fake.answers["/images/create"] = streamed(CHUNKED % b"application/json", not_json)
    with pytest.raises(ProtocolError, match="not JSON"):
        await images.pull(api, "app:1")

    async def quiet() -> AsyncIterator[bytes]:
        yield chunk(json.dumps({"status": "Pulling from app", "id": "1"}).encode() + b"\n")
        await asyncio.sleep(30)

    fake.answers["/images/create"] = streamed(CHUNKED % b"application/json", quiet)
    started = asyncio.get_running_loop().time()
    with pytest.raises(Unavailable):
        await images.pull(api, "app:1", idle_timeout=0.5)
    assert asyncio.get_running_loop().time() - started < 5
