"""How to reach one Docker Engine: endpoint URLs, Docker's own conventions, and httpx transports.

- ``unix:///path``: the socket, through ``httpx.AsyncHTTPTransport(uds=...)``.
- ``tcp://host:port``: plain HTTP, or TLS when ``DOCKER_TLS_VERIFY`` (or the setting) asks,
  with ``ca.pem``/``cert.pem``/``key.pem`` from ``DOCKER_CERT_PATH`` (default ``~/.docker``).
- ``ssh://[user@]host[:port][/remote/socket]``: asyncssh opens the connection (honouring
  ``~/.ssh/config`` and checking the host key against ``known_hosts``) and forwards a private
  local unix socket to the remote engine's socket (``/var/run/docker.sock`` unless the URL
  names another path), as Docker's ssh transport tunnels to the remote socket. httpx then talks
  to that local socket, so every engine looks the same to the API layer.
- a bare name is a Docker context from ``~/.docker/contexts``.

An ssh endpoint may carry its own ``SSHIdentity`` (a client key and a known_hosts file of its
own, as each machine the Prism backend makes has): host keys are then checked against that
file only, with the same strictness.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shutil
import ssl
import tempfile
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..errors import AuthenticationFailed, InvalidInput, Unavailable

DEFAULT_SOCKET = "/var/run/docker.sock"
DEFAULT_URL = f"unix://{DEFAULT_SOCKET}"


@dataclass(frozen=True, slots=True)
class TLSFiles:
    ca: str | None
    cert: str | None
    key: str | None
    verify: bool = True


@dataclass(frozen=True, slots=True)
class SSHIdentity:
    """How to log in to one machine instead of ~/.ssh's defaults: its client key, the
    known_hosts file its host key is checked against, and how long to wait for it."""

    client_key: str
    known_hosts: str
    connect_timeout: float = 15.0


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One engine's address, parsed. ``url`` is what the user wrote (or the context's URL)."""

    url: str
    scheme: str  # "unix", "tcp" or "ssh"
    path: str | None = None  # unix socket, or the remote socket for ssh
    host: str | None = None
    port: int | None = None
    user: str | None = None
    tls: TLSFiles | None = None
    context: str | None = None
    identity: SSHIdentity | None = None  # ssh only; None means ~/.ssh's config, keys and known_hosts

    @property
    def display(self) -> str:
        if self.context:
            return self.context
        if self.scheme == "unix":
            return "local" if self.path == DEFAULT_SOCKET else str(self.path)
        return self.host or self.url


def docker_config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def default_hosts() -> list[str]:
    """What Docker itself would use: DOCKER_HOST, else DOCKER_CONTEXT / the current context,
    else the local socket."""
    if os.environ.get("DOCKER_HOST"):
        return [os.environ["DOCKER_HOST"]]
    context = os.environ.get("DOCKER_CONTEXT")
    if not context:
        try:
            context = json.loads((docker_config_dir() / "config.json").read_text()).get("currentContext")
        except (OSError, ValueError):
            context = None
    if context and context != "default":
        return [context]
    return [DEFAULT_URL]


def _context_endpoint(name: str) -> Endpoint:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta_file = docker_config_dir() / "contexts" / "meta" / digest / "meta.json"
    try:
        meta = json.loads(meta_file.read_text())
        docker = meta["Endpoints"]["docker"]
    except (OSError, ValueError, KeyError):
        raise InvalidInput(f"{name!r} is neither an engine URL nor a Docker context (no {meta_file})") from None
    tls_dir = docker_config_dir() / "contexts" / "tls" / digest / "docker"
    tls = None
    if tls_dir.is_dir():
        files = {n: str(tls_dir / f"{n}.pem") for n in ("ca", "cert", "key") if (tls_dir / f"{n}.pem").exists()}
        tls = TLSFiles(files.get("ca"), files.get("cert"), files.get("key"), not docker.get("SkipTLSVerify", False))
    endpoint = parse_endpoint(docker["Host"], tls_verify=tls is not None or None)
    if tls is not None and endpoint.scheme == "tcp":
        endpoint = Endpoint(**{**_fields(endpoint), "tls": tls})
    return Endpoint(**{**_fields(endpoint), "context": name})


def _fields(e: Endpoint) -> dict:
    return {f: getattr(e, f) for f in Endpoint.__slots__}  # type: ignore[attr-defined]


def parse_endpoint(url: str, *, tls_verify: bool | None = None, cert_path: str | None = None) -> Endpoint:
    """Parse an engine URL (or a context name) following Docker's conventions."""
    if "://" not in url:
        return _context_endpoint(url)
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme
    if scheme == "unix":
        path = urllib.parse.unquote(parts.netloc + parts.path)
        if not path:
            raise InvalidInput(f"{url}: no socket path")
        return Endpoint(url, "unix", path=path)
    if scheme in ("tcp", "http", "https"):
        if not parts.hostname:
            raise InvalidInput(f"{url}: no host")
        if tls_verify is None:
            tls_verify = scheme == "https" or bool(os.environ.get("DOCKER_TLS_VERIFY"))
        tls = None
        if tls_verify:
            base = Path(cert_path or os.environ.get("DOCKER_CERT_PATH") or docker_config_dir())
            files = {n: str(base / f"{n}.pem") for n in ("ca", "cert", "key") if (base / f"{n}.pem").exists()}
            tls = TLSFiles(files.get("ca"), files.get("cert"), files.get("key"))
        port = parts.port or (2376 if tls else 2375)
        return Endpoint(url, "tcp", host=parts.hostname, port=port, tls=tls)
    if scheme == "ssh":
        if not parts.hostname:
            raise InvalidInput(f"{url}: no host")
        remote = urllib.parse.unquote(parts.path) or DEFAULT_SOCKET
        return Endpoint(url, "ssh", path=remote, host=parts.hostname, port=parts.port, user=parts.username)
    raise InvalidInput(f"{url}: unsupported scheme {scheme!r} (use unix://, tcp:// or ssh://)")


def ssl_context(tls: TLSFiles) -> ssl.SSLContext:
    if tls.verify:
        ctx = ssl.create_default_context(cafile=tls.ca) if tls.ca else ssl.create_default_context()
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if tls.cert and tls.key:
        ctx.load_cert_chain(tls.cert, tls.key)
    return ctx


class Transport:
    """An open way to one engine: ``client`` is an httpx.AsyncClient for the Engine API."""

    def __init__(self, endpoint: Endpoint, *, accept_new_host_keys: bool = False) -> None:
        self.endpoint = endpoint
        self.accept_new_host_keys = accept_new_host_keys
        self.client: httpx.AsyncClient | None = None
        self._ssh = None  # asyncssh.SSHClientConnection
        self._listener = None
        self._tmpdir: str | None = None

    async def open(self) -> httpx.AsyncClient:
        e = self.endpoint
        # Long reads (events, logs, stop with a grace period) set their own read timeout.
        timeout = httpx.Timeout(30.0, connect=10.0)
        if e.scheme == "unix":
            transport = httpx.AsyncHTTPTransport(uds=e.path)
            base = "http://docker"
        elif e.scheme == "tcp":
            verify: ssl.SSLContext | bool = ssl_context(e.tls) if e.tls else False
            transport = httpx.AsyncHTTPTransport(verify=verify)
            base = f"{'https' if e.tls else 'http'}://{e.host}:{e.port}"
        else:
            transport = httpx.AsyncHTTPTransport(uds=await self._open_ssh_tunnel())
            base = "http://docker"
        self.client = httpx.AsyncClient(transport=transport, base_url=base, timeout=timeout)
        return self.client

    async def _open_ssh_tunnel(self) -> str:
        import asyncssh

        e = self.endpoint
        self._ssh = await ssh_connect(e.host or "", e.port, e.user, accept_new=self.accept_new_host_keys, identity=e.identity)
        # A private directory, so no other local user can use the forwarded socket.
        self._tmpdir = tempfile.mkdtemp(prefix="ntnx-ssh-")
        local = os.path.join(self._tmpdir, "docker.sock")
        try:
            self._listener = await self._ssh.forward_local_path(local, e.path or DEFAULT_SOCKET)
        except (OSError, asyncssh.Error) as err:
            raise Unavailable(f"{e.url}: cannot forward to the engine socket: {err}") from None
        return local

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        if self._ssh is not None:
            self._ssh.close()
            self._ssh = None
        if self._tmpdir is not None:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None


def _known_hosts_path(identity: SSHIdentity | None = None) -> Path:
    return Path(identity.known_hosts) if identity else Path.home() / ".ssh" / "known_hosts"


async def ssh_connect(
    host: str, port: int | None, user: str | None, *, accept_new: bool = False, identity: SSHIdentity | None = None
):
    """An asyncssh connection that honours ~/.ssh/config and known_hosts (or the endpoint's
    own ``identity``: its key, and its known_hosts file alone).

    An unknown host key is refused unless ``accept_new`` (then it is appended to the
    known_hosts file, as OpenSSH's ``StrictHostKeyChecking accept-new``); a changed key is
    always refused.
    """
    import asyncssh

    # Keepalives notice a silently dead link (the event stream alone would wait forever).
    kwargs: dict = {"connect_timeout": 15, "keepalive_interval": 15, "keepalive_count_max": 3}
    if identity is not None:
        kwargs["connect_timeout"] = identity.connect_timeout
        kwargs["client_keys"] = [identity.client_key]
        kwargs["agent_path"] = None  # this machine's key, not whatever an agent offers first
        kwargs["known_hosts"] = _known_hosts_of(identity)
    if port:
        kwargs["port"] = port
    if user:
        kwargs["username"] = user
    where = f"{user + '@' if user else ''}{host}{':' + str(port) if port else ''}"
    trusted = f"add it to {_known_hosts_path(identity)}" if identity else "add it to ~/.ssh/known_hosts"
    try:
        return await asyncssh.connect(host, **kwargs)
    except asyncssh.HostKeyNotVerifiable as err:
        if not accept_new or _has_known_key(host, port, identity):
            raise AuthenticationFailed(
                f"ssh {where}: host key not trusted ({err.reason}); check it and {trusted}, "
                "or accept new keys (accept_new_host_keys)"
            ) from None
    except asyncssh.PermissionDenied as err:
        raise AuthenticationFailed(f"ssh {where}: {err.reason}") from None
    except (OSError, asyncssh.Error) as err:
        raise Unavailable(f"ssh {where}: {getattr(err, 'reason', None) or err}") from None
    return await _accept_and_connect(host, port, kwargs, where, identity)


def _known_hosts_of(identity: SSHIdentity):
    """The identity's known_hosts; a missing file trusts no key (never ~/.ssh's instead)."""
    import asyncssh

    path = _known_hosts_path(identity)
    return str(path) if path.exists() else asyncssh.import_known_hosts("")


def _has_known_key(host: str, port: int | None, identity: SSHIdentity | None = None) -> bool:
    import asyncssh

    path = _known_hosts_path(identity)
    if not path.exists():
        return False
    keys, ca_keys, *_ = asyncssh.match_known_hosts(str(path), host, host, port or 22)
    return bool(keys or ca_keys)


async def _accept_and_connect(host: str, port: int | None, kwargs: dict, where: str, identity: SSHIdentity | None):
    import asyncssh

    try:
        key = await asyncio.wait_for(asyncssh.get_server_host_key(host, port or ()), kwargs["connect_timeout"])
    except asyncio.TimeoutError:
        raise Unavailable(f"ssh {where}: no answer within {kwargs['connect_timeout']:g}s") from None
    except (OSError, asyncssh.Error) as err:
        raise Unavailable(f"ssh {where}: {err}") from None
    if key is None:
        raise AuthenticationFailed(f"ssh {where}: the server presented no host key")
    name = host if not port or port == 22 else f"[{host}]:{port}"
    path = _known_hosts_path(identity)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    with path.open("a") as f:
        f.write(f"{name} {key.export_public_key('openssh').decode().strip()}\n")
    if identity is not None:
        kwargs["known_hosts"] = str(path)
    try:
        return await asyncssh.connect(host, **kwargs)
    except asyncssh.PermissionDenied as err:
        raise AuthenticationFailed(f"ssh {where}: {err.reason}") from None
    except (OSError, asyncssh.Error) as err:
        raise Unavailable(f"ssh {where}: {getattr(err, 'reason', None) or err}") from None
