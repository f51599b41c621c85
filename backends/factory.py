"""Make the backend a ``Settings`` asks for. Only the chosen backend's modules are imported,
which keeps start-up fast (see tests/test_import_hygiene.py)."""

from __future__ import annotations

from .contract import Backend
from .endpoints import check_settings
from .registry import info
from .settings import Settings


def open_backend(settings: Settings) -> Backend:
    """A new, not yet connected backend; the caller ``await``s ``connect()``.

    Its endpoints are checked first, whoever filled the settings: nothing is looked up or
    connected for a bad or plain-text URL."""
    about = info(settings.backend)  # an unknown name is InvalidInput, naming the known ones
    check_settings(settings)
    return about.load().from_settings(settings)
