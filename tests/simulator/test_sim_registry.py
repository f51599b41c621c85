"""The simulator's registries, read through the same client as a real registry
(backends/registries/client.py over an in-process transport): the catalog and tags paged by
Link, the private one's Bearer challenge and token service, manifests and config blobs whose
digests the client checks, and the same content an engine's pull gets."""

from __future__ import annotations

import pytest

from backends.contract import RegistryAuth
from backends.errors import AuthenticationFailed, NotFound
from backends.registries.client import RegistryClient
from backends.registries.listing import describe, list_images
from backends.simulator.registries import (
    PRIVATE_HOST,
    PUBLIC_HOST,
    PullRefused,
    Server,
    builtin_registries,
    pull_from,
    registries,
)

DEMO_PASSWORD = "demo-password"  # the README's demo section


def client(host: str, *, password: str | None = None, page_size: int = 100) -> tuple[RegistryClient, Server]:
    registry = registries()[host]
    server = Server(registry)
    entry = registry.entry()
    c = RegistryClient(
        entry.url,
        name=entry.name,
        user=entry.user,
        password=(lambda: password) if password is not None else None,
        transport=server.transport(),
        page_size=page_size,
    )
    return c, server


async def test_the_public_catalog_and_tags_come_in_pages_by_link():
    c, server = client(PUBLIC_HOST, page_size=2)
    async with c:
        repositories = await c.catalog()
        catalog_requests = server.requests
        assert repositories == sorted(registries()[PUBLIC_HOST].tags)
        assert "shop/api" in repositories and "shop/worker" in repositories
        assert catalog_requests == -(-len(repositories) // 2)  # one request per page of 2
        tags = await c.tags("shop/api")
        assert tags == ["3.13.0", "3.14.1", "3.14.2", "latest"]
        assert server.requests - catalog_requests == 2
        await c.check_credentials()  # anonymous: no challenge at all


async def test_the_public_listing_has_digests_sizes_and_platforms():
    c, _ = client(PUBLIC_HOST)
    async with c:
        images = await list_images(c)
    by_ref = {(i.repository, i.tag): i for i in images}
    api = by_ref[("shop/api", "3.14.2")]
    assert api.digest == by_ref[("shop/api", "latest")].digest  # two tags, one manifest
    assert api.platforms == ("linux/amd64",) and api.size_bytes and api.size_bytes > 70_000_000
    python = by_ref[("base/python", "3.12-slim")]
    assert python.media_type.endswith("image.index.v1+json")
    assert python.platforms == ("linux/amd64", "linux/arm64/v8")
    docker = by_ref[("shop/api", "3.13.0")]
    assert docker.media_type == "application/vnd.docker.distribution.manifest.v2+json"


async def test_the_private_registry_answers_its_bearer_challenge_with_the_password():
    c, server = client(PRIVATE_HOST, password=DEMO_PASSWORD, page_size=1)
    async with c:
        repositories = await c.catalog()
        assert repositories == ["internal/audit-agent", "payments/gateway", "payments/ledger"]
        # First request challenged, a token fetched, then one request a page.
        assert server.requests == 1 + 1 + 3
        tag = await describe(c, "payments/ledger", "2.4.0")
    assert tag.digest.startswith("sha256:") and tag.platforms == ("linux/amd64",)


async def test_a_wrong_password_or_none_is_refused_with_one_typed_error():
    c, _ = client(PRIVATE_HOST, password="wrong")
    async with c:
        with pytest.raises(AuthenticationFailed) as err:
            await c.catalog()
    assert "refused the password of demo" in err.value.one_line()
    c, _ = client(PRIVATE_HOST)  # no password source at all
    async with c:
        with pytest.raises(AuthenticationFailed):
            await c.catalog()


async def test_unknown_names_are_the_registrys_404s():
    c, _ = client(PUBLIC_HOST)
    async with c:
        with pytest.raises(NotFound, match="repository name not known"):
            await c.tags("nope/nothing")
        with pytest.raises(NotFound, match="manifest unknown"):
            await c.manifest("shop/api", "0.0.1")


async def test_another_host_is_not_served():
    registry = registries()[PUBLIC_HOST]
    c = RegistryClient("https://elsewhere.example.local", transport=Server(registry).transport())
    async with c:
        with pytest.raises(Exception, match="cannot connect"):
            await c.ping()


async def test_the_builtin_registries_are_the_two_and_need_no_config():
    entries = {b.entry.name: b.entry for b in builtin_registries()}
    assert entries["example"].url == f"https://{PUBLIC_HOST}" and entries["example"].user is None
    assert entries["private"].url == f"https://{PRIVATE_HOST}" and entries["private"].user == "demo"


async def test_an_engines_pull_gets_what_the_registry_serves():
    c, _ = client(PUBLIC_HOST)
    async with c:
        manifest = await c.manifest("shop/api", "3.14.2")
    pushed = pull_from(f"{PUBLIC_HOST}/shop/api:3.14.2", None)
    assert pushed is not None and pushed.config_digest == manifest.body["config"]["digest"]
    assert list(pushed.layers) == [layer["size"] for layer in manifest.body["layers"]]
    with pytest.raises(PullRefused, match="^unauthorized: authentication required$"):
        pull_from(f"{PRIVATE_HOST}/payments/ledger:2.4.0", None)
    with pytest.raises(PullRefused, match="^unauthorized: authentication required$"):
        pull_from(f"{PRIVATE_HOST}/payments/ledger:2.4.0", RegistryAuth(PRIVATE_HOST, "demo", "wrong"))
    assert pull_from(f"{PRIVATE_HOST}/payments/ledger:2.4.0", RegistryAuth(PRIVATE_HOST, "demo", DEMO_PASSWORD))
    assert pull_from("nginx:1.25.4", None) is None  # Docker Hub is not one of these
