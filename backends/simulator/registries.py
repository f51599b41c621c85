"""The simulator's two container registries, speaking the registry HTTP API v2 in-process.

The console browses them, and the simulated engines pull from them, through the very client
that talks to real registries (``backends/registries/client.py``): the client takes an httpx
transport, and here the transport is an ``httpx.MockTransport`` whose handler is a small v2
server. Why in-process and not a server on 127.0.0.1: a handler needs no port, no thread to
stop, and no TLS certificate for a made-up host name; everything above the socket (the
Bearer challenge and its token service, ``Link`` paging, manifests and their digests, the
size caps) runs exactly as against a real registry.

- ``registry.example.local`` (``example``): public, anonymous pulls with no challenge at all;
  the demo's application repositories (``shop/api`` and ``shop/worker`` run in the world) and
  a few more, one of them multi-platform (an OCI index).
- ``private.example.local`` (``private``): distribution's token auth. Every request without a
  token is answered 401 with a Bearer challenge; the token service at ``/token`` takes user
  ``demo`` with the demo's password over HTTP Basic. The password is the README's (demo
  section); this module keeps only its SHA-256, and nothing here writes it anywhere.

The content is fixed (the same for every seed): what a seed changes is which hosts hold
which images (``images``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable

from ..registries.models import RegistryEntry

if TYPE_CHECKING:
    import httpx

    from ..contract import RegistryAuth

PUBLIC_HOST = "registry.example.local"
PRIVATE_HOST = "private.example.local"
DEMO_USER = "demo"
# SHA-256 of the demo's password (README, "the demo"): compared, never stored in clear.
_DEMO_PASSWORD_SHA256 = "41bd876b085d6031cb0e04de35b88d77f83a4ba39f879fee40805ac19e356023"
DEFAULT_PAGE = 100
MAX_PAGE = 1000  # distribution's own cap on n

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"

# Images are built in the weeks before the simulator's epoch (clock.EPOCH, 2 March 2026).
_BUILT_BEFORE = 1772442000.0


@dataclass(frozen=True, slots=True)
class _Content:
    """One pushed image: its tags, platforms, compressed layer sizes and age in days."""

    repository: str
    tags: tuple[str, ...]
    layers: tuple[int, ...]
    age_days: float
    platforms: tuple[str, ...] = ("linux/amd64",)
    docker_media: bool = False  # pushed by docker (schema 2) rather than buildkit's OCI


_PUBLIC_CONTENT = (
    _Content("shop/api", ("3.14.2", "latest"), (29_126_000, 41_020_311, 8_402_144, 1_220_870), 12),
    _Content("shop/api", ("3.14.1",), (29_126_000, 41_020_311, 8_398_020, 1_219_004), 26),
    _Content("shop/api", ("3.13.0",), (29_126_000, 40_877_402, 8_120_553, 1_198_212), 61, docker_media=True),
    _Content("shop/worker", ("3.14.2", "latest"), (29_126_000, 52_310_778, 3_400_219), 12),
    _Content("shop/worker", ("3.14.1",), (29_126_000, 52_310_778, 3_391_665), 26),
    _Content("shop/frontend", ("2.8.0", "latest"), (3_401_112, 9_877_003, 612_480), 9),
    _Content("shop/frontend", ("2.7.3",), (3_401_112, 9_802_771, 598_336), 40),
    _Content("shop/migrations", ("3.14.2",), (29_126_000, 2_211_409), 12, docker_media=True),
    _Content("base/python", ("3.12-slim",), (29_126_000, 3_510_233, 12_804_116, 244_071), 20, ("linux/amd64", "linux/arm64/v8")),
    _Content("base/node", ("20-alpine",), (3_401_112, 40_215_977, 1_260_005), 33, ("linux/amd64", "linux/arm64/v8")),
    _Content("tools/debug", ("1.0",), (3_401_112, 18_466_210), 90),
)
_PRIVATE_CONTENT = (
    _Content("payments/ledger", ("2.4.0", "latest"), (29_126_000, 61_440_118, 2_011_356), 5),
    _Content("payments/ledger", ("2.3.1",), (29_126_000, 61_210_540, 1_998_207), 31),
    _Content("payments/gateway", ("1.9.0",), (3_401_112, 22_100_974, 903_455), 14),
    _Content("internal/audit-agent", ("0.7.2",), (3_401_112, 7_004_318), 47, docker_media=True),
)


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _iso(at: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))


@dataclass(frozen=True, slots=True)
class Pushed:
    """A tag's image for one platform as an engine pulls it: what ``images`` stores."""

    config_digest: str  # the engine's image id
    layers: tuple[int, ...]  # compressed bytes, as downloaded
    created_at: float


@dataclass(slots=True)
class Registry:
    """One registry's content (manifests, config blobs, tags) and its access rule."""

    name: str  # the name the console lists it under
    host: str
    private: bool
    manifests: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # digest -> (media type, bytes)
    blobs: dict[str, bytes] = field(default_factory=dict)  # config blobs, by digest
    tags: dict[str, dict[str, str]] = field(default_factory=dict)  # repository -> tag -> manifest digest
    pulls: dict[str, Pushed] = field(default_factory=dict)  # manifest digest -> the amd64 image an engine gets

    @property
    def url(self) -> str:
        return f"https://{self.host}"

    def entry(self) -> RegistryEntry:
        return RegistryEntry(name=self.name, url=self.url, user=DEMO_USER if self.private else None)

    # -- content ---------------------------------------------------------------------------

    def push(self, c: _Content) -> None:
        created = _BUILT_BEFORE - c.age_days * 86400
        images = [(p, self._image(c, p, created)) for p in c.platforms]
        if len(images) == 1:
            digest = images[0][1][0]
            self.pulls[digest] = images[0][1][1]
        else:
            index = {
                "schemaVersion": 2,
                "mediaType": OCI_INDEX,
                "manifests": [
                    {"mediaType": OCI_MANIFEST, "digest": d, "size": len(self.manifests[d][1]), "platform": _platform(p)}
                    for p, (d, _) in images
                ],
            }
            raw = _canonical(index)
            digest = _digest(raw)
            self.manifests[digest] = (OCI_INDEX, raw)
            self.pulls[digest] = images[0][1][1]  # the engines here are linux/amd64
        for tag in c.tags:
            self.tags.setdefault(c.repository, {})[tag] = digest

    def _image(self, c: _Content, platform: str, created: float) -> tuple[str, Pushed]:
        os_, arch, *variant = platform.split("/")
        layer_digests = [_digest(f"{self.host}/{c.repository}:{c.tags[0]}:{platform}:{i}".encode()) for i in range(len(c.layers))]
        config: dict[str, Any] = {
            "architecture": arch,
            "os": os_,
            "created": _iso(created),
            "config": {"Labels": {"org.opencontainers.image.source": f"https://git.example.local/{c.repository}"}},
            # The uncompressed layers' digests: made up like the layers (only configs are served).
            "rootfs": {"type": "layers", "diff_ids": [_digest(d.encode()) for d in layer_digests]},
        }
        if variant:
            config["variant"] = variant[0]
        config_raw = _canonical(config)
        config_digest = _digest(config_raw)
        self.blobs[config_digest] = config_raw
        media, config_media, layer_media = (
            (DOCKER_MANIFEST, DOCKER_CONFIG, DOCKER_LAYER) if c.docker_media else (OCI_MANIFEST, OCI_CONFIG, OCI_LAYER)
        )
        manifest = {
            "schemaVersion": 2,
            "mediaType": media,
            "config": {"mediaType": config_media, "digest": config_digest, "size": len(config_raw)},
            "layers": [{"mediaType": layer_media, "digest": d, "size": n} for d, n in zip(layer_digests, c.layers)],
        }
        raw = _canonical(manifest)
        digest = _digest(raw)
        self.manifests[digest] = (media, raw)
        return digest, Pushed(config_digest, c.layers, created)

    def resolve(self, repository: str, reference: str) -> str | None:
        """The manifest digest a tag or digest names, if this registry has it."""
        if reference.startswith("sha256:"):
            return reference if reference in self.manifests and repository in self.tags else None
        return self.tags.get(repository, {}).get(reference)

    # -- access ----------------------------------------------------------------------------

    def accepts(self, username: str | None, password: str | None) -> bool:
        if not self.private:
            return True
        if username != DEMO_USER or not password:
            return False
        given = hashlib.sha256(password.encode()).hexdigest()
        return hmac.compare_digest(given, _DEMO_PASSWORD_SHA256)


def _platform(text: str) -> dict[str, str]:
    os_, arch, *variant = text.split("/")
    out = {"os": os_, "architecture": arch}
    if variant:
        out["variant"] = variant[0]
    return out


def _build() -> dict[str, Registry]:
    public = Registry("example", PUBLIC_HOST, private=False)
    for c in _PUBLIC_CONTENT:
        public.push(c)
    private = Registry("private", PRIVATE_HOST, private=True)
    for c in _PRIVATE_CONTENT:
        private.push(c)
    return {public.host: public, private.host: private}


_REGISTRIES: dict[str, Registry] | None = None


def registries() -> dict[str, Registry]:
    """The two registries by host (built once: the content is the same for every seed)."""
    global _REGISTRIES
    if _REGISTRIES is None:
        _REGISTRIES = _build()
    return _REGISTRIES


# -- what an engine's pull meets ---------------------------------------------------------------


class PullRefused(Exception):
    """The registry's own reason, as the engine reports it ("unauthorized: authentication required")."""


def split_reference(ref: str) -> tuple[str | None, str, str]:
    """(registry host or None for Docker Hub, repository, tag or digest) of an image reference."""
    name, reference = ref, "latest"
    if "@" in ref:
        name, _, reference = ref.partition("@")
    else:
        head, sep, tail = ref.rpartition(":")
        if sep and "/" not in tail:
            name, reference = head, tail
    first, slash, rest = name.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first, rest, reference
    return None, name, reference


def pull_from(ref: str, auth: "RegistryAuth | None", *, checked: bool = False) -> Pushed | None:
    """What pulling ``ref`` from one of these registries gets (None: not one of these
    registries), or ``PullRefused`` with the registry's reason. ``checked``: the credentials
    were accepted earlier (an engine that pulled before); only the content is looked up."""
    host, repository, reference = split_reference(ref)
    registry = registries().get(host or "")
    if registry is None:
        return None
    if registry.private and not checked:
        given = auth if auth is not None and auth.server in (registry.host, registry.url) else None
        if given is None or not registry.accepts(given.username, given.password):
            # What distribution's token service answers, and so what the engine says.
            raise PullRefused("unauthorized: authentication required")
    if repository not in registry.tags:
        raise PullRefused(f"name unknown: repository {repository} not known to registry {registry.host}")
    digest = registry.resolve(repository, reference)
    if digest is None:
        raise PullRefused(f"manifest unknown: manifest unknown ({registry.host}/{repository}:{reference})")
    return registry.pulls[digest]


# -- the HTTP API v2 -------------------------------------------------------------------------

_NAME = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
_ROUTE = re.compile(rf"^/v2/(?P<name>{_NAME})/(?P<what>tags/list|manifests/(?P<ref>[^/]+)|blobs/(?P<digest>sha256:[0-9a-f]{{64}}))$")


class Server:
    """One registry's v2 API as an httpx handler. Tokens live as long as the server (one per
    client): a token names the scopes it grants."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self._tokens: dict[str, frozenset[str]] = {}
        self.requests = 0  # counted, so tests see how many round trips a listing took

    def transport(self) -> "httpx.MockTransport":
        import httpx

        return httpx.MockTransport(self.handle)

    async def handle(self, request: "httpx.Request") -> "httpx.Response":
        import httpx

        self.requests += 1
        if request.url.host != self.registry.host:
            # Nothing else is served: as a name that does not resolve.
            raise httpx.ConnectError(f"[Errno -2] Name or service not known: {request.url.host}", request=request)
        if request.method not in ("GET", "HEAD"):
            return _error(405, "UNSUPPORTED", "The operation is unsupported.")
        path = request.url.path
        if path == "/token" and self.registry.private:
            return self._token(request)
        if path == "/v2/" or path == "/v2":
            denied = self._check(request, None)
            return denied or _json({})
        if path == "/v2/_catalog":
            denied = self._check(request, "registry:catalog:*")
            if denied:
                return denied
            return self._page(request, "/v2/_catalog", sorted(self.registry.tags), lambda names: {"repositories": names})
        match = _ROUTE.match(path)
        if match is None:
            return _error(404, "NOT_FOUND", "page not found")
        name = match["name"]
        denied = self._check(request, f"repository:{name}:pull")
        if denied:
            return denied
        tags = self.registry.tags.get(name)
        if tags is None:
            return _error(404, "NAME_UNKNOWN", "repository name not known to registry")
        if match["what"] == "tags/list":
            return self._page(request, f"/v2/{name}/tags/list", sorted(tags), lambda names: {"name": name, "tags": names})
        if match["ref"] is not None:
            digest = self.registry.resolve(name, urllib.parse.unquote(match["ref"]))
            if digest is None:
                return _error(404, "MANIFEST_UNKNOWN", "manifest unknown")
            media, raw = self.registry.manifests[digest]
            return _bytes(raw, media, {"Docker-Content-Digest": digest})
        blob = self.registry.blobs.get(match["digest"])
        if blob is None:
            return _error(404, "BLOB_UNKNOWN", "blob unknown to registry")
        return _bytes(blob, "application/octet-stream", {"Docker-Content-Digest": match["digest"]})

    def _check(self, request: "httpx.Request", scope: str | None) -> "httpx.Response | None":
        if not self.registry.private:
            return None
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            granted = self._tokens.get(header[7:])
            if granted is not None and (scope is None or scope in granted):
                return None
        challenge = f'Bearer realm="{self.registry.url}/token",service="{self.registry.host}"'
        if scope:
            challenge += f',scope="{scope}"'
        return _error(401, "UNAUTHORIZED", "authentication required", {"WWW-Authenticate": challenge})

    def _token(self, request: "httpx.Request") -> "httpx.Response":
        username = password = None
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            try:
                username, _, password = base64.b64decode(header[6:], validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                username = password = None
        if not self.registry.accepts(username, password):
            return _error(401, "UNAUTHORIZED", "authentication required")
        if request.url.params.get("service") != self.registry.host:
            return _error(400, "INVALID_REQUEST", "unknown service")
        scopes = frozenset(request.url.params.get_list("scope"))
        token = secrets.token_urlsafe(24)
        self._tokens[token] = scopes
        return _json({"token": token, "access_token": token, "expires_in": 300})

    def _page(
        self, request: "httpx.Request", path: str, names: list[str], body: Callable[[list[str]], dict[str, Any]]
    ) -> "httpx.Response":
        """Distribution's paging: ``n`` names after ``last``, and a ``Link`` to the next page."""
        params = request.url.params
        try:
            n = int(params.get("n", DEFAULT_PAGE))
        except ValueError:
            return _error(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested")
        if not 0 < n <= MAX_PAGE:
            return _error(400, "PAGINATION_NUMBER_INVALID", "invalid number of results requested")
        last = params.get("last")
        rest = [x for x in names if last is None or x > last]
        page = rest[:n]
        headers = {}
        if len(rest) > n:
            query = urllib.parse.urlencode({"last": page[-1], "n": n})
            headers["Link"] = f'<{path}?{query}>; rel="next"'
        return _json(body(page), headers)


def _bytes(raw: bytes, media: str, headers: dict[str, str] | None = None) -> "httpx.Response":
    import httpx

    return httpx.Response(
        200, content=raw, headers={"Content-Type": media, "Content-Length": str(len(raw)), **(headers or {})}
    )


def _json(value: Any, headers: dict[str, str] | None = None) -> "httpx.Response":
    return _bytes(_canonical(value), "application/json", headers)


def _error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> "httpx.Response":
    import httpx

    body = _canonical({"errors": [{"code": code, "message": message, "detail": None}]})
    return httpx.Response(status, content=body, headers={"Content-Type": "application/json", **(headers or {})})


# -- what the console lists --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BuiltinRegistry:
    """A registry the simulator brings (listed without any configuration): its entry, and a
    fresh transport to it for each client."""

    entry: RegistryEntry
    transport: Callable[[], "httpx.AsyncBaseTransport"]


def builtin_registries() -> list[BuiltinRegistry]:
    return [BuiltinRegistry(r.entry(), lambda r=r: Server(r).transport()) for r in registries().values()]


__all__ = [
    "BuiltinRegistry",
    "DEMO_USER",
    "PRIVATE_HOST",
    "PUBLIC_HOST",
    "PullRefused",
    "Pushed",
    "Registry",
    "Server",
    "builtin_registries",
    "pull_from",
    "registries",
    "split_reference",
]
