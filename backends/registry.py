"""The backends the console knows, one line each.

Each line names a backend's ``about`` module: a light module (no network library) that
describes the backend with a ``BackendInfo``: its name, its settings class (config keys, and
command-line options for the fields made with ``settings.option``), what it can do, how to
fill defaults that depend on how the console runs, and where the backend class is. The CLI,
the config loader and the factory loop over this list; a backend's own modules are imported
only when it is chosen. Adding a backend is a folder with an ``about.py`` plus one line here.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, Callable

from .errors import InvalidInput

if TYPE_CHECKING:
    from .contract import Backend, Capability

BACKENDS: list[str] = [
    "backends.simulator.about",
    "backends.docker.about",
    "backends.prism.about",
    "backends.swarm.about",
]


@dataclass(frozen=True)
class Resolving:
    """How the console runs, for defaults that depend on it."""

    headless: bool  # a command that runs for a moment, not the TUI
    demo: bool  # --demo was given
    given: frozenset[str]  # the settings fields given on the command line


@dataclass(frozen=True)
class BackendInfo:
    name: str  # what --backend and a context's ``backend`` say
    summary: str  # one line for --help
    settings: type  # a dataclass: its fields are the config keys
    loader: str  # "module:Class" of the Backend, imported only when chosen
    capabilities: "frozenset[Capability]"  # the most it can do (a backend may claim less at run time)
    options_title: str = ""  # the --help group of its options
    # Fills the defaults that depend on how the console runs, and checks the whole section;
    # raises InvalidInput with the reason.
    finish: Callable[[Any, Resolving], None] | None = None
    # Checks the endpoints before any connection (exit 2 on a bad one); takes the Settings.
    check: Callable[[Any], None] | None = None
    # Lines to print on every command while a protection is off; takes the Settings.
    warnings: Callable[[Any], list[str]] | None = None
    # Runs on the plain terminal just before the console takes it (a password prompt, which
    # a full-screen UI would swallow); takes the backend's section.
    before_full_screen: Callable[[Any], None] | None = None

    def load(self) -> "type[Backend]":
        module, _, cls = self.loader.partition(":")
        return getattr(importlib.import_module(module), cls)

    def option_fields(self) -> list[Any]:
        return [f for f in fields(self.settings) if "option" in f.metadata]


_infos: dict[str, BackendInfo] | None = None


def infos() -> dict[str, BackendInfo]:
    """Every registered backend by name, in the registry's order."""
    global _infos
    if _infos is None:
        found: dict[str, BackendInfo] = {}
        for module in BACKENDS:
            about = importlib.import_module(module).BACKEND
            found[about.name] = about
        _infos = found
    return _infos


def reload() -> None:
    """Read the registry again (after a test adds a line to ``BACKENDS``)."""
    global _infos
    _infos = None


def names() -> list[str]:
    return list(infos())


def info(name: str) -> BackendInfo:
    try:
        return infos()[name]
    except KeyError:
        raise InvalidInput(f"unknown backend {name!r}: choose {', '.join(names())}") from None
