"""What every Prism-compatible server the console runs needs: a self-signed certificate for
127.0.0.1, Prism's basic-auth-then-session-cookie login, and Prism's error envelopes."""

from __future__ import annotations

import base64
import datetime
import ipaddress
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from starlette.responses import JSONResponse, Response

from ..prism.client import SIMULATOR_HEADER

SESSION_COOKIE = "NTNX_IGW_SESSION"


@dataclass(frozen=True, slots=True)
class CertFiles:
    cert: Path  # also the CA bundle: the certificate signs itself
    key: Path


def self_signed_cert(directory: Path) -> CertFiles:
    """A fresh certificate for 127.0.0.1 and localhost, valid for 30 days."""
    directory.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "ntnx-console simulated Prism Central")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = CertFiles(directory / "prism-sim-cert.pem", directory / "prism-sim-key.pem")
    files.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    files.key.touch(mode=0o600)
    files.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return files


def server_cert(directory: Path, *, min_days_left: float = 1.0) -> CertFiles:
    """The certificate of one server: kept in ``directory`` (one per port, so servers running
    at once never overwrite each other's and a client's trust in one survives its restart),
    made afresh when missing, unreadable or within ``min_days_left`` of expiring."""
    files = CertFiles(directory / "prism-sim-cert.pem", directory / "prism-sim-key.pem")
    try:
        cert = x509.load_pem_x509_certificate(files.cert.read_bytes())
        key = serialization.load_pem_private_key(files.key.read_bytes(), password=None)
        left = cert.not_valid_after_utc - datetime.datetime.now(datetime.timezone.utc)
        if left > datetime.timedelta(days=min_days_left) and _public(key.public_key()) == _public(cert.public_key()):
            return files
    except (OSError, ValueError, TypeError):
        pass
    return self_signed_cert(directory)


def _public(key: Any) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


class PrismLogin:
    """Pure ASGI middleware: basic auth for ``user``/``password``, answered with a session
    cookie that later requests may use instead; anything else is a 401 with an HTML body, as
    Prism's gateway answers. Every answer carries ``X-Ntnx-Product`` (and, for the simulator,
    the header that says so)."""

    def __init__(self, app: Any, *, user: str, password: str, product: str, simulated: bool) -> None:
        self.app = app
        self._expected = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self.sessions: set[str] = set()
        self._extra = [(b"x-ntnx-product", product.encode())]
        if simulated:
            self._extra.append((SIMULATOR_HEADER.lower().encode(), b"1"))

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        cookie = _cookie(headers.get("cookie", ""), SESSION_COOKIE)
        new_session: str | None = None
        if cookie not in self.sessions:
            if not secrets.compare_digest(headers.get("authorization", ""), self._expected):
                body = b"<html><head><title>401 Unauthorized</title></head><body>Authentication required</body></html>"
                await send(
                    {
                        "type": "http.response.start",
                        "status": 401,
                        "headers": [(b"content-type", b"text/html"), (b"content-length", str(len(body)).encode())]
                        + self._extra,
                    }
                )
                await send({"type": "http.response.body", "body": body})
                return
            new_session = secrets.token_urlsafe(24)
            self.sessions.add(new_session)

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                extra = list(self._extra)
                if new_session:
                    extra.append((b"set-cookie", f"{SESSION_COOKIE}={new_session}; Path=/; Secure; HttpOnly".encode()))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _cookie(header: str, name: str) -> str | None:
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == name:
            return value
    return None


def v3_error(status: int, kind: str, message: str, reason: str, *, retry_after: float | None = None) -> Response:
    """Prism's v3 error envelope."""
    body = {
        "api_version": "3.1",
        "code": status,
        "kind": kind,
        "message_list": [{"message": message, "reason": reason}],
        "state": "ERROR",
    }
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
    return JSONResponse(body, status_code=status, headers=headers)


def v4_error(status: int, namespace: str, message: str, code: str, *, retry_after: float | None = None) -> Response:
    """The v4 APIs' error response."""
    body = {
        "data": {
            "$objectType": f"{namespace}.v4.error.ErrorResponse",
            "error": [{"$objectType": f"{namespace}.v4.error.AppMessage", "message": message, "code": code, "severity": "ERROR"}],
        },
        "$objectType": f"{namespace}.v4.config.ErrorResponse",
    }
    headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else None
    return JSONResponse(body, status_code=status, headers=headers)
