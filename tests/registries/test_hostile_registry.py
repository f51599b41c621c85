"""The registry client against servers of our own on 127.0.0.1 that do what a real registry
rarely does: a Bearer token service, tags paged by Link, and lies (a page repeated without
end, a next link to another host, an answer without end). Plain HTTP here, allowed as the
user would allow it (insecure_transport); TLS is held to the real registry's tests."""

from __future__ import annotations

import asyncio
import base64
import json
import urllib.parse
from typing import Awaitable, Callable

import pytest

from backends.errors import AuthenticationFailed, ProtocolError
from backends.registries.client import RegistryClient

Handler = Callable[[str, str, dict[str, str]], Awaitable[tuple[int, dict[str, str], bytes]]]


class Server:
    """A minimal HTTP/1.1 server (one request per connection) that records every request."""

    def __init__(self, handler: Handler) -> None:
        self.handler = handler
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.server: asyncio.base_events.Server | None = None

    async def __aenter__(self) -> "Server":
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            method, target, _ = lines[0].split(" ", 2)
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            self.requests.append((target, headers))
            status, out_headers, body = await self.handler(method, target, headers)
            out = [f"HTTP/1.1 {status} X", f"Content-Length: {len(body)}", "Connection: close"]
            out += [f"{k}: {v}" for k, v in out_headers.items()]
            writer.write(("\r\n".join(out) + "\r\n\r\n").encode() + body)
            await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def _json(status: int, body: object, **headers: str) -> tuple[int, dict[str, str], bytes]:
    return status, {"Content-Type": "application/json", **headers}, json.dumps(body).encode()


def _page(names: list[str], target: str, field: str, path: str) -> tuple[int, dict[str, str], bytes]:
    """Honest paging by n and last, with a relative Link to the next page."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
    n = int(query.get("n", ["100"])[0])
    last = query.get("last", [""])[0]
    rest = [x for x in names if x > last]
    page = rest[:n]
    headers = {}
    if len(rest) > n:
        headers["Link"] = f'<{path}?n={n}&last={urllib.parse.quote(page[-1])}>; rel="next"'
    return _json(200, {field: page}, **headers)


def client(url: str, **options) -> RegistryClient:
    return RegistryClient(url, user="bob", password=lambda: "pw", insecure_transport=True, page_size=2, **options)


async def test_bearer_challenge_and_tags_paged_by_link():
    repos = [f"r{i}" for i in range(5)]
    tags = [f"t{i}" for i in range(7)]
    token_asks: list[dict[str, list[str]]] = []

    async def handle(method: str, target: str, headers: dict[str, str]):
        path = urllib.parse.urlsplit(target).path
        if path == "/token":
            token_asks.append(urllib.parse.parse_qs(urllib.parse.urlsplit(target).query))
            if headers.get("authorization") != "Basic " + base64.b64encode(b"bob:pw").decode():
                return _json(401, {"errors": [{"code": "UNAUTHORIZED"}]})
            return _json(200, {"token": "T-" + token_asks[-1]["scope"][0]})
        scope = "registry:catalog:*" if path == "/v2/_catalog" else "repository:r1:pull"
        if headers.get("authorization") != f"Bearer T-{scope}":
            realm = f'Bearer realm="{server.url}/token",service="reg.test",scope="{scope}"'
            return _json(401, {"errors": [{"code": "UNAUTHORIZED"}]}, **{"WWW-Authenticate": realm})
        if path == "/v2/_catalog":
            return _page(repos, target, "repositories", path)
        return _page(tags, target, "tags", path)

    async with Server(handle) as server:
        c = client(server.url)
        try:
            assert await c.catalog() == repos
            assert await c.tags("r1") == tags
        finally:
            await c.close()
    assert [a["scope"] for a in token_asks] == [["registry:catalog:*"], ["repository:r1:pull"]]
    assert all(a["service"] == ["reg.test"] and a["account"] == ["bob"] for a in token_asks)
    tag_pages = [t for t, _ in server.requests if t.startswith("/v2/r1/tags/list")]
    assert len(tag_pages) == 1 + 4  # the challenged first page, then 4 pages of 2


async def test_a_refused_token_is_authentication_failed():
    async def handle(method: str, target: str, headers: dict[str, str]):
        if target.startswith("/token"):
            return _json(401, {})
        return _json(401, {}, **{"WWW-Authenticate": f'Bearer realm="{server.url}/token",service="s"'})

    async with Server(handle) as server:
        c = client(server.url)
        try:
            with pytest.raises(AuthenticationFailed):
                await c.catalog()
        finally:
            await c.close()


async def test_a_page_repeated_without_end_stops_at_the_second():
    async def handle(method: str, target: str, headers: dict[str, str]):
        return _json(200, {"repositories": ["a", "b"]}, Link='</v2/_catalog?n=2&last=b>; rel="next"')

    async with Server(handle) as server:
        c = client(server.url)
        try:
            with pytest.raises(ProtocolError, match="no name not seen before"):
                await c.catalog()
        finally:
            await c.close()
        assert len(server.requests) == 2


async def test_paging_stops_at_the_page_cap():
    async def handle(method: str, target: str, headers: dict[str, str]):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(target).query)
        k = int(query.get("last", ["0"])[0]) + 1
        return _json(200, {"repositories": [f"r{k}"]}, Link=f'</v2/_catalog?n=2&last={k}>; rel="next"')

    async with Server(handle) as server:
        c = client(server.url, max_pages=5)
        try:
            with pytest.raises(ProtocolError, match="more than 5 pages"):
                await c.catalog()
        finally:
            await c.close()
        assert len(server.requests) == 5


async def test_a_next_link_to_another_host_is_not_followed():
    async with Server(lambda m, t, h: _noop()) as elsewhere:

        async def handle(method: str, target: str, headers: dict[str, str]):
            return _json(200, {"repositories": ["a"]}, Link=f'<{elsewhere.url}/v2/_catalog?last=a>; rel="next"')

        async with Server(handle) as server:
            c = client(server.url)
            try:
                with pytest.raises(ProtocolError, match="leaves the registry"):
                    await c.catalog()
            finally:
                await c.close()
        assert elsewhere.requests == []


async def _noop():
    return _json(200, {})


async def test_an_answer_past_the_cap_is_refused_and_hostile_names_never_reach_a_url():
    async def handle(method: str, target: str, headers: dict[str, str]):
        if target.startswith("/v2/_catalog"):
            return _json(200, {"repositories": ["ok", "../../etc\x1b]0;x"]})
        return _json(200, {"tags": ["x" * 1000]})

    async with Server(handle) as server:
        c = client(server.url)
        try:
            with pytest.raises(ProtocolError, match="no repository name"):
                await c.catalog()
        finally:
            await c.close()
        small = client(server.url, max_body=100)
        try:
            with pytest.raises(ProtocolError, match="more than the 100 accepted"):
                await small.tags("ok")
        finally:
            await small.close()
