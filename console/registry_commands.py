"""The CLI's registry commands (issue 13), apart from ``cli.py`` so that it only wires them:

    registry add NAME --url URL [--user U] [--ca-bundle PATH | --insecure] [--project P]
    registry remove NAME
    registries list [--json]
    images list --registry NAME [--json]

They need no backend: ``add`` and ``remove`` edit the config file (``registry_config``), the
others read the config and talk to the registries. A registry's password is looked up only
when the registry asks for one (``backends.registries.credentials``): never an option.

Light at import (the CLI imports this to build its parser): httpx loads only when a command
talks to a registry.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any, Callable

from backends.errors import InvalidInput

if TYPE_CHECKING:
    from backends.registries.models import RegistryEntry
    from console.config import Config

#: Seconds ``registries list`` gives each registry to answer: it only asks whether they answer.
PROBE_CONNECT_TIMEOUT = 5.0
PROBE_TOTAL_TIMEOUT = 10.0


def add_parsers(
    commands: Any, leaf: Callable[..., argparse.ArgumentParser], nouns: dict[str, Any], parser_class: type
) -> None:
    """The registry commands in the CLI's parser (``leaf`` adds the global options;
    ``parser_class`` is the CLI's one-line-error parser)."""
    _Parser = parser_class
    registry = commands.add_parser("registry", help="add, remove container registries").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Parser
    )
    p = leaf(
        registry, "add", _add,
        "add a registry to the config (its password never: NTNX_REGISTRY_PASSWORD, a password_command, "
        "the keyring or a prompt when it asks; --ca-bundle PATH trusts its own CA; --insecure skips TLS checks)",
    )
    p.add_argument("name", metavar="NAME")
    p.add_argument("--url", required=True, metavar="URL", help="https://HOST[:PORT]")
    p.add_argument("--user", metavar="U", help="the user to log in as (none: anonymous)")
    p.add_argument("--project", metavar="P", help="the project whose machines use it")
    p.set_defaults(registry_handler=_add)
    p = leaf(registry, "remove", _remove, "remove a registry from the config")
    p.add_argument("name", metavar="NAME")
    p.set_defaults(registry_handler=_remove)

    registries = commands.add_parser("registries", help="list registries").add_subparsers(
        dest="action", metavar="ACTION", required=True, parser_class=_Parser
    )
    leaf(registries, "list", _list, "list the configured registries and whether they answer").set_defaults(
        registry_handler=_list
    )
    images_list = nouns["images"].choices["list"]
    images_list.add_argument(
        "--registry", dest="registry_name", metavar="NAME", help="list the repositories and tags of a configured registry"
    )


def handler_for(args: argparse.Namespace) -> Callable[[argparse.Namespace], int] | None:
    """The registry command ``args`` asks for, if any."""
    if getattr(args, "registry_name", None):
        return _images
    return getattr(args, "registry_handler", None)


def _say(line: str) -> None:
    from widgets.terminal_text import visible

    sys.stderr.write(visible(line) + "\n")
    sys.stderr.flush()


def _config() -> "Config":
    from console.config import load_config

    return load_config()


def _entry(config: "Config", name: str) -> "RegistryEntry":
    from backends.errors import NotFound
    from console.config import ConfigError, unsafe_reason

    entry = config.registries.get(name)
    if entry is None:
        known = ", ".join(sorted(config.registries)) or "none configured"
        raise NotFound(f"no registry {name} in {config.path} (registries: {known}); add it with registry add {name} --url URL")
    if entry.password_command:
        problem = unsafe_reason(config.path)
        if problem:
            raise ConfigError(f"refusing password_command of registry {name}: {problem}")
    return entry


def _client(entry: "RegistryEntry", transport: Any = None, **bounds: Any) -> Any:
    from backends.registries.client import RegistryClient
    from backends.registries.credentials import password_for

    return RegistryClient(
        entry.url,
        name=entry.name,
        user=entry.user,
        password=lambda: password_for(entry),
        ca_bundle=entry.ca_bundle,
        insecure=entry.insecure,
        insecure_transport=entry.insecure_transport,
        transport=transport,
        **bounds,
    )


def _builtins(args: argparse.Namespace) -> dict[str, Any]:
    """With --demo (or --backend simulator): the simulator's own registries (a public and a
    private one, served in-process), listed and read like configured ones; a configured
    registry of the same name wins. Not for a context that merely defaults to the simulator:
    a config of real registries lists those alone."""
    if not (getattr(args, "demo", False) or getattr(args, "backend", None) == "simulator"):
        return {}
    from backends.simulator.registries import builtin_registries

    return {b.entry.name: b for b in builtin_registries()}


# -- the commands ------------------------------------------------------------------------------


def _add(args: argparse.Namespace) -> int:
    from backends.registries.models import RegistryEntry, check_entry
    from console.config import ConfigError
    from console.registry_config import add_registry

    config = _config()
    if args.ca_bundle and args.insecure:
        raise InvalidInput("give --ca-bundle PATH or --insecure, not both")
    if args.context and args.context not in config.contexts:
        known = ", ".join(sorted(config.contexts)) or "none defined"
        raise ConfigError(f"no context {args.context!r} in {config.path} (contexts: {known})")
    ca_bundle = os.path.abspath(os.path.expanduser(args.ca_bundle)) if args.ca_bundle else None
    if ca_bundle:
        import ssl

        try:
            ssl.create_default_context(cafile=ca_bundle)  # a bundle that cannot be read is said now, not at first use
        except (OSError, ssl.SSLError) as err:
            raise InvalidInput(f"--ca-bundle {args.ca_bundle}: not a readable PEM CA bundle ({err})") from None
    entry = check_entry(
        RegistryEntry(
            name=args.name,
            url=args.url,
            user=args.user,
            project=args.project,
            context=args.context,
            ca_bundle=ca_bundle,
            insecure=bool(args.insecure),
            insecure_transport=bool(args.insecure_transport),
        ),
        "registry add",
    )
    for line in entry.warnings():
        _say(line)
    add_registry(config.path, entry)
    print(f"registry {entry.name} added to {config.path}")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from console.registry_config import remove_registry

    config = _config()
    remove_registry(config.path, args.name)
    print(f"registry {args.name} removed from {config.path}")
    return 0


def _list(args: argparse.Namespace) -> int:
    import asyncio

    from console import output
    from console.presenters.registries import REGISTRY_TABLE, registry_row

    config = _config()
    entries = [
        e for _, e in sorted(config.registries.items())
        if not args.context or e.context in (None, args.context)
    ]
    builtins = {name: b for name, b in _builtins(args).items() if name not in config.registries}
    entries = sorted(entries + [b.entry for b in builtins.values()], key=lambda e: e.name)

    async def probe(entry: "RegistryEntry") -> tuple[bool, str | None]:
        from backends.errors import BackendError

        builtin = builtins.get(entry.name)
        try:
            client = _client(
                entry, builtin.transport() if builtin is not None else None,
                connect_timeout=PROBE_CONNECT_TIMEOUT, total_timeout=PROBE_TOTAL_TIMEOUT,
            )
        except BackendError as err:
            return False, err.one_line()
        try:
            await client.ping()
            return True, None
        except BackendError as err:
            return False, err.one_line()
        finally:
            await client.close()

    async def probe_all() -> list[tuple[bool, str | None]]:
        return list(await asyncio.gather(*(probe(e) for e in entries)))

    results = asyncio.run(probe_all()) if entries else []
    rows = [registry_row(e, ok, problem) for e, (ok, problem) in zip(entries, results)]
    if args.json:
        output.print_json(rows)
    else:
        output.print_columns(REGISTRY_TABLE, rows)
    return 0


def _images(args: argparse.Namespace) -> int:
    import asyncio

    from backends.registries.listing import list_images
    from console import output
    from console.presenters.registries import IMAGE_TABLE, image_row

    config = _config()
    builtin = _builtins(args).get(args.registry_name) if args.registry_name not in config.registries else None
    entry = builtin.entry if builtin is not None else _entry(config, args.registry_name)
    for line in entry.warnings():
        _say(line)

    async def run() -> list[Any]:
        client = _client(entry, builtin.transport() if builtin is not None else None)
        try:
            return await list_images(client)
        finally:
            await client.close()

    rows = [image_row(i) for i in asyncio.run(run())]
    if args.json:
        output.print_json(rows)
    else:
        output.print_columns(IMAGE_TABLE, rows)
    return 0
