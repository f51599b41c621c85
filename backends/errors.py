"""Typed errors of the backend contract.

Every backend raises only these (wrapping whatever its transport raised), so the CLI and the
console can turn any failure into one clear line and, for the CLI, an exit code.
"""

from __future__ import annotations


class BackendError(Exception):
    """Base of every error a backend raises. ``str(err)`` is the one line a user sees."""

    exit_code = 1
    title = "Error"

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after

    def one_line(self) -> str:
        # A user sees exactly one line, whatever the backend put in the message.
        text = " ".join(self.message.split())
        return f"{self.title}: {text}"

    def __str__(self) -> str:
        return self.message


def one_line(err: BaseException) -> str:
    """The one line a user sees for any failure: a backend error's own, else the exception's
    text folded onto one line (never a traceback)."""
    if isinstance(err, BackendError):
        return err.one_line()
    text = " ".join(str(err).split()) or type(err).__name__
    return f"Error: {text}"


class Unavailable(BackendError):
    """The backend (or one engine of it) cannot be reached, or is partitioned away."""

    exit_code = 3
    title = "Unavailable"


class NotFound(BackendError):
    exit_code = 1
    title = "Not found"


class Conflict(BackendError):
    """The request clashes with the current state: a name taken, a volume still attached..."""

    exit_code = 1
    title = "Conflict"


class InvalidInput(BackendError):
    exit_code = 2
    title = "Invalid input"


class QuotaExceeded(BackendError):
    """A project quota or the cluster's capacity would be exceeded."""

    exit_code = 1
    title = "Quota exceeded"


class PermissionDenied(BackendError):
    """Refused by the backend's authorisation, or by read-only mode."""

    exit_code = 4
    title = "Permission denied"


class AuthenticationFailed(BackendError):
    exit_code = 4
    title = "Authentication failed"


class TaskFailed(BackendError):
    """Raised by helpers that wait for a task and the task ended FAILED or ABORTED."""

    exit_code = 1
    title = "Task failed"


class ProtocolError(Unavailable):
    """The server answered outside its API: malformed JSON, HTML, an impossible total, a page
    that brings nothing new, an answer too large. Exit 3 like any server we cannot use; the
    message names the endpoint and what was wrong."""

    title = "Protocol error"
