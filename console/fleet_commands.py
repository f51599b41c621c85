"""Several contexts from the command line (issue 14): ``--context a,b`` (or ``--context a
--context b``) opens them together as one fleet (``backends.fleet``), and ``config
use-context`` remembers which contexts open when none is named.

Light at import (argparse-level only): the fleet and the backends load when a command runs.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any, Callable

from backends.errors import InvalidInput

if TYPE_CHECKING:
    from backends.contract import Backend
    from backends.settings import Settings
    from console.config import Config


class UsageError(InvalidInput):
    title = "Usage"


def context_names(args: argparse.Namespace) -> list[str]:
    """The contexts named with ``--context`` (each may list several, comma-separated), in
    order, each once."""
    given = getattr(args, "context", None)
    if given is None:
        return []
    values = [given] if isinstance(given, str) else list(given)
    names: list[str] = []
    for value in values:
        for name in value.split(","):
            name = name.strip()
            if not name:
                raise UsageError(f"--context {value!r}: an empty context name (give NAME or NAME,NAME)")
            if name not in names:
                names.append(name)
    return names


def normalize(args: argparse.Namespace) -> list[str]:
    """``args.context`` as one name (or None) for the code that takes one, and every name
    given in ``args.contexts``."""
    names = context_names(args)
    args.contexts = names
    args.context = names[0] if len(names) == 1 else None
    return names


def fleet_names(args: argparse.Namespace, config: "Config") -> list[str]:
    """The contexts to open together: those named, else the config's ``fleet`` when no
    backend option chooses otherwise; fewer than two is no fleet."""
    if len(args.contexts) > 1:
        return args.contexts
    if not args.contexts and not args.backend and not args.demo and len(config.fleet) > 1:
        return list(config.fleet)
    return []


def fleet_settings(
    names: list[str], args: argparse.Namespace, resolve: Callable[[argparse.Namespace], "Settings"], given: list[str]
) -> "dict[str, Settings]":
    """Each context's settings, as one ``--context NAME`` would make them (``resolve``: the
    CLI's resolve_settings). Backend options given (``given``: ``--docker-host``...) would be
    ambiguous across contexts: each context's own keys apply."""
    if args.backend or args.demo:
        raise UsageError("with several contexts, each context's backend is its own: drop --backend / --demo")
    if given:
        raise UsageError(f"{given[0]} applies to one backend; with several contexts each context's keys in the config apply")
    out = {}
    for name in names:
        one = argparse.Namespace(**vars(args))
        one.context = name
        out[name] = resolve(one)
    return out


def open_fleet(settings: "dict[str, Settings]", *, follow: bool = True) -> "Backend":
    from backends.endpoints import check_settings
    from backends.factory import open_backend
    from backends.fleet import FleetBackend

    for each in settings.values():
        check_settings(each)  # before anything is looked up or connected
    children = {name: open_backend(each) for name, each in settings.items()}
    for name, each in settings.items():
        if each.backend == "simulator":
            # A call is short: it holds each --demo-state's lock from load to save.
            children[name].exclusive_state = True  # type: ignore[attr-defined]
    reopen = {name: (lambda each=each: open_backend(each)) for name, each in settings.items()}
    return FleetBackend(children, reopen=reopen, follow=follow)


def context_of(row: dict[str, Any], single: str | None) -> str | None:
    if single is not None:
        return single
    item_id = row.get("id")
    return item_id.partition("/")[0] if isinstance(item_id, str) else None


def row_context(backend: "Backend", args: argparse.Namespace) -> Any:
    """What sets each row's ``context`` (see ``with_context``), made once for a stream of rows."""
    if getattr(backend, "kind", "") == "fleet":
        def own(row: dict[str, Any]) -> None:
            row["context"] = context_of(row, None)
        return own
    single = getattr(args, "row_context", None)

    def named(row: dict[str, Any]) -> None:
        row["context"] = single
    return named


def with_context(items: list[dict[str, Any]], backend: "Backend", args: argparse.Namespace) -> bool:
    """Every row gains ``context`` (the one named, None with none, or the row's own in a
    fleet); True when rows come from more than one context (the table shows a CONTEXT column)."""
    fleet = getattr(backend, "kind", "") == "fleet"
    single = None if fleet else getattr(args, "row_context", None)
    for row in items:
        row["context"] = context_of(row, single) if fleet else single
    return fleet


def use_context(args: argparse.Namespace) -> int:
    """``config use-context NAME[,NAME...]``."""
    from console.config import config_path
    from console.context_config import use_contexts

    names: list[str] = []
    for value in args.names:
        names += [n.strip() for n in value.split(",") if n.strip()]
    use_contexts(config_path(), list(dict.fromkeys(names)))
    print(f"contexts to open: {', '.join(names)}" if len(names) > 1 else f"current context: {names[0]}")
    return 0


def needs_one(args: argparse.Namespace) -> bool:
    """Commands about one context's config (registries) or one simulator (sim serve)."""
    from console.registry_commands import handler_for

    handler = getattr(args, "handler", None)
    return handler_for(args) is not None or getattr(handler, "__name__", "") == "_sim_serve"


def table_columns(kind: str) -> list[Any]:
    from console.presenters import PRESENTERS
    from console.presenters.base import TableColumn

    return [TableColumn("CONTEXT", lambda r: r.get("context")), *PRESENTERS[kind].table]


def _err(line: str) -> None:
    import sys

    from widgets.terminal_text import visible

    sys.stderr.write(visible(line) + "\n")  # a server's words: shown, never obeyed
    sys.stderr.flush()


def run(
    names: list[str], handler: Any, args: argparse.Namespace, config: "Config", *,
    resolve: Callable[[argparse.Namespace], "Settings"], given: list[str],
) -> int:
    """The console or one command over several contexts (``resolve`` and ``given``: see
    ``fleet_settings``)."""
    import asyncio

    from backends.endpoints import warnings

    if getattr(handler, "__name__", "") == "_sim_serve":
        raise UsageError("sim serve serves one simulator: give one --context")
    settings = fleet_settings(names, args, resolve, given)
    for name, each in settings.items():
        for line in warnings(each):
            _err(f"context {name}: {line}")  # on every command: a protection is off
    if handler is None:
        return run_console(settings, config)
    if getattr(handler, "__name__", "") == "_serve_web":
        return handler(args)  # checked here; each browser's console opens the fleet itself
    return asyncio.run(session(settings, handler, args))


async def session(settings: "dict[str, Settings]", handler: Any, args: argparse.Namespace) -> int:
    from backends.errors import Unavailable

    backend = open_fleet(settings, follow=False)  # a call reads snapshots and waits on its tasks
    try:
        await backend.connect()  # type: ignore[attr-defined]
        down = backend.unreachable()  # type: ignore[attr-defined]
        if len(down) == len(settings):
            raise Unavailable("no context answered: " + "; ".join(f"{s.name}: {s.reason}" for s in down))
        for state in down:  # the others are listed; this one is said, once
            _err(f"context {state.name} unreachable: {state.reason}")
        simulated = [name for name in settings if backend.child(name).simulated]  # type: ignore[attr-defined]
        if simulated:
            _err(f"simulated data (context{'s' if len(simulated) > 1 else ''} {', '.join(simulated)})")
        return await handler(backend, args)
    finally:
        quick = [n for n, s in settings.items() if s.backend == "simulator" and s.simulator.state_path and s.simulator.speed == 0]
        try:
            if quick:
                # "As fast as possible": what this call started is done by the next call.
                await backend.finish_running_tasks(quick)  # type: ignore[attr-defined]
        finally:
            await backend.close()


def run_console(settings: "dict[str, Settings]", config: "Config") -> int:
    from console.app import run_until_quit

    return run_until_quit(settings.values(), lambda: make_app(settings, config))


def make_app(settings: "dict[str, Settings]", config: "Config") -> Any:
    """The console over a fleet of these contexts; it closes the fleet when it ends."""
    from console.app import NtnxConsoleApp

    return NtnxConsoleApp(header_settings(settings), config, backend=open_fleet(settings), owns_backend=True)


def header_settings(settings: "dict[str, Settings]") -> "Settings":
    """The app's own settings in a fleet: no one context's (the header names each)."""
    from backends.settings import Settings

    first = next(iter(settings.values()))
    return Settings(
        backend=first.backend, context=None,
        insecure_transport=any(s.insecure_transport for s in settings.values()),
    )
