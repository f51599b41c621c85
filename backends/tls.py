"""What went wrong when a TLS connection failed, for the one line a user sees.

httpx wraps the ssl module's error a few causes deep (and sometimes only names it in its
text); every client that speaks HTTPS (Prism, registries) asks here rather than digging."""

from __future__ import annotations

import ssl
from dataclasses import dataclass

from .errors import InvalidInput


@dataclass(frozen=True)
class TLSProblem:
    untrusted: bool  # the certificate was not trusted (else the handshake failed otherwise)
    detail: str  # the ssl module's own words, possibly empty


def tls_problem(err: BaseException) -> TLSProblem | None:
    """The TLS failure behind a connection error, or None when it was not TLS."""
    cause: BaseException | None = err
    while cause is not None:
        if isinstance(cause, ssl.SSLCertVerificationError):
            return TLSProblem(True, str(cause.verify_message or cause.reason or ""))
        if isinstance(cause, ssl.SSLError):
            return TLSProblem(False, str(cause.reason or cause))
        cause = cause.__cause__ or cause.__context__
    if "CERTIFICATE_VERIFY_FAILED" in str(err):
        return TLSProblem(True, "")
    return None


def verification(*, insecure: bool, ca_bundle: str | None, where: str = "") -> bool | ssl.SSLContext:
    """What an HTTPS client verifies the server with: the system CAs (True), a CA bundle of the
    user's, or nothing with ``insecure`` (which the caller shows loudly)."""
    if insecure:
        return False
    if not ca_bundle:
        return True
    try:
        return ssl.create_default_context(cafile=ca_bundle)
    except (OSError, ssl.SSLError) as err:
        raise InvalidInput(f"{where}cannot read the CA bundle {ca_bundle}: {err}") from None
