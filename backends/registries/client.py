"""The registry HTTP API v2 (CNCF distribution, Docker Hub, Harbor...) over httpx.

- **Auth**: a request goes out without credentials until the registry answers 401 with a
  ``WWW-Authenticate`` challenge. ``Basic``: the user and password (looked up only then) go
  with every later request. ``Bearer``: a token is fetched from the challenge's realm for its
  service and scope (with the user and password when a user is configured, anonymously
  otherwise), cached per scope, and sent. A second 401 after answering a challenge is
  ``AuthenticationFailed`` (exit 4).
- **Paging**: ``_catalog`` and ``tags/list`` are read ``page_size`` at a time and followed by
  the ``Link: <…>; rel="next"`` header, which must stay on the registry's own origin and path.
  A list ends: past ``MAX_PAGES`` pages or ``MAX_ITEMS`` names, a page that brings no name
  not seen before, or an empty page that links on, is a ``ProtocolError``.
- **Bounds**: connect, read and whole-request timeouts; answers capped in size (manifests at
  distribution's own 4 MiB); at most ``concurrency`` requests at once. Redirects are not
  followed with credentials: only a blob may be redirected (to its storage), once, and is
  then fetched with no credentials at all.
- **Trust**: TLS verified against the system CAs or the registry's ``ca_bundle``; names and
  tags from the registry must be valid references before they go into a URL path; digests
  are checked against the bytes served.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import re
import urllib.parse
from dataclasses import dataclass
from typing import Any, Callable

import httpx

from ..endpoints import check_https_url
from ..tls import tls_problem, verification
from ..errors import (
    AuthenticationFailed,
    BackendError,
    InvalidInput,
    NotFound,
    PermissionDenied,
    ProtocolError,
    Unavailable,
)

CONNECT_TIMEOUT = 10.0  # seconds to open a connection (TCP and TLS)
READ_TIMEOUT = 30.0  # seconds between two reads of one answer
TOTAL_TIMEOUT = 60.0  # seconds for one whole request: a server dripping bytes still ends
MAX_BODY = 16 * 1024 * 1024  # a catalog page of 1,000 long names is well under 1 MiB
MAX_MANIFEST = 4 * 1024 * 1024  # distribution refuses to store larger manifests
MAX_CONFIG_BLOB = 4 * 1024 * 1024  # an image config is a few KiB (its history included)
MAX_TOKEN_ANSWER = 1024 * 1024
PAGE_SIZE = 100
MAX_PAGES = 1_000
MAX_ITEMS = 100_000  # repositories, or tags of one repository
MAX_INDEX_ENTRIES = 256  # images of one index (a multi-platform image has a handful)
CONCURRENCY = 8

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
IMAGE_MANIFESTS = (MANIFEST_V2, OCI_MANIFEST)
INDEXES = (MANIFEST_LIST, OCI_INDEX)
IMAGE_CONFIGS = ("application/vnd.docker.container.image.v1+json", "application/vnd.oci.image.config.v1+json")
ACCEPT = ", ".join((OCI_INDEX, MANIFEST_LIST, OCI_MANIFEST, MANIFEST_V2))

# The distribution spec's grammar: what may go into a URL path from a registry's answer.
REPOSITORY = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")
DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")
_AUTH_PARAM = re.compile(r'([A-Za-z][A-Za-z0-9_-]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))')
_MAX_SIZE = 2**53  # a descriptor's size past this is no size (and JSON loses it anyway)


@dataclass(frozen=True, slots=True)
class Manifest:
    digest: str
    media_type: str
    body: dict[str, Any]


def parse_challenge(header: str) -> tuple[str, dict[str, str]] | None:
    """(scheme, params) of the challenge to answer: Bearer if offered, else Basic."""
    found: list[tuple[str, dict[str, str]]] = []
    # Challenges are "Scheme params, Scheme params": split where a new scheme starts.
    for part in re.split(r",?\s*(?=\b(?:Basic|Bearer)\b\s)", header, flags=re.IGNORECASE):
        part = part.strip().strip(",")
        if not part:
            continue
        scheme, _, rest = part.partition(" ")
        params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3)) for m in _AUTH_PARAM.finditer(rest)}
        found.append((scheme.lower(), params))
    for wanted in ("bearer", "basic"):
        for scheme, params in found:
            if scheme == wanted:
                return scheme, params
    return None


class RegistryClient:
    """One registry endpoint. ``password`` is called (once) only when a challenge needs it."""

    def __init__(
        self,
        url: str,
        *,
        name: str | None = None,
        user: str | None = None,
        password: Callable[[], str] | None = None,
        ca_bundle: str | None = None,
        insecure: bool = False,
        insecure_transport: bool = False,
        connect_timeout: float = CONNECT_TIMEOUT,
        read_timeout: float = READ_TIMEOUT,
        total_timeout: float = TOTAL_TIMEOUT,
        max_body: int = MAX_BODY,
        page_size: int = PAGE_SIZE,
        max_pages: int = MAX_PAGES,
        max_items: int = MAX_ITEMS,
        concurrency: int = CONCURRENCY,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport`` replaces the network (the simulator serves its registries in-process
        through one); every check above the socket (challenges, paging, digests, caps) is the same."""
        self.url = url.rstrip("/")
        self.name = name or urllib.parse.urlsplit(self.url).netloc  # a configured name, else HOST:PORT
        self.user = user
        self._password_source = password
        self._password: str | None = None
        self.insecure_transport = insecure_transport
        origin = urllib.parse.urlsplit(self.url)
        self._origin = (origin.scheme.lower(), (origin.hostname or "").lower(), origin.port)
        verify = verification(insecure=insecure, ca_bundle=ca_bundle, where=f"registry {self.name}: ")
        self._http = httpx.AsyncClient(
            verify=verify,
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,  # credentials go only to the registry they were configured for
            trust_env=False,  # no proxy or netrc from the environment picks up our Authorization
            transport=transport,
        )
        self.total_timeout = total_timeout
        self.max_body = max_body
        self.page_size = page_size
        self.max_pages = max_pages
        self.max_items = max_items
        self._slots = asyncio.Semaphore(concurrency)
        self._basic: str | None = None  # the Authorization value once Basic was asked for
        self._tokens: dict[str, str] = {}  # scope -> bearer token
        self._token_lock = asyncio.Lock()

    async def close(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> "RegistryClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- transport -----------------------------------------------------------------------

    def _absolute(self, path: str) -> str:
        return path if path.startswith(("https://", "http://")) else self.url + path

    async def _exchange(self, url: str, headers: dict[str, str], cap: int, what: str) -> httpx.Response:
        """One GET, bounded in time and size, its body read."""
        try:
            async with asyncio.timeout(self.total_timeout):
                response = await self._http.send(self._http.build_request("GET", url, headers=headers), stream=True)
                try:
                    declared = response.headers.get("Content-Length", "")
                    if declared.isdigit() and int(declared) > cap:
                        raise self._protocol(what, f"announced {int(declared):,} bytes, more than the {cap:,} accepted")
                    chunks, size = [], 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > cap:
                            raise self._protocol(what, f"sent more than the {cap:,} bytes accepted")
                        chunks.append(chunk)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise Unavailable(f"registry {self.name}: {what} did not finish within {self.total_timeout:g}s") from None
        except httpx.ConnectError as err:
            raise self._unreachable(err) from None
        except httpx.TimeoutException:
            raise Unavailable(f"registry {self.name} ({self.url}) did not answer in time ({what})") from None
        except httpx.HTTPError as err:
            raise Unavailable(f"registry {self.name}: {what}: {type(err).__name__}: {err}") from None
        response._content = b"".join(chunks)
        return response

    def _unreachable(self, err: httpx.ConnectError) -> Unavailable:
        problem = tls_problem(err)
        if problem is not None and problem.untrusted:
            because = f": {problem.detail}" if problem.detail else ""
            return Unavailable(
                f"TLS certificate of registry {self.name} ({self.url}) not trusted{because}; "
                f"trust its CA: registry remove {self.name}, then registry add {self.name} ... --ca-bundle PATH"
            )
        if problem is not None:
            return Unavailable(f"TLS with registry {self.name} ({self.url}) failed: {problem.detail}")
        return Unavailable(f"cannot connect to registry {self.name} ({self.url}): {str(err) or type(err).__name__}")

    def _protocol(self, what: str, problem: str) -> ProtocolError:
        return ProtocolError(f"registry {self.name} ({self.url}): {what}: {problem}")

    def _secret(self) -> str:
        if self.user is None:
            raise AuthenticationFailed(
                f"registry {self.name} asks for credentials and none are configured: registry add {self.name} --user USER"
            )
        if self._password is None:
            if self._password_source is None:
                raise AuthenticationFailed(f"registry {self.name} asks for a password and none was given")
            self._password = self._password_source()
        return self._password

    def _basic_value(self) -> str:
        token = base64.b64encode(f"{self.user}:{self._secret()}".encode()).decode()
        return f"Basic {token}"

    async def get(
        self, path: str, *, what: str, scope: str, accept: str | None = None, cap: int | None = None, redirect_ok: bool = False
    ) -> httpx.Response:
        """GET ``path`` on the registry, answering its challenge once; errors are typed."""
        cap = cap or self.max_body
        answered = False
        async with self._slots:
            while True:
                headers = {"Accept": accept} if accept else {}
                if self._basic:
                    headers["Authorization"] = self._basic
                elif scope in self._tokens:
                    headers["Authorization"] = f"Bearer {self._tokens[scope]}"
                response = await self._exchange(self._absolute(path), headers, cap, what)
                if response.status_code == 401:
                    if answered:
                        who = f"the password of {self.user}" if self.user else "anonymous access"
                        raise AuthenticationFailed(f"registry {self.name} ({self.url}) refused {who} ({what})")
                    challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
                    if challenge is None:
                        raise self._protocol(what, "answered 401 without a Basic or Bearer challenge")
                    scheme, params = challenge
                    if scheme == "basic":
                        self._basic = self._basic_value()
                    else:
                        await self._fetch_token(params, scope)
                    answered = True
                    continue
                if redirect_ok and response.status_code in (301, 302, 303, 307, 308):
                    return response  # the caller follows it, without credentials
                self._raise_for(response, what)
                return response

    def _raise_for(self, response: httpx.Response, what: str) -> None:
        status = response.status_code
        if 200 <= status < 300:
            return
        detail = _error_detail(response)
        text = f"registry {self.name}: {what}: HTTP {status}{': ' + detail if detail else ''}"
        if status == 403:
            raise PermissionDenied(text)
        if status == 404:
            raise NotFound(text)
        if status in (429, 502, 503, 504):
            raise Unavailable(text)
        if 300 <= status < 400:
            where = response.headers.get("Location", "nowhere")
            raise self._protocol(what, f"answered HTTP {status}, a redirect to {where[:200]} (not followed)")
        raise BackendError(text)

    async def _fetch_token(self, params: dict[str, str], scope: str) -> None:
        realm = params.get("realm", "")
        what = "a token"
        parts = urllib.parse.urlsplit(realm)
        same_host = (parts.hostname or "").lower() == self._origin[1]
        try:
            # A realm on another host gets the password only over https, whatever the registry
            # itself was allowed.
            check_https_url(
                urllib.parse.urlunsplit(parts._replace(query="", fragment="")),
                "token realm",
                insecure_transport=self.insecure_transport and same_host,
            )
        except InvalidInput as err:
            raise self._protocol(what, f"its Bearer challenge names a realm that is refused: {err.message}") from None
        query = {k: v for k, v in (("service", params.get("service")), ("scope", params.get("scope") or scope)) if v}
        if self.user:
            query["account"] = self.user
        url = realm + ("&" if parts.query else "?") + urllib.parse.urlencode(query)
        headers = {"Authorization": self._basic_value()} if self.user else {}
        response = await self._exchange(url, headers, MAX_TOKEN_ANSWER, what)
        if response.status_code == 401:
            raise AuthenticationFailed(f"registry {self.name}: the token service {realm[:200]} refused the password of {self.user}")
        self._raise_for(response, what)
        body = _json_object(self, response, what)
        token = body.get("token") or body.get("access_token")
        if not isinstance(token, str) or not token or len(token) > 64 * 1024:
            raise self._protocol(what, "the token service answered no token")
        self._tokens[scope] = token

    async def get_json(self, path: str, *, what: str, scope: str, accept: str | None = None, cap: int | None = None) -> tuple[httpx.Response, dict[str, Any]]:
        response = await self.get(path, what=what, scope=scope, accept=accept, cap=cap)
        return response, _json_object(self, response, what)

    # -- the API ---------------------------------------------------------------------------

    async def ping(self) -> None:
        """GET /v2/ without credentials: it answers as a registry (200, or 401 with a
        challenge), else the typed error saying why not."""
        what = "GET /v2/"
        async with self._slots:
            response = await self._exchange(self.url + "/v2/", {}, 64 * 1024, what)
        if response.status_code == 401:
            if parse_challenge(response.headers.get("WWW-Authenticate", "")) is None:
                raise self._protocol(what, "answered 401 without a Basic or Bearer challenge")
            return
        self._raise_for(response, what)

    async def check_credentials(self) -> None:
        """GET /v2/ answering its challenge: ``AuthenticationFailed`` if they are refused."""
        await self.get("/v2/", what="GET /v2/", scope="registry:catalog:*")

    async def _paged(self, path: str, field: str, scope: str, what: str) -> list[str]:
        names: list[str] = []
        seen: set[str] = set()
        url: str | None = f"{path}?n={self.page_size}"
        pages = 0
        while url is not None:
            pages += 1
            if pages > self.max_pages:
                raise self._protocol(what, f"more than {self.max_pages:,} pages (the console reads no more)")
            response, body = await self.get_json(url, what=what, scope=scope)
            page = body.get(field)
            if page is None:
                page = []
            if not isinstance(page, list) or not all(isinstance(n, str) for n in page):
                raise self._protocol(what, f"answered {field} that is not a list of names")
            new = [n for n in page if n not in seen]
            url = self._next(response, path, what)
            if page and not new:
                raise self._protocol(what, f"page {pages} brought no name not seen before (the list does not end)")
            if not page and url is not None:
                raise self._protocol(what, f"page {pages} is empty and links to another")
            for n in new:
                seen.add(n)
                names.append(n)
            if len(names) > self.max_items:
                raise self._protocol(what, f"more than {self.max_items:,} names (the console reads no more)")
        return names

    def _next(self, response: httpx.Response, path: str, what: str) -> str | None:
        link = response.links.get("next", {}).get("url") if "link" in response.headers else None
        if not link:
            return None
        target = urllib.parse.urljoin(str(response.request.url), link)
        parts = urllib.parse.urlsplit(target)
        if (parts.scheme.lower(), (parts.hostname or "").lower(), parts.port) != self._origin:
            raise self._protocol(what, f"its next page link leaves the registry ({target[:200]}); not followed")
        base_path = urllib.parse.urlsplit(self.url).path.rstrip("/")
        if parts.path != base_path + path:
            raise self._protocol(what, f"its next page link points elsewhere ({parts.path[:200]})")
        return f"{path}?{parts.query}"

    async def catalog(self) -> list[str]:
        """Every repository, in the registry's order."""
        names = await self._paged("/v2/_catalog", "repositories", "registry:catalog:*", "GET /v2/_catalog")
        for name in names:
            if not REPOSITORY.match(name) or len(name) > 255:
                raise self._protocol("GET /v2/_catalog", f"listed {name[:100]!r}, which is no repository name")
        return names

    async def tags(self, repository: str) -> list[str]:
        what = f"GET /v2/{repository}/tags/list"
        names = await self._paged(f"/v2/{repository}/tags/list", "tags", _pull(repository), what)
        for tag in names:
            if not TAG.match(tag):
                raise self._protocol(what, f"listed {tag[:100]!r}, which is no tag")
        return names

    async def manifest(self, repository: str, reference: str) -> Manifest:
        """The manifest ``reference`` (a tag or a digest) points to, its digest checked."""
        what = f"GET /v2/{repository}/manifests/{reference}"
        response = await self.get(
            f"/v2/{repository}/manifests/{reference}", what=what, scope=_pull(repository), accept=ACCEPT, cap=MAX_MANIFEST
        )
        digest = "sha256:" + hashlib.sha256(response.content).hexdigest()
        served = response.headers.get("Docker-Content-Digest")
        if served and served.startswith("sha256:") and served != digest:
            raise self._protocol(what, f"served a manifest whose bytes are {digest}, not the {served[:80]} it claims")
        if reference.startswith("sha256:") and reference != digest:
            raise self._protocol(what, f"served bytes that are {digest}, not the digest asked for")
        body = _json_object(self, response, what)
        media_type = body.get("mediaType") or response.headers.get("Content-Type", "").split(";")[0].strip()
        if not isinstance(media_type, str):
            raise self._protocol(what, "answered a mediaType that is not a string")
        return Manifest(digest, media_type, body)

    async def blob_json(self, repository: str, digest: str) -> dict[str, Any]:
        """A small JSON blob (an image config), its digest checked. A redirect to the blob's
        storage (S3 and the like) is followed once, with no credentials at all."""
        what = f"GET /v2/{repository}/blobs/{digest}"
        response = await self.get(
            f"/v2/{repository}/blobs/{digest}", what=what, scope=_pull(repository), cap=MAX_CONFIG_BLOB, redirect_ok=True
        )
        if 300 <= response.status_code < 400:
            target = urllib.parse.urljoin(str(response.request.url), response.headers.get("Location", ""))
            try:
                check_https_url(target.split("?", 1)[0], "blob location", insecure_transport=self.insecure_transport)
            except InvalidInput as err:
                raise self._protocol(what, f"redirected to a location that is refused: {err.message}") from None
            async with self._slots:
                response = await self._exchange(target, {}, MAX_CONFIG_BLOB, what)
            self._raise_for(response, what)
        if "sha256:" + hashlib.sha256(response.content).hexdigest() != digest:
            raise self._protocol(what, "served bytes that do not match the digest")
        return _json_object(self, response, what)


def _pull(repository: str) -> str:
    return f"repository:{repository}:pull"


def _json_object(client: RegistryClient, response: httpx.Response, what: str) -> dict[str, Any]:
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        raise client._protocol(what, f"answered something that is not JSON (HTTP {response.status_code})") from None
    if not isinstance(body, dict):
        raise client._protocol(what, "answered JSON that is not an object")
    return body


def _error_detail(response: httpx.Response) -> str:
    """The registry's own reason (its ``errors`` list), else a short text."""
    try:
        body = json.loads(response.content)
    except (ValueError, RecursionError):
        return " ".join(response.text.split())[:200] if "html" not in response.headers.get("content-type", "") else ""
    errors = body.get("errors") if isinstance(body, dict) else None
    if isinstance(errors, list) and errors and isinstance(errors[0], dict):
        first = errors[0]
        return " ".join(str(first.get("message") or first.get("code") or "").split())[:200]
    return ""


def descriptor_size(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < _MAX_SIZE:
        return None
    return value
