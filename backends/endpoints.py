"""Endpoint URLs checked before anything is sent: scheme, host, port, and whether the
transport protects what the console sends over it.

Every URL a backend will talk to (a flag, a config context, ``DOCKER_HOST``) passes through
``check_settings`` in ``backends.factory.open_backend``, so a bad one is refused with one line
and exit 2 before any DNS look-up or connection, wherever it came from. Plain transports (a
Prism or registry endpoint over ``http://``, a Docker engine over ``tcp://`` without TLS) carry
passwords or root-equivalent access in clear: they are refused unless the user says
``--insecure-transport``, which is then shown loudly (``warnings``).
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import TYPE_CHECKING

from .errors import InvalidInput

if TYPE_CHECKING:
    from .settings import Settings

# One DNS label (RFC 1123), and a whole host name of such labels (at most 253 characters).
_LABEL = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")
# Docker's own rule for a context name (a DOCKER_HOST without "://" names a context).
_DOCKER_CONTEXT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,127}$")
# Anything below space, DEL, and the C1 controls: never part of a URL a user meant.
_CONTROL = re.compile(r"[\x00-\x20\x7f-\x9f]")


class InsecureTransport(InvalidInput):
    title = "Insecure transport"


def _shown(url: str) -> str:
    # The URL goes into an error line: no control character reaches the terminal.
    return _CONTROL.sub("?", url)[:200]


def check_host(host: str, where: str) -> str:
    """A host name or an IP literal, checked by syntax alone (no DNS)."""
    if not host:
        raise InvalidInput(f"{where}: no host")
    bare = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ipaddress.ip_address(bare)
        return bare
    except ValueError:
        pass
    name = host[:-1] if host.endswith(".") else host
    if len(name) > 253 or not all(_LABEL.match(label) for label in name.split(".")):
        raise InvalidInput(f"{where}: {_shown(host)!r} is not a valid host name or IP address")
    return host


def check_port(port: int | str, where: str) -> int:
    try:
        value = int(port)
    except (TypeError, ValueError):
        raise InvalidInput(f"{where}: port {_shown(str(port))!r} is not a number") from None
    if not 1 <= value <= 65535:
        raise InvalidInput(f"{where}: port {value} is out of range (1-65535)")
    return value


def _split(url: str, where: str) -> urllib.parse.SplitResult:
    if _CONTROL.search(url):
        raise InvalidInput(f"{where}: {_shown(url)!r} contains spaces or control characters")
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port  # raises ValueError for a port out of range or not a number
    except ValueError:
        raw = parts.netloc.rpartition(":")[2]
        if raw.isdigit():
            raise InvalidInput(f"{where}: port {int(raw)} is out of range (1-65535)") from None
        raise InvalidInput(f"{where}: port {_shown(raw)!r} is not a number") from None
    if port is not None:
        check_port(port, where)
    elif parts.netloc.endswith(":"):
        raise InvalidInput(f"{where}: {_shown(url)!r} has an empty port")
    return parts


def check_https_url(url: str, where: str, *, insecure_transport: bool = False) -> str:
    """An https:// URL of a server we send credentials to (Prism Central, a registry)."""
    parts = _split(url, where)
    scheme = parts.scheme.lower()
    if scheme == "http":
        if not insecure_transport:
            raise InsecureTransport(
                f"{where}: {_shown(url)} is plain HTTP: the password would cross the network in clear; "
                "use https:// (or --insecure-transport if you really mean it)"
            )
    elif scheme != "https":
        raise InvalidInput(f"{where}: {_shown(url)!r} is not an https:// URL (e.g. https://HOST:9440)")
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(f"{where}: put no user or password in the URL (the password comes from NTNX_PASSWORD or a prompt)")
    check_host(parts.hostname or "", where)
    if parts.query or parts.fragment:
        raise InvalidInput(f"{where}: {_shown(url)!r} has a query or fragment; give https://HOST[:PORT]")
    return url


def check_docker_url(url: str, where: str, *, tls: bool, insecure_transport: bool = False) -> str:
    """A Docker engine URL (unix://, tcp://, ssh://, or a Docker context's name).

    ``tls`` says whether a tcp:// engine would be spoken to over TLS (the setting or
    ``DOCKER_TLS_VERIFY``): without it whoever is on the path owns the engine, and the
    engine owns its machine."""
    if "://" not in url:
        if not _DOCKER_CONTEXT.match(url):
            raise InvalidInput(f"{where}: {_shown(url)!r} is neither an engine URL (unix://, tcp://, ssh://) nor a context name")
        return url  # a Docker context: its endpoint is checked when the transport reads it
    parts = _split(url, where)
    scheme = parts.scheme.lower()
    if scheme == "unix":
        path = urllib.parse.unquote(parts.netloc + parts.path)
        if not path.startswith("/"):
            raise InvalidInput(f"{where}: {_shown(url)!r}: a unix socket path must be absolute (unix:///var/run/docker.sock)")
        return url
    if scheme in ("tcp", "https", "http"):
        check_host(parts.hostname or "", where)
        plain = scheme == "http" or (scheme == "tcp" and not tls)
        if plain and not insecure_transport:
            raise InsecureTransport(
                f"{where}: {_shown(url)} is plain TCP without TLS: anyone on the path controls the engine; "
                "use --tls-verify with --cert-path (or DOCKER_TLS_VERIFY), ssh://, or --insecure-transport"
            )
        return url
    if scheme == "ssh":
        if parts.password is not None:
            raise InvalidInput(f"{where}: put no password in an ssh:// URL (keys and the SSH agent are used)")
        check_host(parts.hostname or "", where)
        return url
    raise InvalidInput(f"{where}: {_shown(url)!r}: unsupported scheme {scheme!r} (use unix://, tcp:// or ssh://)")


def check_settings(settings: "Settings") -> None:
    """Every endpoint of the chosen backend, before any connection (exit 2 on a bad one)."""
    from .registry import info

    check = info(settings.backend).check
    if check is not None:
        check(settings)


def warnings(settings: "Settings") -> list[str]:
    """The lines a user must see on every command while a protection is off."""
    from .registry import info

    about = info(settings.backend)
    lines = about.warnings(settings) if about.warnings else []
    if settings.insecure_transport:
        lines.append("Warning: plain-text transport allowed (--insecure-transport): credentials may cross the network in clear")
    return lines
