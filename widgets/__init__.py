"""Reusable widgets: fast at scale (only visible lines are rendered).

The names below load on first use, so importing one widget does not import them all.
"""

from importlib import import_module
from typing import Any

_HOMES = {"Column": "resource_table", "ResourceTable": "resource_table", "LogView": "log_view", "TaskStrip": "task_strip", "StripEntry": "task_strip"}

__all__ = sorted(_HOMES)


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'widgets' has no attribute {name!r}")
    return getattr(import_module(f".{_HOMES[name]}", __name__), name)
